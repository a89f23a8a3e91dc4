// The routing of one forward step, per layer and token, in one shape for both backends: the
// Vulkan forward pass copies it from host-visible memory after the step, the CPU reference
// fills it from its routing hook. Traces (engine/trace) and the GUI read this.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moe::rt {

struct RoutingRecord {
    uint32_t nTok = 0, nLayer = 0, kMax = 0, nExpert = 0;  // kMax: row width (widest layer of the step)
    std::vector<int32_t> ids;      // (nLayer, nTok, kMax) selected experts in rank order, -1 padded
    std::vector<float> weights;    // (nLayer, nTok, kMax) their combine weights, 0 padded
    std::vector<int32_t> counts;   // (nLayer, nTok) experts selected
    std::vector<float> probs;      // (nLayer, nTok, nExpert) router probabilities (after mask / scale)

    const int32_t* idsAt(uint32_t layer, uint32_t tok) const { return ids.data() + (size_t(layer) * nTok + tok) * kMax; }
    const float* weightsAt(uint32_t layer, uint32_t tok) const {
        return weights.data() + (size_t(layer) * nTok + tok) * kMax;
    }
    int32_t countAt(uint32_t layer, uint32_t tok) const { return counts[size_t(layer) * nTok + tok]; }
    const float* probsAt(uint32_t layer, uint32_t tok) const {
        return probs.data() + (size_t(layer) * nTok + tok) * nExpert;
    }
};

}  // namespace moe::rt
