// Roofline measurements: read bandwidth over shapes chosen from DeviceCaps (buffer device
// addresses and a uniform texel buffer), FMA peak, dispatch floor, host read.
#include "selftest/roofline.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "push_roofline.h"
#include "vk/check.h"
#include "vk/commands.h"

namespace moe::selftest {

namespace {

constexpr uint32_t kMaxGroups = 65535;           // guaranteed minimum of maxComputeWorkGroupCount
constexpr uint32_t kLoadsPerInvocation = 64;     // 1 KiB per invocation: long enough streams
constexpr uint32_t kFillPattern = 0x5a5a5a5au;   // every word equal: a checksum of 0, never ~0
constexpr uint64_t kMinReadBytes = 16ull << 20;
constexpr size_t kFullShapes = 4;                // shapes timed over the whole buffer

using Record = std::function<Status(vk::Commands&)>;

double msSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Milliseconds of each of `reps` runs of rec after one untimed warm-up run (unless warmUp is
// false): from GPU timestamps (one submission, a barrier between runs) when asked and the device
// has them, else wall clock around one submission per run.
Result<std::vector<double>> timeRuns(vk::Device& dev, const Record& rec, uint32_t reps, bool stamps, bool& stamped,
                                     bool warmUp = true) {
    const uint32_t first = warmUp ? 1 : 0;
    std::vector<double> ms;
    stamped = stamps && dev.caps().timestamps;
    if (stamped) {
        vk::Commands cmd(dev, reps + first);
        for (uint32_t i = 0; i < reps + first; ++i) {
            if (i) cmd.barrier();
            MOE_TRY(rec(cmd));
        }
        MOE_TRY(cmd.submitAndWait());
        auto times = cmd.kernelTimes();
        if (times.size() == size_t(reps) + first) {
            for (uint32_t i = first; i < reps + first; ++i) ms.push_back(times[i].ms);
            return ms;
        }
        stamped = false;  // fewer stamps than dispatches: fall back to the wall clock
    }
    for (uint32_t i = 0; i < reps + first; ++i) {
        vk::Commands cmd(dev);
        MOE_TRY(rec(cmd));
        const auto t0 = std::chrono::steady_clock::now();
        MOE_TRY(cmd.submitAndWait());
        if (i >= first) ms.push_back(msSince(t0));
    }
    return ms;
}

// Workgroup sizes to try: the subgroup size, 64 and 256, within the device's limits.
std::vector<uint32_t> workgroupSizes(const vk::DeviceCaps& caps) {
    const uint32_t cap = std::min(caps.maxWorkGroupInvocations, caps.maxWorkGroupSize[0]);
    std::vector<uint32_t> out;
    for (uint32_t wg : {std::max<uint32_t>(caps.subgroupSize, 8), 64u, 256u})
        if (wg <= cap && std::find(out.begin(), out.end(), wg) == out.end()) out.push_back(wg);
    if (out.empty()) out.push_back(std::max<uint32_t>(1, cap));
    return out;
}

uint32_t ceilDiv(uint64_t a, uint64_t b) { return uint32_t((a + b - 1) / b); }

// The read source as a uniform texel buffer (RGBA32UI view of a buffer of its own) with the
// descriptor set and pipelines that bind it: texel fetches go through a device's texture path,
// which some devices (CPU ones) serve faster than buffer loads. The engine's pipelines have
// no descriptor sets, so this one keeps its own raw handles, destroyed in reverse order.
class TexelSource {
public:
    static Result<std::unique_ptr<TexelSource>> create(vk::Device& dev, uint64_t bytes);
    ~TexelSource();
    TexelSource(const TexelSource&) = delete;
    TexelSource& operator=(const TexelSource&) = delete;

    uint64_t bytes() const { return bytes_; }
    Result<VkPipeline> pipeline(uint32_t workgroup, uint32_t order);
    void dispatch(vk::Commands& cmd, VkPipeline p, const push::ReadBufferPush& pc, uint32_t groups) const;

private:
    explicit TexelSource(vk::Device& dev) : dev_(dev) {}
    vk::Device& dev_;
    uint64_t bytes_ = 0;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    VkBufferView view_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout setLayout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;
    VkDescriptorSet set_ = VK_NULL_HANDLE;
    VkShaderModule module_ = VK_NULL_HANDLE;
    std::vector<std::pair<uint64_t, VkPipeline>> pipelines_;  // (workgroup << 32 | order, pipeline)
};

Result<std::unique_ptr<TexelSource>> TexelSource::create(vk::Device& dev, uint64_t bytes) {
    const VkDevice d = dev.handle();
    VkFormatProperties fp;
    vkGetPhysicalDeviceFormatProperties(dev.physical(), VK_FORMAT_R32G32B32A32_UINT, &fp);
    if (!(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
        return makeError("no RGBA32UI uniform texel buffers");
    std::unique_ptr<TexelSource> t(new TexelSource(dev));
    t->bytes_ = std::min<uint64_t>(bytes, uint64_t(dev.caps().maxTexelBufferElements) * 16) & ~uint64_t(0xffff);
    if (t->bytes_ < kMinReadBytes) return makeError("texel buffers hold less than 16 MiB");

    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = t->bytes_;
    bi.usage = VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    if (VkResult r = vkCreateBuffer(d, &bi, nullptr, &t->buffer_); r != VK_SUCCESS)
        return makeError(vk::vkErrorText("vkCreateBuffer", r));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d, t->buffer_, &req);
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(dev.physical(), &mp);
    int type = -1;
    for (uint32_t i = 0; i < mp.memoryTypeCount && type < 0; ++i)
        if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
            type = int(i);
    if (type < 0) return makeError("no device-local memory for a texel buffer");
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = uint32_t(type);
    if (VkResult r = vkAllocateMemory(d, &ai, nullptr, &t->memory_); r != VK_SUCCESS)
        return makeError(vk::vkErrorText("vkAllocateMemory", r) + " for the texel read buffer");
    VK_CHECK(vkBindBufferMemory(d, t->buffer_, t->memory_, 0));
    VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
    vi.buffer = t->buffer_;
    vi.format = VK_FORMAT_R32G32B32A32_UINT;
    vi.range = t->bytes_;
    VK_CHECK(vkCreateBufferView(d, &vi, nullptr, &t->view_));

    VkDescriptorSetLayoutBinding b{0, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo sl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    sl.bindingCount = 1;
    sl.pBindings = &b;
    VK_CHECK(vkCreateDescriptorSetLayout(d, &sl, nullptr, &t->setLayout_));
    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push::ReadBufferPush)};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &t->setLayout_;
    pl.pushConstantRangeCount = 1;
    pl.pPushConstantRanges = &range;
    VK_CHECK(vkCreatePipelineLayout(d, &pl, nullptr, &t->layout_));
    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dp.maxSets = 1;
    dp.poolSizeCount = 1;
    dp.pPoolSizes = &ps;
    VK_CHECK(vkCreateDescriptorPool(d, &dp, nullptr, &t->pool_));
    VkDescriptorSetAllocateInfo sa{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    sa.descriptorPool = t->pool_;
    sa.descriptorSetCount = 1;
    sa.pSetLayouts = &t->setLayout_;
    VK_CHECK(vkAllocateDescriptorSets(d, &sa, &t->set_));
    VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = t->set_;
    w.descriptorCount = 1;
    w.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    w.pTexelBufferView = &t->view_;
    vkUpdateDescriptorSets(d, 1, &w, 0, nullptr);
    const ShaderBlob& blob = shaderBlob(ShaderId::read_buffer_texel);
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = blob.bytes;
    mi.pCode = blob.words;
    VK_CHECK(vkCreateShaderModule(d, &mi, nullptr, &t->module_));

    // written, as the buffer-address source is (no shared zero pages)
    vk::Commands cmd(dev);
    vkCmdFillBuffer(cmd.handle(), t->buffer_, 0, t->bytes_, kFillPattern);
    MOE_TRY(cmd.submitAndWait());
    return t;
}

TexelSource::~TexelSource() {
    const VkDevice d = dev_.handle();
    for (auto& [key, p] : pipelines_) vkDestroyPipeline(d, p, nullptr);
    if (module_) vkDestroyShaderModule(d, module_, nullptr);
    if (pool_) vkDestroyDescriptorPool(d, pool_, nullptr);  // frees set_
    if (layout_) vkDestroyPipelineLayout(d, layout_, nullptr);
    if (setLayout_) vkDestroyDescriptorSetLayout(d, setLayout_, nullptr);
    if (view_) vkDestroyBufferView(d, view_, nullptr);
    if (buffer_) vkDestroyBuffer(d, buffer_, nullptr);
    if (memory_) vkFreeMemory(d, memory_, nullptr);
}

Result<VkPipeline> TexelSource::pipeline(uint32_t workgroup, uint32_t order) {
    const uint64_t key = uint64_t(workgroup) << 32 | order;
    for (auto& [k, p] : pipelines_)
        if (k == key) return p;
    const uint32_t values[3] = {workgroup, order, 0};
    VkSpecializationMapEntry entries[3] = {{0, 0, 4}, {1, 4, 4}, {2, 8, 4}};
    VkSpecializationInfo spec{3, entries, sizeof values, values};
    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module_;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = &spec;
    ci.layout = layout_;
    VkPipeline p = VK_NULL_HANDLE;
    if (VkResult r = vkCreateComputePipelines(dev_.handle(), VK_NULL_HANDLE, 1, &ci, nullptr, &p); r != VK_SUCCESS)
        return makeError(vk::vkErrorText("vkCreateComputePipelines", r) + " (read_buffer_texel)");
    pipelines_.push_back({key, p});
    return p;
}

void TexelSource::dispatch(vk::Commands& cmd, VkPipeline p, const push::ReadBufferPush& pc, uint32_t groups) const {
    const VkCommandBuffer cb = cmd.handle();
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout_, 0, 1, &set_, 0, nullptr);
    vkCmdPushConstants(cb, layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
    vkCmdDispatch(cb, groups, 1, 1);
}

// The two read sources: a buffer addressed by pointer (as every engine kernel reads) and,
// when the device has them, a uniform texel buffer.
struct ReadSources {
    vk::Buffer buffer;
    std::unique_ptr<TexelSource> texels;
    vk::Buffer sink;
};

// Best GB/s of `reps` passes over the first `bytes` of the shape's source (wall clock around
// one submission per pass), after a warm-up pass when asked.
Result<double> timeRead(vk::Device& dev, ReadSources& src, ReadShape& s, uint64_t bytes, uint32_t reps, bool warmUp) {
    const vk::DeviceCaps& caps = dev.caps();
    push::ReadBufferPush pc{};
    pc.src = s.texel ? 0 : src.buffer.address();
    pc.sink = src.sink.address();
    pc.n16 = uint32_t(bytes / 16);
    pc.never = 0xffffffffu;
    const uint32_t maxGroups = std::min(kMaxGroups, caps.maxWorkGroupCount[0] ? caps.maxWorkGroupCount[0] : kMaxGroups);
    const uint32_t n = s.wide ? pc.n16 / 2 : pc.n16;  // elements
    s.groups = std::min(maxGroups, std::max<uint32_t>(1, ceilDiv(n, uint64_t(s.workgroup) * kLoadsPerInvocation)));
    if (s.order == READ_WORKGROUP_BLOCK || s.order == READ_UNIFORM_BLOCK) pc.block = ceilDiv(n, s.groups);
    if (s.order == READ_INVOCATION_BLOCK) pc.block = ceilDiv(n, uint64_t(s.groups) * s.workgroup);
    Record rec;
    if (s.texel) {
        MOE_ASSIGN(VkPipeline p, src.texels->pipeline(s.workgroup, s.order));
        rec = [&, p](vk::Commands& cmd) -> Status {
            src.texels->dispatch(cmd, p, pc, s.groups);
            return {};
        };
    } else {
        MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::read_buffer, {{s.workgroup, s.order, s.wide ? 1u : 0u}}));
        rec = [&, p](vk::Commands& cmd) -> Status {
            cmd.dispatch(*p, pc, s.groups);
            return {};
        };
    }
    bool stamped = false;
    MOE_ASSIGN(auto ms, timeRuns(dev, rec, std::max(reps, 1u), false, stamped, warmUp));
    const double best = *std::min_element(ms.begin(), ms.end());
    return best > 0 ? double(bytes) / (best * 1e6) : 0.0;
}

Status measureRead(vk::Device& dev, const RooflineOptions& opts, ReadSources& src, Roofline& r) {
    const vk::DeviceCaps& caps = dev.caps();
    uint64_t bytes = opts.readBytes;
    if (caps.maxMemoryAllocationSize) bytes = std::min(bytes, caps.maxMemoryAllocationSize);
    if (caps.deviceLocalBytes()) bytes = std::min(bytes, caps.deviceLocalBytes() / 4);
    bytes = std::min<uint64_t>(bytes, 0xffffffffull * 16);  // n16 is 32-bit
    bytes &= ~uint64_t(0xffff);
    // the largest buffer that can be had, halving on out-of-memory
    for (;;) {
        auto b = dev.allocate(bytes, vk::MemoryKind::Device, vk::MemoryTag::Other, "bandwidth buffer");
        if (b.ok()) {
            src.buffer = std::move(b).value();
            break;
        }
        if (bytes / 2 < kMinReadBytes) return makeError("bandwidth: " + b.error().message);
        bytes /= 2;
    }
    // write every page: untouched pages of a CPU device may all map one zero page (cache hits)
    {
        vk::Commands cmd(dev);
        cmd.fill(src.buffer, 0, bytes, kFillPattern);
        MOE_TRY(cmd.submitAndWait());
    }
    r.readBytes = bytes;
    // a device without texel buffers of this size is measured through addresses only
    if (auto t = TexelSource::create(dev, bytes); t.ok()) src.texels = std::move(t).value();

    // every shape once over a quarter of its source (still larger than CPU caches), then the
    // fastest few over all of it: slow shapes on a CPU device cost seconds per full pass
    const std::vector<uint32_t> wgs = workgroupSizes(caps);
    for (uint32_t order : {READ_GRID_STRIDE, READ_WORKGROUP_BLOCK, READ_INVOCATION_BLOCK, READ_UNIFORM_BLOCK})
        for (int kind = 0; kind < 3; ++kind)  // 32-bit words, 64-bit words, texels
            for (uint32_t wg : wgs) {
                const bool texel = kind == 2, wide = kind == 1;
                if (texel && !src.texels) continue;
                // every invocation loads the same element: only a subgroup-sized workgroup makes sense
                if (order == READ_UNIFORM_BLOCK && (wg != wgs.front() || texel)) continue;
                ReadShape s;
                s.workgroup = wg;
                s.order = order;
                s.wide = wide;
                s.texel = texel;
                const uint64_t size = texel ? src.texels->bytes() : bytes;
                MOE_ASSIGN(s.probeGBps, timeRead(dev, src, s, size / 4, 1, false));
                r.shapes.push_back(s);
            }
    std::vector<ReadShape*> order;
    for (ReadShape& s : r.shapes) order.push_back(&s);
    std::sort(order.begin(), order.end(), [](const ReadShape* a, const ReadShape* b) { return a->probeGBps > b->probeGBps; });
    order.resize(std::min(order.size(), kFullShapes));
    // and the fastest buffer-address shape in any case: the engine's kernels read that way
    if (std::none_of(order.begin(), order.end(), [](const ReadShape* s) { return !s->texel; })) {
        ReadShape* a = nullptr;
        for (ReadShape& s : r.shapes)
            if (!s.texel && (!a || s.probeGBps > a->probeGBps)) a = &s;
        if (a) order.push_back(a);
    }
    for (ReadShape* s : order) {
        const uint64_t size = s->texel ? src.texels->bytes() : bytes;
        MOE_ASSIGN(s->gbPerS, timeRead(dev, src, *s, size, opts.reps, true));
        if (s->gbPerS > r.best.gbPerS) r.best = *s;
        if (!s->texel && s->gbPerS > r.bestAddress.gbPerS) r.bestAddress = *s;
    }
    r.readGBps = r.best.gbPerS;
    r.addressReadGBps = r.bestAddress.gbPerS;
    return {};
}

Status measureFma(vk::Device& dev, const RooflineOptions& opts, const vk::Buffer& sink, Roofline& r) {
    const vk::DeviceCaps& caps = dev.caps();
    const uint32_t wg = std::min<uint32_t>(64, std::min(caps.maxWorkGroupInvocations, caps.maxWorkGroupSize[0]));
    const uint32_t groups = 256;
    for (uint32_t chains : {2u, 4u, 8u}) {
        MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::fma_peak, {{wg, chains}}));
        push::FmaPeakPush pc{};
        pc.sink = sink.address();
        pc.mul = 0.999f;
        pc.add = 1e-3f;  // converges to 1: no overflow, no denormals
        pc.never = -1.0f;
        auto run = [&](vk::Commands& cmd) -> Status {
            cmd.dispatch(*p, pc, groups);
            return {};
        };
        // size the loop so one pass takes about 30 ms, from a short probe
        pc.iters = 256;
        bool stamped = false;
        MOE_ASSIGN(auto probe, timeRuns(dev, run, 1, true, stamped));
        pc.iters = uint32_t(std::clamp(256.0 * 30.0 / std::max(probe[0], 1e-3), 256.0, 1048576.0));
        MOE_ASSIGN(auto ms, timeRuns(dev, run, opts.reps, true, stamped));
        const double best = *std::min_element(ms.begin(), ms.end());
        const double gflops = best > 0 ? double(groups) * wg * pc.iters * chains * 8.0 / (best * 1e6) : 0;
        if (gflops > r.peakGflops) {
            r.peakGflops = gflops;
            r.fmaWorkgroup = wg;
            r.fmaChains = chains;
        }
    }
    return {};
}

// The GPU-timeline cost of a dispatch that does nothing (one workgroup, zero iterations) and
// the barrier before it: the floor under every kernel of a forward step. Then the cost of each
// further empty workgroup of the subgroup size, from a dispatch of many.
Status measureDispatchFloor(vk::Device& dev, const vk::Buffer& sink, Roofline& r) {
    if (!dev.caps().timestamps) return {};
    const uint32_t wg = workgroupSizes(dev.caps()).front();
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::fma_peak, {{wg, 1}}));
    push::FmaPeakPush pc{};
    pc.sink = sink.address();
    pc.never = -1.0f;
    auto median = [&](uint32_t groups, uint32_t runs, double& ms) -> Status {
        bool stamped = false;
        MOE_ASSIGN(auto t, timeRuns(dev, [&](vk::Commands& cmd) -> Status {
            cmd.dispatch(*p, pc, groups);
            return {};
        }, runs, true, stamped));
        std::sort(t.begin(), t.end());
        ms = stamped ? t[t.size() / 2] : 0;
        return {};
    };
    constexpr uint32_t kGroups = 16384;
    double one = 0, many = 0;
    MOE_TRY(median(1, 64, one));
    MOE_TRY(median(kGroups, 8, many));
    r.dispatchFloorUs = one * 1e3;
    r.workgroupCostNs = std::max(0.0, (many - one) * 1e6 / (kGroups - 1));
    r.workgroupCostSize = wg;
    return {};
}

// Plain C++ reading host memory with every hardware thread: what the memory gives to code that
// is not a shader (on a CPU device, the ceiling above the shader compiler's loads).
double measureHostRead(uint64_t bytes, uint32_t reps, uint32_t threads) {
    const size_t words = size_t(bytes / 8);
    std::vector<uint64_t> buf(words, 0x5a5a5a5a5a5a5a5aull);  // written: no shared zero pages
    std::vector<uint64_t> sums(size_t(threads) * 8);           // a cache line per thread
    double best = 0;
    for (uint32_t r = 0; r <= reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (uint32_t t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const size_t a = words * t / threads, b = words * (t + 1) / threads;
                uint64_t x0 = 0, x1 = 0, x2 = 0, x3 = 0;
                size_t i = a;
                for (; i + 4 <= b; i += 4) x0 ^= buf[i], x1 ^= buf[i + 1], x2 ^= buf[i + 2], x3 ^= buf[i + 3];
                for (; i < b; ++i) x0 ^= buf[i];
                sums[size_t(t) * 8] = x0 ^ x1 ^ x2 ^ x3;
            });
        for (auto& th : pool) th.join();
        const double ms = msSince(t0);
        if (r && ms > 0) best = std::max(best, double(words * 8) / (ms * 1e6));
    }
    return best;
}

}  // namespace

const char* readOrderName(uint32_t order) {
    switch (order) {
        case READ_GRID_STRIDE: return "grid-stride";
        case READ_WORKGROUP_BLOCK: return "workgroup blocks";
        case READ_INVOCATION_BLOCK: return "invocation blocks";
        case READ_UNIFORM_BLOCK: return "uniform blocks";
        default: return "?";
    }
}

std::string readShapeText(const ReadShape& s) {
    return std::string(readOrderName(s.order)) + ", " + (s.texel ? "texel buffer" : s.wide ? "64-bit words" : "32-bit words") +
           ", workgroup " + std::to_string(s.workgroup);
}

Result<Roofline> measureRoofline(vk::Device& dev, const RooflineOptions& opts) {
    Roofline r;
    ReadSources src;
    MOE_ASSIGN(src.sink, dev.allocate(16, vk::MemoryKind::Device, vk::MemoryTag::Other, "roofline sink"));
    MOE_TRY(measureRead(dev, opts, src, r));
    src.texels.reset();
    src.buffer.release();
    MOE_TRY(measureFma(dev, opts, src.sink, r));
    MOE_TRY(measureDispatchFloor(dev, src.sink, r));
    if (opts.hostRead) {
        r.hostThreads = std::max(1u, std::thread::hardware_concurrency());
        r.hostReadGBps = measureHostRead(r.readBytes, opts.reps, r.hostThreads);
    }
    return r;
}

}  // namespace moe::selftest
