// Generator of small random-weight GGUF models of every supported architecture, with a real
// tokenizer (trained here on a built-in English text) and the chat template of each family.
// Tests and benchmarks use them; `moescope gen-model` exposes writeSynthModel.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace moe {

struct SynthSpec {
    Arch arch = Arch::Qwen3Moe;
    std::string name;             // general.name; empty: "synth-<arch>"
    uint32_t n_embd = 64;
    uint32_t n_layer = 2;
    uint32_t n_head = 4;
    uint32_t n_head_kv = 2;
    uint32_t head_dim = 16;       // written as attention.key_length when != n_embd / n_head
    uint32_t n_expert = 8;
    uint32_t n_expert_used = 2;
    uint32_t n_ff_exp = 32;
    uint32_t n_ff_shexp = 64;     // qwen2moe only
    uint32_t n_ctx = 256;         // <arch>.context_length
    uint32_t n_vocab_target = 512;  // exact token count (trained merges, then padding merges)
    float rope_freq_base = 10000.0f;
    float rms_eps = 1e-6f;
    // Type of every 2-D weight (embeddings, attention, router, experts, lm head); norms and biases
    // are F32. A tensor whose row length is not a multiple of the type's block size is an error.
    GgmlType weightType = GgmlType::F32;
    // Per-tensor mix as quantized files have it (weightType is ignored): Q8_0 attention and
    // embeddings, Q4_K expert gate/up, Q6_K expert down and lm head, F32 router; a type whose
    // block does not divide the row falls back to Q8_0, then F16.
    bool mixed = false;
    bool tiedOutput = false;      // no output.weight (the lm head is token_embd)
    bool attnBias = true;         // qwen2moe q/k/v biases (other architectures never have them)
    float routerScale = 2.0f;     // router weight std = routerScale / sqrt(n_embd): sharper routing
    uint32_t seed = 1;
    uint32_t threads = 0;         // weight generation threads (0: hardware concurrency, max 8)
};

// Small test-sized defaults per architecture (2 layers, 8 experts top-2 / qwen2moe 4+shared,
// head_dim 16, vocab ~512) that satisfy each architecture's shape rules.
SynthSpec synthSpecFor(Arch arch);

// Writes the model, streaming one tensor at a time (peak memory ~ the largest tensor).
// Errors: impossible shapes (head counts, block sizes, vocab smaller than the byte tokens), I/O.
Status writeSynthModel(const SynthSpec& spec, const std::string& path);

// The tokenizer metadata writeSynthModel writes for an architecture: byte-level BPE ("gpt2",
// pre "qwen2" for Qwen, "olmo" for OLMoE) or SentencePiece ("llama") for llama, trained on the
// built-in text, padded to exactly nVocab tokens, with the family's special tokens and template.
Result<TokenizerSpec> synthTokenizerSpec(Arch arch, uint32_t nVocab, uint32_t seed);

// The built-in English training text (a few KB).
const std::string& synthCorpus();

}  // namespace moe
