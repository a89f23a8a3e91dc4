// The device's rooflines, measured with the engine's own kernels: memory read bandwidth
// (read_buffer.comp over a buffer larger than CPU caches, in several orders, word sizes and
// workgroup sizes from DeviceCaps, through buffer device addresses as the engine reads tensors
// and through a uniform texel buffer; the fastest kept), the f32 FMA peak (fma_peak.comp), and
// the GPU-timeline cost of an empty dispatch followed by a barrier (the floor every kernel of a
// step pays). Also plain C++ reading host memory, for scale on CPU devices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "vk/device.h"

namespace moe::selftest {

struct ReadShape {
    uint32_t workgroup = 0;
    uint32_t order = 0;        // READ_* of push_roofline.h
    bool wide = false;         // 64-bit words (u64vec4 loads) instead of 32-bit (uvec4)
    bool texel = false;        // a uniform texel buffer (RGBA32UI texelFetch) instead of an address
    uint32_t groups = 0;       // workgroups dispatched
    double probeGBps = 0;      // one pass over a quarter of the buffer
    double gbPerS = 0;         // best full pass (1 GB = 1e9 bytes); 0 when only probed
};
// "grid-stride", "workgroup blocks", "invocation blocks", "uniform blocks"
const char* readOrderName(uint32_t order);
// "workgroup blocks, 64-bit words, workgroup 8"
std::string readShapeText(const ReadShape& s);

struct Roofline {
    uint64_t readBytes = 0;         // bytes read per pass (the buffer size)
    double readGBps = 0;            // the fastest shape
    ReadShape best;
    double addressReadGBps = 0;     // the fastest shape reading through buffer device addresses,
    ReadShape bestAddress;          // as the engine's kernels do
    std::vector<ReadShape> shapes;  // every shape tried, in the order tried
    double peakGflops = 0;          // f32 fused multiply-add, 2 FLOPs each
    uint32_t fmaWorkgroup = 0;
    uint32_t fmaChains = 0;         // independent vec4 FMA chains per invocation of the best run
    double dispatchFloorUs = 0;     // median of an empty 1-workgroup dispatch + barrier (GPU timestamps; 0 without)
    double workgroupCostNs = 0;     // each further empty workgroup of workgroupCostSize invocations
    uint32_t workgroupCostSize = 0;
    double hostReadGBps = 0;        // plain C++ over host memory (hostRead)
    uint32_t hostThreads = 0;
};

struct RooflineOptions {
    uint64_t readBytes = 256ull << 20;  // capped by maxMemoryAllocationSize and a quarter of device memory
    uint32_t reps = 3;                  // timed passes per shape (wall clock, one submission each) after a warm-up pass
    bool hostRead = true;               // also time plain C++ reads of host memory
};

// Runs the measurements (a few seconds on lavapipe with the defaults): every read shape once over
// a quarter of the buffer, the fastest four over all of it. Errors: pipeline creation, out of
// memory below 16 MiB, device lost.
Result<Roofline> measureRoofline(vk::Device& dev, const RooflineOptions& opts = {});

}  // namespace moe::selftest
