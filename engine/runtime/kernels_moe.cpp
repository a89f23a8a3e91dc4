// Recording of the MoE kernels.
#include "runtime/kernels_moe.h"

#include <algorithm>

#include "push_moe.h"
#include "runtime/kernels.h"

namespace moe::rt {

Status route(vk::Device& dev, vk::Commands& cmd, const GpuRouterParams& rp, uint64_t logits, uint32_t nTok,
             uint32_t nExpert, uint64_t ids, uint64_t weights, uint64_t counts, uint64_t probs) {
    if (nExpert == 0 || nExpert > ROUTER_MAX_EXPERTS)
        return makeError("router: " + std::to_string(nExpert) + " experts (supported: 1.." +
                         std::to_string(ROUTER_MAX_EXPERTS) + ")");
    if (rp.kMax == 0 || rp.kMax > MOE_ROUTE_CAP)
        return makeError("router: kMax " + std::to_string(rp.kMax) + " (supported: 1.." + std::to_string(MOE_ROUTE_CAP) + ")");
    if (!rp.topP && (rp.k == 0 || rp.k > rp.kMax)) return makeError("router: k must be in 1..kMax");
    if (rp.nGroup > 1 && (rp.nGroup > ROUTER_MAX_GROUPS || nExpert % rp.nGroup != 0 || rp.groupsUsed == 0))
        return makeError("router: " + std::to_string(rp.nGroup) + " expert groups (supported: up to " +
                         std::to_string(ROUTER_MAX_GROUPS) + ", dividing the experts, at least one used)");
    const uint32_t wg = std::max<uint32_t>(32, std::min<uint32_t>(256, reductionWorkgroup(dev.caps()) * 2));
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::router, {{wg}}));
    push::RouterPush pc{};
    pc.logits = logits;
    pc.ids = ids;
    pc.weights = weights;
    pc.counts = counts;
    pc.probs = probs;
    pc.bias = rp.bias;
    pc.logitScale = rp.logitScale;
    pc.mask = rp.mask;
    pc.forced = rp.forced;
    pc.nTok = nTok;
    pc.nExpert = nExpert;
    pc.k = rp.k;
    pc.kMax = rp.kMax;
    pc.nForced = rp.forced ? rp.nForced : 0;
    pc.gating = rp.sigmoid ? ROUTER_GATING_SIGMOID : ROUTER_GATING_SOFTMAX;
    pc.selection = rp.topP ? ROUTER_SELECT_TOPP : ROUTER_SELECT_TOPK;
    pc.normalize = rp.normalize ? 1 : 0;
    pc.topP = rp.p;
    pc.routedScale = rp.routedScale;
    pc.nGroup = rp.nGroup > 1 ? rp.nGroup : 0;
    pc.groupsUsed = rp.groupsUsed;
    if (nTok > 65535) return makeError("router: too many tokens in one dispatch");
    cmd.dispatch(*p, pc, nTok);
    return {};
}

Status moeGroup(vk::Device& dev, vk::Commands& cmd, uint64_t ids, uint32_t nTok, uint32_t k, uint32_t nExpert,
                uint64_t groups) {
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::moe_group, {{64}}));
    push::MoeGroupPush pc{ids, groups, nTok, k, nExpert, 0};
    cmd.dispatch(*p, pc, 1);
    return {};
}

Status moeCombine(vk::Device& dev, vk::Commands& cmd, uint64_t y, uint64_t weights, uint64_t dst, uint32_t nTok,
                  uint32_t k, uint32_t n, bool accumulate, uint64_t shared, uint64_t sharedGate) {
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::moe_combine, {{64}}));
    push::MoeCombinePush pc{y, weights, dst, shared, sharedGate, nTok, k, n, accumulate ? 1u : 0u};
    if (nTok > 65535) return makeError("combine: too many tokens in one dispatch");
    cmd.dispatch(*p, pc, (n + 63) / 64, nTok);
    return {};
}

}  // namespace moe::rt
