// Routing traces: building from forward steps, invariants, the shared header, file I/O.
#include "trace/trace.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "cpu/router.h"
#include "trace/trace_internal.h"

namespace moe::trace {

namespace {

// Re-pads every row (ids, weights, predictions) to a wider row width.
void widen(Trace& tr, uint32_t kMax) {
    const uint32_t old = tr.info.kMax;
    if (kMax <= old) return;
    const size_t rows = tr.counts.size();
    std::vector<int32_t> ids(rows * kMax, -1), pred(tr.pred.empty() ? 0 : rows * kMax, -1);
    std::vector<float> w(rows * kMax, 0.0f);
    for (size_t r = 0; r < rows; ++r)
        for (uint32_t j = 0; j < old; ++j) {
            ids[r * kMax + j] = tr.ids[r * old + j];
            w[r * kMax + j] = tr.weights[r * old + j];
            if (!pred.empty()) pred[r * kMax + j] = tr.pred[r * old + j];
        }
    tr.ids = std::move(ids);
    tr.weights = std::move(w);
    tr.pred = std::move(pred);
    tr.info.kMax = kMax;
}

}  // namespace

float roundProb(float p, int32_t digits) {
    if (digits < 0) return p;
    const double s = std::pow(10.0, std::min(digits, 9));
    return float(std::round(double(p) * s) / s);
}

Status append(Trace& tr, const StepView& st, const int32_t* tokens, uint32_t pos0,
              const std::vector<std::string>* pieces) {
    TraceInfo& in = tr.info;
    if (st.nLayer != in.nLayer || st.nExpert != in.nExpert)
        return makeError("trace: a step with " + std::to_string(st.nLayer) + " layers x " + std::to_string(st.nExpert) +
                         " experts does not fit a trace of " + std::to_string(in.nLayer) + " x " +
                         std::to_string(in.nExpert));
    if (in.hasProbs && !st.probs) return makeError("trace: the step has no router probabilities");
    if (st.kMax > kMaxRowWidth) return makeError("trace: routing rows wider than " + std::to_string(kMaxRowWidth));
    if (pieces && pieces->size() != st.nTok) return makeError("trace: one piece per token expected");
    const bool first = tr.tokens.empty();
    if (!first && (pieces != nullptr) != !tr.pieces.empty())
        return makeError("trace: token pieces must be given for every step or for none");
    if (!first && (st.pred != nullptr) != !tr.pred.empty())
        return makeError("trace: expert predictions must be given for every step or for none");
    if (!first && (st.cache != nullptr) != !tr.cache.empty())
        return makeError("trace: cache telemetry must be given for every step or for none");
    if (st.cache && in.cache.slots == 0) return makeError("trace: cache telemetry needs the cache setting in the header");
    if (st.nTok == 0) return {};
    widen(tr, st.kMax);
    const uint32_t L = in.nLayer, K = in.kMax, E = in.nExpert;
    // one call is one forward step; step indices are stored once a step holds several tokens
    const int32_t step = int32_t(tr.nSteps());
    const bool recordSteps = st.nTok > 1 || !tr.steps.empty();
    if (recordSteps && tr.steps.empty())
        for (size_t t = 0; t < tr.tokens.size(); ++t) tr.steps.push_back(int32_t(t));
    if (st.cache) tr.cache.insert(tr.cache.end(), st.cache, st.cache + L);
    for (uint32_t t = 0; t < st.nTok; ++t) {
        tr.tokens.push_back(tokens[t]);
        tr.positions.push_back(int32_t(pos0 + t));
        if (pieces) tr.pieces.push_back((*pieces)[t]);
        if (recordSteps) tr.steps.push_back(step);
        for (uint32_t l = 0; l < L; ++l) {
            const size_t src = size_t(l) * st.nTok + t;
            const int32_t n = st.counts[src];
            if (n < 0 || uint32_t(n) > st.kMax)
                return makeError("trace: layer " + std::to_string(l) + " selected " + std::to_string(n) + " experts");
            tr.counts.push_back(n);
            for (uint32_t j = 0; j < K; ++j) {
                const bool used = j < uint32_t(n);
                tr.ids.push_back(used ? st.ids[src * st.kMax + j] : -1);
                tr.weights.push_back(used ? st.weights[src * st.kMax + j] : 0.0f);
                if (st.pred) {
                    const int32_t e = j < st.kMax ? st.pred[src * st.kMax + j] : -1;
                    if (e < -1 || e >= int32_t(E))
                        return makeError("trace: layer " + std::to_string(l) + " predicts expert " + std::to_string(e));
                    tr.pred.push_back(e);
                }
            }
            if (st.probs) {
                const float* p = st.probs + src * E;
                tr.entropy.push_back(cpu::entropy(p, E));
                if (in.hasProbs) tr.probs.insert(tr.probs.end(), p, p + E);
            } else {
                tr.entropy.push_back(0.0f);
            }
        }
    }
    return {};
}

std::vector<size_t> stepBegins(const Trace& tr) {
    std::vector<size_t> b;
    b.reserve(tr.nSteps() + 1);
    for (size_t t = 0; t < tr.nTokens(); ++t)
        if (t == 0 || tr.stepOf(t) != tr.stepOf(t - 1)) b.push_back(t);
    b.push_back(tr.nTokens());
    return b;
}

namespace {

// The optional parts: steps, predictions, cache setting and telemetry, expert sizes.
Status validateOptional(const Trace& tr) {
    const TraceInfo& in = tr.info;
    const size_t T = tr.tokens.size(), rows = T * in.nLayer;
    if (!in.expertBytes.empty() && in.expertBytes.size() != in.nLayer)
        return makeError("expert_bytes must give one size per layer (" + std::to_string(in.nLayer) + ")");
    if (in.cache.slots > in.nExpert)
        return makeError("cache slots " + std::to_string(in.cache.slots) + " exceed the " + std::to_string(in.nExpert) +
                         " experts");
    if (in.cache.slots > 0 && in.cache.policy.empty()) return makeError("the cache setting names no policy");
    if (!tr.steps.empty()) {
        if (tr.steps.size() != T) return makeError("step indices do not match " + std::to_string(T) + " tokens");
        for (size_t t = 0; t < T; ++t) {
            const int32_t prev = t ? tr.steps[t - 1] : -1;
            if (tr.steps[t] != prev && tr.steps[t] != prev + 1)
                return makeError("token " + std::to_string(t) + ": step " + std::to_string(tr.steps[t]) +
                                 " does not follow step " + std::to_string(prev) + " (steps start at 0 and grow by 0 or 1)");
        }
    }
    if (!tr.pred.empty()) {
        if (tr.pred.size() != rows * in.kMax) return makeError("predictions do not match " + std::to_string(T) + " tokens");
        std::vector<size_t> seen(in.nExpert, 0);
        for (size_t r = 0; r < rows; ++r) {
            const std::string at =
                "token " + std::to_string(r / in.nLayer) + ", layer " + std::to_string(r % in.nLayer) + ": prediction ";
            const int32_t* p = tr.pred.data() + r * in.kMax;
            bool padding = r % in.nLayer == 0;  // layer 0 has no prediction
            for (uint32_t j = 0; j < in.kMax; ++j) {
                if (p[j] == -1) {
                    padding = true;
                    continue;
                }
                if (padding) return makeError(at + (r % in.nLayer ? "has an expert after the padding" : "of layer 0 must be empty"));
                if (p[j] < 0 || uint32_t(p[j]) >= in.nExpert) return makeError(at + "expert " + std::to_string(p[j]) + " out of range");
                if (seen[size_t(p[j])] == r + 1) return makeError(at + "lists expert " + std::to_string(p[j]) + " twice");
                seen[size_t(p[j])] = r + 1;
            }
        }
    }
    if (!tr.cache.empty()) {
        if (in.cache.slots == 0) return makeError("cache telemetry without the cache setting in the header");
        if (tr.cache.size() != tr.nSteps() * in.nLayer)
            return makeError("cache telemetry does not hold one entry per step and layer");
        for (size_t i = 0; i < tr.cache.size(); ++i) {
            const cache::CacheStats& c = tr.cache[i];
            if (c.hits + c.misses != c.accesses || !std::isfinite(c.waitMs) || c.waitMs < 0)
                return makeError("step " + std::to_string(i / in.nLayer) + ", layer " + std::to_string(i % in.nLayer) +
                                 ": cache telemetry is inconsistent (hits + misses != accesses, or a bad wait time)");
        }
    }
    return {};
}

}  // namespace

Status validate(const Trace& tr) {
    const TraceInfo& in = tr.info;
    const size_t T = tr.tokens.size();
    if (in.nLayer == 0 || in.nLayer > kMaxLayers) return makeError("layer count " + std::to_string(in.nLayer) + " out of range");
    if (in.nExpert == 0 || in.nExpert > kMaxExperts)
        return makeError("expert count " + std::to_string(in.nExpert) + " out of range");
    if (in.kMax > kMaxRowWidth || in.kMax > in.nExpert)
        return makeError("row width k_max " + std::to_string(in.kMax) + " out of range");
    const size_t rows = T * in.nLayer;
    if (tr.positions.size() != T || (!tr.pieces.empty() && tr.pieces.size() != T) || tr.counts.size() != rows ||
        tr.ids.size() != rows * in.kMax || tr.weights.size() != rows * in.kMax || tr.entropy.size() != rows ||
        tr.probs.size() != (in.hasProbs ? rows * in.nExpert : 0))
        return makeError("array sizes do not match " + std::to_string(T) + " tokens");
    for (size_t t = 0; t < T; ++t)
        if (tr.tokens[t] < 0 || tr.positions[t] < 0)
            return makeError("token " + std::to_string(t) + ": negative token id or position");
    std::vector<size_t> seen(in.nExpert, 0);  // row + 1 of the last selection of each expert
    for (size_t r = 0; r < rows; ++r) {
        const std::string at = "token " + std::to_string(r / in.nLayer) + ", layer " + std::to_string(r % in.nLayer) + ": ";
        const int32_t n = tr.counts[r];
        if (n < 0 || uint32_t(n) > in.kMax) return makeError(at + "active count " + std::to_string(n) + " out of range");
        for (uint32_t j = 0; j < in.kMax; ++j) {
            const int32_t e = tr.ids[r * in.kMax + j];
            const float w = tr.weights[r * in.kMax + j];
            if (!std::isfinite(w)) return makeError(at + "weight is not a finite number");
            if (j >= uint32_t(n)) {
                if (e != -1 || w != 0.0f) return makeError(at + "entries past the active count must be empty");
                continue;
            }
            if (e < 0 || uint32_t(e) >= in.nExpert) return makeError(at + "expert " + std::to_string(e) + " out of range");
            if (seen[size_t(e)] == r + 1) return makeError(at + "expert " + std::to_string(e) + " selected twice");
            seen[size_t(e)] = r + 1;
        }
        if (!std::isfinite(tr.entropy[r]) || tr.entropy[r] < 0) return makeError(at + "entropy is not a finite number >= 0");
        if (in.hasProbs)
            for (uint32_t e = 0; e < in.nExpert; ++e) {
                const float p = tr.probs[r * in.nExpert + e];
                if (!(p >= 0.0f && p <= 1.0f + 1e-6f)) return makeError(at + "probability outside [0, 1]");
            }
    }
    return validateOptional(tr);
}

namespace detail {

nlohmann::json headerJson(const TraceInfo& in, size_t nTokens, bool hasPieces, const WriteOptions& opts,
                          const Sections& sec, uint32_t version) {
    const bool probs = in.hasProbs && opts.probs;
    nlohmann::json j;
    j["format"] = kFormatName;
    j["version"] = version;
    j["model"] = in.model;
    j["arch"] = in.arch;
    j["n_layer"] = in.nLayer;
    j["n_expert"] = in.nExpert;
    j["k"] = in.k;
    j["k_max"] = in.kMax;
    j["policy"] = in.policy;
    j["mode"] = in.mode;
    j["backend"] = in.backend;
    j["ctx"] = in.ctx;
    j["n_tokens"] = nTokens;
    j["probs"] = probs ? "full" : "none";
    j["prob_digits"] = probs ? (opts.probDigits >= 0 ? opts.probDigits : in.probDigits) : -1;
    j["pieces"] = hasPieces;
    if (!in.expertBytes.empty()) {
        const bool same = std::all_of(in.expertBytes.begin(), in.expertBytes.end(),
                                      [&](uint64_t b) { return b == in.expertBytes[0]; });
        j["expert_bytes"] = same ? nlohmann::json(in.expertBytes[0]) : nlohmann::json(in.expertBytes);
    }
    if (sec.steps) j["steps"] = true;
    if (sec.pred) j["pred"] = true;
    if (in.cache.slots > 0)
        j["cache"] = {{"policy", in.cache.policy}, {"slots", in.cache.slots}, {"prefetch", in.cache.prefetch},
                      {"telemetry", sec.telemetry}};
    return j;
}

namespace {

// The optional keys: expert_bytes, steps, pred, cache.
Status parseOptionalHeader(const nlohmann::json& j, ParsedHeader& h, const std::string& where) {
    auto err = [&](const std::string& why) { return makeError(where + ": " + why); };
    auto flag = [&](const nlohmann::json& obj, const char* key, bool& out) -> Status {
        auto it = obj.find(key);
        if (it == obj.end()) return {};
        if (!it->is_boolean()) return err(std::string("header field '") + key + "' must be true or false");
        out = it->get<bool>();
        return {};
    };
    TraceInfo& in = h.info;
    auto bytes = j.find("expert_bytes");
    if (bytes != j.end()) {
        auto one = [&](const nlohmann::json& v, uint64_t& out) {
            if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) return false;
            out = v.get<uint64_t>();
            return out <= (uint64_t(1) << 48);
        };
        uint64_t b = 0;
        if (bytes->is_array()) {
            if (bytes->size() != in.nLayer)
                return err("header field 'expert_bytes' must be one integer or " + std::to_string(in.nLayer) + " (one per layer)");
            for (const nlohmann::json& v : *bytes) {
                if (!one(v, b)) return err("header field 'expert_bytes' holds a value that is not a byte count");
                in.expertBytes.push_back(b);
            }
        } else {
            if (!one(*bytes, b)) return err("header field 'expert_bytes' must be a byte count");
            if (b > 0) in.expertBytes.assign(in.nLayer, b);  // 0: unknown
        }
    }
    MOE_TRY(flag(j, "steps", h.sections.steps));
    MOE_TRY(flag(j, "pred", h.sections.pred));
    auto c = j.find("cache");
    if (c != j.end()) {
        if (!c->is_object()) return err("header field 'cache' must be an object");
        auto pol = c->find("policy");
        if (pol == c->end() || !pol->is_string() || pol->get<std::string>().empty() || pol->get<std::string>().size() > 64)
            return err("header field 'cache.policy' must name the cache policy");
        in.cache.policy = pol->get<std::string>();
        auto slots = c->find("slots");
        if (slots == c->end() || !slots->is_number_integer() || slots->get<int64_t>() < 1 ||
            slots->get<int64_t>() > int64_t(in.nExpert))
            return err("header field 'cache.slots' must be an integer in 1.." + std::to_string(in.nExpert));
        in.cache.slots = uint32_t(slots->get<int64_t>());
        MOE_TRY(flag(*c, "prefetch", in.cache.prefetch));
        MOE_TRY(flag(*c, "telemetry", h.sections.telemetry));
    }
    return {};
}

}  // namespace

Result<ParsedHeader> parseHeader(const nlohmann::json& j, const std::string& where) {
    auto err = [&](const std::string& why) { return makeError(where + ": " + why); };
    if (!j.is_object()) return err("the header is not a JSON object");
    auto str = [&](const char* key, std::string& out, bool required) -> Status {
        auto it = j.find(key);
        if (it == j.end()) return required ? Status(err(std::string("header field '") + key + "' is missing")) : Status();
        if (!it->is_string()) return err(std::string("header field '") + key + "' must be a string");
        out = it->get<std::string>();
        return {};
    };
    auto num = [&](const char* key, int64_t lo, int64_t hi, int64_t& out) -> Status {
        auto it = j.find(key);
        if (it == j.end()) return err(std::string("header field '") + key + "' is missing");
        if (!it->is_number_integer()) return err(std::string("header field '") + key + "' must be an integer");
        int64_t v = 0;
        if (it->is_number_unsigned()) {
            const uint64_t u = it->get<uint64_t>();
            v = u > uint64_t(hi) ? lo - 1 : int64_t(u);  // too large: reported below as out of range
        } else {
            v = it->get<int64_t>();
        }
        if (v < lo || v > hi)
            return err(std::string("header field '") + key + "' = " + it->dump() + " is out of range " + std::to_string(lo) +
                       ".." + std::to_string(hi));
        out = v;
        return {};
    };
    std::string format;
    MOE_TRY(str("format", format, true));
    if (format != kFormatName)
        return err("not a moescope trace (format " +
                   nlohmann::json(format.substr(0, 64)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ")");
    int64_t version = 0;
    MOE_TRY(num("version", 0, INT32_MAX, version));
    if (version < kMinFormatVersion || version > kFormatVersion)
        return err("trace format version " + std::to_string(version) + " is not supported (this build reads versions " +
                   std::to_string(kMinFormatVersion) + " to " + std::to_string(kFormatVersion) + ")");
    ParsedHeader h;
    h.version = uint32_t(version);
    TraceInfo& in = h.info;
    MOE_TRY(str("model", in.model, false));
    MOE_TRY(str("arch", in.arch, false));
    MOE_TRY(str("policy", in.policy, false));
    MOE_TRY(str("mode", in.mode, false));
    MOE_TRY(str("backend", in.backend, false));
    int64_t v = 0;
    MOE_TRY(num("n_layer", 1, kMaxLayers, v));
    in.nLayer = uint32_t(v);
    MOE_TRY(num("n_expert", 1, kMaxExperts, v));
    in.nExpert = uint32_t(v);
    MOE_TRY(num("k", 0, in.nExpert, v));
    in.k = uint32_t(v);
    MOE_TRY(num("k_max", 0, std::min<int64_t>(kMaxRowWidth, in.nExpert), v));
    in.kMax = uint32_t(v);
    MOE_TRY(num("ctx", 0, INT32_MAX, v));
    in.ctx = uint32_t(v);
    MOE_TRY(num("n_tokens", 0, INT32_MAX, v));
    h.nTokens = uint64_t(v);
    std::string probs;
    MOE_TRY(str("probs", probs, true));
    if (probs != "full" && probs != "none") return err("header field 'probs' must be \"full\" or \"none\"");
    in.hasProbs = probs == "full";
    MOE_TRY(num("prob_digits", -1, 9, v));
    in.probDigits = int32_t(v);
    auto pieces = j.find("pieces");
    if (pieces != j.end()) {
        if (!pieces->is_boolean()) return err("header field 'pieces' must be true or false");
        h.hasPieces = pieces->get<bool>();
    }
    MOE_TRY(parseOptionalHeader(j, h, where));
    return h;
}

}  // namespace detail

Status writeTrace(const std::string& path, const Trace& trace, const WriteOptions& opts) {
    MOE_TRY(validate(trace));
    const bool binary = path.size() >= 8 && path.compare(path.size() - 8, 8, ".mstrace") == 0;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return makeError("cannot write '" + path + "'");
    if (binary) {
        const std::vector<uint8_t> b = toBinary(trace, opts);
        out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    } else {
        const std::string s = toJsonl(trace, opts);
        out.write(s.data(), std::streamsize(s.size()));
    }
    out.close();
    if (!out) return makeError("write error on '" + path + "'");
    return {};
}

Result<Trace> readTrace(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return makeError("cannot read '" + path + "'");
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return makeError("read error on '" + path + "'");
    if (data.size() >= 8 && std::string_view(data.data(), 8) == std::string_view("MSTRACE\0", 8))
        return parseBinary(reinterpret_cast<const uint8_t*>(data.data()), data.size(), path);
    return parseJsonl(std::string_view(data.data(), data.size()), path);
}

}  // namespace moe::trace
