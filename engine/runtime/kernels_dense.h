// Recording helpers of the dense ops of the forward pass: RMSNorm, RoPE, softmax, attention over
// a KV cache, elementwise ops. Semantics are those of the CPU reference (engine/cpu/ops.h).
// Tensors are device addresses of f32 data; strides count floats (0 = contiguous rows).
// Each call records its dispatches; callers insert Commands::barrier() between dependent ops.
#pragma once
#include <cstdint>

#include "core/result.h"
#include "cpu/ops.h"
#include "vk/commands.h"
#include "vk/device.h"

namespace moe::rt {

// Workgroup reduction variant of the row-reducing kernels (rms_norm, softmax, attention).
// Auto: subgroup arithmetic when DeviceCaps reports it for compute, else shared memory.
// Subgroup on a device without it is an error.
enum class Reduce { Auto, Shared, Subgroup };

// y[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) * w   (w == 0: no weight).
// x: (nTok, n) rows xStride apart; y: (nTok, n) rows yStride apart, may alias x; w: (n).
Status rmsNorm(vk::Device& dev, vk::Commands& cmd, uint64_t x, uint64_t w, uint64_t y, uint32_t nTok, uint32_t n,
               float eps, uint32_t xStride = 0, uint32_t yStride = 0, Reduce reduce = Reduce::Auto);

// Rotary embedding in place. x: (nTok, nHeads, headDim), token rows tokStride apart (heads
// contiguous), so q and k can be rotated inside a fused qkv buffer; positions: int32 (nTok).
// Pairs (2i, 2i+1) (neox == false) or (i, i + nRot/2) (neox) for i < nRot/2, base freqBase.
// `second`, when its x is not 0, is rotated by the same dispatch (k beside q: one launch less).
// `yarn`: YaRN-scaled angles and magnitude, as cpu::rope with the same parameters.
struct RopeSecond {
    uint64_t x = 0;
    uint32_t nHeads = 0, tokStride = 0;  // tokStride 0: nHeads * headDim
};
Status rope(vk::Device& dev, vk::Commands& cmd, uint64_t x, uint32_t nTok, uint32_t nHeads, uint32_t headDim,
            uint64_t positions, uint32_t nRot, float freqBase, bool neox, uint32_t tokStride = 0,
            const RopeSecond& second = {}, const cpu::YarnParams* yarn = nullptr);

// Softmax of each row in place. x: (rows, n).
Status softmax(vk::Device& dev, vk::Commands& cmd, uint64_t x, uint32_t rows, uint32_t n,
               Reduce reduce = Reduce::Auto);

// Causal grouped-query attention (see cpu::attention): token t at position pos0 + t attends to
// cache positions [0, pos0 + t]; the new tokens' k/v rows must already be in the caches.
struct AttentionArgs {
    uint64_t q = 0;        // (nTok, nHead, headDim), token rows qStride apart
    uint64_t k = 0, v = 0; // caches (nCtx, nHeadKv, headDim), positions kvStride apart
    uint64_t out = 0;      // (nTok, nHead, headDim) contiguous
    uint32_t nTok = 0, nHead = 0, nHeadKv = 0, headDim = 0, pos0 = 0;
    float kqScale = 0;     // <= 0: 1/sqrt(headDim)
    uint32_t qStride = 0;  // 0: nHead * headDim
    uint32_t kvStride = 0; // 0: nHeadKv * headDim
    // Values with their own head size (0: headDim) and position stride (0: kvStride when
    // headDimV is headDim, else nHeadKv * headDimV); out is then (nTok, nHead, headDimV). MLA's
    // latent MQA reads keys [c | k_rope] and values c from the same rows.
    uint32_t headDimV = 0, vStride = 0;
    // Optional scratch of attentionScratchBytes(headDimV) bytes. With it, long contexts over few
    // (token, head) pairs (decode) are split over several workgroups and merged in a 2nd pass.
    uint64_t scratch = 0, scratchBytes = 0;
    // 0: automatic. > 1 forces about that many key splits (tests); size the scratch with
    // attentionScratchBytes(headDim, nTok, nHead, splits).
    uint32_t splits = 0;
    Reduce reduce = Reduce::Auto;
};
constexpr uint32_t kAttentionMaxHeadDim = 576;
// Scratch that suffices for every attention call with this headDim and automatic splits, and
// also for nTok tokens of nHead heads with `splits` forced splits when those are given.
uint64_t attentionScratchBytes(uint32_t headDim, uint32_t nTok = 0, uint32_t nHead = 0, uint32_t splits = 0);
Status attention(vk::Device& dev, vk::Commands& cmd, const AttentionArgs& a);

// Elementwise over (rows, n), each operand with its own row stride (in floats, taken as given:
// bStride == 0 broadcasts one row of b over all rows). o may alias a or b. Ops (= ELTWISE_*):
//   Add a + b | Mul a * b | Scale a * s | Swiglu silu(a) * b | AddScaled a + s * b | Copy a
enum class Eltwise : uint32_t { Add, Mul, Scale, Swiglu, AddScaled, Copy };
struct EltwiseArgs {
    Eltwise op = Eltwise::Add;
    uint64_t a = 0, b = 0, o = 0;
    uint32_t rows = 1, n = 0;
    uint32_t aStride = 0, bStride = 0, oStride = 0;
    float s = 0.0f;
};
Status eltwise(vk::Device& dev, vk::Commands& cmd, const EltwiseArgs& e);

// Flat forms over n contiguous floats, as in cpu/ops.h.
Status add(vk::Device& dev, vk::Commands& cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t n);
Status mul(vk::Device& dev, vk::Commands& cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t n);
Status scale(vk::Device& dev, vk::Commands& cmd, uint64_t a, float s, uint64_t out, uint32_t n);
Status swiglu(vk::Device& dev, vk::Commands& cmd, uint64_t gate, uint64_t up, uint64_t out, uint32_t n);
// y += s * x, (n) each.
Status addScaled(vk::Device& dev, vk::Commands& cmd, uint64_t y, uint64_t x, float s, uint32_t n);
// out[r, i] = a[r, i] * b[i]. a, out: (rows, n); b: (n).
Status mulRows(vk::Device& dev, vk::Commands& cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t rows, uint32_t n);
// dst row r (dstStride apart) = src row r (srcStride apart), n floats each: e.g. the KV-cache
// write, copying the new tokens' k or v rows out of a fused qkv buffer to cache + pos0 * kvStride.
Status copyRows(vk::Device& dev, vk::Commands& cmd, uint64_t src, uint32_t srcStride, uint64_t dst,
                uint32_t dstStride, uint32_t rows, uint32_t n);

}  // namespace moe::rt
