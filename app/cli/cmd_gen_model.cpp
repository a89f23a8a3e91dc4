// `moescope gen-model`: writes a random-weight GGUF model of a supported architecture with a
// real tokenizer (for tests, benchmarks and trying the engine without a downloaded model).
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "fixtures/synth.h"

namespace moe::cli {

void registerGenModel(CLI::App& app) {
    struct Opts {
        std::string arch = "qwen3moe", type = "f32", out, chatTemplate;
        SynthSpec spec;
        bool mixed = false;
        bool set[12] = {};
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("gen-model", "write a random-weight test model (GGUF)");
    cmd->add_option("--arch", o->arch, "llama | qwen2moe | qwen3moe | olmoe");
    cmd->add_option("--type", o->type, "weight type: f32 f16 bf16 q8_0 q4_0 q4_k q6_k");
    cmd->add_flag("--mixed", o->mixed, "mix types per tensor as quantized files do (Q8_0/Q4_K/Q6_K)");
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
    cmd->add_option("--chat-template", o->chatTemplate,
                    "write this Jinja file as tokenizer.chat_template (default: the family's template)");
    cmd->callback([o, embd, layer, head, headKv, headDim, nExp, nUsed, ff, ffs, ctx, vocab, seed] {
        static const std::map<std::string, Arch> arches = {
            {"llama", Arch::Llama}, {"qwen2moe", Arch::Qwen2Moe}, {"qwen3moe", Arch::Qwen3Moe}, {"olmoe", Arch::Olmoe}};
        static const std::map<std::string, GgmlType> types = {
            {"f32", GgmlType::F32}, {"f16", GgmlType::F16}, {"bf16", GgmlType::BF16}, {"q8_0", GgmlType::Q8_0},
            {"q4_0", GgmlType::Q4_0}, {"q4_k", GgmlType::Q4_K}, {"q6_k", GgmlType::Q6_K}};
        auto a = arches.find(o->arch);
        if (a == arches.end()) return fail("unknown architecture '" + o->arch + "' (llama, qwen2moe, qwen3moe, olmoe)");
        auto t = types.find(o->type);
        if (t == types.end()) return fail("unknown weight type '" + o->type + "' (f32 f16 bf16 q8_0 q4_0 q4_k q6_k)");
        // start from the architecture's defaults, then apply the flags that were given
        SynthSpec s = synthSpecFor(a->second);
        const SynthSpec& g = o->spec;
        if (*embd) s.n_embd = g.n_embd;
        if (*layer) s.n_layer = g.n_layer;
        if (*head) s.n_head = g.n_head;
        if (*headKv) s.n_head_kv = g.n_head_kv;
        if (*headDim) s.head_dim = g.head_dim;
        else if (*embd || *head) s.head_dim = s.n_embd / s.n_head;
        if (*nExp) s.n_expert = g.n_expert;
        if (*nUsed) s.n_expert_used = g.n_expert_used;
        if (*ff) s.n_ff_exp = g.n_ff_exp;
        if (*ffs) s.n_ff_shexp = g.n_ff_shexp;
        if (*ctx) s.n_ctx = g.n_ctx;
        if (*vocab) s.n_vocab_target = g.n_vocab_target;
        if (*seed) s.seed = g.seed;
        s.weightType = t->second;
        s.mixed = o->mixed;
        if (!o->chatTemplate.empty()) {
            if (!readFileOrFail(o->chatTemplate, "chat template", s.chatTemplate)) return;
            if (s.chatTemplate.empty()) return fail(o->chatTemplate + ": the chat template is empty");
        }
        auto st = writeSynthModel(s, o->out);
        if (!st.ok()) return fail(st.message());
        std::printf("wrote %s (%s, %u layers, %u experts top-%u, n_embd %u, vocab %u)\n", o->out.c_str(), o->arch.c_str(),
                    s.n_layer, s.n_expert, s.n_expert_used, s.n_embd, s.n_vocab_target);
    });
}

}  // namespace moe::cli
