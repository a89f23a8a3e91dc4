#version 450
// MoE router, one workgroup per token: gating (softmax / sigmoid), interventions (logit scale,
// mask, forced experts), selection (top-k / top-p) and weights, exactly as engine/cpu/router.h
// specifies (rank by score descending, ties -> lower expert id; output in rank order).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_moe.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { RouterPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Ints { int v[]; };

shared float sL[ROUTER_MAX_EXPERTS];   // scaled logits, then probabilities
shared float sS[ROUTER_MAX_EXPERTS];   // selection score; -inf = not selectable
shared float redF[WG];
shared uint redI[WG];
shared int chosen[MOE_ROUTE_CAP];  // kMax <= MOE_ROUTE_CAP (checked on the host)
shared float gScore[ROUTER_MAX_GROUPS];
shared bool gKeep[ROUTER_MAX_GROUPS];
shared uint nChosen;
shared float cum;
shared bool done;

float reduceMax(float v) {
    uint tid = gl_LocalInvocationID.x;
    redF[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) redF[tid] = max(redF[tid], redF[tid + s]);
        barrier();
    }
    float r = redF[0];
    barrier();
    return r;
}

float reduceSum(float v) {
    uint tid = gl_LocalInvocationID.x;
    redF[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) redF[tid] += redF[tid + s];
        barrier();
    }
    float r = redF[0];
    barrier();
    return r;
}

// better(a, b): a ranks before b (higher score, ties -> lower id); id 0xffffffff = none
bool better(uint a, uint b) {
    if (b == 0xffffffffu) return a != 0xffffffffu;
    if (a == 0xffffffffu) return false;
    return sS[a] > sS[b] || (sS[a] == sS[b] && a < b);
}

void main() {
    const uint t = gl_WorkGroupID.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint nE = p.nExpert;
    Floats L = Floats(p.logits);
    const float NEG_INF = -1.0 / 0.0;

    // 1. logit scale; masked experts are marked by score -inf
    float mx = NEG_INF;
    for (uint e = tid; e < nE; e += WG) {
        float l = L.v[t * nE + e];
        if (p.logitScale != 0ul) l *= Floats(p.logitScale).v[e];
        bool masked = p.mask != 0ul && Ints(p.mask).v[e] != 0;
        sL[e] = l;
        sS[e] = masked ? NEG_INF : 0.0;
        if (!masked) mx = max(mx, l);
    }
    barrier();

    // 2. probabilities
    float pSum = 0.0;
    if (p.gating == ROUTER_GATING_SOFTMAX) {
        mx = reduceMax(mx);
        float local = 0.0;
        for (uint e = tid; e < nE; e += WG) {
            float v = sS[e] == NEG_INF ? 0.0 : exp(sL[e] - mx);
            local += v;
            sL[e] = v;  // unnormalised; the score below needs the logit, so compute it first
        }
        pSum = reduceSum(local);
    } else {
        float local = 0.0;
        for (uint e = tid; e < nE; e += WG) {
            float v = sS[e] == NEG_INF ? 0.0 : 1.0 / (1.0 + exp(-sL[e]));
            local += v;
            sL[e] = v;
        }
        pSum = reduceSum(local);
    }
    // 3. scores (softmax: the scaled logit itself, reloaded; sigmoid: the probability) + bias
    for (uint e = tid; e < nE; e += WG) {
        if (sS[e] == NEG_INF) continue;
        float base;
        if (p.gating == ROUTER_GATING_SOFTMAX) {
            float l = L.v[t * nE + e];
            if (p.logitScale != 0ul) l *= Floats(p.logitScale).v[e];
            base = l;
            sL[e] = pSum > 0.0 ? sL[e] / pSum : 0.0;
        } else {
            base = sL[e];
        }
        sS[e] = base + (p.bias != 0ul ? Floats(p.bias).v[e] : 0.0);
    }
    barrier();
    if (p.probs != 0ul)
        for (uint e = tid; e < nE; e += WG) Floats(p.probs).v[t * nE + e] = sL[e];

    // 3b. groups: score = the sum of a group's two best selectable scores; keep the best groups
    const bool grouped = p.nGroup > 1u;
    const uint per = grouped ? nE / p.nGroup : nE;
    if (grouped) {
        for (uint g = tid; g < p.nGroup; g += WG) {
            uint b1 = 0xffffffffu, b2 = 0xffffffffu;
            for (uint e = g * per; e < (g + 1u) * per; ++e) {
                if (sS[e] == NEG_INF) continue;
                if (better(e, b1)) {
                    b2 = b1;
                    b1 = e;
                } else if (better(e, b2)) {
                    b2 = e;
                }
            }
            gScore[g] = b1 == 0xffffffffu ? NEG_INF : (b2 == 0xffffffffu ? sS[b1] : sS[b1] + sS[b2]);
            gKeep[g] = false;
        }
        barrier();
        if (tid == 0u) {
            for (uint i = 0; i < min(p.groupsUsed, p.nGroup); ++i) {
                uint best = 0xffffffffu;
                for (uint g = 0; g < p.nGroup; ++g)
                    if (!gKeep[g] && (best == 0xffffffffu || gScore[g] > gScore[best])) best = g;
                gKeep[best] = true;
            }
        }
        barrier();
    }

    // 4. selection: forced experts first (list order), then rank order
    const float qNorm = (p.gating == ROUTER_GATING_SOFTMAX || pSum <= 0.0) ? 1.0 : 1.0 / pSum;
    if (tid == 0u) {
        nChosen = 0u;
        cum = 0.0;
        for (uint i = 0; i < p.nForced; ++i) {
            int e = Ints(p.forced).v[i];
            if (e < 0 || uint(e) >= nE || sS[e] == NEG_INF || nChosen >= p.kMax) continue;
            bool dup = false;
            for (uint j = 0; j < nChosen; ++j) dup = dup || chosen[j] == e;
            if (dup) continue;
            chosen[nChosen++] = e;
        }
        for (uint j = 0; j < nChosen; ++j) cum += (p.gating == ROUTER_GATING_SOFTMAX ? sL[chosen[j]] : sL[chosen[j]] * qNorm);
    }
    barrier();
    uint target = p.kMax;
    if (p.selection == ROUTER_SELECT_TOPK) target = min(max(p.k, nChosen), p.kMax);
    // one parallel argmax per selected expert over the selectable, not yet chosen experts
    for (uint it = 0; it < p.kMax; ++it) {
        barrier();  // everyone has read `done` / `nChosen` of the previous iteration
        if (tid == 0u) {
            bool stop = nChosen >= target;
            if (p.selection == ROUTER_SELECT_TOPP) stop = nChosen >= p.kMax || (nChosen > 0u && cum >= p.topP);
            done = stop;
        }
        barrier();
        if (done) break;
        uint best = 0xffffffffu;
        {
            // argmax over selectable experts that are not chosen yet
            uint b = 0xffffffffu;
            for (uint e = tid; e < nE; e += WG) {
                if (sS[e] == NEG_INF || (grouped && !gKeep[e / per])) continue;
                bool taken = false;
                for (uint j = 0; j < nChosen; ++j) taken = taken || chosen[j] == int(e);
                if (!taken && better(e, b)) b = e;
            }
            redI[tid] = b;
            barrier();
            for (uint s = WG / 2u; s > 0u; s >>= 1) {
                if (tid < s && better(redI[tid + s], redI[tid])) redI[tid] = redI[tid + s];
                barrier();
            }
            best = redI[0];
            barrier();
        }
        if (tid == 0u) {
            if (best == 0xffffffffu) {
                done = true;
            } else {
                chosen[nChosen++] = int(best);
                cum += (p.gating == ROUTER_GATING_SOFTMAX ? sL[best] : sL[best] * qNorm);
            }
        }
        barrier();
        if (done) break;
    }

    // 5. rank order; 6. weights
    if (tid == 0u) {
        for (uint i = 1; i < nChosen; ++i) {
            int e = chosen[i];
            uint j = i;
            while (j > 0u && better(uint(e), uint(chosen[j - 1u]))) {
                chosen[j] = chosen[j - 1u];
                --j;
            }
            chosen[j] = e;
        }
        float wSum = 0.0;
        for (uint j = 0; j < nChosen; ++j) wSum += sL[chosen[j]];
        bool renorm = p.normalize != 0u;
        wSum = max(wSum, ROUTER_WEIGHT_SUM_FLOOR);
        Ints I = Ints(p.ids);
        Floats W = Floats(p.weights);
        for (uint j = 0; j < p.kMax; ++j) {
            bool used = j < nChosen;
            int e = used ? chosen[j] : -1;
            float w = used ? sL[e] : 0.0;
            if (used && renorm) w = w / wSum;
            I.v[t * p.kMax + j] = e;
            W.v[t * p.kMax + j] = w * p.routedScale;
        }
        Ints(p.counts).v[t] = int(nChosen);
    }
}
