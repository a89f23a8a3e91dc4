// Recording of the weight-reading kernels: dense and expert-indexed products, embedding rows.
#include <algorithm>
#include <cstdlib>

#include "push.h"
#include "runtime/kernels.h"

namespace moe::rt {

uint32_t reductionWorkgroup(const vk::DeviceCaps& caps) {
    uint32_t sg = std::max<uint32_t>(caps.subgroupSize, 8);
    uint32_t wg = std::clamp<uint32_t>(sg * 4, 32, 256);
    wg = std::min(wg, caps.maxWorkGroupInvocations);
    uint32_t p = 1;
    while (p * 2 <= wg) p *= 2;
    return p;
}

// Position of a weight type in the per-type loops of variants.cmake and variants_texel.cmake.
static Result<uint32_t> typeIndex(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return 0u;
        case GgmlType::F16: return 1u;
        case GgmlType::BF16: return 2u;
        case GgmlType::Q8_0: return 3u;
        case GgmlType::Q4_0: return 4u;
        case GgmlType::Q4_K: return 5u;
        case GgmlType::Q6_K: return 6u;
        default: return makeError("no kernel for weight type " + typeName(t));
    }
}

Result<ShaderId> typedShader(ShaderId f32Variant, GgmlType t) {
    // variants.cmake emits, per type: mul_mat, mul_mat_moe, mul_mat_moe_grouped, get_rows and
    // the three _sg variants
    MOE_ASSIGN(uint32_t idx, typeIndex(t));
    return static_cast<ShaderId>(static_cast<uint32_t>(f32Variant) + idx * 7);
}

// Types whose texel kernels read 16 bytes per fetch (load16 in dequant.glsl); the others would
// fetch a texel per word, no faster than device addresses.
static bool texelType(GgmlType t) {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::Q8_0 ||
           t == GgmlType::Q4_0;
}

// The texel-read variant: variants_texel.cmake emits 4 per texelType (dense and direct, each
// reduction), in the order of typeIndex.
static Result<ShaderId> texelShader(ShaderId f32Variant, GgmlType t) {
    MOE_ASSIGN(uint32_t idx, typeIndex(t));
    return static_cast<ShaderId>(static_cast<uint32_t>(f32Variant) + idx * 4);
}

// The row-per-invocation variant: variants_texel.cmake emits 3 per texelType (dense, direct,
// grouped), in the order of typeIndex.
static Result<ShaderId> rowShader(ShaderId f32Variant, GgmlType t) {
    MOE_ASSIGN(uint32_t idx, typeIndex(t));
    return static_cast<ShaderId>(static_cast<uint32_t>(f32Variant) + idx * 3);
}

MatMulShape matMulShape(const vk::DeviceCaps& caps) {
    // One subgroup per workgroup when the subgroup size is fixed: reductions need no barrier.
    if (caps.subgroupArithmetic() && caps.minSubgroupSize == caps.maxSubgroupSize && caps.subgroupSize >= 8 &&
        caps.subgroupSize <= 128)
        return {true, caps.subgroupSize, 4};
    return {false, reductionWorkgroup(caps), 1};
}

static ShaderId pick(ShaderId sharedF32, ShaderId sgF32, const MatMulShape& s) { return s.subgroup ? sgF32 : sharedF32; }

static Status checkCols(GgmlType t, uint32_t cols) {
    auto tr = typeTraits(static_cast<uint32_t>(t));
    if (!tr || !tr->supported) return makeError("unsupported weight type " + typeName(t));
    if (cols % tr->blockSize) return makeError("row length " + std::to_string(cols) + " is not a multiple of the " +
                                               tr->name + " block size " + std::to_string(tr->blockSize));
    return {};
}

static constexpr uint32_t kMaxGroups = 65535;  // guaranteed minimum of maxComputeWorkGroupCount

// The F32 variants of one mul_mat mode: address reads (shared / subgroup reduction), texel reads
// (hasTexel: one token per workgroup only), and the row-per-invocation texel kernel.
struct ModeShaders {
    ShaderId shared, sg, sharedTx, sgTx, rows;
    bool hasTexel = true;
};
static constexpr ModeShaders kDense{ShaderId::mul_mat_f32, ShaderId::mul_mat_sg_f32, ShaderId::mul_mat_tx_f32,
                                    ShaderId::mul_mat_sg_tx_f32, ShaderId::mul_mat_row_f32};
static constexpr ModeShaders kMoeDirect{ShaderId::mul_mat_moe_f32, ShaderId::mul_mat_moe_sg_f32,
                                        ShaderId::mul_mat_moe_tx_f32, ShaderId::mul_mat_moe_sg_tx_f32,
                                        ShaderId::mul_mat_moe_row_f32};
static constexpr ModeShaders kMoeGrouped{ShaderId::mul_mat_moe_grouped_f32, ShaderId::mul_mat_moe_grouped_sg_f32,
                                         ShaderId::mul_mat_moe_grouped_f32, ShaderId::mul_mat_moe_grouped_sg_f32,
                                         ShaderId::mul_mat_moe_grouped_row_f32, false};

// One mul_mat dispatch's kernel: the pipeline, the descriptor sets of the texel views holding the
// weights and x (null: device addresses), the positions to push (addresses or view offsets),
// output rows per workgroup and tokens per workgroup.
struct MatMulKernel {
    const vk::Pipeline* pipeline = nullptr;
    VkDescriptorSet set = VK_NULL_HANDLE, xSet = VK_NULL_HANDLE;
    uint64_t w = 0, x = 0;
    uint32_t rowsPerGroup = 1;
    uint32_t tokensPerGroup = 1;
    template <class Push>
    void dispatch(vk::Commands& cmd, const Push& pc, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) const {
        if (set) cmd.dispatch(*pipeline, set, pc, gx, gy, gz, xSet);
        else cmd.dispatch(*pipeline, pc, gx, gy, gz);
    }
};

// Kernel of one mul_mat mode for weight type t at device address w and x at device address x
// (row stride xStride floats), shaped by the caps. On devices that read weights through texel
// views (CPU-type devices): the row-per-invocation kernel when views cover the weights' and x's
// blocks and x is 16-byte aligned (all activations of the engine are); else the texel kernel for
// one-token products of 16-byte texel types; else device addresses. nt: tokens per workgroup of
// the address kernels (1 for decode, else 8).
static Result<MatMulKernel> matMulKernel(vk::Device& dev, GgmlType t, const ModeShaders& m, uint32_t nt, uint64_t w,
                                         uint64_t x, uint32_t xStride, uint32_t cols) {
    const MatMulShape ms = matMulShape(dev.caps());
    MatMulKernel k;
    k.w = w;
    k.x = x;
    const bool texel = dev.texelWeights() && texelType(t);
    const vk::TexelWindow win = texel ? dev.allocator().texelWindow(w) : vk::TexelWindow{};
    if (win.set && cols % 16 == 0 && xStride % 4 == 0) {
        const vk::TexelWindow xwin = dev.allocator().texelWindow(x);
        if (xwin.set && (x - xwin.base) % 16 == 0) {
            const uint32_t wg = std::max<uint32_t>(dev.caps().subgroupSize, 1);
            // rows per invocation and tokens per workgroup, measured on lavapipe (docs/performance.md):
            // decode 4 rows; batches 8 rows x 16 tokens (each weight fetched once per 16 tokens)
            const uint32_t nr = nt == 1 ? 4 : 8;
            const uint32_t rnt = nt == 1 ? 1 : 16;
            MOE_ASSIGN(ShaderId id, rowShader(m.rows, t));
            MOE_ASSIGN(k.pipeline, dev.pipeline(id, vk::SpecConstants{{wg, nr, rnt}}, true));
            k.set = win.set;
            k.xSet = xwin.set;
            k.w = w - win.base;
            k.x = x - xwin.base;
            k.rowsPerGroup = wg * nr;
            k.tokensPerGroup = rnt;
            return k;
        }
    }
    const vk::SpecConstants spec{{ms.workgroup, ms.rows, nt}};
    k.rowsPerGroup = ms.rows;
    k.tokensPerGroup = nt;
    if (win.set && m.hasTexel && nt == 1) {
        MOE_ASSIGN(ShaderId id, texelShader(pick(m.sharedTx, m.sgTx, ms), t));
        MOE_ASSIGN(k.pipeline, dev.pipeline(id, spec, true));
        k.set = win.set;
        k.w = w - win.base;
        return k;
    }
    MOE_ASSIGN(ShaderId id, typedShader(pick(m.shared, m.sg, ms), t));
    MOE_ASSIGN(k.pipeline, dev.pipeline(id, spec));
    return k;
}

static push::MatMulPush matMulPush(uint64_t w, uint64_t x, uint64_t y, uint32_t rows, uint32_t cols, uint32_t nTok,
                                   uint32_t xStride, uint32_t yStride) {
    push::MatMulPush pc{};
    pc.w = w;
    pc.x = x;
    pc.y = y;
    pc.rows = rows;
    pc.cols = cols;
    pc.nTok = nTok;
    pc.xStride = xStride;
    pc.yStride = yStride;
    return pc;
}

Status mulMat(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t w, uint32_t rows, uint32_t cols, uint64_t x,
              uint32_t xStride, uint64_t y, uint32_t yStride, uint32_t nTok, bool accumulate) {
    MOE_TRY(checkCols(t, cols));
    MOE_ASSIGN(const MatMulKernel k, matMulKernel(dev, t, kDense, nTok == 1 ? 1 : 8, w, x, xStride, cols));
    const uint32_t nr = k.rowsPerGroup, nt = k.tokensPerGroup;
    push::MatMulPush pc = matMulPush(k.w, k.x, y, rows, cols, nTok, xStride, yStride);
    pc.flags = accumulate ? FLAG_ACCUMULATE : 0u;
    const uint32_t tokGroups = (nTok + nt - 1) / nt;
    if (tokGroups > kMaxGroups) return makeError("too many tokens in one matmul");
    // huge row counts (vocabularies) are split into several dispatches
    const uint32_t rowGroups = (rows + nr - 1) / nr;
    for (uint32_t g0 = 0; g0 < rowGroups; g0 += kMaxGroups) {
        pc.rowBase = g0 * nr;
        k.dispatch(cmd, pc, std::min(kMaxGroups, rowGroups - g0), tokGroups);
    }
    return {};
}

Status mulMatMoeDirect(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t w, uint64_t expertStride,
                       uint32_t rows, uint32_t cols, uint64_t x, bool xPerSlot, uint64_t ids, uint32_t k,
                       uint64_t y, uint32_t nTok, uint64_t slotTable) {
    MOE_TRY(checkCols(t, cols));
    MOE_ASSIGN(const MatMulKernel kn, matMulKernel(dev, t, kMoeDirect, 1, w, x, cols, cols));
    const uint32_t nr = kn.rowsPerGroup;
    push::MatMulPush pc = matMulPush(kn.w, kn.x, y, rows, cols, nTok, cols, rows);
    pc.ids = ids;
    pc.expertStride = expertStride;
    pc.slotTable = slotTable;
    pc.k = k;
    pc.flags = xPerSlot ? FLAG_X_PER_SLOT : 0;
    const uint32_t rowGroups = (rows + nr - 1) / nr;
    if (rowGroups > kMaxGroups || nTok * k > kMaxGroups) return makeError("expert product too large for one dispatch");
    kn.dispatch(cmd, pc, rowGroups, nTok * k);
    return {};
}

Status mulMatMoeGrouped(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t w, uint64_t expertStride,
                        uint32_t rows, uint32_t cols, uint64_t x, bool xPerSlot, uint64_t groups, uint32_t nExpert,
                        uint32_t k, uint64_t y, uint32_t nTok, uint64_t slotTable) {
    MOE_TRY(checkCols(t, cols));
    MOE_ASSIGN(const MatMulKernel kn, matMulKernel(dev, t, kMoeGrouped, 8, w, x, cols, cols));
    const uint32_t nr = kn.rowsPerGroup, nt = kn.tokensPerGroup;
    push::MatMulPush pc = matMulPush(kn.w, kn.x, y, rows, cols, nTok, cols, rows);
    pc.groups = groups;
    pc.expertStride = expertStride;
    pc.slotTable = slotTable;
    pc.k = k;
    pc.nExpert = nExpert;
    pc.flags = xPerSlot ? FLAG_X_PER_SLOT : 0;
    const uint32_t rowGroups = (rows + nr - 1) / nr;
    // an expert can receive at most nTok tokens (each token selects an expert once)
    const uint32_t tokTiles = (nTok + nt - 1) / nt;
    if (rowGroups > kMaxGroups || nExpert > kMaxGroups || tokTiles > kMaxGroups)
        return makeError("expert product too large for one dispatch");
    kn.dispatch(cmd, pc, rowGroups, nExpert, tokTiles);
    return {};
}

Status getRows(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t table, uint32_t nRows, uint32_t cols,
               uint64_t ids, uint32_t nIds, uint64_t out) {
    MOE_TRY(checkCols(t, cols));
    MOE_ASSIGN(ShaderId id, typedShader(ShaderId::get_rows_f32, t));
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(id, {{reductionWorkgroup(dev.caps())}}));
    push::GetRowsPush pc{table, ids, out, nRows, cols};
    if (nIds > kMaxGroups) return makeError("too many rows in one lookup");
    cmd.dispatch(*p, pc, nIds);
    return {};
}

}  // namespace moe::rt
