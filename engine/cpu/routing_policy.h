// Routing policies of the routing lab, as text ("model", "topk:4", "topp:0.6:8", "mask:*:3", ...)
// and resolved against a model into per-layer router parameters (cpu::RouterParams: the spec;
// the Vulkan forward pass converts the same parameters into device buffers, VkForward::setRouting).
//
// Grammar (elements combine: at most one selection, then interventions applied in order):
//   model              the architecture's own gating, bit for bit (the default)
//   topk:K             K experts per token in every layer
//   topk:K0,K1,...     one K per layer (exactly n_layer values); `--routing-k` is this
//   topp:P[:KMAX]      experts in order of router probability until their cumulative probability
//                      reaches P (at least 1, at most KMAX; default min(n_expert, 64))
//   mask:L:E[,E..]     experts never selected at layer L (`*`: every layer); the others' weights
//                      are renormalised
//   force:L:E[,E..]    experts always selected at layer L (`*`: every layer); with top-k they take
//                      the places of the lowest-ranked experts (more forced than K: all of them)
//   scale:L:E[,E..]:S  the router logits of the experts are multiplied by S (a later scale of the
//                      same layer and expert replaces an earlier one)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "cpu/router.h"
#include "model/model.h"

namespace moe::routing {

struct Intervention {
    enum class Kind { Mask, Force, Scale };
    Kind kind = Kind::Mask;
    int32_t layer = -1;            // -1: every layer
    std::vector<int32_t> experts;  // in the order written
    float scale = 1.0f;            // Scale only
};

struct Policy {
    enum class Selection { Model, TopK, TopP };
    Selection selection = Selection::Model;
    std::vector<int32_t> k;        // TopK: one value (every layer) or one per layer
    float p = 1.0f;                // TopP: cumulative probability threshold, (0, 1]
    int32_t kMax = 0;              // TopP: most experts per token (0: min(n_expert, 64))
    std::vector<Intervention> interventions;
    // The model's own routing: no selection change and no intervention.
    bool isModel() const { return selection == Selection::Model && interventions.empty(); }
};

// Adds one element ("topk:4", "mask:*:3") to a policy. Errors name the element and what is wrong
// (syntax, a second selection policy, a number out of its range). Layer and expert ranges are
// checked against a model by resolve().
Status addElement(Policy& policy, std::string_view element);

// Parses elements; each string may hold several separated by spaces or ';' (a trace header's
// policy string parses back to the same policy). No elements: the model's routing.
Result<Policy> parsePolicy(const std::vector<std::string>& elements);

// "2,2,4,4" -> {2, 2, 4, 4} (the `--routing-k` flag): sets the policy's selection to per-layer top-k.
Status setLayerK(Policy& policy, std::string_view list);

// Canonical text: the elements separated by one space; "model" for the model's routing.
std::string toString(const Policy& policy);

// The model's own router for every layer of this configuration (softmax top-k with k =
// expert_used_count, renormalised as expert_weights_norm says): what CpuForward and VkForward
// use when no policy is set.
cpu::RouterParams modelRouterParams(const ModelConfig& cfg);

// Per-layer router parameters of a policy for a model: the policy acts on each layer's own
// router (cpu::defaultRouting of the plan: gating, selection bias, groups and scale stay; top-k
// and top-p change what is taken after group selection; mask, force and scale act before it).
// Errors: a layer or expert out of range, K or KMAX above min(n_expert, 64), a per-layer K list
// whose length is not n_layer, a mask that leaves a layer without experts, more forced experts
// than KMAX.
Result<std::vector<cpu::RouterParams>> resolve(const Policy& policy, const Model& model);
// The same over given per-layer routers (`base`: n_layer entries; empty: modelRouterParams).
Result<std::vector<cpu::RouterParams>> resolve(const Policy& policy, const ModelConfig& cfg,
                                               std::vector<cpu::RouterParams> base = {});

// Widest routing row a model's engine buffers take: min(n_expert, cpu::kRouteCap).
inline int32_t routeWidthCap(const ModelConfig& cfg) { return cpu::routeWidthCap(cfg.expert_count); }

}  // namespace moe::routing
