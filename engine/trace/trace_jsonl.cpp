// The JSON Lines trace form: a header object, then one object per token (docs/trace-format.md).
// Floats are written in their shortest round-trip form, so an unrounded trace reads back equal.
#include <charconv>
#include <cmath>
#include <type_traits>

#include "trace/trace.h"
#include "trace/trace_internal.h"

namespace moe::trace {

namespace {

void putFloat(std::string& s, float v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, r.ptr);
}

void putInt(std::string& s, int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, r.ptr);
}

// [[a,b],[c]]: per layer, the first n[l] values of a row of width w.
template <class T, class Put>
void putRows(std::string& s, const T* rows, const int32_t* n, uint32_t nLayer, uint32_t w, Put put) {
    s += '[';
    for (uint32_t l = 0; l < nLayer; ++l) {
        s += l ? ",[" : "[";
        for (int32_t j = 0; j < n[l]; ++j) {
            if (j) s += ',';
            put(s, rows[size_t(l) * w + size_t(j)]);
        }
        s += ']';
    }
    s += ']';
}

void putDouble(std::string& s, double v) {
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, r.ptr);
}

void putU64(std::string& s, uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, r.ptr);
}

// The names of the cache telemetry counters, in CacheStats order (wait_ms is a float).
constexpr const char* kCacheKeys[] = {"accesses",   "hits",          "misses",          "evictions",
                                      "prefetches", "prefetch_used", "prefetch_wasted", "bytes"};
uint64_t cache::CacheStats::*const kCacheFields[] = {
    &cache::CacheStats::accesses,   &cache::CacheStats::hits,         &cache::CacheStats::misses,
    &cache::CacheStats::evictions,  &cache::CacheStats::prefetches,   &cache::CacheStats::prefetchUsed,
    &cache::CacheStats::prefetchWasted, &cache::CacheStats::bytesUploaded};

// [{"accesses":..,...,"wait_ms":..}, ...]: one object per layer.
void putCache(std::string& s, const cache::CacheStats* c, uint32_t nLayer) {
    s += '[';
    for (uint32_t l = 0; l < nLayer; ++l) {
        s += l ? ",{" : "{";
        for (size_t i = 0; i < std::size(kCacheKeys); ++i) {
            s += i ? ",\"" : "\"";
            s += kCacheKeys[i];
            s += "\":";
            putU64(s, c[l].*kCacheFields[i]);
        }
        s += ",\"wait_ms\":";
        putDouble(s, c[l].waitMs);
        s += '}';
    }
    s += ']';
}

}  // namespace

std::string toJsonl(const Trace& tr, const WriteOptions& opts) {
    const TraceInfo& in = tr.info;
    const bool probs = in.hasProbs && opts.probs;
    const int32_t digits = opts.probDigits >= 0 ? opts.probDigits : in.probDigits;
    // version 1: the optional keys are ones a version-1 reader ignores
    nlohmann::json h = detail::headerJson(in, tr.nTokens(), !tr.pieces.empty(), opts, detail::sectionsOf(tr), 1);
    h["tokens"] = tr.tokens;
    std::string s = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    const uint32_t L = in.nLayer, E = in.nExpert;
    std::vector<int32_t> full(L, int32_t(E)), nPred(L);
    size_t step = 0;  // ordinal of token t's step
    for (size_t t = 0; t < tr.nTokens(); ++t) {
        const int32_t* n = &tr.counts[tr.row(t, 0)];
        const bool stepStart = t == 0 || tr.stepOf(t) != tr.stepOf(t - 1);
        if (t > 0 && stepStart) ++step;
        s += "{\"t\":";
        putInt(s, int64_t(t));
        if (!tr.steps.empty()) {
            s += ",\"step\":";
            putInt(s, tr.steps[t]);
        }
        s += ",\"pos\":";
        putInt(s, tr.positions[t]);
        s += ",\"token\":";
        putInt(s, tr.tokens[t]);
        if (!tr.pieces.empty())
            s += ",\"piece\":" + nlohmann::json(tr.pieces[t]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        s += ",\"active\":[";
        for (uint32_t l = 0; l < L; ++l) {
            if (l) s += ',';
            putInt(s, n[l]);
        }
        s += "],\"ids\":";
        putRows(s, tr.idsAt(t, 0), n, L, in.kMax, [](std::string& o, int32_t v) { putInt(o, v); });
        if (!tr.pred.empty()) {
            for (uint32_t l = 0; l < L; ++l) {
                const int32_t* p = tr.predAt(t, l);
                nPred[l] = 0;
                while (uint32_t(nPred[l]) < in.kMax && p[nPred[l]] >= 0) ++nPred[l];
            }
            s += ",\"pred\":";
            putRows(s, tr.predAt(t, 0), nPred.data(), L, in.kMax, [](std::string& o, int32_t v) { putInt(o, v); });
        }
        s += ",\"weights\":";
        putRows(s, tr.weightsAt(t, 0), n, L, in.kMax, [](std::string& o, float v) { putFloat(o, v); });
        s += ",\"entropy\":[";
        for (uint32_t l = 0; l < L; ++l) {
            if (l) s += ',';
            putFloat(s, tr.entropy[tr.row(t, l)]);
        }
        s += ']';
        if (!tr.cache.empty() && stepStart) {
            s += ",\"cache\":";
            putCache(s, &tr.cache[step * L], L);
        }
        if (probs) {
            s += ",\"probs\":";
            putRows(s, tr.probsAt(t, 0), full.data(), L, E,
                    [digits](std::string& o, float v) { putFloat(o, roundProb(v, digits)); });
        }
        s += "}\n";
    }
    return s;
}

namespace {

// One JSON number as an expert id (-1..kMaxExperts) or a finite float.
template <class T>
bool getNumber(const nlohmann::json& v, T& out) {
    if constexpr (std::is_integral_v<T>) {
        if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() > int64_t(kMaxExperts)) return false;
        out = T(v.get<int64_t>());
    } else {
        if (!v.is_number() || !std::isfinite(v.get<double>()) || std::fabs(v.get<double>()) > 3.4e38) return false;
        out = T(v.get<double>());
    }
    return true;
}

// field key = [[...], ...]: one row per layer, row l holding want[l] numbers, stored at
// out[l * width + j].
template <class T>
Status getRows(const nlohmann::json& j, const char* key, uint32_t nLayer, uint32_t width, const int32_t* want,
               T* out, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end()) return makeError(where + ": field '" + key + "' is missing");
    if (!it->is_array() || it->size() != nLayer)
        return makeError(where + ": field '" + key + "' must be an array of " + std::to_string(nLayer) + " rows (one per layer)");
    for (uint32_t l = 0; l < nLayer; ++l) {
        const nlohmann::json& row = (*it)[l];
        const std::string at = where + ": " + key + "[" + std::to_string(l) + "]";
        if (!row.is_array() || row.size() != size_t(want[l]))
            return makeError(at + " must hold " + std::to_string(want[l]) + " numbers");
        for (size_t i = 0; i < row.size(); ++i)
            if (!getNumber(row[i], out[size_t(l) * width + i]))
                return makeError(at + " holds a value that is not " +
                                 (std::is_integral_v<T> ? "an expert id" : "a finite number"));
    }
    return {};
}

// field key = [...] of n floats.
Status getFlat(const nlohmann::json& j, const char* key, uint32_t n, float* out, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array() || it->size() != n)
        return makeError(where + ": field '" + key + "' must be an array of " + std::to_string(n) + " numbers");
    for (uint32_t i = 0; i < n; ++i)
        if (!getNumber((*it)[i], out[i]))
            return makeError(where + ": " + key + "[" + std::to_string(i) + "] is not a finite number");
    return {};
}

// field "pred": per layer up to k_max expert ids, stored -1 padded (validate() checks the rest).
Status getPred(const nlohmann::json& j, Trace& tr, size_t t, const std::string& where) {
    const TraceInfo& in = tr.info;
    auto it = j.find("pred");
    if (it == j.end() || !it->is_array() || it->size() != in.nLayer)
        return makeError(where + ": field 'pred' must be an array of " + std::to_string(in.nLayer) + " rows (one per layer)");
    for (uint32_t l = 0; l < in.nLayer; ++l) {
        const nlohmann::json& row = (*it)[l];
        const std::string at = where + ": pred[" + std::to_string(l) + "]";
        if (!row.is_array() || row.size() > in.kMax)
            return makeError(at + " must hold at most k_max (" + std::to_string(in.kMax) + ") expert ids");
        int32_t* out = &tr.pred[tr.row(t, l) * in.kMax];
        for (size_t i = 0; i < row.size(); ++i)
            if (!getNumber(row[i], out[i]) || out[i] < 0) return makeError(at + " holds a value that is not an expert id");
    }
    return {};
}

// field "cache": one object of counters per layer.
Status getCache(const nlohmann::json& j, Trace& tr, const std::string& where) {
    const uint32_t L = tr.info.nLayer;
    auto it = j.find("cache");
    if (it == j.end() || !it->is_array() || it->size() != L)
        return makeError(where + ": field 'cache' must be an array of " + std::to_string(L) +
                         " objects (the cache telemetry of the step, one per layer)");
    for (uint32_t l = 0; l < L; ++l) {
        const nlohmann::json& o = (*it)[l];
        const std::string at = where + ": cache[" + std::to_string(l) + "]";
        if (!o.is_object()) return makeError(at + " must be an object");
        cache::CacheStats c;
        for (size_t i = 0; i < std::size(kCacheKeys); ++i) {
            auto v = o.find(kCacheKeys[i]);
            if (v == o.end() || !(v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0)))
                return makeError(at + ": '" + kCacheKeys[i] + "' must be an integer >= 0");
            c.*kCacheFields[i] = v->get<uint64_t>();
        }
        auto w = o.find("wait_ms");
        if (w == o.end() || !w->is_number() || !std::isfinite(w->get<double>()) || w->get<double>() < 0)
            return makeError(at + ": 'wait_ms' must be a number >= 0");
        c.waitMs = w->get<double>();
        tr.cache.push_back(c);
    }
    return {};
}

Status parseTokenLine(const nlohmann::json& j, Trace& tr, size_t t, const detail::ParsedHeader& h,
                      const std::string& where) {
    const bool hasPieces = h.hasPieces;
    const TraceInfo& in = tr.info;
    const uint32_t L = in.nLayer;
    if (!j.is_object()) return makeError(where + ": a token line must be a JSON object");
    auto intField = [&](const char* key, int64_t lo, int64_t hi, int64_t& out) -> Status {
        auto it = j.find(key);
        if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
            return makeError(where + ": field '" + key + "' must be an integer in " + std::to_string(lo) + ".." +
                             std::to_string(hi));
        out = it->get<int64_t>();
        return {};
    };
    int64_t v = 0;
    MOE_TRY(intField("t", int64_t(t), int64_t(t), v));
    bool stepStart = true;
    if (h.sections.steps) {
        MOE_TRY(intField("step", 0, INT32_MAX, v));
        tr.steps[t] = int32_t(v);
        stepStart = t == 0 || tr.steps[t] != tr.steps[t - 1];
    }
    if (h.sections.telemetry && stepStart) {
        MOE_TRY(getCache(j, tr, where));
    } else if (h.sections.telemetry && j.contains("cache")) {
        return makeError(where + ": field 'cache' belongs on the first token line of a step only");
    }
    MOE_TRY(intField("pos", 0, INT32_MAX, v));
    tr.positions[t] = int32_t(v);
    MOE_TRY(intField("token", tr.tokens[t], tr.tokens[t], v));  // must agree with the header's list
    if (hasPieces) {
        auto it = j.find("piece");
        if (it == j.end() || !it->is_string()) return makeError(where + ": field 'piece' must be a string");
        tr.pieces[t] = it->get<std::string>();
    }
    auto act = j.find("active");
    if (act == j.end() || !act->is_array() || act->size() != L)
        return makeError(where + ": field 'active' must be an array of " + std::to_string(L) + " counts");
    int32_t* n = &tr.counts[tr.row(t, 0)];
    for (uint32_t l = 0; l < L; ++l) {
        const nlohmann::json& c = (*act)[l];
        if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<int64_t>() > int64_t(in.kMax))
            return makeError(where + ": active[" + std::to_string(l) + "] must be in 0..k_max (" + std::to_string(in.kMax) + ")");
        n[l] = int32_t(c.get<int64_t>());
    }
    MOE_TRY(getRows(j, "ids", L, in.kMax, n, &tr.ids[tr.row(t, 0) * in.kMax], where));
    if (h.sections.pred) MOE_TRY(getPred(j, tr, t, where));
    MOE_TRY(getRows(j, "weights", L, in.kMax, n, &tr.weights[tr.row(t, 0) * in.kMax], where));
    MOE_TRY(getFlat(j, "entropy", L, &tr.entropy[tr.row(t, 0)], where));
    if (in.hasProbs) {
        std::vector<int32_t> full(L, int32_t(in.nExpert));
        MOE_TRY(getRows(j, "probs", L, in.nExpert, full.data(), &tr.probs[tr.row(t, 0) * in.nExpert], where));
    }
    return {};
}

}  // namespace

Result<Trace> parseJsonl(std::string_view text, const std::string& name) {
    try {
        size_t lineNo = 0, pos = 0;
        auto nextLine = [&](std::string_view& line) {
            while (pos < text.size()) {
                size_t e = text.find('\n', pos);
                if (e == std::string_view::npos) e = text.size();
                line = text.substr(pos, e - pos);
                pos = e + 1;
                ++lineNo;
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                if (!line.empty()) return true;
            }
            return false;
        };
        std::string_view line;
        if (!nextLine(line)) return makeError(name + ": empty file (not a moescope trace)");
        const std::string where1 = name + ":" + std::to_string(lineNo);
        nlohmann::json hj = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
        if (hj.is_discarded()) return makeError(where1 + ": the header is not valid JSON (not a moescope trace?)");
        MOE_ASSIGN(detail::ParsedHeader h, detail::parseHeader(hj, where1));
        Trace tr;
        tr.info = h.info;
        const uint64_t T = h.nTokens;
        // sizes come from the header; a hostile header could claim huge counts: the lines must
        // then exist, so bound T by the number of bytes left (each token line is > 32 bytes)
        if (T > (text.size() - std::min(text.size(), pos)) / 32 + 1)
            return makeError(where1 + ": the header claims " + std::to_string(T) + " tokens but the file is too short");
        auto toks = hj.find("tokens");
        if (toks == hj.end() || !toks->is_array() || toks->size() != T)
            return makeError(where1 + ": header field 'tokens' must list the " + std::to_string(T) + " token ids");
        tr.tokens.resize(T);
        for (size_t t = 0; t < T; ++t) {
            const nlohmann::json& v = (*toks)[t];
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
                return makeError(where1 + ": tokens[" + std::to_string(t) + "] is not a token id");
            tr.tokens[t] = int32_t(v.get<int64_t>());
        }
        const TraceInfo& in = tr.info;
        tr.positions.assign(T, 0);
        if (h.hasPieces) tr.pieces.assign(T, {});
        tr.counts.assign(T * in.nLayer, 0);
        tr.ids.assign(T * in.nLayer * in.kMax, -1);
        tr.weights.assign(T * in.nLayer * in.kMax, 0.0f);
        tr.entropy.assign(T * in.nLayer, 0.0f);
        if (in.hasProbs) tr.probs.assign(T * in.nLayer * in.nExpert, 0.0f);
        if (h.sections.steps) tr.steps.assign(T, 0);
        if (h.sections.pred) tr.pred.assign(T * in.nLayer * in.kMax, -1);
        for (size_t t = 0; t < T; ++t) {
            if (!nextLine(line))
                return makeError(name + ": the file ends after " + std::to_string(t) + " of " + std::to_string(T) + " tokens");
            const std::string where = name + ":" + std::to_string(lineNo);
            nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
            if (j.is_discarded()) return makeError(where + ": not valid JSON");
            MOE_TRY(parseTokenLine(j, tr, t, h, where));
        }
        if (nextLine(line))
            return makeError(name + ":" + std::to_string(lineNo) + ": more token lines than the header's n_tokens (" +
                             std::to_string(T) + ")");
        Status st = validate(tr);
        if (!st.ok()) return makeError(name + ": " + st.message());
        return tr;
    } catch (const std::exception& e) {  // allocation failures, or anything nlohmann still throws
        return makeError(name + ": cannot read the trace (" + std::string(e.what()) + ")");
    }
}

}  // namespace moe::trace
