#version 450
// Rotary position embedding, in place, matching the CPU reference (engine/cpu/ops.h):
//   x: (nTok, nHeads, headDim), token rows tokStride floats apart, heads contiguous;
//   pair i in [0, nRot/2) rotates by theta = pos[t] * base^(-2i/nRot):
//   normal (x[2i], x[2i+1]), NeoX (x[i], x[i + nRot/2]); dims >= nRot are untouched.
// The reference forms theta in double and rounds it to float. Plain float exp2/pow would be
// several ulp off, which at position 4096 is ~1e-3 rad, so theta is built in float-float
// arithmetic (error-free products, `precise` so nothing is contracted), rounded once, then
// reduced mod pi/2 in extended precision and evaluated with minimax polynomials.
// Thread = one (token gy, head * nRot/2 + pair) rotation. Heads past nHeads belong to the
// second tensor x2 (nHeads2 heads, its own token stride): q and k in one dispatch.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { RopePush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Ints { int v[]; };

// ---- float-float (hi + lo) arithmetic; Vulkan rounds fp32 +,-,* correctly
vec2 twoProd(float a, float b) {
    precise float p = a * b;
    precise float ca = 4097.0 * a;  // Veltkamp split into 12 + 12 bits
    precise float ah = ca - (ca - a);
    precise float al = a - ah;
    precise float cb = 4097.0 * b;
    precise float bh = cb - (cb - b);
    precise float bl = b - bh;
    precise float e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    return vec2(p, e);
}
vec2 quickTwoSum(float a, float b) {  // |a| >= |b|
    precise float s = a + b;
    precise float e = b - (s - a);
    return vec2(s, e);
}
vec2 ffMul(vec2 a, vec2 b) {
    vec2 pe = twoProd(a.x, b.x);
    precise float e = pe.y + (a.x * b.y + a.y * b.x);
    return quickTwoSum(pe.x, e);
}

// YaRN's factor of pair i, in float as cpu::yarnFactor computes it
float yarnFactor(uint i) {
    precise float t = (float(i) - p.corrLow) / max(0.001, p.corrHigh - p.corrLow);
    precise float mix = (1.0 - min(1.0, max(0.0, t))) * p.extFactor;
    precise float g = p.freqScale * (1.0 - mix) + mix;
    return g;
}

// theta = pos * ratio^i (* the YaRN factor), rounded to float once
float ropeTheta(int pos, uint i) {
    vec2 f = vec2(1.0, 0.0);
    vec2 r = vec2(p.ratioHi, p.ratioLo);
    for (uint e = i; e != 0u; e >>= 1) {
        if ((e & 1u) != 0u) f = ffMul(f, r);
        r = ffMul(r, r);
    }
    if ((p.flags & ROPE_YARN) != 0u) f = ffMul(f, vec2(yarnFactor(i), 0.0));
    vec2 t = twoProd(float(pos), f.x);  // positions below 2^24 are exact floats
    precise float lo = t.y + float(pos) * f.y;
    precise float theta = t.x + lo;
    return theta;
}

// (cos, sin) of a float angle to ~1 ulp, for |theta| up to ~2^20
vec2 cosSin(float theta) {
    const float PIO2_1 = 1.5707963705062866;      // float(pi/2)
    const float PIO2_2 = -4.371138828673793e-8;   // float(pi/2 - PIO2_1)
    const float PIO2_3 = -1.7151245100058819e-15;  // float(pi/2 - PIO2_1 - PIO2_2)
    float k = round(theta * 0.636619772367581343);
    vec2 kp = twoProd(k, PIO2_1);
    precise float r = (((theta - kp.x) - kp.y) - k * PIO2_2) - k * PIO2_3;
    precise float z = r * r;
    precise float s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
    precise float c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
    switch (int(k) & 3) {
        case 0: return vec2(c, s);
        case 1: return vec2(-s, c);
        case 2: return vec2(-c, -s);
        default: return vec2(s, -c);
    }
}

void main() {
    const uint half_ = p.nRot / 2u;
    const uint idx = gl_GlobalInvocationID.x;  // head * half + pair
    const uint t = gl_WorkGroupID.y;
    if (idx >= (p.nHeads + p.nHeads2) * half_ || t >= p.nTok) return;
    const bool second = idx >= p.nHeads * half_;
    const uint h = idx / half_ - (second ? p.nHeads : 0u);
    const uint i = idx % half_;
    vec2 cs = cosSin(ropeTheta(Ints(p.positions).v[t], i));
    if ((p.flags & ROPE_YARN) != 0u) cs *= p.mscale;
    const bool neox = (p.flags & ROPE_NEOX) != 0u;
    const uint base = t * (second ? p.tokStride2 : p.tokStride) + h * p.headDim;
    const uint i0 = base + (neox ? i : 2u * i);
    const uint i1 = base + (neox ? i + half_ : 2u * i + 1u);
    Floats X = Floats(second ? p.x2 : p.x);
    const float a = X.v[i0], b = X.v[i1];
    X.v[i0] = a * cs.x - b * cs.y;
    X.v[i1] = a * cs.y + b * cs.x;
}
