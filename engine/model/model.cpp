// GGUF model loader: architecture, hyper-parameters (<arch>.* keys as llama.cpp's converters
// write them), every tensor checked for presence, type and exact shape, and the tokenizer.
// Per-architecture facts (llama.cpp src/models/*.cpp, llama_model_rope_type):
//   llama (Mixtral): normal RoPE, renormalised top-k, optional output (tied), no q/k norm;
//   qwen2moe: NeoX RoPE, q/k/v biases, no renormalisation, shared expert scaled by
//             sigmoid(ffn_gate_inp_shexp · x);
//   qwen3moe: NeoX RoPE, per-head q/k RMSNorm (head_dim), renormalised top-k;
//   olmoe:    NeoX RoPE, q/k RMSNorm over the whole projection, no renormalisation.
#include "model/model.h"

#include <cstdio>
#include <initializer_list>

#include "cpu/quant.h"

namespace moe {

const char* archName(Arch a) {
    switch (a) {
        case Arch::Llama: return "llama";
        case Arch::Qwen2Moe: return "qwen2moe";
        case Arch::Qwen3Moe: return "qwen3moe";
        case Arch::Olmoe: return "olmoe";
    }
    return "?";
}

std::optional<Arch> archFromName(std::string_view name) {
    for (Arch a : {Arch::Llama, Arch::Qwen2Moe, Arch::Qwen3Moe, Arch::Olmoe})
        if (name == archName(a)) return a;
    return std::nullopt;
}

namespace {

std::string shapeString(const int64_t* ne, int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

int nDimsOf(const int64_t ne[4]) {
    int n = 4;
    while (n > 1 && ne[n - 1] == 1) --n;
    return n;
}

enum class Kind { Matrix, Vector };  // Vector: norms and biases (F32/F16/BF16)

struct Loader {
    const GgufFile& f;
    std::string prefix;  // "<arch>."

    Error error(const std::string& msg) const { return makeError(f.name() + ": " + msg); }

    // Looks up `name`, checks type and shape. `shape` is in GGUF order (fastest first); missing
    // trailing dims are 1 (as llama.cpp compares them). Absent optional tensors give an empty view.
    Result<TensorView> tensor(const std::string& name, std::initializer_list<int64_t> shape, Kind kind,
                              bool required = true) const {
        const GgufTensor* t = f.tensor(name);
        if (!t) {
            if (required) return error("missing tensor '" + name + "'");
            return TensorView{};
        }
        TensorView v;
        v.name = name;
        v.type = t->type;
        v.data = t->data;
        v.nBytes = t->nBytes;
        for (int i = 0; i < 4; ++i) v.ne[i] = t->ne[i];
        if (kind == Kind::Vector) {
            if (t->type != GgmlType::F32 && t->type != GgmlType::F16 && t->type != GgmlType::BF16)
                return error("tensor '" + name + "' has type " + typeName(t->type) +
                             "; norm and bias vectors must be F32, F16 or BF16");
        } else if (!cpu::isWeightType(t->type)) {
            return error("tensor '" + name + "' has unsupported type " + typeName(t->type) +
                         " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)");
        }
        int64_t want[4] = {1, 1, 1, 1};
        int i = 0;
        for (int64_t d : shape) want[i++] = d;
        if (want[0] != v.ne[0] || want[1] != v.ne[1] || want[2] != v.ne[2] || want[3] != v.ne[3])
            return error("tensor '" + name + "' has shape " + shapeString(v.ne, nDimsOf(v.ne)) + ", expected " +
                         shapeString(want, int(shape.size())) + " (GGUF order, fastest first)");
        const int64_t block = cpu::blockSize(t->type);
        if (v.ne[0] % block != 0)
            return error("tensor '" + name + "' row length " + std::to_string(v.ne[0]) + " is not a multiple of the " +
                         typeName(t->type) + " block size " + std::to_string(block));
        return v;
    }

    // <arch>.key lookups; GgufFile errors already name the file and the key.
    Result<uint32_t> u32(const std::string& key) const { return f.getU32(prefix + key); }
    Result<uint32_t> u32Or(const std::string& key, uint32_t dflt) const { return f.getU32Or(prefix + key, dflt); }
    Result<float> f32Or(const std::string& key, float dflt) const { return f.getF32Or(prefix + key, dflt); }
};

Status loadConfig(const Loader& L, ModelConfig& c) {
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
    MOE_ASSIGN(uint32_t valueLength, L.u32Or("attention.value_length", c.head_dim));
    if (valueLength != c.head_dim)
        return L.error("attention.value_length " + std::to_string(valueLength) + " differs from key_length " +
                       std::to_string(c.head_dim) + " (not supported)");
    MOE_ASSIGN(c.rope_dimension_count, L.u32Or("rope.dimension_count", c.head_dim));
    if (c.head_dim == 0 || c.rope_dimension_count % 2 != 0 || c.rope_dimension_count > c.head_dim)
        return L.error("rope.dimension_count " + std::to_string(c.rope_dimension_count) +
                       " must be even and at most the head size " + std::to_string(c.head_dim));

    // gating: these architectures use a softmax router; anything else is not supported here.
    MOE_ASSIGN(uint32_t gating, L.u32Or("expert_gating_func", 1));
    if (gating != 1)
        return L.error("expert_gating_func " + std::to_string(gating) + " is not supported (softmax only)");

    // expert FFN size: expert_feed_forward_length; Mixtral and OLMoE files give it as
    // feed_forward_length, Qwen files without the key use feed_forward_length / k (llama.cpp).
    uint32_t dfltFf = c.feed_forward_length;
    if (c.arch == Arch::Qwen2Moe || c.arch == Arch::Qwen3Moe) dfltFf = c.feed_forward_length / c.expert_used_count;
    MOE_ASSIGN(c.expert_feed_forward_length, L.u32Or("expert_feed_forward_length", dfltFf));
    if (c.expert_feed_forward_length == 0)
        return L.error("missing key '" + L.prefix + "expert_feed_forward_length' (or feed_forward_length)");

    c.rope_neox = c.arch != Arch::Llama;
    c.qk_norm = c.arch == Arch::Qwen3Moe || c.arch == Arch::Olmoe;
    c.qk_norm_per_head = c.arch == Arch::Qwen3Moe;
    // Mixtral and Qwen3-MoE renormalise the top-k weights; Qwen2-MoE and OLMoE do not
    // (norm_topk_prob = false). The key, when present, overrides the architecture default.
    const bool dfltNorm = c.arch == Arch::Llama || c.arch == Arch::Qwen3Moe;
    auto norm = f.getBoolOr(L.prefix + "expert_weights_norm", dfltNorm);
    if (!norm) return norm.error();
    c.expert_weights_norm = *norm;

    if (c.arch == Arch::Qwen2Moe) {
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

Status loadTensors(const Loader& L, Model& m) {
    const ModelConfig& c = m.cfg;
    const int64_t E = c.embedding_length, V = c.n_vocab, H = c.head_count, Hkv = c.head_count_kv;
    const int64_t D = c.head_dim, Q = H * D, KV = Hkv * D, X = c.expert_count, F = c.expert_feed_forward_length;
    const auto M = Kind::Matrix, Vec = Kind::Vector;

    MOE_ASSIGN(m.output_norm, L.tensor("output_norm.weight", {E}, Vec));
    MOE_ASSIGN(m.output, L.tensor("output.weight", {E, V}, M, false));
    m.cfg.output_tied = !m.output;
    if (!m.output) m.output = m.token_embd;

    if (L.f.tensor("blk.0.ffn_gate.0.weight"))
        return L.error("per-expert tensors (blk.N.ffn_gate.E.weight, the pre-2024 Mixtral layout) are not "
                       "supported; re-convert the model with a current llama.cpp");
    m.layers.resize(c.block_count);
    for (uint32_t i = 0; i < c.block_count; ++i) {
        LayerWeights& l = m.layers[i];
        const std::string b = "blk." + std::to_string(i) + ".";
        MOE_ASSIGN(l.attn_norm, L.tensor(b + "attn_norm.weight", {E}, Vec));
        MOE_ASSIGN(l.wq, L.tensor(b + "attn_q.weight", {E, Q}, M));
        MOE_ASSIGN(l.wk, L.tensor(b + "attn_k.weight", {E, KV}, M));
        MOE_ASSIGN(l.wv, L.tensor(b + "attn_v.weight", {E, KV}, M));
        MOE_ASSIGN(l.wo, L.tensor(b + "attn_output.weight", {Q, E}, M));
        // biases: optional everywhere (Qwen2-MoE files carry them), all three or none
        MOE_ASSIGN(l.bq, L.tensor(b + "attn_q.bias", {Q}, Vec, false));
        MOE_ASSIGN(l.bk, L.tensor(b + "attn_k.bias", {KV}, Vec, false));
        MOE_ASSIGN(l.bv, L.tensor(b + "attn_v.bias", {KV}, Vec, false));
        const bool anyBias = l.bq || l.bk || l.bv, allBias = l.bq && l.bk && l.bv;
        if (anyBias != allBias) return L.error("layer " + std::to_string(i) + " has some but not all q/k/v biases");
        if (i == 0) m.cfg.attn_bias = allBias;
        else if (m.cfg.attn_bias != allBias) return L.error("layer " + std::to_string(i) + " differs in q/k/v biases");
        if (c.qk_norm_per_head) {
            MOE_ASSIGN(l.q_norm, L.tensor(b + "attn_q_norm.weight", {D}, Vec));
            MOE_ASSIGN(l.k_norm, L.tensor(b + "attn_k_norm.weight", {D}, Vec));
        } else if (c.qk_norm) {
            MOE_ASSIGN(l.q_norm, L.tensor(b + "attn_q_norm.weight", {Q}, Vec));
            MOE_ASSIGN(l.k_norm, L.tensor(b + "attn_k_norm.weight", {KV}, Vec));
        }
        MOE_ASSIGN(l.ffn_norm, L.tensor(b + "ffn_norm.weight", {E}, Vec));
        MOE_ASSIGN(l.ffn_gate_inp, L.tensor(b + "ffn_gate_inp.weight", {E, X}, M));
        MOE_ASSIGN(l.ffn_gate_exps, L.tensor(b + "ffn_gate_exps.weight", {E, F, X}, M));
        MOE_ASSIGN(l.ffn_up_exps, L.tensor(b + "ffn_up_exps.weight", {E, F, X}, M));
        MOE_ASSIGN(l.ffn_down_exps, L.tensor(b + "ffn_down_exps.weight", {F, E, X}, M));
        if (c.expert_shared_count > 0) {
            const int64_t S = c.expert_shared_feed_forward_length;
            MOE_ASSIGN(l.ffn_gate_inp_shexp, L.tensor(b + "ffn_gate_inp_shexp.weight", {E}, M));
            MOE_ASSIGN(l.ffn_gate_shexp, L.tensor(b + "ffn_gate_shexp.weight", {E, S}, M));
            MOE_ASSIGN(l.ffn_up_shexp, L.tensor(b + "ffn_up_shexp.weight", {E, S}, M));
            MOE_ASSIGN(l.ffn_down_shexp, L.tensor(b + "ffn_down_shexp.weight", {S, E}, M));
        }
    }
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
        {"tokenizer.ggml.eot_token_id", &s.eot},     {"tokenizer.ggml.unknown_token_id", &s.unk},
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

uint64_t elements(const TensorView& t) {
    return t ? uint64_t(t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]) : 0;
}

}  // namespace

uint64_t Model::paramsTotal() const {
    uint64_t n = elements(token_embd) + elements(output_norm) + (cfg.output_tied ? 0 : elements(output));
    for (const LayerWeights& l : layers) {
        for (const TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.bq, &l.bk, &l.bv, &l.wo, &l.q_norm,
                                    &l.k_norm, &l.ffn_norm, &l.ffn_gate_inp, &l.ffn_gate_exps, &l.ffn_up_exps,
                                    &l.ffn_down_exps, &l.ffn_gate_inp_shexp, &l.ffn_gate_shexp, &l.ffn_up_shexp,
                                    &l.ffn_down_shexp})
            n += elements(*t);
    }
    return n;
}

uint64_t Model::paramsActive() const {
    // every parameter except the routed experts that a token does not use
    uint64_t inactive = 0;
    const uint64_t unused = cfg.expert_count - cfg.expert_used_count;
    for (const LayerWeights& l : layers) {
        const uint64_t perExpert =
            (elements(l.ffn_gate_exps) + elements(l.ffn_up_exps) + elements(l.ffn_down_exps)) / cfg.expert_count;
        inactive += perExpert * unused;
    }
    return paramsTotal() - inactive;
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
    auto arch = archFromName(*archStr);
    if (!arch)
        return makeError(f.name() + ": unsupported architecture '" + std::string(*archStr) +
                         "' (supported: llama with experts, qwen2moe, qwen3moe, olmoe)");
    m->cfg.arch = *arch;
    Loader L{f, std::string(*archStr) + "."};

    // token_embd first: its row count is the vocabulary size the other shapes use
    const GgufTensor* embd = f.tensor("token_embd.weight");
    if (!embd) return L.error("missing tensor 'token_embd.weight'");
    MOE_TRY(loadConfig(L, m->cfg));
    if (embd->ne[1] <= 0 || embd->ne[1] > INT32_MAX)
        return L.error("tensor 'token_embd.weight' has " + std::to_string(embd->ne[1]) +
                       " rows; the vocabulary size must be in [1, 2^31-1]");
    m->cfg.n_vocab = uint32_t(embd->ne[1]);
    MOE_ASSIGN(m->token_embd, L.tensor("token_embd.weight", {m->cfg.embedding_length, m->cfg.n_vocab}, Kind::Matrix));
    MOE_TRY(loadTensors(L, *m));

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
