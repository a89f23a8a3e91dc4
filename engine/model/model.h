// One MoE transformer description for every supported architecture: hyper-parameters under
// their GGUF key names, and tensor views into the memory-mapped GGUF file.
// The CPU reference forward pass (cpu/forward.h) and the Vulkan runtime both read this.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace moe {

enum class Arch { Llama, Qwen2Moe, Qwen3Moe, Olmoe };
const char* archName(Arch a);  // the general.architecture string: "llama", "qwen2moe", ...
// general.architecture string to Arch; nullopt for anything else.
std::optional<Arch> archFromName(std::string_view name);

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
    uint64_t rowBytes() const { return moe::rowBytes(type, uint64_t(ne[0])); }
};

struct LayerWeights {
    TensorView attn_norm;        // (n_embd)
    TensorView wq;               // (n_head*head_dim, n_embd)
    TensorView wk, wv;           // (n_head_kv*head_dim, n_embd)
    TensorView bq, bk, bv;       // optional biases (qwen2moe): (n_head*head_dim) / (n_head_kv*head_dim)
    TensorView wo;               // (n_embd, n_head*head_dim)
    TensorView q_norm, k_norm;   // qwen3moe: (head_dim), per head; olmoe: (n_head*head_dim) / (n_head_kv*head_dim)
    TensorView ffn_norm;         // (n_embd)
    TensorView ffn_gate_inp;     // router: (n_expert, n_embd)
    TensorView ffn_gate_exps;    // (n_expert, n_ff_exp, n_embd)
    TensorView ffn_up_exps;      // (n_expert, n_ff_exp, n_embd)
    TensorView ffn_down_exps;    // (n_expert, n_embd, n_ff_exp)
    TensorView ffn_gate_inp_shexp;  // qwen2moe shared-expert gate: (n_embd) -> sigmoid scalar
    TensorView ffn_gate_shexp, ffn_up_shexp;  // (n_ff_shexp, n_embd)
    TensorView ffn_down_shexp;                // (n_embd, n_ff_shexp)
};

// Hyper-parameters, named after their GGUF keys (<arch>.<key>).
struct ModelConfig {
    Arch arch = Arch::Llama;
    std::string name;                 // general.name
    uint32_t n_vocab = 0;             // rows of token_embd
    uint32_t context_length = 0;      // <arch>.context_length
    uint32_t embedding_length = 0;    // n_embd
    uint32_t block_count = 0;         // n_layer
    uint32_t head_count = 0;          // n_head
    uint32_t head_count_kv = 0;       // n_head_kv
    uint32_t head_dim = 0;            // <arch>.attention.key_length, else n_embd / n_head
    uint32_t feed_forward_length = 0; // <arch>.feed_forward_length (0 when absent); informative
    uint32_t expert_count = 0;        // n_expert
    uint32_t expert_used_count = 0;   // k
    uint32_t expert_feed_forward_length = 0;         // n_ff_exp
    uint32_t expert_shared_feed_forward_length = 0;  // n_ff_shexp (0: no shared expert)
    uint32_t expert_shared_count = 0;                // number of shared experts (0 or 1 here)
    float layer_norm_rms_epsilon = 1e-6f;
    float rope_freq_base = 10000.0f;
    uint32_t rope_dimension_count = 0;  // n_rot (default head_dim)
    bool rope_neox = false;             // NeoX pairing (qwen2moe, qwen3moe, olmoe) vs normal (llama)
    bool expert_weights_norm = false;   // renormalise the selected experts' weights
    bool qk_norm = false;               // q/k RMSNorm present
    bool qk_norm_per_head = false;      // qwen3moe: per head (head_dim); olmoe: over the whole projection
    bool attn_bias = false;             // q/k/v biases present (qwen2moe files have them)
    bool output_tied = false;           // no output.weight: the lm head is token_embd
};

struct Model {
    explicit Model(GgufFile f) : file(std::move(f)) {}

    ModelConfig cfg;
    TensorView token_embd;   // (n_vocab, n_embd)
    TensorView output_norm;  // (n_embd)
    TensorView output;       // (n_vocab, n_embd); token_embd when tied
    std::vector<LayerWeights> layers;
    TokenizerSpec tokenizerSpec;
    std::unique_ptr<Tokenizer> tokenizer;
    GgufFile file;           // owns the mapping the views point into

    // Norm weights and biases are F32, F16 or BF16 (GGUF converters write F32; the Vulkan side
    // converts them to F32 at load). Every other tensor, including the router and the shared-
    // expert gate row, may be any engine weight type (cpu::isWeightType), each tensor its own.
    // Parameters: total, and active per token (attention + k routed experts + shared + embeddings).
    uint64_t paramsTotal() const;
    uint64_t paramsActive() const;
};

// Loads a GGUF model: architecture, hyper-parameters, every tensor checked for presence, type
// (engine weight types) and shape before any work. Errors name the file and the problem.
Result<std::unique_ptr<Model>> loadModel(const std::string& path);
// The same from an already opened file (tests, fuzzing).
Result<std::unique_ptr<Model>> loadModel(GgufFile file);

}  // namespace moe
