// What an architecture file (model/arch_*.cpp) is made of: the table entry that model.cpp finds
// by general.architecture, and the shared builders that turn GGUF keys and tensor names into
// blocks of the layer plan (model/plan.h). A new architecture is one small file over these
// builders plus its line in kArchs (arch.cpp); see docs/architecture.md.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/result.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "model/plan.h"

namespace moe {

enum class TensorKind { Matrix, Vector };  // Vector: norms and biases (F32/F16/BF16)

// Key and tensor lookups with the checks every architecture needs. Errors name the file.
struct ArchLoader {
    const GgufFile& f;
    std::string prefix;  // "<arch>."

    Error error(const std::string& msg) const { return makeError(f.name() + ": " + msg); }

    // Looks up `name` and checks its type and shape. `shape` is in GGUF order (fastest first);
    // missing trailing dims are 1 (as llama.cpp compares them). An absent optional tensor gives
    // an empty view.
    Result<TensorView> tensor(const std::string& name, std::initializer_list<int64_t> shape, TensorKind kind,
                              bool required = true) const;

    // <arch>.key lookups; GgufFile errors already name the file and the key.
    Result<uint32_t> u32(const std::string& key) const { return f.getU32(prefix + key); }
    Result<uint32_t> u32Or(const std::string& key, uint32_t dflt) const { return f.getU32Or(prefix + key, dflt); }
    Result<float> f32Or(const std::string& key, float dflt) const { return f.getF32Or(prefix + key, dflt); }
    Result<bool> boolOr(const std::string& key, bool dflt) const { return f.getBoolOr(prefix + key, dflt); }
};

// The per-architecture facts of the hyper-parameters that are not plain keys.
struct ArchDefaults {
    bool normTopK = false;        // default of expert_weights_norm
    bool ffPerExpertFromK = false;// expert_feed_forward_length defaults to feed_forward_length / k (Qwen)
    bool sharedExpert = false;    // one shared expert (expert_shared_feed_forward_length)
};

struct ArchDef {
    Arch arch;
    const char* name;             // general.architecture
    ArchDefaults defaults;
    // Builds layer il of the plan from the file's tensors (the config is loaded and checked).
    Status (*buildLayer)(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out);
    // The family's own keys, after the shared ones (null: none).
    Status (*configure)(const ArchLoader& L, ModelConfig& c) = nullptr;
};

const ArchDef* findArch(std::string_view name);  // null when unsupported
const ArchDef& archDef(Arch a);
std::string supportedArchList();                 // "llama with experts, qwen2moe, ..."

// ---- shared builders

// "blk.<il>."
std::string blockPrefix(uint32_t il);

// Standard GQA attention: attn_norm, attn_q/k/v/output, optional q/k/v biases (all three or
// none, the same in every layer), q/k norms as `qkNorm` says, rope from the config.
struct AttentionForm {
    bool neox = false;
    QkNorm qkNorm = QkNorm::None;
};
Result<AttentionBlock> buildAttention(const ArchLoader& L, const ModelConfig& c, uint32_t il, const AttentionForm& form);

// Routed experts behind ffn_norm and ffn_gate_inp (softmax router, k = expert_used_count,
// renormalised as expert_weights_norm says), with the config's shared expert when it has one
// (gated by ffn_gate_inp_shexp when sharedGate).
struct MoeForm {
    bool sharedGate = false;
    const char* normName = "ffn_norm";  // the block's input norm (glm4moe: post_attention_norm)
};
// The config's router (gating function, weight scale, groups; a sigmoid router's optional
// exp_probs_b selection bias) on top of buildMoe.
Status addRouterKeys(const ArchLoader& L, const ModelConfig& c, uint32_t il, MoeBlock& m);
// A dense SiLU-GLU FFN behind ffn_norm: ffn_gate/ffn_up (nFf, n_embd), ffn_down.
Result<FfnBlock> buildFfn(const ArchLoader& L, const ModelConfig& c, uint32_t il, uint32_t nFf,
                          const char* normName = "ffn_norm");
// rope.scaling.* of the config into a Rope (YaRN when the factor is set).
void applyRopeScaling(const ModelConfig& c, Rope& r);
Result<MoeBlock> buildMoe(const ArchLoader& L, const ModelConfig& c, uint32_t il, const MoeForm& form);

}  // namespace moe
