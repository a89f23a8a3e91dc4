// Layer plans: every architecture's plan covers every tensor of its file once, the KV bytes per
// token follow from its attention blocks, and checkExecutable refuses each block feature the
// executors do not implement with a message naming the layer and the feature.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "model/arch.h"
#include "model/plan.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

const Arch kArchs[] = {Arch::Llama, Arch::Qwen2Moe, Arch::Qwen3Moe, Arch::Olmoe, Arch::Deepseek2};

std::string refusal(const ModelPlan& p) {
    Status st = checkExecutable(p);
    return st.ok() ? std::string("(accepted)") : st.message();
}

}  // namespace

TEST_CASE("a plan views every tensor of its file exactly once") {
    for (Arch a : kArchs) {
        const std::string name = std::string(archName(a)) + "_plan";
        CAPTURE(name);
        auto m = loadSynth(name, synthSpecFor(a));
        std::map<const uint8_t*, int> seen;
        auto visit = [&](const TensorView& t) {
            if (t) ++seen[t.data];
        };
        visit(m->plan.tokenEmbd);
        visit(m->plan.outputNorm.w);
        if (!m->cfg.output_tied) visit(m->plan.output);
        for (const LayerPlan& l : m->plan.layers) forEachTensor(l, [&](const TensorView& t, TensorRole) { visit(t); });
        CHECK(seen.size() == m->file.tensors().size());
        for (const auto& t : m->file.tensors()) CHECK(seen[t.data] == 1);
        // the KV cache: K and V rows, F32, of every attention block; MLA: one latent row
        const ModelConfig& c = m->cfg;
        if (a == Arch::Deepseek2)
            CHECK(kvBytesPerToken(m->plan) == uint64_t(c.block_count) * (c.kv_lora_rank + c.rope_dimension_count) * sizeof(float));
        else
            CHECK(kvBytesPerToken(m->plan) == 2ull * c.block_count * c.head_count_kv * c.head_dim * sizeof(float));
    }
}

TEST_CASE("the architecture table names every family") {
    for (Arch a : kArchs) {
        const ArchDef* d = findArch(archName(a));
        REQUIRE(d);
        CHECK(d->arch == a);
        CHECK(&archDef(a) == d);
    }
    CHECK(findArch("gpt-oss") == nullptr);
    CHECK(supportedArchList() == "llama with experts, qwen2moe, qwen3moe, olmoe, deepseek2, glm4moe");
}

TEST_CASE("checkExecutable refuses what the executors do not run, naming layer and feature") {
    auto m = loadSynth("qwen2moe_plan", synthSpecFor(Arch::Qwen2Moe));
    const ModelPlan base = m->plan;
    REQUIRE(refusal(base) == "(accepted)");
    const uint32_t last = uint32_t(base.layers.size() - 1);
    const std::string at = "layer " + std::to_string(last) + ": ";
    const std::string tail = " is not supported by this version of moescope";
    auto attnOf = [&](ModelPlan& p) -> AttentionBlock& { return std::get<AttentionBlock>(p.layers[last].blocks[0]); };
    auto moeOf = [&](ModelPlan& p) -> MoeBlock& { return std::get<MoeBlock>(p.layers[last].blocks[1]); };
    const TensorView someVector = attnOf(const_cast<ModelPlan&>(base)).norm.w;  // any present tensor

    struct Edit {
        const char* feature;
        std::function<void(ModelPlan&)> apply;
    };
    const Edit edits[] = {
        {"sliding-window attention", [&](ModelPlan& p) { attnOf(p).slidingWindow = 128; }},
        {"attention sinks", [&](ModelPlan& p) { attnOf(p).sinks = someVector; }},
        {"attention logit soft-capping", [&](ModelPlan& p) { attnOf(p).softcap = 50.0f; }},
        {"q/k biases or norms with latent attention (MLA)", [&](ModelPlan& p) { attnOf(p).mla.kvLoraRank = 512; }},
        {"multi-section RoPE", [&](ModelPlan& p) { attnOf(p).rope.sections = {16, 24, 24}; }},
        {"a KV cache shared with another layer", [&](ModelPlan& p) { attnOf(p).kvFrom = 0; }},
        {"a post-attention norm", [&](ModelPlan& p) { attnOf(p).postNorm.w = someVector; }},
        {"an output-projection bias", [&](ModelPlan& p) { attnOf(p).bo = someVector; }},
        {"GELU experts", [&](ModelPlan& p) { moeOf(p).act = Activation::Gelu; }},
        {"clamped-SwiGLU experts", [&](ModelPlan& p) { moeOf(p).act = Activation::ClampedSwiglu; }},
        {"a softmax over the top-k logits", [&](ModelPlan& p) { moeOf(p).router.softmaxAfterTopK = true; }},
        {"a dense FFN block without an input norm", [&](ModelPlan& p) { p.layers[last].blocks[1] = FfnBlock{}; }},
        {"a GELU FFN", [&](ModelPlan& p) {
             FfnBlock f;
             f.norm.w = someVector;
             f.act = Activation::Gelu;
             p.layers[last].blocks[1] = f;
         }},
        {"a recurrent (linear-attention) block", [&](ModelPlan& p) { p.layers[last].blocks[0] = RecurrentBlock{}; }},
    };
    for (const Edit& e : edits) {
        CAPTURE(e.feature);
        ModelPlan p = base;
        e.apply(p);
        CHECK(refusal(p) == at + e.feature + tail);
    }
    ModelPlan two = base;
    two.layers[last].blocks.push_back(two.layers[last].blocks[1]);
    CHECK(refusal(two) == at + "a layer other than one attention block followed by one FFN or MoE block (it has 1 " +
                              "attention and 2 FFN/MoE blocks)" + tail);
    ModelPlan dense = base;  // an FFN after the MoE block: two feed-forward blocks
    FfnBlock extra;
    extra.norm.w = someVector;
    dense.layers[last].blocks.emplace_back(extra);
    CHECK(refusal(dense).find("it has 1 attention and 2 FFN/MoE blocks") != std::string::npos);
    // what deepseek2 brought in is executed now: accepted
    const Edit accepted[] = {
        {"YaRN", [&](ModelPlan& p) { attnOf(p).rope.yarn.factor = 4.0f; }},
        {"sigmoid", [&](ModelPlan& p) { moeOf(p).router.sigmoid = true; }},
        {"selection bias", [&](ModelPlan& p) { moeOf(p).router.selectionBias = someVector; }},
        {"groups", [&](ModelPlan& p) { moeOf(p).router.nGroup = 2, moeOf(p).router.groupsUsed = 1; }},
        {"weight scale", [&](ModelPlan& p) { moeOf(p).router.scale = 2.5f; }},
        {"ungated shared expert", [&](ModelPlan& p) { moeOf(p).shared.gateInp = {}; }},
        {"attention scale", [&](ModelPlan& p) { attnOf(p).kqScale = 0.1f; }},
    };
    for (const Edit& e : accepted) {
        CAPTURE(e.feature);
        ModelPlan p = base;
        e.apply(p);
        CHECK(refusal(p) == "(accepted)");
    }
    ModelPlan capped = base;
    capped.logitSoftcap = 30.0f;
    CHECK(refusal(capped) == "final-logit soft-capping is not supported by this version of moescope");
}
