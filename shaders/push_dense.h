// Push-constant structs of the dense ops (rms_norm, rope, softmax, attention, eltwise), shared
// by C++ (namespace moe::push) and GLSL (included after common.glsl). Strides count floats.
// Keep every struct <= 128 bytes.
#ifndef MOE_PUSH_DENSE_H
#define MOE_PUSH_DENSE_H
#ifndef MOE_GLSL
#include <cstdint>
#define PC_ADDR uint64_t
#define PC_U32 uint32_t
#define PC_I32 int32_t
#define PC_F32 float
namespace moe::push {
#endif

// rms_norm.comp: y[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) * w   (w == 0: no weight)
struct RmsNormPush {
    PC_ADDR x;        // (nTok, n), row stride xStride
    PC_ADDR w;        // (n) or 0
    PC_ADDR y;        // (nTok, n), row stride yStride; may alias x
    PC_U32 nTok;
    PC_U32 n;
    PC_U32 xStride;
    PC_U32 yStride;
    PC_F32 eps;
    PC_U32 pad0;
};

// rope.comp, in place: x (nTok, nHeads, headDim), token rows tokStride apart, heads contiguous.
// The frequency ratio base^(-2/nRot) comes as a float pair (hi + lo ≈ its double value) so the
// shader can form theta = pos * ratio^i to float rounding, as the CPU reference does in double.
#define ROPE_NEOX 1u
#define ROPE_YARN 2u  // YaRN: angles scaled per pair (cpu::yarnFactor), cos/sin by mscale
struct RopePush {
    PC_ADDR x;
    PC_ADDR positions;  // int32 (nTok)
    PC_U32 nTok;
    PC_U32 nHeads;
    PC_U32 headDim;
    PC_U32 tokStride;
    PC_U32 nRot;
    PC_U32 flags;       // ROPE_NEOX
    PC_F32 ratioHi;
    PC_F32 ratioLo;
    PC_ADDR x2;         // a second tensor rotated by the same dispatch (k beside q), 0: none
    PC_U32 nHeads2;     // its heads: global heads nHeads.. are its heads 0..
    PC_U32 tokStride2;
    PC_F32 freqScale;   // ROPE_YARN: cpu::YarnParams
    PC_F32 extFactor;
    PC_F32 corrLow;
    PC_F32 corrHigh;
    PC_F32 mscale;
    PC_U32 pad0;
};

// softmax.comp, in place: each of rows rows of n floats (row stride n).
struct SoftmaxPush {
    PC_ADDR x;
    PC_U32 rows;
    PC_U32 n;
};

// attention.comp: causal grouped-query attention over a KV cache, one workgroup per
// (head gx, token gy, split gz). Token t sits at position pos0 + t and sees keys [0, pos0 + t].
//   q:    (nTok, nHead, headDim), token rows qStride apart (heads contiguous)
//   k, v: (nCtx, nHeadKv, headDim), positions kvStride apart; head h reads kv head h / (nHead / nHeadKv)
//   o:    (nTok, nHead, headDim) contiguous (the output)
// nSplit == 1: o is written directly. nSplit > 1: split s covers keys [s*chunk, (s+1)*chunk) and
// writes a partial (max m, sum l, acc[headDim]) to scratch at ((t*nHead + h)*nSplit + s)*(headDim+2);
// attention_combine.comp merges the partials into o.
struct AttentionPush {
    PC_ADDR q;
    PC_ADDR k;
    PC_ADDR v;
    PC_ADDR o;
    PC_ADDR scratch;
    PC_U32 nTok;
    PC_U32 nHead;
    PC_U32 nHeadKv;
    PC_U32 headDim;
    PC_U32 pos0;
    PC_U32 qStride;
    PC_U32 kvStride;
    PC_U32 chunk;
    PC_U32 nSplit;
    PC_F32 kqScale;   // > 0
    PC_U32 headDimV;  // a value head's size (<= headDim's limit); out (nTok, nHead, headDimV)
    PC_U32 vStride;   // floats between the value rows of two positions
};

// eltwise.comp: o[r, i] = op(a[r, i], b[r, i]) over (rows, n), each operand with its own row
// stride; bStride == 0 broadcasts one row of b over all rows. The op is specialization constant 1.
#define ELTWISE_ADD 0u         // a + b
#define ELTWISE_MUL 1u         // a * b
#define ELTWISE_SCALE 2u       // a * s
#define ELTWISE_SWIGLU 3u      // silu(a) * b
#define ELTWISE_ADD_SCALED 4u  // a + s * b   (y += s * x with o = a = y, b = x)
#define ELTWISE_COPY 5u        // a
struct EltwisePush {
    PC_ADDR a;
    PC_ADDR b;
    PC_ADDR o;
    PC_U32 rows;
    PC_U32 n;
    PC_U32 aStride;
    PC_U32 bStride;
    PC_U32 oStride;
    PC_F32 s;
};

#ifndef MOE_GLSL
static_assert(sizeof(RmsNormPush) == 48);
static_assert(sizeof(RopePush) == 88);
static_assert(sizeof(SoftmaxPush) == 16);
static_assert(sizeof(AttentionPush) == 88);
static_assert(sizeof(EltwisePush) == 48);
}  // namespace moe::push
#undef PC_ADDR
#undef PC_U32
#undef PC_I32
#undef PC_F32
#endif
#endif
