// GGUF model loader: the hyper-parameters every architecture shares (<arch>.* keys as
// llama.cpp's converters write them), then the architecture's file (model/arch_*.cpp) builds the
// layer plan, every tensor checked for presence, type and exact shape, and the tokenizer.
#include "model/model.h"

#include "model/arch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "cpu/quant.h"

namespace moe {

namespace {

Status loadConfig(const ArchLoader& L, const ArchDefaults& arch, ModelConfig& c) {
    const GgufFile& f = L.f;
    c.name = std::string(f.findString("general.name").value_or(""));
    MOE_ASSIGN(c.context_length, L.u32("context_length"));
    MOE_ASSIGN(c.embedding_length, L.u32("embedding_length"));
    MOE_ASSIGN(c.block_count, L.u32("block_count"));
    MOE_ASSIGN(c.feed_forward_length, L.u32Or("feed_forward_length", 0));
    MOE_ASSIGN(c.head_count, L.u32("attention.head_count"));
    MOE_ASSIGN(c.head_count_kv, L.u32Or("attention.head_count_kv", c.head_count));
    MOE_ASSIGN(c.layer_norm_rms_epsilon, f.getF32(L.prefix + "attention.layer_norm_rms_epsilon"));
    MOE_ASSIGN(c.rope_freq_base, L.f32Or("rope.freq_base", 10000.0f));
    MOE_ASSIGN(c.expert_count, L.u32Or("expert_count", 0));
    MOE_ASSIGN(c.expert_used_count, L.u32Or("expert_used_count", 0));

    if (c.expert_count == 0) {
        if (c.arch == Arch::Llama) return L.error("llama without experts is not a MoE model");
        return L.error("missing or zero key '" + L.prefix + "expert_count'");
    }
    if (c.expert_used_count == 0 || c.expert_used_count > c.expert_count)
        return L.error("key '" + L.prefix + "expert_used_count' = " + std::to_string(c.expert_used_count) +
                       " must be in [1, expert_count = " + std::to_string(c.expert_count) + "]");
    if (c.embedding_length == 0 || c.block_count == 0 || c.head_count == 0 || c.context_length == 0)
        return L.error("embedding_length, block_count, attention.head_count and context_length must be non-zero");
    // every layer has at least 10 tensors: a larger block_count cannot be satisfied (and must
    // not size any allocation)
    if (c.block_count > L.f.tensors().size() / 10)
        return L.error("block_count " + std::to_string(c.block_count) + " does not match the " +
                       std::to_string(L.f.tensors().size()) + " tensors of the file");
    if (c.head_count_kv == 0 || c.head_count % c.head_count_kv != 0)
        return L.error("attention.head_count " + std::to_string(c.head_count) +
                       " is not a multiple of attention.head_count_kv " + std::to_string(c.head_count_kv));
    if (!(c.layer_norm_rms_epsilon > 0.0f) || !(c.rope_freq_base > 0.0f))
        return L.error("attention.layer_norm_rms_epsilon and rope.freq_base must be positive");

    const uint32_t dfltHead = c.embedding_length / c.head_count;
    MOE_ASSIGN(c.head_dim, L.u32Or("attention.key_length", dfltHead));
    MOE_ASSIGN(c.value_head_dim, L.u32Or("attention.value_length", c.head_dim));
    MOE_ASSIGN(c.rope_dimension_count, L.u32Or("rope.dimension_count", c.head_dim));
    if (c.head_dim == 0 || c.rope_dimension_count % 2 != 0 || c.rope_dimension_count > c.head_dim)
        return L.error("rope.dimension_count " + std::to_string(c.rope_dimension_count) +
                       " must be even and at most the head size " + std::to_string(c.head_dim));

    // gating: 1 softmax, 2 sigmoid (llama_expert_gating_func_type); the weight scale and the
    // group-limited selection of DeepSeek-V3-style routers
    MOE_ASSIGN(c.expert_gating_func, L.u32Or("expert_gating_func", 1));
    if (c.expert_gating_func == 0) c.expert_gating_func = 1;  // "none": older files, softmax
    if (c.expert_gating_func != 1 && c.expert_gating_func != 2)
        return L.error("expert_gating_func " + std::to_string(c.expert_gating_func) +
                       " is not supported (1 softmax, 2 sigmoid)");
    MOE_ASSIGN(c.expert_weights_scale, L.f32Or("expert_weights_scale", 1.0f));
    if (c.expert_weights_scale == 0.0f) c.expert_weights_scale = 1.0f;  // converters write 0 for "none"
    if (!(c.expert_weights_scale > 0.0f) || !std::isfinite(c.expert_weights_scale))
        return L.error("expert_weights_scale must be positive");
    MOE_ASSIGN(c.expert_group_count, L.u32Or("expert_group_count", 0));
    MOE_ASSIGN(c.expert_group_used_count, L.u32Or("expert_group_used_count", 0));
    if (c.expert_group_count > 1 &&
        (c.expert_count % c.expert_group_count != 0 || c.expert_group_used_count == 0 ||
         c.expert_group_used_count > c.expert_group_count || c.expert_group_count > 64))
        return L.error("expert_group_count " + std::to_string(c.expert_group_count) + " / expert_group_used_count " +
                       std::to_string(c.expert_group_used_count) + " must divide the " + std::to_string(c.expert_count) +
                       " experts into at most 64 groups with 1..groups used");
    // NextN/MTP layers are counted in block_count and stored after the trunk: loaded, not run
    MOE_ASSIGN(c.nextn_predict_layers, L.u32Or("nextn_predict_layers", 0));
    if (c.nextn_predict_layers >= c.block_count)
        return L.error("nextn_predict_layers " + std::to_string(c.nextn_predict_layers) + " leaves no layer of " +
                       std::to_string(c.block_count));
    c.block_count -= c.nextn_predict_layers;
    MOE_ASSIGN(c.leading_dense_block_count, L.u32Or("leading_dense_block_count", 0));
    if (c.leading_dense_block_count >= c.block_count)
        return L.error("leading_dense_block_count " + std::to_string(c.leading_dense_block_count) +
                       " leaves no MoE layer of " + std::to_string(c.block_count));

    // rope.scaling: none, or YaRN with its corrections
    if (f.has(L.prefix + "rope.scaling.type")) {
        MOE_ASSIGN(auto type, f.getString(L.prefix + "rope.scaling.type"));
        if (type == "yarn") {
            MOE_ASSIGN(c.rope_scaling_factor, L.f32Or("rope.scaling.factor", 0.0f));
            if (!(c.rope_scaling_factor >= 1.0f) || !std::isfinite(c.rope_scaling_factor))
                return L.error("rope.scaling.factor must be at least 1 with YaRN scaling");
            if (c.rope_scaling_factor == 1.0f) c.rope_scaling_factor = 0.0f;  // no scaling
            MOE_ASSIGN(c.rope_scaling_original_context_length,
                       L.u32Or("rope.scaling.original_context_length", c.context_length));
            MOE_ASSIGN(c.rope_scaling_yarn_log_multiplier, L.f32Or("rope.scaling.yarn_log_multiplier", 0.0f));
            MOE_ASSIGN(c.rope_scaling_attn_factor, L.f32Or("rope.scaling.attn_factor", 1.0f));
            MOE_ASSIGN(c.rope_scaling_yarn_beta_fast, L.f32Or("rope.scaling.yarn_beta_fast", 32.0f));
            MOE_ASSIGN(c.rope_scaling_yarn_beta_slow, L.f32Or("rope.scaling.yarn_beta_slow", 1.0f));
            if (c.rope_scaling_original_context_length == 0)
                return L.error("rope.scaling.original_context_length must be positive");
        } else if (type != "none") {
            return L.error("rope.scaling.type '" + std::string(type) + "' is not supported (none, yarn)");
        }
    }

    // expert FFN size: expert_feed_forward_length; Mixtral and OLMoE files give it as
    // feed_forward_length, Qwen files without the key use feed_forward_length / k (llama.cpp).
    uint32_t dfltFf = c.feed_forward_length;
    if (arch.ffPerExpertFromK) dfltFf = c.feed_forward_length / c.expert_used_count;
    MOE_ASSIGN(c.expert_feed_forward_length, L.u32Or("expert_feed_forward_length", dfltFf));
    if (c.expert_feed_forward_length == 0)
        return L.error("missing key '" + L.prefix + "expert_feed_forward_length' (or feed_forward_length)");

    // Mixtral and Qwen3-MoE renormalise the top-k weights; Qwen2-MoE and OLMoE do not
    // (norm_topk_prob = false). The key, when present, overrides the architecture default.
    auto norm = f.getBoolOr(L.prefix + "expert_weights_norm", arch.normTopK);
    if (!norm) return norm.error();
    c.expert_weights_norm = *norm;

    if (arch.sharedExpert) {  // qwen2moe: one, its size under its own key
        MOE_ASSIGN(c.expert_shared_count, L.u32Or("expert_shared_count", 1));
        if (c.expert_shared_count != 1)
            return L.error("expert_shared_count " + std::to_string(c.expert_shared_count) +
                           " is not supported (qwen2moe has one shared expert)");
        MOE_ASSIGN(c.expert_shared_feed_forward_length,
                   L.u32Or("expert_shared_feed_forward_length", c.feed_forward_length));
        if (c.expert_shared_feed_forward_length == 0)
            return L.error("missing key '" + L.prefix + "expert_shared_feed_forward_length'");
    }
    return {};
}

// The checks that hold once the family's own keys are in.
Status checkConfig(const ArchLoader& L, const ModelConfig& c) {
    if (c.kv_lora_rank == 0 && c.value_head_dim != c.head_dim)
        return L.error("attention.value_length " + std::to_string(c.value_head_dim) + " differs from key_length " +
                       std::to_string(c.head_dim) + " (not supported)");
    return {};
}

Status loadPlan(const ArchLoader& L, const ArchDef& arch, Model& m) {
    const ModelConfig& c = m.cfg;
    ModelPlan& p = m.plan;
    const int64_t E = c.embedding_length, V = c.n_vocab;
    p.outputNorm.eps = c.layer_norm_rms_epsilon;
    MOE_ASSIGN(p.outputNorm.w, L.tensor("output_norm.weight", {E}, TensorKind::Vector));
    MOE_ASSIGN(p.output, L.tensor("output.weight", {E, V}, TensorKind::Matrix, false));
    m.cfg.output_tied = !p.output;
    if (!p.output) p.output = p.tokenEmbd;

    if (L.f.tensor("blk.0.ffn_gate.0.weight"))
        return L.error("per-expert tensors (blk.N.ffn_gate.E.weight, the pre-2024 Mixtral layout) are not "
                       "supported; re-convert the model with a current llama.cpp");
    p.layers.resize(c.block_count);
    for (uint32_t i = 0; i < c.block_count; ++i) MOE_TRY(arch.buildLayer(L, c, i, p.layers[i]));
    if (auto ok = checkExecutable(p); !ok) return L.error(ok.error().message);
    return {};
}

// tokenizer.ggml.* -> TokenizerSpec. Optional keys of the wrong type are errors, not ignored.
Status loadTokenizerSpec(const GgufFile& f, TokenizerSpec& s) {
    MOE_ASSIGN(auto model, f.getString("tokenizer.ggml.model"));
    s.model = std::string(model);
    if (f.has("tokenizer.ggml.pre")) {
        MOE_ASSIGN(auto pre, f.getString("tokenizer.ggml.pre"));
        s.pre = std::string(pre);
    }
    MOE_ASSIGN(auto tokens, f.getStringArray("tokenizer.ggml.tokens"));
    s.tokens.assign(tokens.begin(), tokens.end());
    if (f.has("tokenizer.ggml.scores")) {
        MOE_ASSIGN(s.scores, f.getF32Array("tokenizer.ggml.scores"));
    }
    if (f.has("tokenizer.ggml.token_type")) {
        MOE_ASSIGN(s.tokenTypes, f.getI32Array("tokenizer.ggml.token_type"));
    }
    if (f.has("tokenizer.ggml.merges")) {
        MOE_ASSIGN(auto merges, f.getStringArray("tokenizer.ggml.merges"));
        s.merges.assign(merges.begin(), merges.end());
    }
    const std::pair<const char*, std::optional<int32_t>*> ids[] = {
        {"tokenizer.ggml.bos_token_id", &s.bos},     {"tokenizer.ggml.eos_token_id", &s.eos},
        {"tokenizer.ggml.eot_token_id", &s.eot},     {"tokenizer.ggml.eom_token_id", &s.eom},
        {"tokenizer.ggml.unknown_token_id", &s.unk},
        {"tokenizer.ggml.padding_token_id", &s.pad},
    };
    for (const auto& [key, dst] : ids) {
        if (!f.has(key)) continue;
        MOE_ASSIGN(*dst, f.getI32(key));
    }
    if (f.has("tokenizer.ggml.add_bos_token")) {
        MOE_ASSIGN(s.addBos, f.getBool("tokenizer.ggml.add_bos_token"));
    }
    if (f.has("tokenizer.ggml.add_eos_token")) {
        MOE_ASSIGN(s.addEos, f.getBool("tokenizer.ggml.add_eos_token"));
    }
    MOE_ASSIGN(s.addSpacePrefix, f.getBoolOr("tokenizer.ggml.add_space_prefix", true));
    if (f.has("tokenizer.chat_template")) {
        MOE_ASSIGN(auto tmpl, f.getString("tokenizer.chat_template"));
        s.chatTemplate = std::string(tmpl);
    }
    return {};
}

}  // namespace

uint64_t Model::paramsTotal() const {
    uint64_t n = plan.tokenEmbd.elements() + plan.outputNorm.w.elements() + (cfg.output_tied ? 0 : plan.output.elements());
    for (const LayerPlan& l : plan.layers) forEachTensor(l, [&](const TensorView& t, TensorRole) { n += t.elements(); });
    return n;
}

uint64_t Model::paramsActive() const {
    // every parameter except the routed experts that a token does not use
    uint64_t inactive = 0;
    for (const LayerPlan& l : plan.layers) {
        const MoeBlock* m = l.moe();
        if (!m) continue;
        const uint64_t perExpert = (m->gateExps.elements() + m->upExps.elements() + m->downExps.elements()) / m->nExpert;
        inactive += perExpert * (m->nExpert - m->router.k);
    }
    return paramsTotal() - inactive;
}

Result<uint32_t> contextSize(const ModelConfig& c, uint32_t requested) {
    const uint32_t ctxTrain = c.context_length ? c.context_length : 4096;
    const uint32_t n = requested ? requested : std::min<uint32_t>(ctxTrain, 4096);
    if (n > ctxTrain)
        return makeError("context " + std::to_string(n) + " exceeds the model's context length " + std::to_string(ctxTrain));
    return n;
}

Result<std::unique_ptr<Model>> loadModel(const std::string& path) {
    auto file = GgufFile::open(path);
    if (!file) return std::move(file).takeError();
    return loadModel(std::move(file).value());
}

Result<std::unique_ptr<Model>> loadModel(GgufFile file) {
    auto m = std::make_unique<Model>(std::move(file));
    const GgufFile& f = m->file;
    auto archStr = f.getString("general.architecture");
    if (!archStr) return archStr.error();
    const ArchDef* arch = findArch(*archStr);
    if (!arch)
        return makeError(f.name() + ": unsupported architecture '" + std::string(*archStr) + "' (supported: " +
                         supportedArchList() + ")");
    m->cfg.arch = arch->arch;
    ArchLoader L{f, std::string(*archStr) + "."};

    // token_embd first: its row count is the vocabulary size the other shapes use
    const GgufTensor* embd = f.tensor("token_embd.weight");
    if (!embd) return L.error("missing tensor 'token_embd.weight'");
    MOE_TRY(loadConfig(L, arch->defaults, m->cfg));
    if (arch->configure) MOE_TRY(arch->configure(L, m->cfg));
    MOE_TRY(checkConfig(L, m->cfg));
    if (embd->ne[1] <= 0 || embd->ne[1] > INT32_MAX)
        return L.error("tensor 'token_embd.weight' has " + std::to_string(embd->ne[1]) +
                       " rows; the vocabulary size must be in [1, 2^31-1]");
    m->cfg.n_vocab = uint32_t(embd->ne[1]);
    MOE_ASSIGN(m->plan.tokenEmbd,
               L.tensor("token_embd.weight", {m->cfg.embedding_length, m->cfg.n_vocab}, TensorKind::Matrix));
    MOE_TRY(loadPlan(L, *arch, *m));

    MOE_TRY(loadTokenizerSpec(f, m->tokenizerSpec));
    if (m->tokenizerSpec.tokens.size() != m->cfg.n_vocab)
        return L.error("tokenizer has " + std::to_string(m->tokenizerSpec.tokens.size()) +
                       " tokens but token_embd.weight has " + std::to_string(m->cfg.n_vocab) + " rows");
    auto tok = Tokenizer::create(m->tokenizerSpec);
    if (!tok) return L.error(tok.error().message);
    m->tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
    return m;
}

}  // namespace moe
