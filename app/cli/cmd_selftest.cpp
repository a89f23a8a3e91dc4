// `moescope selftest`: runs the op conformance suite (engine/selftest/conformance.h) on one
// Vulkan device with the validation layer on when installed, prints a table of every case and
// exits non-zero if any case fails or any validation message appeared. --json writes it all.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/device_report.h"
#include "selftest/conformance.h"
#include "vk/device.h"
#include "vk/instance.h"

namespace moe::cli {

namespace {

struct SelftestFlags {
    int device = -1;
    std::string jsonPath;
    bool quick = false;
    std::string filter;
    bool noValidation = false;
    bool list = false;
};

std::string throughputText(const selftest::ConformanceResult& r) {
    if (r.gpuMs <= 0) return "-";
    char b[32];
    if (r.unit == selftest::ThroughputUnit::GBps) std::snprintf(b, sizeof b, "%8.2f GB/s", r.gbPerS);
    else std::snprintf(b, sizeof b, "%8.2f GFLOP/s", r.gflopPerS);
    return b;
}

void printRow(const selftest::ConformanceResult& r) {
    char err[16], nmse[16];
    std::snprintf(err, sizeof err, "%.2e", r.maxAbsErr);
    std::snprintf(nmse, sizeof nmse, "%.2e", r.nmse);
    std::printf("%-19s %-28s %-44s %9s %9s  %-4s %-16s %9.3f\n", r.op.c_str(), r.variant.c_str(), r.shape.c_str(), err,
                nmse, r.pass ? "pass" : "FAIL", throughputText(r).c_str(), r.gpuMs);
    if (!r.pass) {
        std::string why = r.error;
        if (why.empty()) {
            char b[96];
            std::snprintf(b, sizeof b, "NMSE %.3e above the tolerance %.1e", r.nmse, r.tolerance);
            why = b;
        }
        std::printf("    ^ %s\n", why.c_str());
    }
    std::fflush(stdout);
}

nlohmann::ordered_json resultJson(const selftest::ConformanceResult& r) {
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
    return {{"op", r.op},
            {"variant", r.variant},
            {"shape", r.shape},
            {"maxAbsErr", num(r.maxAbsErr)},
            {"nmse", num(r.nmse)},
            {"tolerance", r.tolerance},
            {"mismatches", r.mismatches},
            {"validationMessages", r.validationMessages},
            {"pass", r.pass},
            {"error", r.error},
            {"gpuMs", r.gpuMs},
            {"timing", r.timestampTimed ? "timestamps" : "wall"},
            {"reps", r.reps},
            {"bytes", r.bytes},
            {"flops", r.flops},
            {"GBps", r.gbPerS},
            {"GFLOPps", r.gflopPerS},
            {"unit", r.unit == selftest::ThroughputUnit::GBps ? "GB/s" : "GFLOP/s"}};
}

void runSelftest(const SelftestFlags& f) {
    // validation on when the layer is installed: a conformant run has zero messages
    bool validation = !f.noValidation;
    std::string note;
    vk::InstanceOptions io;
    io.validation = validation;
    auto inst = vk::Instance::create(io);
    if (!inst.ok() && validation) {
        note = "note: running without the validation layer (" + inst.error().message + ")";
        validation = false;
        io.validation = false;
        inst = vk::Instance::create(io);
    }
    if (!inst.ok()) return fail(inst.error().message);
    vk::Instance& instance = *inst.value();
    validation = instance.validationEnabled();
    auto idx = instance.chooseDevice(f.device);
    if (!idx.ok()) return fail(idx.error().message);
    auto devr = vk::Device::create(instance, idx.value());
    if (!devr.ok()) return fail(devr.error().message);
    vk::Device& dev = *devr.value();
    const vk::DeviceCaps& caps = dev.caps();

    selftest::ConformanceOptions opts;
    opts.scope = f.quick ? selftest::ConformanceScope::Quick : selftest::ConformanceScope::Full;
    opts.filter = f.filter;
    const auto cases = selftest::listConformance(dev, opts);
    if (cases.empty()) return fail("no selftest case matches --filter '" + f.filter + "' (see --list)");
    if (f.list) {
        for (auto& c : cases) std::printf("%-19s %-28s %s\n", c.op.c_str(), c.variant.c_str(), c.shape.c_str());
        return;
    }

    std::printf("moescope selftest on device %u: %s (%s, %s, Vulkan %s)\n", caps.index, caps.name.c_str(),
                caps.typeName().c_str(), caps.driverName.c_str(), vk::formatVersion(caps.apiVersion).c_str());
    std::printf("validation layer: %s; timing: %s; %s suite%s\n", validation ? "on" : "off",
                caps.timestamps ? "GPU timestamps" : "wall clock", f.quick ? "quick" : "full",
                f.filter.empty() ? "" : (", filter '" + f.filter + "'").c_str());
    if (!note.empty()) std::printf("%s\n", note.c_str());
    std::printf("\n%-19s %-28s %-44s %9s %9s  %-4s %-16s %9s\n", "op", "variant", "shape", "max|err|", "NMSE",
                "", "throughput", "ms/run");
    std::fflush(stdout);

    const auto t0 = std::chrono::steady_clock::now();
    auto results = selftest::runConformance(dev, instance, opts,
                                            [](const selftest::ConformanceResult& r, size_t, size_t) { printRow(r); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    size_t passed = 0, failed = 0;
    uint32_t validationMessages = 0;
    for (auto& r : results) {
        (r.pass ? passed : failed)++;
        validationMessages += r.validationMessages;
    }
    // messages outside any case (device creation, teardown) count too
    validationMessages = std::max(validationMessages, instance.validationMessageCount());
    std::printf("\n%zu passed, %zu failed in %.1f s", passed, failed, seconds);
    if (validation) std::printf(", %u validation message%s", validationMessages, validationMessages == 1 ? "" : "s");
    std::printf("\n");

    if (!f.jsonPath.empty()) {
        nlohmann::ordered_json j = {{"device", capsJson(caps)},
                            {"validation", validation},
                            {"quick", f.quick},
                            {"filter", f.filter},
                            {"passed", passed},
                            {"failed", failed},
                            {"validationMessages", validationMessages},
                            {"seconds", seconds},
                            {"results", nlohmann::ordered_json::array()}};
        for (auto& r : results) j["results"].push_back(resultJson(r));
        std::ofstream out(f.jsonPath);
        out << j.dump(2) << "\n";
        if (!out) return fail("cannot write " + f.jsonPath);
    }
    if (failed || validationMessages) exitCode() = 1;
}

}  // namespace

void registerSelftest(CLI::App& app) {
    auto f = std::make_shared<SelftestFlags>();
    auto* cmd = app.add_subcommand("selftest", "run every GPU op against the CPU reference on a Vulkan device");
    cmd->add_option("--device", f->device, "Vulkan device index (see 'moescope devices'; default: MOESCOPE_DEVICE or the first GPU)");
    cmd->add_option("--json", f->jsonPath, "also write the results and the device's capabilities to this JSON file");
    cmd->add_flag("--quick", f->quick, "smaller shapes (still odd sizes, 1 and 100+ tokens); no >128 MiB tensor");
    cmd->add_option("--filter", f->filter, "run only the cases whose op, variant or shape contains this text");
    cmd->add_flag("--no-validation", f->noValidation, "do not enable the Vulkan validation layer");
    cmd->add_flag("--list", f->list, "list the cases instead of running them");
    cmd->callback([f] { runSelftest(*f); });
}

}  // namespace moe::cli
