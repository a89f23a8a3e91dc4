// `moescope cache-sim`: replays a routing trace through the expert-cache policies at several
// cache sizes (trace/cache_sim.h) and prints hit rate, misses, evictions and bytes moved per
// policy and size, with Belady's optimum as the bound; CSV and JSON for plots.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "trace/cache_sim.h"

namespace moe::cli {

namespace {

std::string humanBytes(double b) {
    const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024.0 && u < 4) b /= 1024.0, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

Result<std::vector<cache::Policy>> parsePolicies(const std::string& list) {
    std::vector<cache::Policy> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        MOE_ASSIGN(cache::Policy p, cache::parsePolicy(item));
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    if (out.empty()) return makeError("--policy names no policy");
    return out;
}

std::string table(const std::vector<cache::SimRow>& rows) {
    std::string s;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-7s %6s %9s %9s %10s %10s %12s %12s\n", "policy", "slots", "prefetch", "hit rate",
                  "misses", "evictions", "bytes moved", "bytes/token");
    s += buf;
    uint32_t lastSlots = 0;
    for (const cache::SimRow& r : rows) {
        if (lastSlots && r.slots != lastSlots) s += '\n';
        lastSlots = r.slots;
        std::snprintf(buf, sizeof buf, "%-7s %6u %9s %8.1f%% %10llu %10llu %12s %12s\n", cache::policyName(r.policy),
                      r.slots, r.prefetch ? "on" : "off", 100.0 * r.hitRate(), (unsigned long long)r.stats.misses,
                      (unsigned long long)r.stats.evictions,
                      r.bytesKnown ? humanBytes(double(r.stats.bytesUploaded)).c_str() : "-",
                      r.bytesKnown ? humanBytes(r.bytesPerToken()).c_str() : "-");
        s += buf;
    }
    return s;
}

// Per size: the best online policy against Belady (when both were simulated).
std::string gaps(const std::vector<cache::SimRow>& rows) {
    std::string s;
    for (const cache::SimRow& b : rows) {
        if (b.policy != cache::Policy::Belady) continue;
        const cache::SimRow* best = nullptr;
        for (const cache::SimRow& r : rows)
            if (r.slots == b.slots && r.policy != cache::Policy::Belady && (!best || r.hitRate() > best->hitRate()))
                best = &r;
        if (!best) continue;
        char buf[256];
        std::snprintf(buf, sizeof buf, "%u slots: best online %s%s %.1f%% vs belady %.1f%% (%.1f%% of the optimum's hit rate, %.2fx its misses)\n",
                      b.slots, cache::policyName(best->policy), best->prefetch ? "+prefetch" : "", 100.0 * best->hitRate(),
                      100.0 * b.hitRate(), b.hitRate() > 0 ? 100.0 * best->hitRate() / b.hitRate() : 100.0,
                      b.stats.misses ? double(best->stats.misses) / double(b.stats.misses) : 1.0);
        s += buf;
    }
    return s;
}

std::string csv(const std::vector<cache::SimRow>& rows) {
    std::string s =
        "policy,slots,prefetch,accesses,hits,misses,hit_rate,evictions,prefetches,prefetch_used,prefetch_wasted,"
        "bytes_moved,bytes_per_token\n";
    for (const cache::SimRow& r : rows) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "%s,%u,%d,%llu,%llu,%llu,%.6f,%llu,%llu,%llu,%llu,", cache::policyName(r.policy),
                      r.slots, r.prefetch ? 1 : 0, (unsigned long long)r.stats.accesses, (unsigned long long)r.stats.hits,
                      (unsigned long long)r.stats.misses, r.hitRate(), (unsigned long long)r.stats.evictions,
                      (unsigned long long)r.stats.prefetches, (unsigned long long)r.stats.prefetchUsed,
                      (unsigned long long)r.stats.prefetchWasted);
        s += buf;
        if (r.bytesKnown) {
            std::snprintf(buf, sizeof buf, "%llu,%.1f", (unsigned long long)r.stats.bytesUploaded, r.bytesPerToken());
            s += buf;
        } else {
            s += ",";  // unknown expert size
        }
        s += '\n';
    }
    return s;
}

std::string statsJson(const cache::CacheStats& c) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "\"accesses\":%llu,\"hits\":%llu,\"misses\":%llu,\"hit_rate\":%.6f,\"evictions\":%llu,\"prefetches\":%llu,"
                  "\"prefetch_used\":%llu,\"prefetch_wasted\":%llu",
                  (unsigned long long)c.accesses, (unsigned long long)c.hits, (unsigned long long)c.misses, c.hitRate(),
                  (unsigned long long)c.evictions, (unsigned long long)c.prefetches, (unsigned long long)c.prefetchUsed,
                  (unsigned long long)c.prefetchWasted);
    return buf;
}

std::string json(const trace::Trace& tr, const std::string& path, const std::vector<cache::SimRow>& rows,
                 const std::string& live) {
    std::string s = "{\"trace\":\"" + jsonEscape(path) + "\",\"model\":\"" + jsonEscape(tr.info.model) +
                    "\",\"n_layer\":" + std::to_string(tr.info.nLayer) + ",\"n_expert\":" + std::to_string(tr.info.nExpert) +
                    ",\"tokens\":" + std::to_string(rows.empty() ? tr.nTokens() : rows[0].tokens) +
                    ",\"steps\":" + std::to_string(rows.empty() ? tr.nSteps() : rows[0].steps) + ",\"rows\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
        const cache::SimRow& r = rows[i];
        s += i ? ",{" : "{";
        s += "\"policy\":\"" + std::string(cache::policyName(r.policy)) + "\",\"slots\":" + std::to_string(r.slots) +
             ",\"prefetch\":" + (r.prefetch ? "true" : "false") + "," + statsJson(r.stats);
        char buf[96];
        if (r.bytesKnown)
            std::snprintf(buf, sizeof buf, ",\"bytes_moved\":%llu,\"bytes_per_token\":%.1f}",
                          (unsigned long long)r.stats.bytesUploaded, r.bytesPerToken());
        else
            std::snprintf(buf, sizeof buf, ",\"bytes_moved\":null,\"bytes_per_token\":null}");
        s += buf;
    }
    s += "]";
    if (!live.empty()) s += ",\"live\":" + live;
    return s + "}";
}

}  // namespace

void registerCacheSim(CLI::App& app) {
    struct Opts {
        std::string path, slots, policies, staticFrom, csvPath;
        uint64_t expertBytes = 0;
        bool prefetch = false, json = false, perToken = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("cache-sim", "replay a trace through the expert-cache policies (hit rate, bytes moved)");
    cmd->add_option("trace", o->path, "trace file (.jsonl or .mstrace, from 'moescope trace')")->required();
    cmd->add_option("--slots", o->slots, "cache sizes in experts per layer: N[,N...], each a number or a percentage (25%)")
        ->required();
    cmd->add_option("--policy", o->policies, "policies: lru,lfu,lfru,static,belady (default: all)");
    cmd->add_flag("--prefetch", o->prefetch, "prefetch each next layer's predicted experts (needs 'pred' in the trace)");
    cmd->add_option("--static-from", o->staticFrom,
                    "learn the static hot set from this trace (default: the replayed trace itself, optimistic)");
    cmd->add_option("--expert-bytes", o->expertBytes, "bytes of one expert (default: the trace header's expert_bytes)");
    cmd->add_flag("--per-token", o->perToken, "every token its own step (as in decode), ignoring the trace's batches");
    cmd->add_option("--csv", o->csvPath, "also write the rows as CSV to this file");
    cmd->add_flag("--json", o->json, "print JSON instead of the table");
    cmd->callback([o] {
        auto tr = trace::readTrace(o->path);
        if (!tr.ok()) return fail(tr.error().message);
        cache::SimOptions so;
        auto slots = cache::parseSlots(o->slots, tr->info.nExpert);
        if (!slots.ok()) return fail(slots.error().message);
        so.slots = *slots;
        if (!o->policies.empty()) {
            auto ps = parsePolicies(o->policies);
            if (!ps.ok()) return fail(ps.error().message);
            so.policies = *ps;
        }
        so.prefetch = o->prefetch;
        so.perToken = o->perToken;
        if (o->expertBytes) so.expertBytes = {o->expertBytes};
        trace::Trace from;
        if (!o->staticFrom.empty()) {
            auto f = trace::readTrace(o->staticFrom);
            if (!f.ok()) return fail(f.error().message);
            from = std::move(*f);
            so.staticFrom = &from;
        }
        if (so.prefetch && tr->pred.empty())
            return fail(o->path + ": prefetch needs the experts the cross-layer gate predicted ('pred'), and this trace has none");
        auto rows = cache::simulate(*tr, so);
        if (!rows.ok()) return fail(o->path + ": " + rows.error().message);

        // the engine's own run, when the trace carries its live cache telemetry
        std::string liveText, liveJson;
        if (!tr->cache.empty()) {
            const trace::CacheSetting& cs = tr->info.cache;
            const cache::CacheStats live = cache::liveTotals(*tr);
            char buf[512];
            std::snprintf(buf, sizeof buf, "live cache recorded in the trace (%s, slots %u, prefetch %s): hit rate %.1f%% (%llu of %llu)",
                          cs.policy.c_str(), cs.slots, cs.prefetch ? "on" : "off", 100.0 * live.hitRate(),
                          (unsigned long long)live.hits, (unsigned long long)live.accesses);
            liveText = buf;
            liveJson = "{\"policy\":\"" + jsonEscape(cs.policy) + "\",\"slots\":" + std::to_string(cs.slots) +
                       ",\"prefetch\":" + (cs.prefetch ? "true" : "false") + "," + statsJson(live);
            auto p = cache::parsePolicy(cs.policy);
            cache::SimOptions ro = so;
            ro.prefetch = cs.prefetch;
            ro.perToken = false;
            if (p.ok() && *p != cache::Policy::Belady && (!cs.prefetch || !tr->pred.empty())) {
                auto r = cache::replay(*tr, *p, cs.slots, ro);
                if (r.ok()) {
                    std::snprintf(buf, sizeof buf, "; replayed here: %.1f%%%s", 100.0 * r->total.hitRate(),
                                  r->total.hits == live.hits && r->total.accesses == live.accesses ? " (same counts)" : " (differs)");
                    liveText += buf;
                    liveJson += ",\"replayed_hits\":" + std::to_string(r->total.hits);
                }
            }
            liveJson += "}";
        }

        if (!o->csvPath.empty()) {
            std::ofstream out(o->csvPath, std::ios::binary | std::ios::trunc);
            const std::string text = csv(*rows);
            out.write(text.data(), std::streamsize(text.size()));
            out.close();
            if (!out) return fail("cannot write '" + o->csvPath + "'");
        }
        if (o->json) {
            std::printf("%s\n", json(*tr, o->path, *rows, liveJson).c_str());
            return;
        }
        const trace::TraceInfo& in = tr->info;
        const cache::SimRow& r0 = rows->front();
        std::string size = "unknown (give --expert-bytes)";
        if (o->expertBytes)
            size = humanBytes(double(o->expertBytes));
        else if (!in.expertBytes.empty())
            size = std::all_of(in.expertBytes.begin(), in.expertBytes.end(), [&](uint64_t b) { return b == in.expertBytes[0]; })
                       ? humanBytes(double(in.expertBytes[0]))
                       : "per layer";
        std::printf("%s: %s (%s), %llu tokens in %llu steps%s, %u layers x %u experts, k %u; expert size %s\n",
                    o->path.c_str(), in.model.c_str(), in.arch.c_str(), (unsigned long long)r0.tokens,
                    (unsigned long long)r0.steps, o->perToken ? " (--per-token)" : "", in.nLayer, in.nExpert, in.k,
                    size.c_str());
        std::printf("%s", table(*rows).c_str());
        const std::string g = gaps(*rows);
        if (!g.empty()) std::printf("\n%s", g.c_str());
        if (!liveText.empty()) std::printf("\n%s\n", liveText.c_str());
    });
}

}  // namespace moe::cli
