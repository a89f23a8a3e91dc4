// The architecture table and the shared builders of the architecture files: tensor lookups
// with type and shape checks, standard attention, routed experts with a shared expert.
#include "model/arch.h"

#include <cmath>

#include "cpu/quant.h"

namespace moe {

extern const ArchDef kArchLlama, kArchQwen2Moe, kArchQwen3Moe, kArchOlmoe, kArchDeepseek2, kArchGlm4Moe;

namespace {

const ArchDef* const kArchs[] = {&kArchLlama, &kArchQwen2Moe, &kArchQwen3Moe, &kArchOlmoe, &kArchDeepseek2, &kArchGlm4Moe};

// "F32, F16, ...": the weight types the engine computes with (kWeightTypes), for refusals
std::string supportedWeightTypes() {
    std::string s;
    for (GgmlType t : kWeightTypes) s += (s.empty() ? "" : ", ") + typeName(t);
    return s;
}

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

}  // namespace

const ArchDef* findArch(std::string_view name) {
    for (const ArchDef* a : kArchs)
        if (name == a->name) return a;
    return nullptr;
}

const ArchDef& archDef(Arch a) {
    for (const ArchDef* d : kArchs)
        if (d->arch == a) return *d;
    return *kArchs[0];  // every Arch has an entry (see kArchs)
}

std::string supportedArchList() {
    std::string s;
    for (const ArchDef* a : kArchs) s += std::string(s.empty() ? "" : ", ") + a->name + (a->arch == Arch::Llama ? " with experts" : "");
    return s;
}

const char* archName(Arch a) { return archDef(a).name; }

std::optional<Arch> archFromName(std::string_view name) {
    const ArchDef* d = findArch(name);
    return d ? std::optional<Arch>(d->arch) : std::nullopt;
}

Result<TensorView> ArchLoader::tensor(const std::string& name, std::initializer_list<int64_t> shape, TensorKind kind,
                                      bool required) const {
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
    if (kind == TensorKind::Vector) {
        if (t->type != GgmlType::F32 && t->type != GgmlType::F16 && t->type != GgmlType::BF16)
            return error("tensor '" + name + "' has type " + typeName(t->type) +
                         "; norm and bias vectors must be F32, F16 or BF16");
    } else if (!cpu::isWeightType(t->type)) {
        return error("tensor '" + name + "' has unsupported type " + typeName(t->type) +
                     " (supported: " + supportedWeightTypes() + ")");
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

std::string blockPrefix(uint32_t il) { return "blk." + std::to_string(il) + "."; }

Result<AttentionBlock> buildAttention(const ArchLoader& L, const ModelConfig& c, uint32_t il, const AttentionForm& form) {
    const int64_t E = c.embedding_length, D = c.head_dim, Q = int64_t(c.head_count) * D, KV = int64_t(c.head_count_kv) * D;
    const auto M = TensorKind::Matrix, Vec = TensorKind::Vector;
    const std::string b = blockPrefix(il);
    AttentionBlock a;
    a.nHead = c.head_count;
    a.nHeadKv = c.head_count_kv;
    a.headDim = c.head_dim;
    a.rope.neox = form.neox;
    a.rope.nRot = c.rope_dimension_count;
    a.rope.freqBase = c.rope_freq_base;
    applyRopeScaling(c, a.rope);
    a.norm.eps = a.qNorm.eps = a.kNorm.eps = c.layer_norm_rms_epsilon;
    MOE_ASSIGN(a.norm.w, L.tensor(b + "attn_norm.weight", {E}, Vec));
    MOE_ASSIGN(a.wq, L.tensor(b + "attn_q.weight", {E, Q}, M));
    MOE_ASSIGN(a.wk, L.tensor(b + "attn_k.weight", {E, KV}, M));
    MOE_ASSIGN(a.wv, L.tensor(b + "attn_v.weight", {E, KV}, M));
    MOE_ASSIGN(a.wo, L.tensor(b + "attn_output.weight", {Q, E}, M));
    // biases: optional everywhere (Qwen2-MoE files carry them), all three or none
    MOE_ASSIGN(a.bq, L.tensor(b + "attn_q.bias", {Q}, Vec, false));
    MOE_ASSIGN(a.bk, L.tensor(b + "attn_k.bias", {KV}, Vec, false));
    MOE_ASSIGN(a.bv, L.tensor(b + "attn_v.bias", {KV}, Vec, false));
    const bool anyBias = a.bq || a.bk || a.bv, allBias = a.bq && a.bk && a.bv;
    if (anyBias != allBias) return L.error("layer " + std::to_string(il) + " has some but not all q/k/v biases");
    if (il > 0 && allBias != bool(L.f.tensor("blk.0.attn_q.bias")))
        return L.error("layer " + std::to_string(il) + " differs in q/k/v biases");
    a.qkNorm = form.qkNorm;
    if (form.qkNorm == QkNorm::PerHead) {
        MOE_ASSIGN(a.qNorm.w, L.tensor(b + "attn_q_norm.weight", {D}, Vec));
        MOE_ASSIGN(a.kNorm.w, L.tensor(b + "attn_k_norm.weight", {D}, Vec));
    } else if (form.qkNorm == QkNorm::Whole) {
        MOE_ASSIGN(a.qNorm.w, L.tensor(b + "attn_q_norm.weight", {Q}, Vec));
        MOE_ASSIGN(a.kNorm.w, L.tensor(b + "attn_k_norm.weight", {KV}, Vec));
    }
    return a;
}

Result<MoeBlock> buildMoe(const ArchLoader& L, const ModelConfig& c, uint32_t il, const MoeForm& form) {
    const int64_t E = c.embedding_length, X = c.expert_count, F = c.expert_feed_forward_length;
    const auto M = TensorKind::Matrix, Vec = TensorKind::Vector;
    const std::string b = blockPrefix(il);
    MoeBlock m;
    m.nExpert = c.expert_count;
    m.nFf = c.expert_feed_forward_length;
    m.norm.eps = c.layer_norm_rms_epsilon;
    MOE_ASSIGN(m.norm.w, L.tensor(b + form.normName + ".weight", {E}, Vec));
    // router: softmax over the experts, top-k with k = expert_used_count
    m.router.k = c.expert_used_count;
    m.router.normalize = c.expert_weights_norm;
    MOE_ASSIGN(m.router.w, L.tensor(b + "ffn_gate_inp.weight", {E, X}, M));
    MOE_ASSIGN(m.gateExps, L.tensor(b + "ffn_gate_exps.weight", {E, F, X}, M));
    MOE_ASSIGN(m.upExps, L.tensor(b + "ffn_up_exps.weight", {E, F, X}, M));
    MOE_ASSIGN(m.downExps, L.tensor(b + "ffn_down_exps.weight", {F, E, X}, M));
    if (c.expert_shared_count > 0) {
        const int64_t S = c.expert_shared_feed_forward_length;
        m.shared.nFf = c.expert_shared_feed_forward_length;
        if (form.sharedGate) {
            MOE_ASSIGN(m.shared.gateInp, L.tensor(b + "ffn_gate_inp_shexp.weight", {E}, M));
        }
        MOE_ASSIGN(m.shared.gate, L.tensor(b + "ffn_gate_shexp.weight", {E, S}, M));
        MOE_ASSIGN(m.shared.up, L.tensor(b + "ffn_up_shexp.weight", {E, S}, M));
        MOE_ASSIGN(m.shared.down, L.tensor(b + "ffn_down_shexp.weight", {S, E}, M));
    }
    return m;
}

Status addRouterKeys(const ArchLoader& L, const ModelConfig& c, uint32_t il, MoeBlock& m) {
    m.router.sigmoid = c.expert_gating_func == 2;
    m.router.scale = c.expert_weights_scale;
    if (c.expert_group_count > 1) {
        m.router.nGroup = c.expert_group_count;
        m.router.groupsUsed = c.expert_group_used_count;
    }
    MOE_ASSIGN(m.router.selectionBias,
               L.tensor(blockPrefix(il) + "exp_probs_b.bias", {int64_t(c.expert_count)}, TensorKind::Vector, false));
    return {};
}

Result<FfnBlock> buildFfn(const ArchLoader& L, const ModelConfig& c, uint32_t il, uint32_t nFf, const char* normName) {
    const int64_t E = c.embedding_length, F = nFf;
    const std::string b = blockPrefix(il);
    FfnBlock f;
    f.nFf = nFf;
    f.norm.eps = c.layer_norm_rms_epsilon;
    MOE_ASSIGN(f.norm.w, L.tensor(b + normName + ".weight", {E}, TensorKind::Vector));
    MOE_ASSIGN(f.gate, L.tensor(b + "ffn_gate.weight", {E, F}, TensorKind::Matrix));
    MOE_ASSIGN(f.up, L.tensor(b + "ffn_up.weight", {E, F}, TensorKind::Matrix));
    MOE_ASSIGN(f.down, L.tensor(b + "ffn_down.weight", {F, E}, TensorKind::Matrix));
    return f;
}

void applyRopeScaling(const ModelConfig& c, Rope& r) {
    if (c.rope_scaling_factor == 0.0f) return;
    r.yarn.factor = c.rope_scaling_factor;
    r.yarn.origContext = c.rope_scaling_original_context_length;
    r.yarn.betaFast = c.rope_scaling_yarn_beta_fast;
    r.yarn.betaSlow = c.rope_scaling_yarn_beta_slow;
    // llama.cpp's magnitude: attn_factor · (1 + 0.1 ln factor) (the families adjust it)
    r.yarn.attnFactor = c.rope_scaling_attn_factor * (1.0f + 0.1f * std::log(c.rope_scaling_factor));
}

}  // namespace moe
