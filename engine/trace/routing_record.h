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
    // Expert cache with prefetch: (nLayer, nTok, kMax) the experts the cross-layer gate predicted
    // for each layer from the previous layer (layer 0: none), -1 padded; empty otherwise.
    std::vector<int32_t> pred;
    // The tokens of one forward() call run in cache steps (prefill batches): stepStart lists the
    // first token of each (empty: one step).
    std::vector<uint32_t> stepStart;

    const int32_t* idsAt(uint32_t layer, uint32_t tok) const { return ids.data() + (size_t(layer) * nTok + tok) * kMax; }
    const float* weightsAt(uint32_t layer, uint32_t tok) const {
        return weights.data() + (size_t(layer) * nTok + tok) * kMax;
    }
    int32_t countAt(uint32_t layer, uint32_t tok) const { return counts[size_t(layer) * nTok + tok]; }
    const int32_t* predAt(uint32_t layer, uint32_t tok) const {
        return pred.data() + (size_t(layer) * nTok + tok) * kMax;
    }
    const float* probsAt(uint32_t layer, uint32_t tok) const {
        return probs.data() + (size_t(layer) * nTok + tok) * nExpert;
    }
};

}  // namespace moe::rt
