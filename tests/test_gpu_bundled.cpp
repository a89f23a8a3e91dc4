// The bundled model (assets/moescope-tiny.gguf) against what its trainer measured
// (tools/train/reference_outputs.json, written by tools/train/evaluate.py from the same GGUF):
// tokenizer ids, golden greedy output on the CPU reference and on Vulkan, held-out perplexity,
// and routing that is alive in every layer.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cpu/forward.h"
#include "gpu_env.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/vk_forward.h"

using namespace moe;
using namespace moe::test;

namespace {

const std::string kRoot = MOESCOPE_SOURCE_DIR;

struct Bundled {
    std::unique_ptr<Model> model;
    nlohmann::json ref;
    static Bundled& get() {
        static Bundled b = [] {
            Bundled x;
            auto m = loadModel(kRoot + "/assets/moescope-tiny.gguf");
            REQUIRE_MESSAGE(m.ok(), (m.ok() ? std::string() : m.error().message));
            x.model = std::move(m).value();
            std::ifstream in(kRoot + "/tools/train/reference_outputs.json");
            REQUIRE_MESSAGE(in.good(), "tools/train/reference_outputs.json is missing");
            x.ref = nlohmann::json::parse(in);
            return x;
        }();
        return b;
    }
};

int32_t argmax(const std::vector<float>& v) { return int32_t(std::max_element(v.begin(), v.end()) - v.begin()); }

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("bundled model: prompts tokenize to the trainer's SentencePiece ids") {
    auto& b = Bundled::get();
    for (auto& p : b.ref["prompts"]) {
        auto ids = b.model->tokenizer->encode(p["text"].get<std::string>(), true, true);
        CHECK_MESSAGE(ids == p["prompt_ids"].get<std::vector<int32_t>>(), p["name"].get<std::string>());
    }
}

TEST_CASE("bundled model: golden greedy output, identical on the CPU reference and on Vulkan") {
    ValidationGuard guard;
    auto& b = Bundled::get();
    const Model& m = *b.model;
    const uint32_t V = m.cfg.n_vocab;
    rt::ForwardOptions fo;
    fo.nCtx = m.cfg.context_length;
    auto vk = rt::VkForward::create(GpuEnv::dev(), m, fo);
    REQUIRE_MESSAGE(vk.ok(), (vk.ok() ? std::string() : vk.error().message));
    for (auto& p : b.ref["prompts"]) {
        const std::string name = p["name"];
        CAPTURE(name);
        auto prompt = p["prompt_ids"].get<std::vector<int32_t>>();
        auto expected = p["greedy_ids"].get<std::vector<int32_t>>();
        auto margins = p["top1_top2_logit_margin"].get<std::vector<double>>();
        cpu::CpuForward ref(m, fo.nCtx);
        std::vector<float> lg(V), lc(V);
        REQUIRE(vk.value()->forward(prompt.data(), uint32_t(prompt.size()), 0, lg.data(), false).ok());
        REQUIRE(ref.forward(prompt.data(), uint32_t(prompt.size()), 0, lc.data(), false).ok());
        if (p.contains("first8_logits_last_prompt_position")) {
            auto f8 = p["first8_logits_last_prompt_position"].get<std::vector<double>>();
            for (size_t i = 0; i < f8.size(); ++i) {
                CHECK(std::fabs(lc[i] - f8[i]) < 2e-3);
                CHECK(std::fabs(lg[i] - f8[i]) < 2e-3);
            }
        }
        std::vector<int32_t> gotVk, gotCpu;
        uint32_t pos = uint32_t(prompt.size());
        for (size_t s = 0; s < expected.size(); ++s) {
            int32_t tg = argmax(lg), tc = argmax(lc);
            gotVk.push_back(tg);
            gotCpu.push_back(tc);
            REQUIRE(vk.value()->forward(&tg, 1, pos, lg.data(), false).ok());
            REQUIRE(ref.forward(&tc, 1, pos, lc.data(), false).ok());
            ++pos;
        }
        // the engine's two backends agree token for token
        CHECK(gotVk == gotCpu);
        // and agree with the trainer's PyTorch run up to the first near-tie (F32 rounding order differs)
        size_t firm = 0;
        while (firm < expected.size() && firm < margins.size() && margins[firm] > 1e-2) ++firm;
        for (size_t s = 0; s < firm; ++s) REQUIRE_MESSAGE(gotCpu[s] == expected[s], "step " << s);
        MESSAGE(name, ": ", firm, " of ", expected.size(), " steps compared with the trainer; text: ",
                m.tokenizer->decode(gotCpu));
        if (firm == expected.size())
            CHECK(m.tokenizer->decode(gotCpu, true) == m.tokenizer->decode(expected, true));
    }
}

TEST_CASE("bundled model: held-out perplexity equals the trainer's figure, and routing is alive") {
    ValidationGuard guard;
    auto& b = Bundled::get();
    const Model& m = *b.model;
    const auto& pr = b.ref["perplexity"];
    const std::string text = readFile(kRoot + "/" + pr["text_file"].get<std::string>());
    const uint32_t n = pr["n_ctx"].get<uint32_t>();
    auto ids = m.tokenizer->encode(text, true, false);
    REQUIRE(ids.size() >= 2 * size_t(n));
    rt::ForwardOptions fo;
    fo.nCtx = n;
    auto vk = rt::VkForward::create(GpuEnv::dev(), m, fo);
    REQUIRE(vk.ok());
    const uint32_t V = m.cfg.n_vocab, L = m.cfg.block_count, NE = m.cfg.expert_count;
    std::vector<float> logits(size_t(n) * V);
    double nll = 0;
    size_t count = 0;
    // routing statistics over every evaluated token
    std::vector<std::vector<double>> mass(L, std::vector<double>(NE)), picks(L, std::vector<double>(NE));
    size_t tokens = 0;
    for (size_t c = 0; c < ids.size() / n; ++c) {
        std::vector<int32_t> win(ids.begin() + long(c * n), ids.begin() + long((c + 1) * n));
        win[0] = *m.tokenizer->bos();
        REQUIRE(vk.value()->forward(win.data(), n, 0, logits.data(), true).ok());
        for (uint32_t i = n / 2; i + 1 < n; ++i) {
            std::span<const float> row(logits.data() + size_t(i) * V, V);
            nll -= rt::logSoftmaxAt(row, win[i + 1]);
            ++count;
        }
        const auto& r = vk.value()->lastRouting();
        for (uint32_t l = 0; l < L; ++l)
            for (uint32_t t = 0; t < r.nTok; ++t) {
                for (uint32_t e = 0; e < NE; ++e) mass[l][e] += r.probs[(size_t(l) * r.nTok + t) * NE + e];
                for (uint32_t j = 0; j < r.kMax; ++j) {
                    int32_t e = r.ids[(size_t(l) * r.nTok + t) * r.kMax + j];
                    if (e >= 0) picks[l][size_t(e)] += 1;
                }
            }
        tokens += r.nTok;
    }
    const double ppl = std::exp(nll / double(count));
    const double refPpl = pr["ppl"].get<double>();
    MESSAGE("held-out perplexity: engine ", ppl, " over ", count, " tokens; trainer ", refPpl);
    CHECK(count == pr["scored_tokens"].get<size_t>());
    CHECK(std::fabs(ppl - refPpl) / refPpl < 0.005);

    std::ostringstream table;
    table << "layer  max routing-mass share  experts picked for >=1% of tokens\n";
    for (uint32_t l = 0; l < L; ++l) {
        double total = 0, mx = 0;
        for (double v : mass[l]) total += v;
        for (double v : mass[l]) mx = std::max(mx, v / total);
        uint32_t alive = 0;
        for (double v : picks[l]) alive += v / double(tokens) >= 0.01 ? 1 : 0;
        table << "  " << l << "    " << mx << "    " << alive << "/" << NE << "\n";
        CHECK_MESSAGE(mx <= 0.30, "layer " << l);
        CHECK_MESSAGE(alive >= uint32_t(std::ceil(0.9 * NE)), "layer " << l);
    }
    MESSAGE(table.str());
}
