// The routing-policy flags of the model commands (trace, perplexity): --routing POLICY (repeatable,
// elements combine) and --routing-k K0,K1,... (per-layer top-k), parsed, checked against the
// model and applied to a backend.
#pragma once
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cpu/routing_policy.h"
#include "runtime/backend.h"

namespace moe::cli {

struct RoutingFlags {
    std::vector<std::string> policy;  // --routing, each may hold several elements
    std::string layerK;               // --routing-k
};

void addRoutingFlags(CLI::App* cmd, RoutingFlags& f);

// Parses and resolves the flags for the model and sets them on the backend. On error prints it
// (fail()) and returns nullopt. `widest` receives the widest routing row of any layer.
std::optional<routing::Policy> applyRoutingOrFail(rt::Backend& backend, const Model& model, const RoutingFlags& f,
                                                  uint32_t* widest = nullptr);

}  // namespace moe::cli
