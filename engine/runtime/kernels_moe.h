// Recording helpers of the MoE kernels: router, grouping by expert, weighted combine.
#pragma once
#include <cstdint>

#include "core/result.h"
#include "vk/commands.h"
#include "vk/device.h"

namespace moe::rt {

// Router configuration on the device; mirrors cpu::RouterParams (buffers instead of vectors,
// address 0 = absent).
struct GpuRouterParams {
    bool sigmoid = false;     // gating: false softmax, true sigmoid
    bool topP = false;        // selection: false top-k, true top-p
    uint32_t k = 2;
    uint32_t kMax = 2;        // <= 64
    float p = 1.0f;
    bool normalize = true;
    float routedScale = 1.0f;
    uint64_t bias = 0;        // f32 (nExpert)
    uint64_t logitScale = 0;  // f32 (nExpert)
    uint64_t mask = 0;        // int32 (nExpert)
    uint64_t forced = 0;      // int32 (nForced)
    uint32_t nForced = 0;
    uint32_t nGroup = 0, groupsUsed = 0;  // group-limited selection (nGroup <= ROUTER_MAX_GROUPS)
};

// logits (nTok, nExpert) -> ids int32 (nTok, kMax), weights (nTok, kMax), counts int32 (nTok),
// probs (nTok, nExpert) when probs != 0.
Status route(vk::Device& dev, vk::Commands& cmd, const GpuRouterParams& rp, uint64_t logits, uint32_t nTok,
             uint32_t nExpert, uint64_t ids, uint64_t weights, uint64_t counts, uint64_t probs);

// ids int32 (nTok, k) -> groups int32 (2*nExpert + nTok*k): counts, offsets, entries.
Status moeGroup(vk::Device& dev, vk::Commands& cmd, uint64_t ids, uint32_t nTok, uint32_t k, uint32_t nExpert,
                uint64_t groups);
inline uint64_t moeGroupBytes(uint32_t nTok, uint32_t k, uint32_t nExpert) {
    return 4ull * (2ull * nExpert + uint64_t(nTok) * k);
}

// dst (nTok, n) (+)= Σ_j weights[t, j] * y[t, j, :], y (nTok, k, n).
// shared (nTok, n) is added scaled by sigmoid(sharedGate[t]) (or 1 without a gate) when non-zero.
Status moeCombine(vk::Device& dev, vk::Commands& cmd, uint64_t y, uint64_t weights, uint64_t dst, uint32_t nTok,
                  uint32_t k, uint32_t n, bool accumulate, uint64_t shared = 0, uint64_t sharedGate = 0);

}  // namespace moe::rt
