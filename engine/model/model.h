// A loaded model: hyper-parameters under their GGUF key names, and the layer plan (model/plan.h)
// whose blocks view tensors of the memory-mapped GGUF file. The CPU reference forward pass
// (cpu/forward.h) and the Vulkan runtime both execute the plan.
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
#include "model/plan.h"
#include "tokenizer/tokenizer.h"

namespace moe {

enum class Arch { Llama, Qwen2Moe, Qwen3Moe, Olmoe, Deepseek2, Glm4Moe };
const char* archName(Arch a);  // the general.architecture string: "llama", "qwen2moe", ...
// general.architecture string to Arch; nullopt for anything else.
std::optional<Arch> archFromName(std::string_view name);

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
    bool expert_weights_norm = false;   // renormalise the selected experts' weights
    bool output_tied = false;           // no output.weight: the lm head is token_embd
    uint32_t value_head_dim = 0;        // attention.value_length (MLA: value_length_mla); 0: head_dim
    // DeepSeek-V2/V3 (deepseek2): latent attention, leading dense layers, sigmoid/grouped routing
    uint32_t q_lora_rank = 0;           // attention.q_lora_rank (0: attn_q directly)
    uint32_t kv_lora_rank = 0;          // attention.kv_lora_rank (0: no MLA)
    uint32_t leading_dense_block_count = 0;
    uint32_t expert_gating_func = 1;    // 1 softmax, 2 sigmoid
    float expert_weights_scale = 1.0f;
    uint32_t expert_group_count = 0, expert_group_used_count = 0;
    uint32_t nextn_predict_layers = 0;  // NextN/MTP layers after block_count (loaded, not run)
    // rope.scaling.*: type "yarn" sets factor > 0
    float rope_scaling_factor = 0.0f;
    uint32_t rope_scaling_original_context_length = 0;
    float rope_scaling_yarn_log_multiplier = 0.0f;
    float rope_scaling_attn_factor = 1.0f;
    float rope_scaling_yarn_beta_fast = 32.0f, rope_scaling_yarn_beta_slow = 1.0f;
};

struct Model {
    explicit Model(GgufFile f) : file(std::move(f)) {}

    ModelConfig cfg;
    ModelPlan plan;          // what the forward passes execute, block by block
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

// The KV-cache positions a backend allocates: `requested`, or the model's context length capped at
// 4096 when 0. Error: more than the model's context length.
Result<uint32_t> contextSize(const ModelConfig& c, uint32_t requested);

// Loads a GGUF model: architecture, hyper-parameters, every tensor checked for presence, type
// (engine weight types) and shape before any work. Errors name the file and the problem.
Result<std::unique_ptr<Model>> loadModel(const std::string& path);
// The same from an already opened file (tests, fuzzing).
Result<std::unique_ptr<Model>> loadModel(GgufFile file);

}  // namespace moe
