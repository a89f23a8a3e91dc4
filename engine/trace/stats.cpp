// Routing statistics of a trace (definitions in stats.h).
#include "trace/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

namespace moe::trace {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

void SrpTally::add(const SrpTally& o) {
    if (matches.size() < o.matches.size()) {
        matches.resize(o.matches.size(), 0.0);
        predictions.resize(o.predictions.size(), 0.0);
    }
    for (size_t i = 0; i < o.matches.size(); ++i) {
        matches[i] += o.matches[i];
        predictions[i] += o.predictions[i];
    }
    activations += o.activations;
    segments += o.segments;
}

double SrpTally::best() const {
    if (segments == 0) return kNaN;
    double best = 0;
    for (size_t tau = 0; tau < matches.size(); ++tau)
        best = std::max(best, 2.0 * matches[tau] / std::max(1.0, predictions[tau] + activations));
    return best;
}

SrpTally srpTally(const Selections& sel, uint32_t nExpert, uint32_t m) {
    SrpTally r;
    const size_t T = sel.size();
    if (m == 0 || T < m) return r;
    // hist[v] = #(segment, expert) pairs with count v, over all segments
    std::vector<uint64_t> hist(m + 1, 0), c(nExpert, 0);
    for (size_t t = 0; t < m; ++t)
        for (int32_t e : sel[t]) ++c[size_t(e)];
    for (size_t s = 0;; ++s) {
        for (uint32_t e = 0; e < nExpert; ++e) ++hist[c[e]];
        ++r.segments;
        if (s + m >= T) break;
        for (int32_t e : sel[s]) --c[size_t(e)];  // slide: drop token s, add token s + m
        for (int32_t e : sel[s + m]) ++c[size_t(e)];
    }
    // M(tau) = sum_{v >= tau} v hist[v];  P(tau) = m sum_{v >= tau} hist[v]
    r.matches.assign(m + 1, 0.0);
    r.predictions.assign(m + 1, 0.0);
    double mSum = 0, nSum = 0;
    for (int64_t v = m; v >= 0; --v) {
        mSum += double(v) * double(hist[size_t(v)]);
        nSum += double(hist[size_t(v)]);
        r.matches[size_t(v)] = mSum;
        r.predictions[size_t(v)] = double(m) * nSum;
    }
    r.activations = mSum;
    return r;
}

double sch(const Selections& sel, uint32_t nExpert, uint32_t m, uint32_t cacheSize) {
    const size_t T = sel.size();
    std::vector<int64_t> future(nExpert, 0);  // uses among tokens t..t+m-1 not yet served
    std::vector<uint64_t> lastUse(nExpert, 0);
    std::vector<uint8_t> cached(nExpert, 0), seen(nExpert, 0);
    std::vector<int32_t> cache;
    for (size_t t = 0; t < std::min<size_t>(m, T); ++t)
        for (int32_t e : sel[t]) ++future[size_t(e)];
    uint64_t hits = 0, requests = 0, clock = 0, distinct = 0;
    for (size_t t = 0; t < T; ++t) {
        // look-up against the cache before the token
        for (int32_t e : sel[t]) {
            ++requests;
            if (cached[size_t(e)]) {
                ++hits;
            } else if (!seen[size_t(e)]) {
                if (distinct < cacheSize) ++hits;  // a free slot could hold it already
                ++distinct;
                seen[size_t(e)] = 1;
            }
        }
        // load what is missing, evicting the lowest priority: (future uses, last use)
        for (int32_t e : sel[t]) {
            if (!cached[size_t(e)] && cacheSize > 0) {
                if (cache.size() >= cacheSize) {
                    auto victim = std::min_element(cache.begin(), cache.end(), [&](int32_t a, int32_t b) {
                        return future[size_t(a)] != future[size_t(b)] ? future[size_t(a)] < future[size_t(b)]
                                                                      : lastUse[size_t(a)] < lastUse[size_t(b)];
                    });
                    cached[size_t(*victim)] = 0;
                    *victim = e;
                } else {
                    cache.push_back(e);
                }
                cached[size_t(e)] = 1;
            }
            --future[size_t(e)];
            lastUse[size_t(e)] = ++clock;
        }
        if (t + m < T)
            for (int32_t e : sel[t + m]) ++future[size_t(e)];
    }
    return requests ? double(hits) / double(requests) : kNaN;
}

double schStatic(const Selections& sel, uint32_t nExpert, uint32_t m, uint32_t cacheSize) {
    const size_t T = sel.size();
    if (m == 0 || T < m) return kNaN;
    std::vector<uint64_t> c(nExpert, 0), sorted(nExpert);
    for (size_t t = 0; t < m; ++t)
        for (int32_t e : sel[t]) ++c[size_t(e)];
    double hits = 0, acts = 0;
    const size_t C = std::min<size_t>(cacheSize, nExpert);
    for (size_t s = 0;; ++s) {
        sorted = c;
        std::partial_sort(sorted.begin(), sorted.begin() + long(C), sorted.end(), std::greater<>());
        hits += double(std::accumulate(sorted.begin(), sorted.begin() + long(C), uint64_t(0)));
        acts += double(std::accumulate(c.begin(), c.end(), uint64_t(0)));
        if (s + m >= T) break;
        for (int32_t e : sel[s]) --c[size_t(e)];
        for (int32_t e : sel[s + m]) ++c[size_t(e)];
    }
    return acts > 0 ? hits / acts : kNaN;
}

Selections layerSelections(const Trace& tr, uint32_t layer) {
    Selections sel(tr.nTokens());
    for (size_t t = 0; t < tr.nTokens(); ++t) sel[t].assign(tr.idsAt(t, layer), tr.idsAt(t, layer) + tr.countAt(t, layer));
    return sel;
}

Result<TraceStats> computeStats(const Trace& tr, const StatsOptions& opts) {
    MOE_TRY(validate(tr));
    const TraceInfo& in = tr.info;
    const uint32_t L = in.nLayer, E = in.nExpert;
    const size_t T = tr.nTokens();
    TraceStats s;
    s.info = in;
    s.nTokens = T;
    s.opts = opts;
    if (s.opts.segment == 0) return makeError("stats: the segment length must be at least 1");
    if (s.opts.cacheSize == 0) s.opts.cacheSize = std::max<uint32_t>(1, 2 * (in.k ? in.k : in.kMax));
    s.layers.resize(L);
    SrpTally total;
    double schSum = 0, schStaticSum = 0;
    uint32_t schLayers = 0;
    std::vector<Selections> sel(L);
    for (uint32_t l = 0; l < L; ++l) sel[l] = layerSelections(tr, l);
    uint32_t routedLayers = 0;
    for (uint32_t l = 0; l < L; ++l) {
        bool any = false;
        for (size_t t = 0; t < T && !any; ++t) any = tr.countAt(t, l) > 0;
        s.layers[l].routed = any || T == 0;
        routedLayers += s.layers[l].routed ? 1 : 0;
    }
    const double Lr = std::max<uint32_t>(1, routedLayers);
    for (uint32_t l = 0; l < L; ++l) {
        LayerStats& ls = s.layers[l];
        ls.load.assign(E, 0);
        ls.mass.assign(E, 0.0);
        if (!ls.routed) {  // a dense layer: nothing to measure; transitions through it are undefined
            ls.maxOverMean = ls.cv = ls.meanEntropy = kNaN;
            continue;
        }
        double ent = 0, act = 0;
        for (size_t t = 0; t < T; ++t) {
            const int32_t n = tr.countAt(t, l);
            for (int32_t j = 0; j < n; ++j) {
                ++ls.load[size_t(tr.idsAt(t, l)[j])];
                ls.mass[size_t(tr.idsAt(t, l)[j])] += tr.weightsAt(t, l)[j];
            }
            ent += tr.entropy[tr.row(t, l)];
            act += n;
        }
        if (T) {
            ls.meanEntropy = ent / double(T);
            ls.meanActive = act / double(T);
        }
        const double mean = double(std::accumulate(ls.load.begin(), ls.load.end(), uint64_t(0))) / E;
        if (mean > 0) {
            double var = 0;
            for (uint64_t v : ls.load) var += (double(v) - mean) * (double(v) - mean);
            ls.cv = std::sqrt(var / E) / mean;
            ls.maxOverMean = double(*std::max_element(ls.load.begin(), ls.load.end())) / mean;
        }
        SrpTally tally = srpTally(sel[l], E, s.opts.segment);
        ls.srp = tally.best();
        total.add(tally);
        ls.sch = sch(sel[l], E, s.opts.segment, s.opts.cacheSize);
        ls.schStatic = schStatic(sel[l], E, s.opts.segment, s.opts.cacheSize);
        if (!std::isnan(ls.sch)) {
            schSum += ls.sch;
            schStaticSum += std::isnan(ls.schStatic) ? 0 : ls.schStatic;
            ++schLayers;
        }
        // transitions to the next layer
        if (l + 1 < L) {
            ls.transition.assign(size_t(E) * E, 0.0);
            for (size_t t = 0; t < T; ++t)
                for (int32_t i : sel[l][t])
                    for (int32_t j : sel[l + 1][t]) ls.transition[size_t(i) * E + size_t(j)] += 1.0;
            for (uint32_t i = 0; i < E; ++i)
                for (uint32_t j = 0; j < E; ++j)
                    if (ls.load[i]) ls.transition[size_t(i) * E + j] /= double(ls.load[i]);
        }
        s.meanEntropy += ls.meanEntropy / Lr;
        s.meanActive += ls.meanActive / Lr;
        s.activePerToken += ls.meanActive;
    }
    s.expertFlopsShare = in.k ? s.meanActive / in.k : kNaN;
    s.srp = total.best();
    if (schLayers) {
        s.sch = schSum / schLayers;
        s.schStatic = std::isnan(s.layers[0].schStatic) ? kNaN : schStaticSum / schLayers;
    }
    return s;
}

namespace {

nlohmann::json num(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

std::string fmt(double v, const char* f = "%.3f") {
    if (std::isnan(v)) return "-";
    char b[32];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

}  // namespace

std::string statsJson(const TraceStats& s) {
    nlohmann::json j;
    j["model"] = s.info.model;
    j["arch"] = s.info.arch;
    j["policy"] = s.info.policy;
    j["n_tokens"] = s.nTokens;
    j["n_layer"] = s.info.nLayer;
    j["n_expert"] = s.info.nExpert;
    j["k"] = s.info.k;
    j["segment"] = s.opts.segment;
    j["cache_size"] = s.opts.cacheSize;
    j["mean_entropy"] = num(s.meanEntropy);
    j["mean_active"] = num(s.meanActive);
    j["active_per_token"] = num(s.activePerToken);
    j["expert_flops_share"] = num(s.expertFlopsShare);
    j["srp"] = num(s.srp);
    j["sch"] = num(s.sch);
    j["sch_static"] = num(s.schStatic);
    j["layers"] = nlohmann::json::array();
    for (size_t l = 0; l < s.layers.size(); ++l) {
        const LayerStats& ls = s.layers[l];
        nlohmann::json lj;
        lj["layer"] = l;
        lj["routed"] = ls.routed;
        lj["load"] = ls.load;
        lj["mass"] = ls.mass;
        lj["max_over_mean"] = num(ls.maxOverMean);
        lj["cv"] = num(ls.cv);
        lj["mean_entropy"] = num(ls.meanEntropy);
        lj["mean_active"] = num(ls.meanActive);
        lj["srp"] = num(ls.srp);
        lj["sch"] = num(ls.sch);
        lj["sch_static"] = num(ls.schStatic);
        if (!ls.transition.empty()) {
            const size_t E = s.info.nExpert;
            nlohmann::json rows = nlohmann::json::array();
            for (size_t i = 0; i < E; ++i)
                rows.push_back(std::vector<double>(ls.transition.begin() + long(i * E), ls.transition.begin() + long((i + 1) * E)));
            lj["transition"] = rows;
        }
        j["layers"].push_back(lj);
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string formatStats(const TraceStats& s, bool transitions) {
    std::string o;
    char b[512];
    std::snprintf(b, sizeof b, "model %s (%s), policy \"%s\", %llu tokens, %u layers x %u experts, model k %u\n",
                  s.info.model.c_str(), s.info.arch.c_str(), s.info.policy.c_str(), (unsigned long long)s.nTokens,
                  s.info.nLayer, s.info.nExpert, s.info.k);
    o += b;
    o += "active experts per token and layer " + fmt(s.meanActive, "%.2f") + " (" + fmt(s.activePerToken, "%.2f") +
         " per token; expert FLOPs " + fmt(100.0 * s.expertFlopsShare, "%.1f") + "% of the model's top-k)\n";
    o += "router entropy " + fmt(s.meanEntropy) + " nats\n";
    o += "SRP(m=" + std::to_string(s.opts.segment) + ") " + fmt(s.srp) + "   SCH(m=" + std::to_string(s.opts.segment) +
         ", C=" + std::to_string(s.opts.cacheSize) + ") " + fmt(s.sch) + "   (static segment cache " + fmt(s.schStatic) + ")\n\n";
    o += "layer  active  entropy  max/mean     CV    SRP    SCH  most used experts (share of selections)\n";
    for (size_t l = 0; l < s.layers.size(); ++l) {
        const LayerStats& ls = s.layers[l];
        if (!ls.routed) {
            std::snprintf(b, sizeof b, "%5zu  dense FFN: no routing\n", l);
            o += b;
            continue;
        }
        std::vector<uint32_t> order(ls.load.size());
        std::iota(order.begin(), order.end(), 0u);
        std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t c) { return ls.load[a] > ls.load[c]; });
        const double total = double(std::accumulate(ls.load.begin(), ls.load.end(), uint64_t(0)));
        std::string top;
        for (size_t i = 0; i < std::min<size_t>(3, order.size()) && total > 0; ++i)
            top += (i ? ", " : "") + std::to_string(order[i]) + " (" + fmt(100.0 * double(ls.load[order[i]]) / total, "%.0f") + "%)";
        std::snprintf(b, sizeof b, "%5zu  %6s  %7s  %8s  %5s  %5s  %5s  %s\n", l, fmt(ls.meanActive, "%.2f").c_str(),
                      fmt(ls.meanEntropy).c_str(), fmt(ls.maxOverMean, "%.2f").c_str(), fmt(ls.cv, "%.2f").c_str(),
                      fmt(ls.srp).c_str(), fmt(ls.sch).c_str(), top.c_str());
        o += b;
    }
    if (transitions) {
        const size_t E = s.info.nExpert;
        for (size_t l = 0; l + 1 < s.layers.size(); ++l) {
            if (s.layers[l].transition.empty() || !s.layers[l + 1].routed) continue;  // through a dense layer
            o += "\nP(expert j at layer " + std::to_string(l + 1) + " | expert i at layer " + std::to_string(l) + ")\n   i\\j";
            for (size_t jx = 0; jx < E; ++jx) o += fmt(double(jx), "%6.0f");
            o += "\n";
            for (size_t i = 0; i < E; ++i) {
                o += fmt(double(i), "%6.0f");
                for (size_t jx = 0; jx < E; ++jx) o += fmt(s.layers[l].transition[i * E + jx], "%6.2f");
                o += "\n";
            }
        }
    }
    return o;
}

}  // namespace moe::trace
