// `moescope gen-model`: writes a random-weight GGUF model of a supported architecture with a
// real tokenizer (for tests, benchmarks and trying the engine without a downloaded model).
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cpu/quant.h"
#include "fixtures/synth.h"

namespace moe::cli {
namespace {

// The types gen-model can write (every engine type has a quantizer), by lower-case name.
std::string lowerName(GgmlType t) {
    std::string n = typeName(t);
    for (char& c : n) c = char(std::tolower(uint8_t(c)));
    return n;
}

std::optional<GgmlType> quantizableType(const std::string& name) {
    for (GgmlType t : kWeightTypes)
        if (lowerName(t) == name && cpu::canQuantize(t)) return t;
    return std::nullopt;
}

std::string quantizableTypeList() {
    std::string out;
    for (GgmlType t : kWeightTypes)
        if (cpu::canQuantize(t)) out += (out.empty() ? "" : " ") + lowerName(t);
    return out;
}

}  // namespace

void registerGenModel(CLI::App& app) {
    struct Opts {
        std::string arch = "qwen3moe", type = "f32", mix, out, chatTemplate, variant;
        SynthSpec spec;
        bool mixed = false;
        bool set[12] = {};
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("gen-model", "write a random-weight test model (GGUF)");
    cmd->add_option("--arch", o->arch, "llama | qwen2moe | qwen3moe | olmoe | deepseek2 | glm4moe");
    cmd->add_option("--variant", o->variant,
                    "deepseek2: v2-lite (attn_q, softmax, 2 shared experts, a dense first layer, YaRN; the default) | "
                    "v3 (q LoRA, sigmoid + exp_probs_b, 4 groups use 2, top-4 of 16, scale 2.5, renormalised) | "
                    "legacy (v2-lite with one attn_kv_b instead of attn_k_b/attn_v_b); glm4moe: air (no q/k norm, the default) | "
                    "qk-norm (per-head q/k norms, as the 355B file)");
    cmd->add_option("--type", o->type, "weight type of every 2-D tensor: " + quantizableTypeList());
    cmd->add_option("--mix", o->mix,
                    "per-tensor recipe as downloaded files have it: q4_k_m | q5_k_m | iq4_xs | mxfp4_moe | low_bit (the IQ1/IQ2/IQ3 "
                    "and Q2_K/Q3_K types of the dynamic 1-3 bit downloads) (overrides --type)");
    cmd->add_flag("--mixed", o->mixed, "same as --mix q4_k_m");
    cmd->add_option("-o,--out", o->out, "output file")->required();
    auto* embd = cmd->add_option("--n-embd", o->spec.n_embd, "embedding size");
    auto* layer = cmd->add_option("--n-layer", o->spec.n_layer, "layers");
    auto* head = cmd->add_option("--n-head", o->spec.n_head, "attention heads");
    auto* headKv = cmd->add_option("--n-head-kv", o->spec.n_head_kv, "KV heads");
    auto* headDim = cmd->add_option("--head-dim", o->spec.head_dim, "head dimension");
    auto* nExp = cmd->add_option("--n-expert", o->spec.n_expert, "routed experts per layer");
    auto* nUsed = cmd->add_option("--n-expert-used", o->spec.n_expert_used, "experts per token");
    auto* ff = cmd->add_option("--n-ff-exp", o->spec.n_ff_exp, "expert FFN size");
    auto* ffs = cmd->add_option("--n-ff-shexp", o->spec.n_ff_shexp, "shared expert FFN size (qwen2moe)");
    auto* ctx = cmd->add_option("--n-ctx", o->spec.n_ctx, "context length");
    auto* vocab = cmd->add_option("--n-vocab", o->spec.n_vocab_target, "vocabulary size");
    auto* seed = cmd->add_option("--seed", o->spec.seed, "weight seed");
    cmd->add_option("--tokenizer-pre", o->spec.tokenizerPre,
                    "write this tokenizer.ggml.pre (e.g. deepseek-v3) instead of the family's; the merges stay");
    cmd->add_option("--chat-template", o->chatTemplate,
                    "write this Jinja file as tokenizer.chat_template (default: the family's template)");
    cmd->callback([o, embd, layer, head, headKv, headDim, nExp, nUsed, ff, ffs, ctx, vocab, seed] {
        static const std::map<std::string, Arch> arches = {
            {"llama", Arch::Llama},   {"qwen2moe", Arch::Qwen2Moe},   {"qwen3moe", Arch::Qwen3Moe},
            {"olmoe", Arch::Olmoe}, {"deepseek2", Arch::Deepseek2}, {"glm4moe", Arch::Glm4Moe}};
        static const std::map<std::string, SynthMix> mixes = {{"q4_k_m", SynthMix::Q4_K_M},
                                                              {"q5_k_m", SynthMix::Q5_K_M},
                                                              {"iq4_xs", SynthMix::IQ4_XS},
                                                              {"mxfp4_moe", SynthMix::MXFP4_MOE},
                                                              {"low_bit", SynthMix::LOW_BIT}};
        auto a = arches.find(o->arch);
        if (a == arches.end())
            return fail("unknown architecture '" + o->arch + "' (llama, qwen2moe, qwen3moe, olmoe, deepseek2, glm4moe)");
        auto variant = synthVariant(a->second, o->variant);
        if (!variant) return fail("--variant: " + variant.error().message);
        const std::optional<GgmlType> type = quantizableType(o->type);
        if (!type) return fail("unknown weight type '" + o->type + "' (" + quantizableTypeList() + ")");
        if (o->mixed && o->mix.empty()) o->mix = "q4_k_m";
        auto mix = mixes.find(o->mix);
        if (!o->mix.empty() && mix == mixes.end())
            return fail("unknown mix '" + o->mix + "' (q4_k_m, q5_k_m, iq4_xs, mxfp4_moe, low_bit)");
        // start from the architecture's defaults, then apply the flags that were given
        SynthSpec s = variant.value();
        const SynthSpec& g = o->spec;
        if (*embd) s.n_embd = g.n_embd;
        if (*layer) s.n_layer = g.n_layer;
        if (*head) s.n_head = g.n_head;
        if (*headKv) s.n_head_kv = g.n_head_kv;
        if (*headDim) s.head_dim = g.head_dim;
        else if ((*embd || *head) && a->second != Arch::Deepseek2 && a->second != Arch::Glm4Moe) s.head_dim = s.n_embd / s.n_head;
        if (*nExp) s.n_expert = g.n_expert;
        if (*nUsed) s.n_expert_used = g.n_expert_used;
        if (*ff) s.n_ff_exp = g.n_ff_exp;
        if (*ffs) s.n_ff_shexp = g.n_ff_shexp;
        if (*ctx) s.n_ctx = g.n_ctx;
        if (*vocab) s.n_vocab_target = g.n_vocab_target;
        if (*seed) s.seed = g.seed;
        s.weightType = *type;
        s.tokenizerPre = g.tokenizerPre;
        s.mix = o->mix.empty() ? SynthMix::None : mix->second;
        if (!o->chatTemplate.empty()) {
            if (!readFileOrFail(o->chatTemplate, "chat template", s.chatTemplate)) return;
            if (s.chatTemplate.empty()) return fail(o->chatTemplate + ": the chat template is empty");
        }
        auto st = writeSynthModel(s, o->out);
        if (!st.ok()) return fail(st.message());
        const std::string types = s.mix != SynthMix::None ? std::string(synthMixName(s.mix)) + " mix" : o->type;
        std::printf("wrote %s (%s, %s, %u layers, %u experts top-%u, n_embd %u, vocab %u)\n", o->out.c_str(),
                    o->arch.c_str(), types.c_str(), s.n_layer, s.n_expert, s.n_expert_used, s.n_embd, s.n_vocab_target);
    });
}

}  // namespace moe::cli
