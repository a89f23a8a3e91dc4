// Push constants of the MoE kernels (router, grouping, combine), shared by C++ and GLSL.
#ifndef MOE_PUSH_MOE_H
#define MOE_PUSH_MOE_H
#ifdef MOE_GLSL
#define PC_ADDR uint64_t
#define PC_U32 uint
#define PC_F32 float
#else
#include <cstdint>
#define PC_ADDR uint64_t
#define PC_U32 uint32_t
#define PC_F32 float
namespace moe::push {
#endif

// router.comp: see engine/cpu/router.h for the exact semantics (the spec).
#define ROUTER_MAX_EXPERTS 1024u
#define ROUTER_MAX_GROUPS 64u
#define ROUTER_WEIGHT_SUM_FLOOR 6.103515625e-5  // cpu::kWeightSumFloor
// the widest routing row (k, kMax) of every backend: router.comp sizes its shared list with it
#define MOE_ROUTE_CAP 64u
#define ROUTER_GATING_SOFTMAX 0u
#define ROUTER_GATING_SIGMOID 1u
#define ROUTER_SELECT_TOPK 0u
#define ROUTER_SELECT_TOPP 1u
struct RouterPush {
    PC_ADDR logits;      // (nTok, nExpert)
    PC_ADDR ids;         // int32 (nTok, kMax), -1 padded
    PC_ADDR weights;     // (nTok, kMax), 0 padded
    PC_ADDR counts;      // int32 (nTok)
    PC_ADDR probs;       // (nTok, nExpert) or 0
    PC_ADDR bias;        // (nExpert) selection bias or 0
    PC_ADDR logitScale;  // (nExpert) or 0
    PC_ADDR mask;        // int32 (nExpert), nonzero = never selected, or 0
    PC_ADDR forced;      // int32 (nForced) or 0
    PC_U32 nTok;
    PC_U32 nExpert;
    PC_U32 k;
    PC_U32 kMax;
    PC_U32 nForced;
    PC_U32 gating;
    PC_U32 selection;
    PC_U32 normalize;
    PC_F32 topP;
    PC_F32 routedScale;
    PC_U32 nGroup;       // group-limited selection (<= ROUTER_MAX_GROUPS; 0 or 1: off)
    PC_U32 groupsUsed;
};

// moe_group.comp: groups = counts[nExpert], offsets[nExpert], entries[nTok*k] (token*k + slot),
// entries of an expert in increasing (token, slot) order.
struct MoeGroupPush {
    PC_ADDR ids;     // int32 (nTok, k), -1 = empty
    PC_ADDR groups;  // int32 (2*nExpert + nTok*k)
    PC_U32 nTok;
    PC_U32 k;
    PC_U32 nExpert;
    PC_U32 pad0;
};

// moe_combine.comp: out[t, :] (+)= Σ_j weights[t, j] * y[t, j, :]
//                                   (+ g(t) * shared[t, :] when sharedOut != 0, where
//                                    g(t) = sigmoid(sharedGate[t]) or 1 when sharedGate == 0)
struct MoeCombinePush {
    PC_ADDR y;           // (nTok, k, n)
    PC_ADDR weights;     // (nTok, k)
    PC_ADDR dst;         // (nTok, n)
    PC_ADDR sharedOut;   // (nTok, n) shared-expert output, or 0
    PC_ADDR sharedGate;  // (nTok) shared-expert gate logit, or 0
    PC_U32 nTok;
    PC_U32 k;
    PC_U32 n;
    PC_U32 accumulate;  // 1: dst += sum, 0: dst = sum
};

#ifndef MOE_GLSL
static_assert(sizeof(RouterPush) == 120);
static_assert(sizeof(MoeGroupPush) == 32);
static_assert(sizeof(MoeCombinePush) == 56);
}  // namespace moe::push
#undef PC_ADDR
#undef PC_U32
#undef PC_F32
#endif
#endif
