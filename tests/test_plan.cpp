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

const Arch kArchs[] = {Arch::Llama, Arch::Qwen2Moe, Arch::Qwen3Moe, Arch::Olmoe};

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
        // the KV cache: K and V rows, F32, of every attention block
        const ModelConfig& c = m->cfg;
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
    CHECK(findArch("deepseek2") == nullptr);
    CHECK(supportedArchList() == "llama with experts, qwen2moe, qwen3moe, olmoe");
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
        {"multi-head latent attention (MLA)", [&](ModelPlan& p) { attnOf(p).mla.kvLoraRank = 512; }},
        {"YaRN RoPE scaling", [&](ModelPlan& p) { attnOf(p).rope.yarn.factor = 4.0f; }},
        {"multi-section RoPE", [&](ModelPlan& p) { attnOf(p).rope.sections = {16, 24, 24}; }},
        {"a KV cache shared with another layer", [&](ModelPlan& p) { attnOf(p).kvFrom = 0; }},
        {"a post-attention norm", [&](ModelPlan& p) { attnOf(p).postNorm.w = someVector; }},
        {"an output-projection bias", [&](ModelPlan& p) { attnOf(p).bo = someVector; }},
        {"GELU experts", [&](ModelPlan& p) { moeOf(p).act = Activation::Gelu; }},
        {"clamped-SwiGLU experts", [&](ModelPlan& p) { moeOf(p).act = Activation::ClampedSwiglu; }},
        {"a sigmoid router", [&](ModelPlan& p) { moeOf(p).router.sigmoid = true; }},
        {"a softmax over the top-k logits", [&](ModelPlan& p) { moeOf(p).router.softmaxAfterTopK = true; }},
        {"an expert selection bias", [&](ModelPlan& p) { moeOf(p).router.selectionBias = someVector; }},
        {"group-limited expert selection", [&](ModelPlan& p) { moeOf(p).router.nGroup = 8; }},
        {"a routed-expert weight scale", [&](ModelPlan& p) { moeOf(p).router.scale = 2.5f; }},
        {"an ungated shared expert", [&](ModelPlan& p) { moeOf(p).shared.gateInp = {}; }},
        {"a dense FFN block", [&](ModelPlan& p) { p.layers[last].blocks.emplace_back(FfnBlock{}); }},
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
    CHECK(refusal(two) == at + "a layer without exactly one attention and one MoE block (it has 1 and 2)" + tail);
    ModelPlan capped = base;
    capped.logitSoftcap = 30.0f;
    CHECK(refusal(capped) == "final-logit soft-capping is not supported by this version of moescope");
}
