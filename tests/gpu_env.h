// Shared Vulkan device for GPU tests: validation layer with synchronization validation always
// on; every test case checks that it caused zero validation messages, counted over every Vulkan
// instance of the process (engine objects such as a Session create their own, with validation
// from MOESCOPE_VALIDATION / MOESCOPE_SYNC_VALIDATION, which ctest sets for GPU tests).
#pragma once
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/types.h"
#include "vk/commands.h"
#include "vk/device.h"
#include "vk/instance.h"

namespace moe::test {

struct GpuEnv {
    std::unique_ptr<vk::Instance> instance;
    std::unique_ptr<vk::Device> device;

    static GpuEnv& get() {
        static GpuEnv env = [] {
            GpuEnv e;
            vk::InstanceOptions opts;
            opts.validation = true;
            opts.syncValidation = true;
            auto inst = vk::Instance::create(opts);
            if (!inst.ok()) {
                std::fprintf(stderr, "GPU tests: %s\n", inst.error().message.c_str());
                std::exit(1);
            }
            e.instance = std::move(inst).value();
            auto idx = e.instance->chooseDevice(-1);
            if (!idx.ok()) {
                std::fprintf(stderr, "GPU tests: %s\n", idx.error().message.c_str());
                std::exit(1);
            }
            auto dev = vk::Device::create(*e.instance, idx.value());
            if (!dev.ok()) {
                std::fprintf(stderr, "GPU tests: %s\n", dev.error().message.c_str());
                std::exit(1);
            }
            e.device = std::move(dev).value();
            return e;
        }();
        return env;
    }
    static vk::Device& dev() { return *get().device; }
    static uint32_t validationCount() {
        get();
        return vk::validationMessagesInProcess();
    }
};

// The weight read paths of the device's mul_mat kernels (kernels_matmul.cpp): texel views
// (texel = true; when enabled, as on CPU-type devices) and device addresses (always). Tests of
// the weight kernels run every case on each, under a WeightReadPath.
inline std::vector<bool> weightReadPaths() {
    if (GpuEnv::dev().texelWeights()) return {true, false};
    return {false};
}
struct WeightReadPath {
    bool saved;
    explicit WeightReadPath(bool texel) : saved(GpuEnv::dev().texelWeights()) {
        GpuEnv::dev().setTexelWeights(texel);
    }
    ~WeightReadPath() { GpuEnv::dev().setTexelWeights(saved); }
    WeightReadPath(const WeightReadPath&) = delete;
    WeightReadPath& operator=(const WeightReadPath&) = delete;
};

// The shaders a Commands created with timestamps ran, in order (after its submission completed):
// which kernel variant the runtime chose.
inline std::vector<std::string> kernelNames(vk::Commands& cmd) {
    std::vector<std::string> names;
    for (const vk::KernelTime& k : cmd.kernelTimes()) names.push_back(k.name);
    return names;
}
inline bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
// On devices that read through texel views, products of the 16-byte texel types with rows of a
// multiple of 16 values run the row-per-invocation kernels; everything else keeps mul_mat.comp.
inline bool expectRowKernel(GgmlType t, uint32_t cols) {
    return GpuEnv::dev().texelWeights() && t != GgmlType::Q4_K && t != GgmlType::Q6_K && cols % 16 == 0;
}

// Allocate a device buffer and fill it from host data.
template <class T>
inline vk::Buffer upload(const std::vector<T>& data, vk::MemoryTag tag = vk::MemoryTag::Scratch) {
    auto& d = GpuEnv::dev();
    auto b = d.allocate(data.size() * sizeof(T), vk::MemoryKind::Device, tag, "test");
    REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().message));
    auto s = d.upload(b.value(), 0, data.data(), data.size() * sizeof(T));
    REQUIRE_MESSAGE(s.ok(), s.message());
    return std::move(b).value();
}

inline vk::Buffer deviceBuffer(size_t bytes, vk::MemoryTag tag = vk::MemoryTag::Scratch) {
    auto b = GpuEnv::dev().allocate(bytes, vk::MemoryKind::Device, tag, "test");
    REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().message));
    return std::move(b).value();
}

template <class T>
inline std::vector<T> download(const vk::Buffer& b, size_t count) {
    std::vector<T> out(count);
    auto s = GpuEnv::dev().download(b, 0, out.data(), count * sizeof(T));
    REQUIRE_MESSAGE(s.ok(), s.message());
    return out;
}

// Fails the current test case when it produced validation messages.
struct ValidationGuard {
    uint32_t before = GpuEnv::validationCount();
    ~ValidationGuard() {
        uint32_t after = GpuEnv::validationCount();
        CHECK_MESSAGE(after == before, "Vulkan validation messages: ", after - before);
    }
};

}  // namespace moe::test
