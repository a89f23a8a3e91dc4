// Synthetic GGUF models: metadata under the keys llama.cpp's converters write for each
// architecture, tensors named and shaped as in real files, weights drawn from a seeded uniform
// distribution scaled by 1/sqrt(fan_in) (activations stay O(1)), norms ~1, and a sharper router
// so that routing is not degenerate. Tensors are generated while the file is written, in chunks
// of rows on several threads, each chunk from its own seed (output independent of threading).
#include "model/synth.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

#include "cpu/quant.h"
#include "gguf/gguf_writer.h"

namespace moe {

SynthSpec synthSpecFor(Arch arch) {
    SynthSpec s;
    s.arch = arch;
    switch (arch) {
        case Arch::Llama:  // Mixtral-like: 8 experts top-2, GQA, head_dim = n_embd / n_head
            s.n_head = 4, s.n_head_kv = 2, s.head_dim = 16;
            break;
        case Arch::Qwen2Moe:  // 4 routed top-2 plus a shared expert; q/k/v biases
            s.n_expert = 4, s.n_expert_used = 2, s.n_ff_shexp = 64;
            s.n_head = 4, s.n_head_kv = 4, s.head_dim = 16;
            break;
        case Arch::Qwen3Moe:  // head_dim * n_head != n_embd, as in Qwen3-30B-A3B
            s.n_head = 8, s.n_head_kv = 2, s.head_dim = 16;
            break;
        case Arch::Olmoe:  // no GQA (llama.cpp sizes OLMoE's k_norm as n_embd)
            s.n_head = 4, s.n_head_kv = 4, s.head_dim = 16;
            break;
    }
    return s;
}

namespace {

// splitmix64: small, fast, good enough for weights.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    float uniform() { return float(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }  // [-1, 1)
};

uint64_t hashName(std::string_view s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
    for (char c : s) h = (h ^ uint8_t(c)) * 1099511628211ull;
    return h;
}

// values = mean + halfWidth * U(-1, 1)
struct Dist {
    float mean = 0.0f;
    float halfWidth = 0.0f;
};
Dist withStd(float std) { return {0.0f, std * std::sqrt(3.0f)}; }

enum class Role { Embd, Attn, Router, ExpGateUp, ExpDown, ShGateUp, ShDown, ShGate, Output, Vector };

GgmlType pickType(const SynthSpec& s, Role role, int64_t rowLen) {
    if (role == Role::Vector) return GgmlType::F32;
    if (!s.mixed) return s.weightType;
    GgmlType want = GgmlType::Q8_0;
    switch (role) {
        case Role::Router:
        case Role::ShGate: return GgmlType::F32;
        case Role::ExpGateUp:
        case Role::ShGateUp: want = GgmlType::Q4_K; break;
        case Role::ExpDown:
        case Role::ShDown:
        case Role::Output: want = GgmlType::Q6_K; break;
        default: break;
    }
    for (GgmlType t : {want, GgmlType::Q8_0, GgmlType::F16})
        if (rowLen % cpu::blockSize(t) == 0) return t;
    return GgmlType::F32;
}

uint32_t fileType(const SynthSpec& s) {  // general.file_type (llama_ftype)
    if (s.mixed) return 15;                // MOSTLY_Q4_K_M
    switch (s.weightType) {
        case GgmlType::F32: return 0;
        case GgmlType::F16: return 1;
        case GgmlType::Q4_0: return 2;
        case GgmlType::Q8_0: return 7;
        case GgmlType::Q4_K: return 14;  // MOSTLY_Q4_K_S
        case GgmlType::Q6_K: return 18;
        case GgmlType::BF16: return 32;
        default: return 0;
    }
}

class Builder {
public:
    Builder(const SynthSpec& s, GgufWriter& w) : s_(s), w_(w) {
        threads_ = s.threads ? s.threads : std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    }

    // ne in GGUF order (fastest first).
    Status add(const std::string& name, Role role, std::vector<int64_t> ne, Dist dist) {
        const GgmlType type = pickType(s_, role, ne[0]);
        if (!cpu::isWeightType(type))
            return makeError("synth: " + typeName(type) + " is not an engine weight type");
        if (ne[0] % cpu::blockSize(type) != 0)
            return makeError("synth: tensor '" + name + "' row length " + std::to_string(ne[0]) +
                             " is not a multiple of the " + typeName(type) + " block size " +
                             std::to_string(cpu::blockSize(type)));
        int64_t rows = 1;
        for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
        const int64_t cols = ne[0];
        const uint64_t seed = hashName(name, s_.seed);
        const uint32_t threads = threads_;
        auto fill = [=](std::span<uint8_t> out) -> Status {
            fillTensor(out, type, rows, cols, dist, seed, threads);
            return {};
        };
        return w_.addTensorStreamed(name, type, ne, fill);
    }

private:
    // Chunks of rows (~64K values each), each generated from seed + chunk index.
    static void fillTensor(std::span<uint8_t> out, GgmlType type, int64_t rows, int64_t cols, Dist dist,
                           uint64_t seed, uint32_t nThreads) {
        const int64_t chunkRows = std::max<int64_t>(1, 65536 / cols);
        const int64_t nChunks = (rows + chunkRows - 1) / chunkRows;
        const uint64_t rowBytes = moe::rowBytes(type, uint64_t(cols));
        std::atomic<int64_t> nextChunk{0};
        auto work = [&] {
            std::vector<float> buf;
            for (int64_t c; (c = nextChunk.fetch_add(1)) < nChunks;) {
                const int64_t r0 = c * chunkRows, nr = std::min(chunkRows, rows - r0);
                buf.resize(size_t(nr * cols));
                Rng rng{seed + uint64_t(c) * 0x632BE59BD9B4E019ull};
                for (float& v : buf) v = dist.mean + dist.halfWidth * rng.uniform();
                uint8_t* dst = out.data() + uint64_t(r0) * rowBytes;
                if (type == GgmlType::F32) {
                    std::memcpy(dst, buf.data(), buf.size() * sizeof(float));
                } else {
                    std::vector<uint8_t> q = cpu::quantizeRows(type, buf.data(), nr, cols);
                    std::memcpy(dst, q.data(), q.size());
                }
            }
        };
        const int64_t n = std::min<int64_t>(nThreads, nChunks);
        std::vector<std::thread> pool;
        for (int64_t t = 1; t < n; ++t) pool.emplace_back(work);
        work();
        for (std::thread& t : pool) t.join();
    }

    const SynthSpec& s_;
    GgufWriter& w_;
    uint32_t threads_ = 1;
};

Status checkSpec(const SynthSpec& s) {
    auto bad = [](const std::string& m) { return makeError("synth: " + m); };
    if (!s.n_embd || !s.n_layer || !s.n_head || !s.n_head_kv || !s.head_dim || !s.n_expert || !s.n_ff_exp || !s.n_ctx)
        return bad("every dimension must be non-zero");
    if (s.n_head % s.n_head_kv != 0)
        return bad("n_head " + std::to_string(s.n_head) + " is not a multiple of n_head_kv " +
                   std::to_string(s.n_head_kv));
    if (s.head_dim % 2 != 0) return bad("head_dim must be even (RoPE pairs)");
    if (s.n_expert_used == 0 || s.n_expert_used > s.n_expert)
        return bad("n_expert_used must be in [1, n_expert]");
    if (s.arch == Arch::Qwen2Moe && s.n_ff_shexp == 0) return bad("qwen2moe needs n_ff_shexp > 0");
    return {};
}

void addConfigKeys(const SynthSpec& s, GgufWriter& w) {
    const std::string a = archName(s.arch);
    const std::string p = a + ".";
    w.addString("general.architecture", a);
    w.addString("general.name", s.name.empty() ? "synth-" + a : s.name);
    w.addU32("general.file_type", fileType(s));
    if (fileType(s) != 0 && fileType(s) != 1 && fileType(s) != 32) w.addU32("general.quantization_version", 2);
    w.addU32(p + "context_length", s.n_ctx);
    w.addU32(p + "embedding_length", s.n_embd);
    w.addU32(p + "block_count", s.n_layer);
    // Mixtral and OLMoE converters write the expert size as feed_forward_length; Qwen ones write
    // the dense intermediate size there and the expert size as expert_feed_forward_length.
    const bool qwen = s.arch == Arch::Qwen2Moe || s.arch == Arch::Qwen3Moe;
    w.addU32(p + "feed_forward_length", qwen ? s.n_ff_exp * s.n_expert_used : s.n_ff_exp);
    w.addU32(p + "attention.head_count", s.n_head);
    w.addU32(p + "attention.head_count_kv", s.n_head_kv);
    if (s.head_dim * s.n_head != s.n_embd || s.arch == Arch::Qwen3Moe) {
        w.addU32(p + "attention.key_length", s.head_dim);
        w.addU32(p + "attention.value_length", s.head_dim);
    }
    w.addF32(p + "rope.freq_base", s.rope_freq_base);
    if (s.arch == Arch::Llama) w.addU32(p + "rope.dimension_count", s.head_dim);
    w.addF32(p + "attention.layer_norm_rms_epsilon", s.rms_eps);
    w.addU32(p + "expert_count", s.n_expert);
    w.addU32(p + "expert_used_count", s.n_expert_used);
    if (qwen) w.addU32(p + "expert_feed_forward_length", s.n_ff_exp);
    if (s.arch == Arch::Qwen2Moe) w.addU32(p + "expert_shared_feed_forward_length", s.n_ff_shexp);
}

void addTokenizerKeys(const TokenizerSpec& t, GgufWriter& w) {
    w.addString("tokenizer.ggml.model", t.model);
    if (!t.pre.empty()) w.addString("tokenizer.ggml.pre", t.pre);
    w.addStringArray("tokenizer.ggml.tokens", t.tokens);
    if (!t.scores.empty()) w.addF32Array("tokenizer.ggml.scores", t.scores);
    w.addI32Array("tokenizer.ggml.token_type", t.tokenTypes);
    if (!t.merges.empty()) w.addStringArray("tokenizer.ggml.merges", t.merges);
    if (t.bos) w.addU32("tokenizer.ggml.bos_token_id", uint32_t(*t.bos));
    if (t.eos) w.addU32("tokenizer.ggml.eos_token_id", uint32_t(*t.eos));
    if (t.unk) w.addU32("tokenizer.ggml.unknown_token_id", uint32_t(*t.unk));
    if (t.pad) w.addU32("tokenizer.ggml.padding_token_id", uint32_t(*t.pad));
    if (t.addBos) w.addBool("tokenizer.ggml.add_bos_token", *t.addBos);
    if (t.addEos) w.addBool("tokenizer.ggml.add_eos_token", *t.addEos);
    if (!t.chatTemplate.empty()) w.addString("tokenizer.chat_template", t.chatTemplate);
}

}  // namespace

Status writeSynthModel(const SynthSpec& s, const std::string& path) {
    MOE_TRY(checkSpec(s));
    MOE_ASSIGN(TokenizerSpec tok, synthTokenizerSpec(s.arch, s.n_vocab_target, s.seed));
    GgufWriter w;
    addConfigKeys(s, w);
    addTokenizerKeys(tok, w);

    const int64_t E = s.n_embd, V = int64_t(tok.tokens.size()), Q = int64_t(s.n_head) * s.head_dim,
                  KV = int64_t(s.n_head_kv) * s.head_dim, X = s.n_expert, F = s.n_ff_exp, S = s.n_ff_shexp;
    const float invE = 1.0f / std::sqrt(float(E));
    const Dist norm{1.0f, 0.1f}, bias{0.0f, 0.1f};
    Builder b(s, w);

    // embeddings: std 1 (untied) so the residual stream starts at O(1); tied: 1/sqrt(n_embd) so
    // that the lm head, which is the same matrix, gives O(1) logits
    MOE_TRY(b.add("token_embd.weight", Role::Embd, {E, V}, withStd(s.tiedOutput ? invE : 1.0f)));
    MOE_TRY(b.add("output_norm.weight", Role::Vector, {E}, norm));
    if (!s.tiedOutput) MOE_TRY(b.add("output.weight", Role::Output, {E, V}, withStd(invE)));
    for (uint32_t i = 0; i < s.n_layer; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        MOE_TRY(b.add(p + "attn_norm.weight", Role::Vector, {E}, norm));
        MOE_TRY(b.add(p + "attn_q.weight", Role::Attn, {E, Q}, withStd(invE)));
        MOE_TRY(b.add(p + "attn_k.weight", Role::Attn, {E, KV}, withStd(invE)));
        MOE_TRY(b.add(p + "attn_v.weight", Role::Attn, {E, KV}, withStd(invE)));
        if (s.arch == Arch::Qwen2Moe && s.attnBias) {
            MOE_TRY(b.add(p + "attn_q.bias", Role::Vector, {Q}, bias));
            MOE_TRY(b.add(p + "attn_k.bias", Role::Vector, {KV}, bias));
            MOE_TRY(b.add(p + "attn_v.bias", Role::Vector, {KV}, bias));
        }
        MOE_TRY(b.add(p + "attn_output.weight", Role::Attn, {Q, E}, withStd(1.0f / std::sqrt(float(Q)))));
        if (s.arch == Arch::Qwen3Moe) {  // per head
            MOE_TRY(b.add(p + "attn_q_norm.weight", Role::Vector, {int64_t(s.head_dim)}, norm));
            MOE_TRY(b.add(p + "attn_k_norm.weight", Role::Vector, {int64_t(s.head_dim)}, norm));
        } else if (s.arch == Arch::Olmoe) {  // over the whole projection
            MOE_TRY(b.add(p + "attn_q_norm.weight", Role::Vector, {Q}, norm));
            MOE_TRY(b.add(p + "attn_k_norm.weight", Role::Vector, {KV}, norm));
        }
        MOE_TRY(b.add(p + "ffn_norm.weight", Role::Vector, {E}, norm));
        MOE_TRY(b.add(p + "ffn_gate_inp.weight", Role::Router, {E, X}, withStd(s.routerScale * invE)));
        MOE_TRY(b.add(p + "ffn_gate_exps.weight", Role::ExpGateUp, {E, F, X}, withStd(invE)));
        MOE_TRY(b.add(p + "ffn_up_exps.weight", Role::ExpGateUp, {E, F, X}, withStd(invE)));
        MOE_TRY(b.add(p + "ffn_down_exps.weight", Role::ExpDown, {F, E, X}, withStd(1.0f / std::sqrt(float(F)))));
        if (s.arch == Arch::Qwen2Moe) {
            MOE_TRY(b.add(p + "ffn_gate_inp_shexp.weight", Role::ShGate, {E}, withStd(invE)));
            MOE_TRY(b.add(p + "ffn_gate_shexp.weight", Role::ShGateUp, {E, S}, withStd(invE)));
            MOE_TRY(b.add(p + "ffn_up_shexp.weight", Role::ShGateUp, {E, S}, withStd(invE)));
            MOE_TRY(b.add(p + "ffn_down_shexp.weight", Role::ShDown, {S, E}, withStd(1.0f / std::sqrt(float(S)))));
        }
    }
    return w.write(path);
}

}  // namespace moe
