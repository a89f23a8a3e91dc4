// The measurement half of `moescope bench` on the device: the roofline kernels run (validation
// on) and give positive rates, the device counts recorded commands, and a profiled forward step
// of a generated model groups its kernel times into families.
#include <doctest/doctest.h>

#include "gpu_env.h"
#include "runtime/profile.h"
#include "selftest/roofline.h"
#include "runtime/vk_forward.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("kernel families drop the weight type and the texel-read, subgroup and row-per-invocation variants") {
    CHECK(rt::kernelFamily("mul_mat_sg_q8_0") == "mul_mat");
    CHECK(rt::kernelFamily("mul_mat_sg_tx_q8_0") == "mul_mat");
    CHECK(rt::kernelFamily("mul_mat_moe_tx_f16") == "mul_mat_moe");
    CHECK(rt::kernelFamily("mul_mat_f32") == "mul_mat");
    CHECK(rt::kernelFamily("mul_mat_moe_sg_q4_k") == "mul_mat_moe");
    CHECK(rt::kernelFamily("mul_mat_row_q8_0") == "mul_mat");
    CHECK(rt::kernelFamily("mul_mat_moe_grouped_row_q4_0") == "mul_mat_moe_grouped");
    CHECK(rt::kernelFamily("attention_row") == "attention");
    CHECK(rt::kernelFamily("get_rows_q8_0") == "get_rows");
    CHECK(rt::kernelFamily("mul_mat_moe_grouped_bf16") == "mul_mat_moe_grouped");
    CHECK(rt::kernelFamily("attention_sg") == "attention");
    CHECK(rt::kernelFamily("attention_combine") == "attention_combine");
    CHECK(rt::kernelFamily("get_rows_q6_k") == "get_rows");
    CHECK(rt::kernelFamily("router") == "router");

    auto fam = rt::timeByFamily({{"mul_mat_q8_0", 1.0}, {"rms_norm_sg", 0.5}, {"mul_mat_sg_q8_0", 2.0}});
    REQUIRE(fam.size() == 2);
    CHECK(fam[0].family == "mul_mat");
    CHECK(fam[0].ms == doctest::Approx(3.0));
    CHECK(fam[0].dispatches == 2);
    CHECK(fam[1].family == "rms_norm");
}

TEST_CASE("the roofline kernels measure read bandwidth, FMA peak and the dispatch floor") {
    ValidationGuard guard;
    selftest::RooflineOptions o;
    o.readBytes = 16ull << 20;
    o.reps = 1;
    o.hostRead = false;
    auto r = selftest::measureRoofline(GpuEnv::dev(), o);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r.value().readBytes == (16ull << 20));
    CHECK(r.value().readGBps > 0);
    CHECK(r.value().readGBps == r.value().best.gbPerS);
    CHECK(r.value().shapes.size() >= 4);
    CHECK(r.value().peakGflops > 0);
    if (GpuEnv::dev().caps().timestamps) CHECK(r.value().dispatchFloorUs > 0);
}

TEST_CASE("a profiled decode step: kernel times by family and the commands it recorded") {
    ValidationGuard guard;
    auto m = loadSynth("roofline_olmoe", synthSpecFor(Arch::Olmoe));
    rt::ForwardOptions fo;
    fo.nCtx = 16;
    fo.profile = true;
    auto f = rt::VkForward::create(GpuEnv::dev(), *m, fo);
    REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
    std::vector<float> logits(m->cfg.n_vocab);
    const int32_t tok = 5;
    const vk::RecordCounts c0 = GpuEnv::dev().recordCounts();
    REQUIRE(f.value()->forward(&tok, 1, 0, logits.data(), false).ok());
    const vk::RecordCounts c1 = GpuEnv::dev().recordCounts();
    CHECK(c1.submits - c0.submits >= 1);
    CHECK(c1.barriers - c0.barriers >= m->cfg.block_count);
    const auto& times = f.value()->lastKernelTimes();
    if (!GpuEnv::dev().caps().timestamps) return;
    CHECK(times.size() == c1.dispatches - c0.dispatches);
    auto fam = rt::timeByFamily(times);
    uint32_t dispatches = 0;
    bool moe = false;
    for (const auto& e : fam) {
        dispatches += e.dispatches;
        moe = moe || e.family == "mul_mat_moe";
    }
    CHECK(dispatches == times.size());
    CHECK(moe);
}
