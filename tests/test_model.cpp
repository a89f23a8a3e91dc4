// Model loader and synthetic model generator: every architecture in F32, Q8_0 and a mixed
// per-tensor quantization loads with the right hyper-parameters, tensors and tokenizer; broken
// files (unknown architecture, missing tensor, wrong shape, unsupported type, bad tokenizer)
// give one error naming the problem.
#include <array>
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "cpu/quant.h"
#include "synth_models.h"
#include "tokenizer/chat_template.h"

using namespace moe;
using namespace moe::test;

namespace {

const Arch kArchs[] = {Arch::Llama, Arch::Qwen2Moe, Arch::Qwen3Moe, Arch::Olmoe};

std::string loadError(const std::string& path) {
    auto m = loadModel(path);
    REQUIRE_FALSE(m.ok());
    return m.error().message;
}

// Sum of the elements of every tensor in the file.
uint64_t fileElements(const GgufFile& f) {
    uint64_t n = 0;
    for (const GgufTensor& t : f.tensors()) n += t.nElements;
    return n;
}

void checkConfig(const Model& m, const SynthSpec& s) {
    const ModelConfig& c = m.cfg;
    CHECK(c.arch == s.arch);
    CHECK(c.name == "synth-" + std::string(archName(s.arch)));
    CHECK(c.n_vocab == s.n_vocab_target);
    CHECK(c.context_length == s.n_ctx);
    CHECK(c.embedding_length == s.n_embd);
    CHECK(c.block_count == s.n_layer);
    CHECK(c.head_count == s.n_head);
    CHECK(c.head_count_kv == s.n_head_kv);
    CHECK(c.head_dim == s.head_dim);
    CHECK(c.rope_dimension_count == s.head_dim);
    CHECK(c.expert_count == s.n_expert);
    CHECK(c.expert_used_count == s.n_expert_used);
    CHECK(c.expert_feed_forward_length == s.n_ff_exp);
    CHECK(c.layer_norm_rms_epsilon == s.rms_eps);
    CHECK(c.rope_freq_base == s.rope_freq_base);
    CHECK(c.expert_weights_norm == (s.arch == Arch::Llama || s.arch == Arch::Qwen3Moe));
    CHECK(c.expert_shared_count == (s.arch == Arch::Qwen2Moe ? 1u : 0u));
    CHECK(c.expert_shared_feed_forward_length == (s.arch == Arch::Qwen2Moe ? s.n_ff_shexp : 0u));
    CHECK(c.output_tied == s.tiedOutput);
    // the layer plan: attention then routed experts in every layer, with the family's forms
    REQUIRE(m.plan.layers.size() == s.n_layer);
    for (const LayerPlan& lp : m.plan.layers) {
        REQUIRE(lp.blocks.size() == 2);
        REQUIRE(std::holds_alternative<AttentionBlock>(lp.blocks[0]));
        REQUIRE(std::holds_alternative<MoeBlock>(lp.blocks[1]));
    }
    const AttentionBlock& a = *m.plan.layers.back().attention();
    const MoeBlock& moe = *m.plan.layers.back().moe();
    CHECK(a.rope.neox == (s.arch != Arch::Llama));
    CHECK(a.rope.nRot == s.head_dim);
    CHECK(a.qkNorm == (s.arch == Arch::Qwen3Moe ? QkNorm::PerHead : s.arch == Arch::Olmoe ? QkNorm::Whole : QkNorm::None));
    CHECK(bool(a.bq) == (s.arch == Arch::Qwen2Moe));
    CHECK(a.wq.ne[0] == s.n_embd);
    CHECK(a.wq.ne[1] == int64_t(s.n_head * s.head_dim));
    CHECK(moe.downExps.ne[0] == s.n_ff_exp);
    CHECK(moe.downExps.ne[2] == s.n_expert);
    CHECK(moe.router.k == s.n_expert_used);
    CHECK(moe.router.normalize == c.expert_weights_norm);
    CHECK(bool(a.qNorm) == (a.qkNorm != QkNorm::None));
    CHECK(bool(moe.shared.gateInp) == (s.arch == Arch::Qwen2Moe));
    CHECK(m.paramsTotal() == fileElements(m.file));
    const uint64_t perExpert = 3ull * s.n_ff_exp * s.n_embd;
    CHECK(m.paramsActive() == m.paramsTotal() - uint64_t(s.n_layer) * (s.n_expert - s.n_expert_used) * perExpert);
}

void checkTokenizer(const Model& m) {
    REQUIRE(m.tokenizer);
    const Tokenizer& t = *m.tokenizer;
    CHECK(t.vocabSize() == int32_t(m.cfg.n_vocab));
    const std::string text = "The children ran to the market at 9, laughing: \"Hello, world!\" \xF0\x9F\x99\x82";
    auto ids = t.encode(text, false, false);
    CHECK(ids.size() * 3 < text.size() * 2);  // merges were learned: well under one token per byte
    CHECK(t.decode(ids) == text);
    ChatTemplate tmpl = ChatTemplate::forTokenizer(t);
    CHECK(tmpl.warning().empty());
    switch (m.cfg.arch) {
        case Arch::Llama:
            CHECK(t.kind() == Tokenizer::Kind::Spm);
            CHECK(tmpl.family() == ChatFamily::Mistral);
            CHECK(t.addBos());
            break;
        case Arch::Qwen2Moe:
        case Arch::Qwen3Moe:
        case Arch::Deepseek2: {
            CHECK(t.kind() == Tokenizer::Kind::Bpe);
            CHECK(t.preFamily() == "qwen2");
            CHECK(tmpl.family() == ChatFamily::ChatML);
            auto s = t.encode("<|im_start|>user\nhi<|im_end|>", false, true);
            REQUIRE(s.size() >= 3);
            CHECK(t.tokenText(s.front()) == "<|im_start|>");
            CHECK(t.tokenText(s.back()) == "<|im_end|>");
            CHECK(t.isEog(s.back()));
            break;
        }
        case Arch::Olmoe:
            CHECK(t.kind() == Tokenizer::Kind::Bpe);
            CHECK(t.preFamily() == "gpt2");
            CHECK(tmpl.family() == ChatFamily::Tulu);
            REQUIRE(t.eos());
            CHECK(t.tokenText(*t.eos()) == "<|endoftext|>");
            break;
    }
}

}  // namespace

TEST_CASE("deepseek2 variants load with latent attention, dense lead layers and their routers") {
    for (const char* variant : {"v2-lite", "v3", "legacy"}) {
        for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0}) {
            CAPTURE(variant);
            const std::string type_ = typeName(type);
            CAPTURE(type_);
            SynthSpec s = synthVariant(Arch::Deepseek2, variant).value();
            s.weightType = type;
            auto m = loadSynth(std::string("deepseek2_") + variant + "_" + type_, s);
            const ModelConfig& c = m->cfg;
            CHECK(c.kv_lora_rank == s.kv_lora_rank);
            CHECK(c.q_lora_rank == s.q_lora_rank);
            CHECK(c.head_dim == s.head_dim);
            CHECK(c.value_head_dim == s.v_head_dim);
            CHECK(c.rope_dimension_count == s.rope_dim);
            CHECK(c.head_count_kv == s.n_head);  // MLA files write 1: heads are not grouped
            CHECK(c.leading_dense_block_count == s.n_dense_lead);
            CHECK(c.expert_shared_count == s.n_shared);
            CHECK(c.expert_shared_feed_forward_length == s.n_shared * s.n_ff_exp);
            CHECK(c.expert_gating_func == (s.sigmoidRouter ? 2u : 1u));
            CHECK(c.rope_scaling_factor == s.yarnFactor);
            CHECK(m->paramsTotal() == fileElements(m->file));
            checkTokenizer(*m);
            REQUIRE(m->plan.layers.size() == s.n_layer);
            // layer 0: attention + dense FFN; then attention + routed experts with shared ones
            const LayerPlan& l0 = m->plan.layers[0];
            REQUIRE(l0.ffn());
            CHECK_FALSE(l0.moe());
            CHECK(l0.ffn()->nFf == s.n_ff_dense);
            for (uint32_t il = 1; il < s.n_layer; ++il) {
                const LayerPlan& l = m->plan.layers[il];
                REQUIRE(l.moe());
                const MoeBlock& moe = *l.moe();
                CHECK(moe.shared.nFf == s.n_shared * s.n_ff_exp);
                CHECK_FALSE(moe.shared.gateInp);
                CHECK(moe.router.sigmoid == s.sigmoidRouter);
                CHECK(bool(moe.router.selectionBias) == s.sigmoidRouter);
                CHECK(moe.router.nGroup == (s.n_group > 1 ? s.n_group : 0u));
                CHECK(moe.router.groupsUsed == (s.n_group > 1 ? s.n_group_used : 0u));
                CHECK(moe.router.scale == s.weightsScale);
                CHECK(moe.router.normalize == s.weightsNorm);
            }
            const AttentionBlock& a = *m->plan.layers[1].attention();
            REQUIRE(a.mla);
            CHECK(a.mla.nopeDim + a.mla.ropeDim == s.head_dim);
            CHECK(a.mla.valueDim == s.v_head_dim);
            CHECK(bool(a.mla.wkvB) == s.mlaLegacy);
            CHECK(bool(a.mla.wkB) == !s.mlaLegacy);
            CHECK(bool(a.mla.wqA) == (s.q_lora_rank > 0));
            CHECK(bool(a.wq) == (s.q_lora_rank == 0));
            CHECK_FALSE(a.rope.neox);
            // YaRN as llama.cpp applies it to deepseek2: cos/sin unscaled (the two mscales cancel),
            // the attention scale takes (1 + 0.1 · mscale_all_dim · ln factor)²
            const float mAll = s.yarnLogMul / 0.1f, ms = 1.0f + 0.1f * mAll * std::log(s.yarnFactor);
            CHECK(a.rope.yarn.attnFactor == doctest::Approx(1.0f));
            CHECK(a.kqScale == doctest::Approx(ms * ms / std::sqrt(float(s.head_dim))));
            CHECK(kvBytesPerToken(m->plan) == uint64_t(s.n_layer) * (s.kv_lora_rank + s.rope_dim) * 4);
        }
    }
    CHECK_FALSE(synthVariant(Arch::Deepseek2, "v4").ok());
    CHECK_FALSE(synthVariant(Arch::Qwen3Moe, "v3").ok());
}

TEST_CASE("every architecture loads in F32 and Q8_0 with its hyper-parameters and tokenizer") {
    for (Arch a : kArchs) {
        for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0}) {
            SynthSpec s = synthSpecFor(a);
            s.weightType = type;
            const std::string arch = archName(a);
            CAPTURE(arch);
            const std::string type_ = typeName(type);
            CAPTURE(type_);
            auto m = loadSynth(std::string(archName(a)) + "_" + typeName(type), s);
            checkConfig(*m, s);
            const LayerPlan& l0 = m->plan.layers[0];
            CHECK(l0.attention()->wq.type == type);
            CHECK(l0.moe()->router.w.type == type);
            CHECK(l0.moe()->downExps.type == type);
            CHECK(m->plan.tokenEmbd.type == type);
            CHECK(l0.attention()->norm.w.type == GgmlType::F32);
            checkTokenizer(*m);
        }
    }
}

TEST_CASE("mixed quantization: per-tensor types as llama-quantize's recipes write them") {
    // 4 layers: layers 2 and 3 are "more bits" layers (every third from n/8, and the last eighth)
    struct Want {
        SynthMix mix;
        GgmlType base, downLo, downHi, output, embd, attn;
        uint32_t fileType;
    };
    const Want wants[] = {
        {SynthMix::Q4_K_M, GgmlType::Q4_K, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q6_K, GgmlType::Q4_K, GgmlType::Q4_K, 15},
        {SynthMix::Q5_K_M, GgmlType::Q5_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q6_K, GgmlType::Q5_K, GgmlType::Q5_K, 17},
        {SynthMix::IQ4_XS, GgmlType::IQ4_XS, GgmlType::IQ4_XS, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS,
         GgmlType::IQ4_XS, 30},
        {SynthMix::MXFP4_MOE, GgmlType::MXFP4, GgmlType::MXFP4, GgmlType::MXFP4, GgmlType::Q8_0, GgmlType::Q8_0,
         GgmlType::Q8_0, 38},
    };
    for (const Want& w : wants) {
        for (Arch a : kArchs) {
            SynthSpec s = synthSpecFor(a);
            s.mix = w.mix;
            s.n_embd = 256, s.n_ff_exp = 256, s.n_ff_shexp = 256, s.n_layer = 4;
            s.head_dim = a == Arch::Qwen3Moe ? 32 : s.n_embd / s.n_head;
            const std::string name = std::string(archName(a)) + "_" + synthMixName(w.mix);
            CAPTURE(name);
            auto m = loadSynth(name, s);
            checkConfig(*m, s);
            for (uint32_t il = 0; il < 4; ++il) {
                CAPTURE(il);
                const bool hi = il >= 2;
                const AttentionBlock& at = *m->plan.layers[il].attention();
                const MoeBlock& l = *m->plan.layers[il].moe();
                CHECK(at.wq.type == w.attn);
                CHECK(at.wo.type == w.attn);
                CHECK(at.wv.type == (w.mix == SynthMix::MXFP4_MOE ? GgmlType::Q8_0 : hi ? w.downHi : w.downLo));
                CHECK(l.router.w.type == GgmlType::F32);
                CHECK(l.gateExps.type == w.base);
                CHECK(l.upExps.type == w.base);
                CHECK(l.downExps.type == (hi ? w.downHi : w.downLo));
                if (a == Arch::Qwen2Moe) {
                    CHECK(l.shared.gateInp.type == GgmlType::F32);
                    CHECK(l.shared.down.type == (w.mix == SynthMix::MXFP4_MOE ? GgmlType::Q8_0 : hi ? w.downHi : w.downLo));
                }
            }
            if (!s.tiedOutput) CHECK(m->plan.output.type == w.output);
            CHECK(m->plan.tokenEmbd.type == w.embd);
            CHECK(m->file.findU32("general.file_type") == w.fileType);
        }
    }
}

TEST_CASE("mixed quantization: the low-bit mix puts every IQ grid type and Q2_K/Q3_K in one file") {
    // 2 layers: layer 1 is a "more bits" layer (the last eighth); 4 experts keep the IQ
    // quantizers' search short
    SynthSpec s = synthSpecFor(Arch::Qwen2Moe);
    s.mix = SynthMix::LOW_BIT;
    s.n_embd = 256, s.n_ff_exp = 256, s.n_ff_shexp = 256, s.n_layer = 2, s.head_dim = s.n_embd / s.n_head;
    s.n_expert = 4;
    auto m = loadSynth("qwen2moe_low_bit", s);
    checkConfig(*m, s);
    for (uint32_t il = 0; il < 2; ++il) {
        CAPTURE(il);
        const bool hi = il == 1;
        const AttentionBlock& at = *m->plan.layers[il].attention();
        const MoeBlock& l = *m->plan.layers[il].moe();
        CHECK(at.wq.type == GgmlType::IQ3_XXS);
        CHECK(at.wo.type == GgmlType::IQ3_XXS);
        CHECK(at.wv.type == (hi ? GgmlType::IQ3_S : GgmlType::IQ2_XS));
        CHECK(l.router.w.type == GgmlType::F32);
        CHECK(l.gateExps.type == (hi ? GgmlType::IQ2_XXS : GgmlType::IQ1_S));
        CHECK(l.upExps.type == (hi ? GgmlType::IQ2_XXS : GgmlType::IQ1_S));
        CHECK(l.downExps.type == (hi ? GgmlType::IQ2_S : GgmlType::IQ1_M));
        CHECK(l.shared.down.type == (hi ? GgmlType::IQ2_S : GgmlType::IQ1_M));
    }
    CHECK(m->plan.output.type == GgmlType::Q3_K);
    CHECK(m->plan.tokenEmbd.type == GgmlType::Q2_K);
    CHECK(m->file.findU32("general.file_type") == 31u);
}

TEST_CASE("mixed quantization: rows that are not a multiple of 256 fall back as llama-quantize does") {
    // n_embd 96: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS and the 1-3 bit types -> IQ4_NL
    // (all 32-blocks)
    const std::pair<SynthMix, std::array<GgmlType, 2>> cases[] = {
        {SynthMix::Q4_K_M, {GgmlType::Q5_0, GgmlType::Q8_0}},
        {SynthMix::Q5_K_M, {GgmlType::Q5_1, GgmlType::Q8_0}},
        {SynthMix::IQ4_XS, {GgmlType::IQ4_NL, GgmlType::Q5_1}},  // Q5_K -> Q5_1 in the more-bits layer
        {SynthMix::LOW_BIT, {GgmlType::IQ4_NL, GgmlType::IQ4_NL}},  // every 1-3 bit type -> IQ4_NL
    };
    for (const auto& [mix, want] : cases) {
        SynthSpec s = synthSpecFor(Arch::Qwen3Moe);
        s.mix = mix;
        s.n_embd = 96, s.n_head = 2, s.n_head_kv = 1, s.head_dim = 32, s.n_ff_exp = 96, s.n_layer = 1;
        CAPTURE(synthMixName(mix));
        auto m = loadSynth(std::string("fallback_") + synthMixName(mix), s);
        const MoeBlock& l = *m->plan.layers[0].moe();
        CHECK(l.gateExps.type == want[0]);
        CHECK(l.downExps.type == want[1]);  // layer 0 of 1 uses more bits
        CHECK(m->plan.output.type == (mix == SynthMix::LOW_BIT ? GgmlType::IQ4_NL : GgmlType::Q8_0));
    }
}

TEST_CASE("other weight types and a tied lm head") {
    for (GgmlType type : {GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0}) {
        SynthSpec s = synthSpecFor(Arch::Qwen3Moe);
        s.weightType = type;
        s.tiedOutput = true;
        const std::string type_ = typeName(type);
            CAPTURE(type_);
        auto m = loadSynth(std::string("tied_") + typeName(type), s);
        checkConfig(*m, s);
        CHECK(m->cfg.output_tied);
        CHECK(m->plan.output.data == m->plan.tokenEmbd.data);
        CHECK(m->plan.output.type == type);
    }
    SynthSpec bad = synthSpecFor(Arch::Olmoe);
    bad.weightType = GgmlType::Q4_K;  // n_embd 64 is not a multiple of 256
    Status st = writeSynthModel(bad, (synthDir() / "bad.gguf").string());
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("block size 256") != std::string::npos);
}

TEST_CASE("generation is deterministic and independent of the thread count") {
    SynthSpec s = synthSpecFor(Arch::Qwen2Moe);
    s.weightType = GgmlType::Q8_0;
    auto read = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::vector<char>(std::istreambuf_iterator<char>(in), {});
    };
    s.threads = 1;
    const std::string a = (synthDir() / "det_a.gguf").string(), b = (synthDir() / "det_b.gguf").string();
    REQUIRE(writeSynthModel(s, a).ok());
    s.threads = 3;
    REQUIRE(writeSynthModel(s, b).ok());
    CHECK(read(a) == read(b));
    s.seed = 2;
    REQUIRE(writeSynthModel(s, b).ok());
    CHECK(read(a) != read(b));
}

TEST_CASE("archName and archFromName round trip") {
    for (Arch a : kArchs) CHECK(archFromName(archName(a)) == a);
    CHECK(archFromName("deepseek2") == Arch::Deepseek2);
    CHECK_FALSE(archFromName("mixtral").has_value());
}

TEST_CASE("malformed and unsupported files give errors naming the problem") {
    const std::string src = synthModelPath("err_src", synthSpecFor(Arch::Qwen2Moe));
    const std::string llamaSrc = synthModelPath("err_llama", synthSpecFor(Arch::Llama));
    const std::string dst = (synthDir() / "err.gguf").string();
    using V = GgufWriter::Value;

    SUBCASE("unknown architecture") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "general.architecture") return V::string("gptx");
            return toWriterValue(v);
        };
        r.run(src, dst);
        std::string e = loadError(dst);
        CHECK(e.find("unsupported architecture 'gptx'") != std::string::npos);
        CHECK(e.find(dst) != std::string::npos);
    }
    SUBCASE("llama without experts") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "llama.expert_count" || k == "llama.expert_used_count") return std::nullopt;
            return toWriterValue(v);
        };
        r.run(llamaSrc, dst);
        CHECK(loadError(dst).find("llama without experts is not a MoE model") != std::string::npos);
    }
    SUBCASE("missing key") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "qwen2moe.attention.layer_norm_rms_epsilon") return std::nullopt;
            return toWriterValue(v);
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("qwen2moe.attention.layer_norm_rms_epsilon") != std::string::npos);
    }
    SUBCASE("missing tensor") {
        GgufRewrite r;
        r.tensor = [](std::string_view n, std::optional<TensorEdit>&) { return n != "blk.1.ffn_up_exps.weight"; };
        r.run(src, dst);
        CHECK(loadError(dst).find("missing tensor 'blk.1.ffn_up_exps.weight'") != std::string::npos);
    }
    SUBCASE("missing shared expert tensor") {
        GgufRewrite r;
        r.tensor = [](std::string_view n, std::optional<TensorEdit>&) { return n != "blk.0.ffn_gate_inp_shexp.weight"; };
        r.run(src, dst);
        CHECK(loadError(dst).find("missing tensor 'blk.0.ffn_gate_inp_shexp.weight'") != std::string::npos);
    }
    SUBCASE("wrong shape") {
        GgufRewrite r;
        r.tensor = [](std::string_view n, std::optional<TensorEdit>& e) {
            if (n == "blk.0.attn_k.weight") e = TensorEdit{GgmlType::F32, {64, 32}};
            return true;
        };
        r.run(src, dst);
        std::string e = loadError(dst);
        CHECK(e.find("tensor 'blk.0.attn_k.weight' has shape [64, 32], expected [64, 64]") != std::string::npos);
    }
    SUBCASE("unsupported tensor type") {
        GgufRewrite r;
        r.tensor = [](std::string_view n, std::optional<TensorEdit>& e) {
            if (n == "blk.0.ffn_down_exps.weight") e = TensorEdit{GgmlType::Q8_K, {256, 64, 4}};  // ggml activation type
            return true;
        };
        r.run(src, dst);
        std::string e = loadError(dst);
        CHECK(e.find("'blk.0.ffn_down_exps.weight' has unsupported type Q8_K") != std::string::npos);
        CHECK(e.find("MXFP4") != std::string::npos);  // the list of supported types
    }
    SUBCASE("quantized norm") {
        GgufRewrite r;
        r.tensor = [](std::string_view n, std::optional<TensorEdit>& e) {
            if (n == "blk.1.attn_norm.weight") e = TensorEdit{GgmlType::Q8_0, {64}};
            return true;
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("'blk.1.attn_norm.weight' has type Q8_0; norm and bias vectors must be F32") !=
              std::string::npos);
    }
    SUBCASE("old per-expert Mixtral layout") {
        GgufRewrite r;
        r.extraTensors.push_back({"blk.0.ffn_gate.0.weight", TensorEdit{GgmlType::F32, {64, 32}}});
        r.run(llamaSrc, dst);
        CHECK(loadError(dst).find("per-expert tensors") != std::string::npos);
    }
    SUBCASE("unknown tokenizer model") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "tokenizer.ggml.model") return V::string("bert");
            return toWriterValue(v);
        };
        r.run(src, dst);
        std::string e = loadError(dst);
        CHECK(e.find("unsupported tokenizer model") != std::string::npos);
        CHECK(e.find(dst) != std::string::npos);
    }
    SUBCASE("tokenizer without tokens") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "tokenizer.ggml.tokens") return std::nullopt;
            return toWriterValue(v);
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("tokenizer.ggml.tokens") != std::string::npos);
    }
    SUBCASE("tokenizer size differs from the embedding rows") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k != "tokenizer.ggml.tokens") return toWriterValue(v);
            V t = toWriterValue(v);
            t.items.pop_back();
            return t;
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("tokenizer has 511 tokens but token_embd.weight has 512 rows") != std::string::npos);
    }
    SUBCASE("bad special token id") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "tokenizer.ggml.eos_token_id") return V::u32(100000);
            return toWriterValue(v);
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("eos_token_id = 100000 is out of range") != std::string::npos);
    }
    SUBCASE("unsupported gating function") {
        GgufRewrite r;
        r.extraKeys.push_back({"qwen2moe.expert_gating_func", V::u32(3)});
        r.run(src, dst);
        CHECK(loadError(dst).find("expert_gating_func 3 is not supported (1 softmax, 2 sigmoid)") != std::string::npos);
    }
    SUBCASE("k larger than the expert count") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "qwen2moe.expert_used_count") return V::u32(9);
            return toWriterValue(v);
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("expert_used_count' = 9") != std::string::npos);
    }
    SUBCASE("absurd block count") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "qwen2moe.block_count") return V::u32(4000000000u);
            return toWriterValue(v);
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("block_count 4000000000 does not match") != std::string::npos);
    }
    SUBCASE("one layer too many") {
        GgufRewrite r;
        r.key = [](std::string_view k, const GgufValue& v) -> std::optional<V> {
            if (k == "qwen2moe.block_count") return V::u32(3);
            return toWriterValue(v);
        };
        r.run(src, dst);
        CHECK(loadError(dst).find("missing tensor 'blk.2.attn_norm.weight'") != std::string::npos);
    }
    SUBCASE("not a file") {
        CHECK(loadError((synthDir() / "nope.gguf").string()).find("nope.gguf") != std::string::npos);
    }
}

TEST_CASE("GgufWriter streamed tensors: write() and serialize() agree, fill errors propagate") {
    GgufWriter w;
    w.addString("general.architecture", "test");
    const std::vector<float> a = {1, 2, 3, 4};
    REQUIRE(w.addTensor("a", GgmlType::F32, {4}, {reinterpret_cast<const uint8_t*>(a.data()), 16}).ok());
    const int64_t ne[] = {32, 3};
    REQUIRE(w.addTensorStreamed("b", GgmlType::Q8_0, ne, [](std::span<uint8_t> out) -> Status {
                 for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(i * 7);
                 return {};
             }).ok());
    CHECK_FALSE(w.addTensorStreamed("b", GgmlType::F32, ne, [](std::span<uint8_t>) { return Status{}; }).ok());
    const std::string path = (synthDir() / "streamed.gguf").string();
    REQUIRE(w.write(path).ok());
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    CHECK(bytes == w.serialize());
    auto f = GgufFile::open(path);
    REQUIRE(f.ok());
    const GgufTensor* b = f->tensor("b");
    REQUIRE(b);
    CHECK(b->nBytes == 3 * 34);
    CHECK(b->data[5] == uint8_t(35));

    REQUIRE(w.addTensorStreamed("c", GgmlType::F32, ne, [](std::span<uint8_t>) -> Status {
                 return makeError("generator failed");
             }).ok());
    Status st = w.write(path);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("generator failed") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
}
