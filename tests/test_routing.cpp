// Routing policies: parsing (syntax and errors), canonical text, resolution into per-layer
// router parameters for a model (ranges, per-layer K, interventions), and the CPU router under
// resolved policies.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "cpu/router.h"
#include "cpu/routing_policy.h"

using namespace moe;
using namespace moe::routing;

namespace {

Policy parseOk(std::vector<std::string> elements) {
    auto p = parsePolicy(elements);
    REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
    return std::move(p).value();
}

std::string parseError(std::vector<std::string> elements) {
    auto p = parsePolicy(elements);
    REQUIRE_MESSAGE(!p.ok(), "expected an error for ", elements[0]);
    return p.error().message;
}

ModelConfig config(uint32_t layers = 4, uint32_t experts = 8, uint32_t k = 2) {
    ModelConfig c;
    c.block_count = layers;
    c.expert_count = experts;
    c.expert_used_count = k;
    c.expert_weights_norm = true;
    return c;
}

std::vector<cpu::RouterParams> resolveOk(const std::string& text, const ModelConfig& c = config()) {
    auto r = resolve(parseOk({text}), c);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

std::string resolveError(const std::string& text, const ModelConfig& c = config()) {
    auto r = resolve(parseOk({text}), c);
    REQUIRE_MESSAGE(!r.ok(), "expected an error for ", text);
    return r.error().message;
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace

TEST_CASE("policy parsing: every element and its canonical text") {
    CHECK(parseOk({}).isModel());
    CHECK(parseOk({"model"}).isModel());
    CHECK(toString(parseOk({})) == "model");

    Policy p = parseOk({"topk:4"});
    CHECK(p.selection == Policy::Selection::TopK);
    CHECK(p.k == std::vector<int32_t>{4});
    CHECK(toString(p) == "topk:4");

    p = parseOk({"topk:2,2,4,4"});
    CHECK(p.k == std::vector<int32_t>{2, 2, 4, 4});

    p = parseOk({"topp:0.6:8"});
    CHECK(p.selection == Policy::Selection::TopP);
    CHECK(p.p == 0.6f);
    CHECK(p.kMax == 8);
    CHECK(toString(parseOk({"topp:0.5"})) == "topp:0.5");

    p = parseOk({"topp:0.6:8", "mask:*:3"});  // repeated flags combine
    REQUIRE(p.interventions.size() == 1);
    CHECK(p.interventions[0].kind == Intervention::Kind::Mask);
    CHECK(p.interventions[0].layer == -1);
    CHECK(p.interventions[0].experts == std::vector<int32_t>{3});
    CHECK(toString(p) == "topp:0.6:8 mask:*:3");

    p = parseOk({"mask:1:3,5 force:0:2;scale:*:1,4:0.5"});  // one string, several elements
    REQUIRE(p.interventions.size() == 3);
    CHECK(p.interventions[0].layer == 1);
    CHECK(p.interventions[0].experts == std::vector<int32_t>{3, 5});
    CHECK(p.interventions[1].kind == Intervention::Kind::Force);
    CHECK(p.interventions[2].kind == Intervention::Kind::Scale);
    CHECK(p.interventions[2].scale == 0.5f);
    CHECK(toString(p) == "mask:1:3,5 force:0:2 scale:*:1,4:0.5");

    // the canonical text parses back to itself (trace headers rely on it)
    for (const char* s : {"topk:3", "topp:0.25:6 mask:*:0 force:1:2 scale:0:3:1.5", "topk:1,2 mask:0:1"})
        CHECK(toString(parseOk({toString(parseOk({s}))})) == toString(parseOk({s})));

    Policy k = parseOk({"mask:*:1"});
    REQUIRE(setLayerK(k, "1,2,3").ok());
    CHECK(toString(k) == "topk:1,2,3 mask:*:1");
}

TEST_CASE("policy parsing: syntax errors name the element and the problem") {
    CHECK(contains(parseError({"topk"}), "expected topk:K"));
    CHECK(contains(parseError({"topk:0"}), "K must be in 1..64"));
    CHECK(contains(parseError({"topk:65"}), "K must be in 1..64"));
    CHECK(contains(parseError({"topk:x"}), "'x' is not an expert count"));
    CHECK(contains(parseError({"topk:2,"}), "'' is not an expert count"));
    CHECK(contains(parseError({"topp:1.5"}), "P must be a number in (0, 1]"));
    CHECK(contains(parseError({"topp:0"}), "P must be a number in (0, 1]"));
    CHECK(contains(parseError({"topp:nan"}), "P must be"));
    CHECK(contains(parseError({"topp:0.5:0"}), "KMAX must be in 1..64"));
    CHECK(contains(parseError({"topp:0.5:2:3"}), "expected topp:P"));
    CHECK(contains(parseError({"mask:a:1"}), "layer must be a layer index or *"));
    CHECK(contains(parseError({"mask:-1:1"}), "layer must be"));
    CHECK(contains(parseError({"mask:1"}), "expected mask:L:E"));
    CHECK(contains(parseError({"mask:1:-2"}), "negative"));
    CHECK(contains(parseError({"force:*:"}), "is not an expert index"));
    CHECK(contains(parseError({"scale:1:2"}), "expected scale:L:E"));
    CHECK(contains(parseError({"scale:1:2:inf"}), "scale must be a finite number"));
    CHECK(contains(parseError({"model:1"}), "takes no arguments"));
    CHECK(contains(parseError({"banana"}), "unknown policy"));
    CHECK(contains(parseError({"topk:2", "topp:0.5"}), "one selection"));
    CHECK(contains(parseError({"topk:2 model"}), "one selection"));
    CHECK(contains(parseError({"topk:2 banana"}), "routing policy 'banana'"));
}

TEST_CASE("policy resolution: per-layer router parameters") {
    const ModelConfig c = config();
    // model: the architecture's router, identical on every layer
    for (const cpu::RouterParams& p : resolveOk("model")) {
        CHECK(p.selection == cpu::Selection::TopK);
        CHECK(p.k == 2);
        CHECK(p.kMax == 2);
        CHECK(p.normalize);
        CHECK(p.mask.empty());
        CHECK(p.forced.empty());
        CHECK(p.logitScale.empty());
    }
    auto r = resolveOk("topk:5");
    for (const auto& p : r) CHECK((p.k == 5 && p.kMax == 5));
    r = resolveOk("topk:1,2,3,8");
    CHECK(r[0].k == 1);
    CHECK(r[3].k == 8);
    CHECK(r[3].kMax == 8);
    r = resolveOk("topp:0.7");
    for (const auto& p : r) {
        CHECK(p.selection == cpu::Selection::TopP);
        CHECK(p.topP == 0.7f);
        CHECK(p.kMax == 8);  // default: every expert (at most 64)
    }
    CHECK(resolveOk("topp:0.7:3")[0].kMax == 3);

    r = resolveOk("mask:*:3 mask:1:5");
    for (uint32_t il = 0; il < 4; ++il) {
        REQUIRE(r[il].mask.size() == 8);
        CHECK(r[il].mask[3] == 1);
        CHECK(r[il].mask[5] == (il == 1 ? 1 : 0));
    }
    r = resolveOk("force:2:6,1 force:2:6");
    CHECK(r[2].forced == std::vector<int32_t>{6, 1});  // deduplicated, in order
    CHECK(r[0].forced.empty());
    CHECK(r[2].kMax == 2);
    r = resolveOk("force:0:1,2,3");  // more forced than k: all of them, the row widens
    CHECK(r[0].kMax == 3);
    CHECK(r[0].k == 2);
    r = resolveOk("scale:*:0:2 scale:1:0:0.5");  // later replaces earlier
    CHECK(r[0].logitScale[0] == 2.0f);
    CHECK(r[1].logitScale[0] == 0.5f);
    CHECK(r[1].logitScale[1] == 1.0f);

    // 128 experts: K and KMAX are capped at the engine's 64-wide rows
    CHECK(resolveOk("topp:0.5", config(2, 128, 8))[0].kMax == 64);
    CHECK(contains(parseError({"topk:65"}), "K must be in 1..64"));  // checked when parsed
}

TEST_CASE("policy resolution: errors against the model") {
    CHECK(contains(resolveError("mask:4:1"), "layer 4 is out of range (the model has 4 layers: 0..3)"));
    CHECK(contains(resolveError("force:0:8"), "expert 8 is out of range (the model has 8 experts: 0..7)"));
    CHECK(contains(resolveError("topk:9"), "K 9 at layer 0 is out of range 1..8"));
    CHECK(contains(resolveError("topp:0.5:9"), "KMAX 9 is out of range 1..8"));
    CHECK(contains(resolveError("topk:2,2,4"), "one value per layer: the model has 4 layers, got 3"));
    CHECK(contains(resolveError("mask:*:0,1,2,3 mask:2:4,5,6,7"), "leave layer 2 without experts"));
    CHECK(contains(resolveError("topp:0.5:2 force:0:1,2,3"), "3 experts forced at layer 0 but KMAX is 2"));
    CHECK(contains(resolveError("topk:2 mask:0:9"), "routing policy 'topk:2 mask:0:9'"));
}

TEST_CASE("the CPU router under resolved policies") {
    const ModelConfig c = config(1, 8, 2);
    // logits: expert 3 first, then 5, 1, 0, ...
    const std::vector<float> logits = {0.5f, 1.0f, -1.0f, 3.0f, -2.0f, 2.0f, 0.1f, -0.5f};
    auto run = [&](const std::string& policy, std::vector<int32_t>& ids, std::vector<float>& w) {
        const cpu::RouterParams p = resolveOk(policy, c)[0];
        ids.assign(size_t(p.kMax), -2);
        w.assign(size_t(p.kMax), -1.0f);
        int32_t count = 0;
        std::vector<float> probs(8);
        cpu::route(p, logits.data(), 1, 8, ids.data(), w.data(), &count, probs.data());
        ids.resize(size_t(count));
        w.resize(size_t(count));
        CHECK(std::accumulate(probs.begin(), probs.end(), 0.0) == doctest::Approx(1.0));
        return count;
    };
    std::vector<int32_t> ids;
    std::vector<float> w;
    CHECK(run("model", ids, w) == 2);
    CHECK(ids == std::vector<int32_t>{3, 5});
    CHECK(w[0] + w[1] == doctest::Approx(1.0f));
    CHECK(run("topk:3", ids, w) == 3);
    CHECK(ids == std::vector<int32_t>{3, 5, 1});
    CHECK(run("mask:*:3", ids, w) == 2);  // the top expert masked: the next two, renormalised
    CHECK(ids == std::vector<int32_t>{5, 1});
    CHECK(w[0] + w[1] == doctest::Approx(1.0f));
    CHECK(run("force:0:7", ids, w) == 2);  // forced takes the weakest place, rank order kept
    CHECK(ids == std::vector<int32_t>{3, 7});
    CHECK(run("scale:*:3:-1", ids, w) == 2);  // logit 3 -> -3: expert 3 drops out of the top 2
    CHECK(ids == std::vector<int32_t>{5, 1});
    CHECK(run("topp:0.5", ids, w) == 1);  // p(3) = 0.59 alone reaches 0.5
    CHECK(ids == std::vector<int32_t>{3});
    CHECK(w[0] == doctest::Approx(1.0f));
    CHECK(run("topp:0.99:3", ids, w) == 3);  // capped by KMAX
}
