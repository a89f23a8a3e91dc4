// The layer plan: a model as a sequence of blocks from one shared vocabulary, resolved once at
// load time by the architecture's file (model/arch_*.cpp). The CPU reference (cpu/forward.cpp)
// and the Vulkan pass (runtime/vk_forward.cpp) execute plans block by block and never branch on
// the architecture. Every block reads the residual stream x (n_embd per token) and adds its
// output into it: x += post(f(pre(x))).
//
// The vocabulary is wider than what the executors run today: a field that an executor does not
// implement yet is refused at load time by checkExecutable() with a message naming the feature,
// so a file never runs with part of its graph silently ignored.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace moe {

// A tensor inside the mapped file. Shapes are written outermost first in comments, e.g.
// (n_expert, n_ff_exp, n_embd) means ne = {n_embd, n_ff_exp, n_expert} in GGUF order.
struct TensorView {
    std::string name;
    GgmlType type = GgmlType::F32;
    const uint8_t* data = nullptr;  // null when the (optional) tensor is absent
    int64_t ne[4] = {1, 1, 1, 1};   // GGUF order: fastest first
    uint64_t nBytes = 0;
    explicit operator bool() const { return data != nullptr; }
    int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
    uint64_t elements() const { return data ? uint64_t(ne[0] * ne[1] * ne[2] * ne[3]) : 0; }
    uint64_t rowBytes() const { return moe::rowBytes(type, uint64_t(ne[0])); }
};

// RMSNorm: y = x / sqrt(mean(x²) + eps) * w. No weight tensor: no norm at all.
struct Norm {
    TensorView w;       // (n) F32/F16/BF16
    float eps = 1e-6f;
    explicit operator bool() const { return bool(w); }
};

// Rotary position embedding of the first nRot dimensions of every q/k head.
struct Rope {
    bool neox = false;       // pairs (i, i + nRot/2) (NeoX) instead of (2i, 2i+1)
    uint32_t nRot = 0;       // rotated dimensions per head (even, <= head_dim; 0: no rope)
    float freqBase = 10000.0f;
    // YaRN context extension (rope.scaling.type "yarn"); factor 0: off. The angles blend
    // interpolation (1/factor) and extrapolation by dimension (cpu::yarnParams); the attention
    // scale's own correction goes into AttentionBlock::kqScale.
    struct Yarn {
        float factor = 0.0f;         // rope.scaling.factor
        uint32_t origContext = 0;    // rope.scaling.original_context_length
        float attnFactor = 1.0f;     // the net magnitude of cos/sin (llama.cpp: attn_factor · ggml's 1 + 0.1 ln factor)
        float betaFast = 32.0f, betaSlow = 1.0f;
    } yarn;
    std::vector<uint32_t> sections;  // multi-section RoPE (rope.dimension_sections); empty: off
};

enum class QkNorm { None, PerHead, Whole };  // over head_dim of each head, or over the projection

// Multi-head latent attention (DeepSeek-V2/V3): the cache holds one compressed row
// (kvLoraRank + ropeDim) per token instead of full keys and values per head. A query head is
// (nopeDim + ropeDim) = AttentionBlock::headDim, with rope on its last ropeDim dims; the key's
// rope part (the row's last ropeDim values) is shared by all heads; keys' nope parts and values
// are the latent c (kvLoraRank, after kvANorm) expanded per head: k = wkB_h · c, v = wvB_h · c,
// where wkB is stored transposed per head (n_head, kv_lora_rank, nope) and wvB as
// (n_head, value_dim, kv_lora_rank); or, legacy, one wkvB (n_head*(nope+value), kv_lora_rank).
struct Mla {
    uint32_t qLoraRank = 0, kvLoraRank = 0, ropeDim = 0, nopeDim = 0, valueDim = 0;
    TensorView wqA, wqB;          // (q_lora_rank, n_embd), (n_head*(nope+rope), q_lora_rank)
    Norm qANorm, kvANorm;         // (q_lora_rank), (kv_lora_rank)
    TensorView wkvA;              // (kv_lora_rank + rope, n_embd)
    TensorView wkB, wvB, wkvB;    // per-head expansions, or the legacy fused attn_kv_b
    explicit operator bool() const { return kvLoraRank > 0; }
};

// Self-attention with a KV cache: norm -> q,k,v (+ bias) -> q/k norm -> rope -> cache ->
// causal softmax(q·kᵀ·scale) v -> o (+ bias) -> post norm -> residual.
struct AttentionBlock {
    Norm norm;                    // attn_norm (n_embd)
    TensorView wq;                // (n_head*head_dim, n_embd)
    TensorView wk, wv;            // (n_head_kv*head_dim, n_embd)
    TensorView wo;                // (n_embd, n_head*head_dim)
    TensorView bq, bk, bv, bo;    // optional biases of q (n_head*head_dim), k/v (n_head_kv*head_dim), o (n_embd)
    QkNorm qkNorm = QkNorm::None;
    Norm qNorm, kNorm;            // PerHead: (head_dim); Whole: (n_head*head_dim) / (n_head_kv*head_dim)
    uint32_t nHead = 0, nHeadKv = 0, headDim = 0;
    Rope rope;
    float kqScale = 0.0f;         // 0: 1/sqrt(head_dim)
    uint32_t slidingWindow = 0;   // 0: every earlier position; else the last slidingWindow ones
    TensorView sinks;             // (n_head) a learned logit per head joining the softmax denominator
    float softcap = 0.0f;         // attention logits soft-capped as c·tanh(l/c); 0: off
    Mla mla;                      // latent attention instead of wk/wv (wq: the query when qLoraRank is 0)
    int32_t kvFrom = -1;          // >= 0: reads the KV cache of that layer's attention (no k/v of its own)
    Norm postNorm;                // sandwich norm of the output before the residual
    uint32_t headDimV() const { return mla ? mla.valueDim : headDim; }  // a value head's size
};

enum class Activation { Silu, Gelu, ClampedSwiglu };  // the GLU: act(gate) * up

// A dense GLU FFN: norm -> down(act(gate·x) * up·x) -> post norm -> residual.
struct FfnBlock {
    Norm norm;                    // ffn_norm (n_embd)
    TensorView gate, up;          // (n_ff, n_embd)
    TensorView down;              // (n_embd, n_ff)
    Activation act = Activation::Silu;
    Norm postNorm;
    uint32_t nFf = 0;
    explicit operator bool() const { return bool(gate); }
};

// The router of an MoE block. The runtime's routing policies (cpu::RouterParams) start from
// defaultRouterParams() of this spec.
struct Router {
    TensorView w;                 // ffn_gate_inp: (n_expert, n_embd)
    TensorView bias;              // optional logit bias (n_expert)
    bool sigmoid = false;         // sigmoid scores (DeepSeek-V3) instead of softmax
    bool softmaxAfterTopK = false;// top-k over raw logits, then a softmax over the k (gpt-oss)
    uint32_t k = 0;               // expert_used_count
    bool normalize = false;       // renormalise the selected weights
    float scale = 1.0f;           // expert_weights_scale (routed scaling factor)
    TensorView selectionBias;     // exp_probs_b: (n_expert), added to the scores for ranking only
    uint32_t nGroup = 0, groupsUsed = 0;  // group-limited selection (0: off)
};

// Shared experts beside the routed ones, added unweighted or scaled by sigmoid(gateInp·x).
struct SharedExpert {
    TensorView gate, up;          // (n_ff_shexp, n_embd)
    TensorView down;              // (n_embd, n_ff_shexp)
    TensorView gateInp;           // optional (n_embd): sigmoid scalar gate per token
    uint32_t nFf = 0;
    explicit operator bool() const { return bool(gate); }
};

// Routed experts: norm -> router -> Σ_j w_j · down_e(act(gate_e·x) * up_e·x) (+ shared) ->
// post norm -> residual. Optionally a dense FFN runs in parallel on the same input.
struct MoeBlock {
    Norm norm;                    // ffn_norm (n_embd)
    Router router;
    TensorView gateExps, upExps;  // (n_expert, n_ff_exp, n_embd)
    TensorView downExps;          // (n_expert, n_embd, n_ff_exp)
    TensorView gateExpsBias, upExpsBias, downExpsBias;  // optional per-expert biases
    Activation act = Activation::Silu;
    uint32_t nExpert = 0, nFf = 0;
    SharedExpert shared;
    FfnBlock parallel;            // a dense FFN summed with the experts (Gemma 4)
    Norm postNorm;
};

// A recurrent block (Gated DeltaNet / Mamba-like): its state per sequence is a conv state and a
// recurrent state, not a KV cache.
struct RecurrentBlock {
    Norm norm;
    TensorView inProj, gateProj, betaProj, alphaProj, conv1d, outProj, outNorm;
    uint32_t convKernel = 0, innerSize = 0, stateSize = 0, nGroup = 0, timeStepRank = 0;
    Norm postNorm;
};

using Block = std::variant<AttentionBlock, FfnBlock, MoeBlock, RecurrentBlock>;

// One layer: its blocks in order (today: attention, then an FFN or an MoE block).
struct LayerPlan {
    std::vector<Block> blocks;
    const AttentionBlock* attention() const;  // the layer's attention block, or null
    const MoeBlock* moe() const;              // the layer's MoE block, or null
    const FfnBlock* ffn() const;              // the layer's dense FFN block, or null
};

struct ModelPlan {
    TensorView tokenEmbd;         // (n_vocab, n_embd)
    float embdScale = 0.0f;       // x *= embdScale after the lookup (Gemma: sqrt(n_embd)); 0: off
    std::vector<LayerPlan> layers;
    Norm outputNorm;              // (n_embd)
    TensorView output;            // (n_vocab, n_embd); the token_embd view when tied
    float logitSoftcap = 0.0f;    // final logits soft-capped; 0: off
};

// Every tensor of a layer's blocks (absent optional ones included, as empty views), with what
// it is: a norm or bias vector, a matrix every token reads, or a routed-expert stack.
enum class TensorRole { Vector, Matrix, RoutedExperts };
void forEachTensor(const LayerPlan& layer, const std::function<void(const TensorView&, TensorRole)>& f);

// KV-cache bytes per token position over all attention blocks (F32 keys and values, or the
// latent row of MLA), as the backends hold them.
uint64_t kvBytesPerToken(const ModelPlan& plan);

// The blocks the executors (CPU reference and Vulkan) implement today. A plan with anything
// else is refused with a message that names the layer and the feature. At most one attention
// block and one MoE block per layer (the expert cache and the routing record index experts by
// layer).
Status checkExecutable(const ModelPlan& plan);

}  // namespace moe
