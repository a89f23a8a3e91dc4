// Routing policies: parsing, canonical text, and resolution into per-layer router parameters.
#include "cpu/routing_policy.h"

#include "cpu/forward.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace moe::routing {

namespace {

const char* kGrammar =
    "expected model, topk:K, topk:K0,K1,.., topp:P[:KMAX], mask:L:E[,E..], force:L:E[,E..] or scale:L:E[,E..]:S "
    "(L: a layer or *)";

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

bool parseInt(std::string_view s, int32_t& v) {
    if (s.empty()) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parseFloat(std::string_view s, float& v) {
    if (s.empty()) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v);
}

Error bad(std::string_view element, const std::string& why) {
    return makeError("routing policy '" + std::string(element) + "': " + why);
}

Status parseIntList(std::string_view element, std::string_view list, const char* what, std::vector<int32_t>& out) {
    out.clear();
    for (std::string_view item : split(list, ',')) {
        int32_t v = 0;
        if (!parseInt(item, v)) return bad(element, std::string("'") + std::string(item) + "' is not " + what);
        out.push_back(v);
    }
    return {};
}

std::string formatFloat(float v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string joinInts(const std::vector<int32_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

// "topk:..." / "topp:..." or empty for the model's selection.
std::string selectionText(const Policy& p) {
    if (p.selection == Policy::Selection::TopK) return "topk:" + joinInts(p.k);
    if (p.selection == Policy::Selection::TopP)
        return "topp:" + formatFloat(p.p) + (p.kMax ? ":" + std::to_string(p.kMax) : "");
    return {};
}

}  // namespace

Status addElement(Policy& policy, std::string_view element) {
    const std::vector<std::string_view> f = split(element, ':');
    const std::string_view name = f[0];
    auto selectionTaken = [&]() -> Status {
        if (policy.selection != Policy::Selection::Model)
            return bad(element, "a policy has one selection (model, topk or topp); '" + selectionText(policy) +
                                    "' is already set");
        return {};
    };
    if (name == "model") {
        if (f.size() != 1) return bad(element, "'model' takes no arguments");
        return selectionTaken();
    }
    if (name == "topk") {
        if (f.size() != 2) return bad(element, "expected topk:K or topk:K0,K1,... (one K per layer)");
        MOE_TRY(selectionTaken());
        std::vector<int32_t> k;
        MOE_TRY(parseIntList(element, f[1], "an expert count", k));
        for (int32_t v : k)
            if (v < 1 || v > cpu::kRouteCap)
                return bad(element, "K must be in 1.." + std::to_string(cpu::kRouteCap) + ", got " + std::to_string(v));
        policy.selection = Policy::Selection::TopK;
        policy.k = std::move(k);
        return {};
    }
    if (name == "topp") {
        if (f.size() != 2 && f.size() != 3) return bad(element, "expected topp:P or topp:P:KMAX");
        MOE_TRY(selectionTaken());
        float p = 0;
        if (!parseFloat(f[1], p) || !(p > 0.0f && p <= 1.0f))
            return bad(element, "P must be a number in (0, 1], got '" + std::string(f[1]) + "'");
        int32_t kMax = 0;
        if (f.size() == 3 && (!parseInt(f[2], kMax) || kMax < 1 || kMax > cpu::kRouteCap))
            return bad(element, "KMAX must be in 1.." + std::to_string(cpu::kRouteCap) + ", got '" + std::string(f[2]) + "'");
        policy.selection = Policy::Selection::TopP;
        policy.p = p;
        policy.kMax = kMax;
        return {};
    }
    Intervention iv;
    if (name == "mask") iv.kind = Intervention::Kind::Mask;
    else if (name == "force") iv.kind = Intervention::Kind::Force;
    else if (name == "scale") iv.kind = Intervention::Kind::Scale;
    else return bad(element, std::string("unknown policy; ") + kGrammar);
    const size_t want = iv.kind == Intervention::Kind::Scale ? 4 : 3;
    if (f.size() != want)
        return bad(element, iv.kind == Intervention::Kind::Scale ? "expected scale:L:E[,E..]:S"
                                                                 : "expected " + std::string(name) + ":L:E[,E..]");
    if (f[1] == "*") {
        iv.layer = -1;
    } else if (!parseInt(f[1], iv.layer) || iv.layer < 0) {
        return bad(element, "layer must be a layer index or *, got '" + std::string(f[1]) + "'");
    }
    MOE_TRY(parseIntList(element, f[2], "an expert index", iv.experts));
    for (int32_t e : iv.experts)
        if (e < 0) return bad(element, "expert " + std::to_string(e) + " is negative");
    if (iv.kind == Intervention::Kind::Scale && !parseFloat(f[3], iv.scale))
        return bad(element, "scale must be a finite number, got '" + std::string(f[3]) + "'");
    policy.interventions.push_back(std::move(iv));
    return {};
}

Result<Policy> parsePolicy(const std::vector<std::string>& elements) {
    Policy p;
    for (const std::string& s : elements) {
        size_t i = 0;
        while (i < s.size()) {
            const size_t j = s.find_first_of(" ;\t", i);
            const size_t end = j == std::string::npos ? s.size() : j;
            if (end > i) MOE_TRY(addElement(p, std::string_view(s).substr(i, end - i)));
            i = end + 1;
        }
    }
    return p;
}

Status setLayerK(Policy& policy, std::string_view list) {
    return addElement(policy, "topk:" + std::string(list));
}

std::string toString(const Policy& p) {
    std::string s;
    auto add = [&](const std::string& e) { s += (s.empty() ? "" : " ") + e; };
    if (p.selection != Policy::Selection::Model) add(selectionText(p));
    for (const Intervention& iv : p.interventions) {
        const char* name = iv.kind == Intervention::Kind::Mask ? "mask" : iv.kind == Intervention::Kind::Force ? "force" : "scale";
        std::string e = std::string(name) + ":" + (iv.layer < 0 ? "*" : std::to_string(iv.layer)) + ":" + joinInts(iv.experts);
        if (iv.kind == Intervention::Kind::Scale) e += ":" + formatFloat(iv.scale);
        add(e);
    }
    return s.empty() ? "model" : s;
}

cpu::RouterParams modelRouterParams(const ModelConfig& cfg) {
    cpu::RouterParams p;
    p.gating = cpu::Gating::Softmax;
    p.selection = cpu::Selection::TopK;
    p.k = int(cfg.expert_used_count);
    p.kMax = p.k;
    p.normalize = cfg.expert_weights_norm;
    return p;
}

Result<std::vector<cpu::RouterParams>> resolve(const Policy& policy, const Model& model) {
    return resolve(policy, model.cfg, cpu::defaultRouting(model.plan));
}

Result<std::vector<cpu::RouterParams>> resolve(const Policy& policy, const ModelConfig& cfg,
                                               std::vector<cpu::RouterParams> base) {
    const int32_t L = int32_t(cfg.block_count), NE = int32_t(cfg.expert_count), cap = routeWidthCap(cfg);
    const std::string policyText = toString(policy);
    auto err = [&](const std::string& why) { return makeError("routing policy '" + policyText + "': " + why); };
    if (base.size() != size_t(L)) base.assign(size_t(L), modelRouterParams(cfg));
    std::vector<cpu::RouterParams> out = std::move(base);
    if (cfg.expert_used_count < 1 || int32_t(cfg.expert_used_count) > cap)
        return err("the model uses " + std::to_string(cfg.expert_used_count) + " experts per token; the engine supports 1.." +
                   std::to_string(cap));

    // selection
    if (policy.selection == Policy::Selection::TopK) {
        if (policy.k.size() != 1 && policy.k.size() != size_t(L))
            return err("per-layer K lists need one value per layer: the model has " + std::to_string(L) + " layers, got " +
                       std::to_string(policy.k.size()));
        for (int32_t il = 0; il < L; ++il) {
            const int32_t k = policy.k.size() == 1 ? policy.k[0] : policy.k[size_t(il)];
            if (k < 1 || k > cap)
                return err("K " + std::to_string(k) + " at layer " + std::to_string(il) + " is out of range 1.." +
                           std::to_string(cap) + " (the model has " + std::to_string(NE) + " experts)");
            out[size_t(il)].k = k;
            out[size_t(il)].kMax = k;
        }
    } else if (policy.selection == Policy::Selection::TopP) {
        const int32_t kMax = policy.kMax ? policy.kMax : cap;
        if (kMax < 1 || kMax > cap)
            return err("KMAX " + std::to_string(kMax) + " is out of range 1.." + std::to_string(cap) + " (the model has " +
                       std::to_string(NE) + " experts)");
        for (auto& rp : out) {
            rp.selection = cpu::Selection::TopP;
            rp.topP = policy.p;
            rp.kMax = kMax;
            rp.k = std::min(rp.k, kMax);  // unused by top-p; kept valid (k <= kMax)
        }
    }

    // interventions, in order
    for (const Intervention& iv : policy.interventions) {
        if (iv.layer >= L)
            return err("layer " + std::to_string(iv.layer) + " is out of range (the model has " + std::to_string(L) +
                       " layers: 0.." + std::to_string(L - 1) + ")");
        for (int32_t e : iv.experts)
            if (e < 0 || e >= NE)
                return err("expert " + std::to_string(e) + " is out of range (the model has " + std::to_string(NE) +
                           " experts: 0.." + std::to_string(NE - 1) + ")");
        for (int32_t il = 0; il < L; ++il) {
            if (iv.layer >= 0 && iv.layer != il) continue;
            cpu::RouterParams& rp = out[size_t(il)];
            switch (iv.kind) {
                case Intervention::Kind::Mask:
                    if (rp.mask.empty()) rp.mask.assign(size_t(NE), 0);
                    for (int32_t e : iv.experts) rp.mask[size_t(e)] = 1;
                    break;
                case Intervention::Kind::Force:
                    for (int32_t e : iv.experts)
                        if (std::find(rp.forced.begin(), rp.forced.end(), e) == rp.forced.end()) rp.forced.push_back(e);
                    break;
                case Intervention::Kind::Scale:
                    if (rp.logitScale.empty()) rp.logitScale.assign(size_t(NE), 1.0f);
                    for (int32_t e : iv.experts) rp.logitScale[size_t(e)] = iv.scale;
                    break;
            }
        }
    }

    // consistency per layer
    for (int32_t il = 0; il < L; ++il) {
        cpu::RouterParams& rp = out[size_t(il)];
        if (!rp.mask.empty() && std::count(rp.mask.begin(), rp.mask.end(), uint8_t(1)) == NE)
            return err("the masks leave layer " + std::to_string(il) + " without experts");
        const int32_t nForced = int32_t(rp.forced.size());
        if (rp.selection == cpu::Selection::TopK) {
            rp.kMax = std::max(rp.k, nForced);  // every forced expert gets a place
            if (rp.kMax > cap)
                return err(std::to_string(nForced) + " experts forced at layer " + std::to_string(il) + "; at most " +
                           std::to_string(cap) + " fit a routing row");
        } else if (nForced > rp.kMax) {
            return err(std::to_string(nForced) + " experts forced at layer " + std::to_string(il) + " but KMAX is " +
                       std::to_string(rp.kMax));
        }
    }
    return out;
}

}  // namespace moe::routing
