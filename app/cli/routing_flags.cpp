// --routing / --routing-k for the model commands.
#include "cli/routing_flags.h"

#include <algorithm>

#include "cli/common.h"

namespace moe::cli {

void addRoutingFlags(CLI::App* cmd, RoutingFlags& f) {
    cmd->add_option("--routing", f.policy,
                    "routing policy (repeatable, combined): model | topk:K | topp:P[:KMAX] | mask:L:E[,E..] | "
                    "force:L:E[,E..] | scale:L:E[,E..]:S, L a layer or *; see docs/routing.md");
    cmd->add_option("--routing-k", f.layerK, "per-layer top-k: K0,K1,... (one K per layer)");
}

std::optional<routing::Policy> applyRoutingOrFail(rt::Backend& backend, const Model& model, const RoutingFlags& f,
                                                  uint32_t* widest) {
    auto policy = routing::parsePolicy(f.policy);
    if (!policy.ok()) {
        fail(policy.error().message);
        return std::nullopt;
    }
    if (!f.layerK.empty()) {
        Status st = routing::setLayerK(*policy, f.layerK);
        if (!st.ok()) {
            fail(st.message());
            return std::nullopt;
        }
    }
    auto params = routing::resolve(*policy, model);
    if (!params.ok()) {
        fail(params.error().message);
        return std::nullopt;
    }
    if (widest) {
        *widest = 0;
        for (const auto& p : *params) *widest = std::max(*widest, uint32_t(p.kMax));
    }
    if (!policy->isModel()) {  // the model's routing needs no change (and stays bit for bit)
        Status st = backend.setRouting(*params);
        if (!st.ok()) {
            fail(st.message());
            return std::nullopt;
        }
    }
    return std::move(policy).value();
}

}  // namespace moe::cli
