// The offline expert-cache simulator (cache_sim.h): builds each layer's access sequence from a
// trace once, then replays it through one LayerCache per layer for every policy and size.
#include "trace/cache_sim.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace moe::cache {

namespace {

// What the replay feeds the caches, built once per trace: per layer and step, the needed and
// predicted experts (distinct, token-major, rank order).
struct Workload {
    std::vector<std::vector<std::vector<int32_t>>> needed;  // [layer][step]
    std::vector<std::vector<std::vector<int32_t>>> pred;    // [layer][step], empty without prefetch
    std::vector<uint64_t> expertBytes;                      // (nLayer), or empty: unknown
    std::vector<std::vector<float>> staticRank;             // (nLayer x nExpert), or empty
    uint64_t tokens = 0, steps = 0;
};

// Distinct non-negative ids of rows[b..e) (each of width `width`, -1 padded), in order.
void unionOf(const trace::Trace& tr, size_t b, size_t e, uint32_t layer, bool predicted, std::vector<uint8_t>& seen,
             std::vector<int32_t>& out) {
    out.clear();
    const uint32_t K = tr.info.kMax;
    for (size_t t = b; t < e; ++t) {
        const int32_t* row = predicted ? tr.predAt(t, layer) : tr.idsAt(t, layer);
        const uint32_t n = predicted ? K : uint32_t(tr.countAt(t, layer));
        for (uint32_t j = 0; j < n; ++j) {
            const int32_t x = row[j];
            if (x < 0) break;
            if (!seen[size_t(x)]) seen[size_t(x)] = 1, out.push_back(x);
        }
    }
    for (int32_t x : out) seen[size_t(x)] = 0;
}

Result<std::vector<uint64_t>> resolveBytes(const trace::Trace& tr, const SimOptions& o) {
    const uint32_t L = tr.info.nLayer;
    if (o.expertBytes.empty()) return tr.info.expertBytes;
    if (o.expertBytes.size() == 1) return std::vector<uint64_t>(L, o.expertBytes[0]);
    if (o.expertBytes.size() != L)
        return makeError("expert sizes: " + std::to_string(o.expertBytes.size()) + " values for " + std::to_string(L) +
                         " layers");
    return o.expertBytes;
}

bool wants(const std::vector<Policy>& ps, Policy p) { return std::find(ps.begin(), ps.end(), p) != ps.end(); }

Result<Workload> buildWorkload(const trace::Trace& tr, const SimOptions& o, bool prefetch, bool needRanks) {
    const trace::TraceInfo& in = tr.info;
    MOE_TRY(trace::validate(tr));
    if (prefetch && tr.pred.empty())
        return makeError("prefetch needs the experts the cross-layer gate predicted ('pred'), and the trace has none");
    Workload w;
    MOE_ASSIGN(w.expertBytes, resolveBytes(tr, o));
    if (needRanks) {
        MOE_ASSIGN(w.staticRank, learnStaticRank(o.staticFrom ? *o.staticFrom : tr, in.nLayer, in.nExpert));
    }
    std::vector<size_t> begins;
    if (o.perToken) {
        for (size_t t = 0; t <= tr.nTokens(); ++t) begins.push_back(t);
    } else {
        begins = trace::stepBegins(tr);
    }
    const size_t S = begins.size() - 1;
    w.tokens = tr.nTokens();
    w.steps = S;
    w.needed.assign(in.nLayer, std::vector<std::vector<int32_t>>(S));
    if (prefetch) w.pred.assign(in.nLayer, std::vector<std::vector<int32_t>>(S));
    std::vector<uint8_t> seen(in.nExpert, 0);
    for (uint32_t l = 0; l < in.nLayer; ++l)
        for (size_t s = 0; s < S; ++s) {
            unionOf(tr, begins[s], begins[s + 1], l, false, seen, w.needed[l][s]);
            if (prefetch) unionOf(tr, begins[s], begins[s + 1], l, true, seen, w.pred[l][s]);
        }
    return w;
}

Result<Replay> run(const trace::Trace& tr, const Workload& w, Policy policy, uint32_t slots, bool prefetch) {
    const trace::TraceInfo& in = tr.info;
    const uint32_t L = in.nLayer;
    if (slots == 0 || slots > in.nExpert)
        return makeError("cache size " + std::to_string(slots) + " is out of range 1.." + std::to_string(in.nExpert) +
                         " (experts per layer)");
    if (policy == Policy::Belady && prefetch)
        return makeError("belady does not support prefetch (it is the bound for caches without prefetch)");
    if (prefetch && w.pred.empty()) return makeError("prefetch needs the trace's expert predictions");
    std::vector<LayerCache> caches;
    caches.reserve(L);
    for (uint32_t l = 0; l < L; ++l) {
        LayerCacheOptions co;
        co.nExpert = in.nExpert;
        co.slots = slots;
        co.policy = policy;
        co.expertBytes = w.expertBytes.empty() ? 0 : w.expertBytes[l];
        if (policy == Policy::Static) co.staticRank = w.staticRank.at(l);
        MOE_ASSIGN(LayerCache c, LayerCache::create(co));
        if (policy == Policy::Belady) c.setFuture(w.needed[l]);
        caches.push_back(std::move(c));
    }
    Replay r;
    r.tokens = w.tokens;
    r.steps = w.steps;
    r.perStep.resize(w.steps * L);
    std::vector<CacheStats> before(L);
    for (size_t s = 0; s < w.steps; ++s) {
        for (uint32_t l = 0; l < L; ++l) before[l] = caches[l].stats();
        for (uint32_t l = 0; l < L; ++l) {
            (void)caches[l].access(w.needed[l][s]);
            if (prefetch && l + 1 < L) (void)caches[l + 1].prefetch(w.pred[l + 1][s]);
        }
        for (uint32_t l = 0; l < L; ++l) r.perStep[s * L + l] = difference(caches[l].stats(), before[l]);
    }
    for (const LayerCache& c : caches) r.total += c.stats();
    return r;
}

}  // namespace

Result<std::vector<std::vector<float>>> learnStaticRank(const trace::Trace& tr, uint32_t nLayer, uint32_t nExpert) {
    if (tr.info.nLayer != nLayer || tr.info.nExpert != nExpert)
        return makeError("the static-rank trace has " + std::to_string(tr.info.nLayer) + " layers x " +
                         std::to_string(tr.info.nExpert) + " experts, not " + std::to_string(nLayer) + " x " +
                         std::to_string(nExpert));
    MOE_TRY(trace::validate(tr));
    std::vector<std::vector<float>> rank(nLayer, std::vector<float>(nExpert, 0.0f));
    for (size_t t = 0; t < tr.nTokens(); ++t)
        for (uint32_t l = 0; l < nLayer; ++l)
            for (int32_t j = 0; j < tr.countAt(t, l); ++j) rank[l][size_t(tr.idsAt(t, l)[j])] += 1.0f;
    return rank;
}

Result<Replay> replay(const trace::Trace& tr, Policy policy, uint32_t slots, const SimOptions& opts) {
    MOE_ASSIGN(Workload w, buildWorkload(tr, opts, opts.prefetch, policy == Policy::Static));
    return run(tr, w, policy, slots, opts.prefetch);
}

Result<std::vector<SimRow>> simulate(const trace::Trace& tr, const SimOptions& opts) {
    const bool all = opts.policies.empty();
    const std::vector<Policy> policies =
        all ? std::vector<Policy>{Policy::LRU, Policy::LFU, Policy::LFRU, Policy::Static, Policy::Belady} : opts.policies;
    if (opts.prefetch && !all && wants(policies, Policy::Belady))
        return makeError("belady does not support prefetch (it is the bound for caches without prefetch)");
    if (opts.slots.empty()) return makeError("no cache size to simulate");
    MOE_ASSIGN(Workload w, buildWorkload(tr, opts, opts.prefetch, wants(policies, Policy::Static)));
    std::vector<SimRow> rows;
    for (uint32_t slots : opts.slots)
        for (Policy p : policies) {
            const bool prefetch = opts.prefetch && p != Policy::Belady;
            MOE_ASSIGN(Replay r, run(tr, w, p, slots, prefetch));
            SimRow row;
            row.policy = p;
            row.slots = slots;
            row.prefetch = prefetch;
            row.stats = r.total;
            row.tokens = r.tokens;
            row.steps = r.steps;
            row.bytesKnown = !w.expertBytes.empty();
            rows.push_back(row);
        }
    return rows;
}

Result<std::vector<uint32_t>> parseSlots(const std::string& list, uint32_t nExpert) {
    std::vector<uint32_t> out;
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        std::string item = list.substr(pos, comma - pos);
        pos = comma + 1;
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        std::string shown = "'";
        shown.append(item, 0, 32).push_back('\'');
        if (item.empty()) return makeError("cache sizes: an empty entry in '" + list.substr(0, 64) + "'");
        const bool percent = item.back() == '%';
        if (percent) item.pop_back();
        char* end = nullptr;
        const double v = std::strtod(item.c_str(), &end);
        if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v) ||
            (!percent && v != std::floor(v)))
            return makeError("cache size " + shown + " is not " + (percent ? "a percentage" : "a whole number of experts"));
        double n = v;
        if (percent) {
            if (!(v > 0.0 && v <= 100.0)) return makeError("cache size " + shown + " is not a percentage in (0, 100]");
            n = std::max(1.0, std::floor(v / 100.0 * nExpert + 0.5));
        }
        if (n < 1 || n > nExpert)
            return makeError("cache size " + shown + " is out of range 1.." + std::to_string(nExpert) + " (experts per layer)");
        if (std::find(out.begin(), out.end(), uint32_t(n)) == out.end()) out.push_back(uint32_t(n));
    }
    return out;
}

CacheStats liveTotals(const trace::Trace& tr) {
    CacheStats s;
    for (const CacheStats& c : tr.cache) s += c;
    return s;
}

}  // namespace moe::cache
