// Recording of the weight-reading kernels: dense and expert-indexed products, embedding rows.
#include <algorithm>
#include <array>
#include <cstdlib>

#include "cpu/iq_tables.h"
#include "iq_grids.h"
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

static constexpr bool hasKernel(KernelFamily f, GgmlType t, KernelReduce r, KernelRead rd) {
    return findKernelIndex(f, static_cast<uint32_t>(t), r, rd) >= 0;
}

// Every key matMulKernel and getRows may ask the table for: every family through device
// addresses with both reductions for each weight type; for texel types, the one-token texel
// kernels of the dense and direct products and the row-per-invocation kernel of all three.
static constexpr bool tableCoversRuntime() {
    constexpr KernelFamily products[] = {KernelFamily::MulMat, KernelFamily::MulMatMoe, KernelFamily::MulMatMoeGrouped};
    for (GgmlType t : kWeightTypes) {
        if (!hasKernel(KernelFamily::GetRows, t, KernelReduce::None, KernelRead::Address)) return false;
        for (KernelFamily f : products) {
            for (KernelReduce r : {KernelReduce::Shared, KernelReduce::Subgroup}) {
                if (!hasKernel(f, t, r, KernelRead::Address)) return false;
                if (texelReadType(t) && f != KernelFamily::MulMatMoeGrouped && !hasKernel(f, t, r, KernelRead::Texel))
                    return false;
            }
            if (texelReadType(t) && !hasKernel(f, t, KernelReduce::None, KernelRead::Rows)) return false;
        }
    }
    return true;
}
static_assert(tableCoversRuntime(),
              "shaders/variants*.cmake lacks a kernel the runtime may ask for (see tableCoversRuntime)");

static const char* familyName(KernelFamily f) {
    switch (f) {
        case KernelFamily::MulMat: return "mul_mat";
        case KernelFamily::MulMatMoe: return "mul_mat_moe";
        case KernelFamily::MulMatMoeGrouped: return "mul_mat_moe_grouped";
        case KernelFamily::GetRows: return "get_rows";
    }
    return "?";
}

Result<ShaderId> kernelShader(KernelFamily family, GgmlType t, KernelReduce reduce, KernelRead read) {
    if (const KernelEntry* e = findKernel(family, static_cast<uint32_t>(t), reduce, read)) return e->id;
    return makeError(std::string("no ") + familyName(family) + " kernel for weight type " + typeName(t));
}

MatMulShape matMulShape(const vk::DeviceCaps& caps) {
    // One subgroup per workgroup when the subgroup size is fixed: reductions need no barrier.
    if (caps.subgroupArithmetic() && caps.minSubgroupSize == caps.maxSubgroupSize && caps.subgroupSize >= 8 &&
        caps.subgroupSize <= 128)
        return {true, caps.subgroupSize, 4};
    return {false, reductionWorkgroup(caps), 1};
}

static Status checkCols(GgmlType t, uint32_t cols) {
    auto tr = typeTraits(static_cast<uint32_t>(t));
    if (!tr || !tr->supported) return makeError("unsupported weight type " + typeName(t));
    if (cols % tr->blockSize) return makeError("row length " + std::to_string(cols) + " is not a multiple of the " +
                                               tr->name + " block size " + std::to_string(tr->blockSize));
    return {};
}

// The grid buffer of iq_grids.h: the grids in its order, checked against its offsets.
static constexpr std::array<uint32_t, IQ_GRID_WORDS> gridWords() {
    std::array<uint32_t, IQ_GRID_WORDS> w{};
    size_t n = 0;
    auto put = [&](const auto& t, size_t at) {
        if (n != at) throw "iq_grids.h offsets out of order";  // a compile error in the constexpr call
        for (uint32_t x : t) w[n++] = x;
    };
    put(cpu::kIq2xxsGrid, IQ_GRID_IQ2XXS);
    put(cpu::kIq2xsGrid, IQ_GRID_IQ2XS);
    put(cpu::kIq2sGrid, IQ_GRID_IQ2S);
    put(cpu::kIq3xxsGrid, IQ_GRID_IQ3XXS);
    put(cpu::kIq3sGrid, IQ_GRID_IQ3S);
    put(cpu::kIq1sGrid, IQ_GRID_IQ1S);
    if (n != IQ_GRID_WORDS) throw "iq_grids.h size";
    return w;
}
static constexpr std::array<uint32_t, IQ_GRID_WORDS> kGridWords = gridWords();

static constexpr bool gridType(GgmlType t) {
    switch (t) {
        case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S: case GgmlType::IQ3_XXS:
        case GgmlType::IQ3_S: case GgmlType::IQ1_S: case GgmlType::IQ1_M: return true;
        default: return false;
    }
}

// The grids push constant of a kernel for weight type t: the device's grid buffer (uploaded on
// the first use) for the IQ grid types, else 0.
static Result<uint64_t> gridsFor(vk::Device& dev, GgmlType t) {
    if (!gridType(t)) return uint64_t{0};
    constexpr uint32_t kKey = 0x49514752;  // "IQGR"
    return dev.constantTable(kKey, kGridWords.data(), sizeof(kGridWords));
}

static constexpr uint32_t kMaxGroups = 65535;  // guaranteed minimum of maxComputeWorkGroupCount

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
static Result<MatMulKernel> matMulKernel(vk::Device& dev, GgmlType t, KernelFamily f, uint32_t nt, uint64_t w,
                                         uint64_t x, uint32_t xStride, uint32_t cols, uint64_t expertStride = 0) {
    const MatMulShape ms = matMulShape(dev.caps());
    MatMulKernel k;
    k.w = w;
    k.x = x;
    const bool texel = dev.texelWeights() && texelReadType(t);
    const vk::TexelWindow win = texel ? dev.allocator().texelWindow(w) : vk::TexelWindow{};
    if (win.set && cols % 16 == 0 && xStride % 4 == 0) {
        const vk::TexelWindow xwin = dev.allocator().texelWindow(x);
        if (xwin.set && (x - xwin.base) % 16 == 0) {
            const uint32_t wg = std::max<uint32_t>(dev.caps().subgroupSize, 1);
            // rows per invocation and tokens per workgroup, measured on lavapipe (docs/performance.md):
            // decode 4 rows; batches 8 rows x 16 tokens (each weight fetched once per 16 tokens)
            const uint32_t nr = nt == 1 ? 4 : 8;
            const uint32_t rnt = nt == 1 ? 1 : 16;
            // whole-texel blocks (Q4_K, Q5_K) at a 16-byte boundary: one fetch per 16 bytes
            // (WALIGN16 of dequant_affine.glsl); every row and expert then starts at one too
            const uint64_t blockBytes = typeTraits(static_cast<uint32_t>(t))->blockBytes;
            const uint32_t aligned = blockBytes % 16 == 0 && (w - win.base) % 16 == 0 && expertStride % 16 == 0;
            MOE_ASSIGN(ShaderId id, kernelShader(f, t, KernelReduce::None, KernelRead::Rows));
            MOE_ASSIGN(k.pipeline, dev.pipeline(id, vk::SpecConstants{{wg, nr, rnt, aligned}}, true));
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
    const KernelReduce reduce = ms.subgroup ? KernelReduce::Subgroup : KernelReduce::Shared;
    if (win.set && f != KernelFamily::MulMatMoeGrouped && nt == 1) {
        MOE_ASSIGN(ShaderId id, kernelShader(f, t, reduce, KernelRead::Texel));
        MOE_ASSIGN(k.pipeline, dev.pipeline(id, spec, true));
        k.set = win.set;
        k.w = w - win.base;
        return k;
    }
    MOE_ASSIGN(ShaderId id, kernelShader(f, t, reduce, KernelRead::Address));
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

// The push constants of both expert products (the direct kernel reads ids, the grouped one
// groups and nExpert).
static push::MatMulPush moePush(const MatMulKernel& kn, const MoeMatMulArgs& a) {
    push::MatMulPush pc = matMulPush(kn.w, kn.x, a.y, a.rows, a.cols, a.nTok, a.cols, a.rows);
    pc.ids = a.ids;
    pc.groups = a.groups;
    pc.nExpert = a.nExpert;
    pc.expertStride = a.expertStride;
    pc.slotTable = a.slotTable;
    pc.k = a.k;
    pc.flags = a.xPerSlot ? FLAG_X_PER_SLOT : 0;
    return pc;
}

Status mulMat(vk::Device& dev, vk::Commands& cmd, const MatMulArgs& a) {
    MOE_TRY(checkCols(a.type, a.cols));
    const uint32_t xStride = a.xStride ? a.xStride : a.cols, yStride = a.yStride ? a.yStride : a.rows;
    MOE_ASSIGN(const MatMulKernel k,
               matMulKernel(dev, a.type, KernelFamily::MulMat, a.nTok == 1 ? 1 : 8, a.w, a.x, xStride, a.cols));
    const uint32_t nr = k.rowsPerGroup, nt = k.tokensPerGroup;
    push::MatMulPush pc = matMulPush(k.w, k.x, a.y, a.rows, a.cols, a.nTok, xStride, yStride);
    pc.flags = a.accumulate ? FLAG_ACCUMULATE : 0u;
    MOE_ASSIGN(pc.grids, gridsFor(dev, a.type));
    const uint32_t tokGroups = (a.nTok + nt - 1) / nt;
    if (tokGroups > kMaxGroups) return makeError("too many tokens in one matmul");
    // huge row counts (vocabularies) are split into several dispatches
    const uint32_t rowGroups = (a.rows + nr - 1) / nr;
    for (uint32_t g0 = 0; g0 < rowGroups; g0 += kMaxGroups) {
        pc.rowBase = g0 * nr;
        k.dispatch(cmd, pc, std::min(kMaxGroups, rowGroups - g0), tokGroups);
    }
    return {};
}

Status mulMatMoeDirect(vk::Device& dev, vk::Commands& cmd, const MoeMatMulArgs& a) {
    MOE_TRY(checkCols(a.type, a.cols));
    MOE_ASSIGN(const MatMulKernel kn, matMulKernel(dev, a.type, KernelFamily::MulMatMoe, 1, a.w, a.x, a.cols, a.cols, a.expertStride));
    const uint32_t nr = kn.rowsPerGroup;
    push::MatMulPush pc = moePush(kn, a);
    MOE_ASSIGN(pc.grids, gridsFor(dev, a.type));
    const uint32_t rowGroups = (a.rows + nr - 1) / nr;
    if (rowGroups > kMaxGroups || a.nTok * a.k > kMaxGroups)
        return makeError("expert product too large for one dispatch");
    kn.dispatch(cmd, pc, rowGroups, a.nTok * a.k);
    return {};
}

Status mulMatMoeGrouped(vk::Device& dev, vk::Commands& cmd, const MoeMatMulArgs& a) {
    MOE_TRY(checkCols(a.type, a.cols));
    MOE_ASSIGN(const MatMulKernel kn,
               matMulKernel(dev, a.type, KernelFamily::MulMatMoeGrouped, 8, a.w, a.x, a.cols, a.cols, a.expertStride));
    const uint32_t nr = kn.rowsPerGroup, nt = kn.tokensPerGroup;
    push::MatMulPush pc = moePush(kn, a);
    MOE_ASSIGN(pc.grids, gridsFor(dev, a.type));
    const uint32_t rowGroups = (a.rows + nr - 1) / nr;
    // an expert can receive at most nTok tokens (each token selects an expert once)
    const uint32_t tokTiles = (a.nTok + nt - 1) / nt;
    if (rowGroups > kMaxGroups || a.nExpert > kMaxGroups || tokTiles > kMaxGroups)
        return makeError("expert product too large for one dispatch");
    kn.dispatch(cmd, pc, rowGroups, a.nExpert, tokTiles);
    return {};
}

Status getRows(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t table, uint32_t nRows, uint32_t cols,
               uint64_t ids, uint32_t nIds, uint64_t out) {
    MOE_TRY(checkCols(t, cols));
    MOE_ASSIGN(ShaderId id, kernelShader(KernelFamily::GetRows, t, KernelReduce::None, KernelRead::Address));
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(id, {{reductionWorkgroup(dev.caps())}}));
    push::GetRowsPush pc{table, ids, out, nRows, cols, 0};
    MOE_ASSIGN(pc.grids, gridsFor(dev, t));
    if (nIds > kMaxGroups) return makeError("too many rows in one lookup");
    cmd.dispatch(*p, pc, nIds);
    return {};
}

}  // namespace moe::rt
