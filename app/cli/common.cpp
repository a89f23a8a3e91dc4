// Shared CLI plumbing.
#include "cli/common.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "platform/paths.h"
#include "trace/cache_sim.h"
#include "trace/trace.h"

namespace moe::cli {

void addModelFlags(CLI::App* cmd, ModelFlags& f, bool withBackend, bool cacheSlots) {
    cmd->add_option("-m,--model", f.modelPath, "GGUF model file (default: the bundled model)");
    if (!withBackend) return;
    cmd->add_option("--device", f.backend.device, "Vulkan device index (see 'moescope devices')");
    cmd->add_flag("--cpu", f.backend.cpu, "run the CPU reference instead of Vulkan");
    cmd->add_option("--ctx", f.backend.nCtx, "context size in tokens (default: the model's, at most 4096)");
    cmd->add_option("--batch", f.backend.maxBatch, "prefill batch size")->check(CLI::Range(1, 4096));
    cmd->add_flag("--validation", f.backend.validation, "enable the Vulkan validation layer");
    auto* mib = cmd->add_option("--expert-cache-mb", f.backend.expertCache.budgetMiB,
                                "expert cache: MiB of device memory for the slots of all layers");
    if (cacheSlots)
        cmd->add_option("--expert-cache", f.backend.expertCache.slots,
                        "expert cache: device slots per MoE layer (default: every expert resident when they fit, "
                        "else the most that fit)")
            ->check(CLI::NonNegativeNumber)
            ->excludes(mib);
    cmd->add_option("--cache-policy", f.cachePolicy, "expert cache eviction policy: lru, lfu, lfru, static");
    cmd->add_option("--cache-static", f.cacheStatic, "routing trace the static policy learns its hot set from");
    cmd->add_flag("--prefetch", f.backend.expertCache.prefetch,
                  "expert cache: predict the next layer's experts (cross-layer gate) and upload them ahead");
}

std::string defaultModelPath() { return bundledModelPath(); }

void fail(const std::string& message) {
    std::fprintf(stderr, "moescope: error: %s\n", message.c_str());
    exitCode() = 1;
}

std::unique_ptr<Model> loadModelOrFail(const ModelFlags& f) {
    std::string path = f.modelPath.empty() ? defaultModelPath() : f.modelPath;
    if (f.modelPath.empty() && !std::filesystem::exists(path)) {
        fail("no model given and the bundled model is missing (" + path + "); pass -m FILE");
        return nullptr;
    }
    auto m = loadModel(path);
    if (!m.ok()) {
        fail(m.error().message);
        return nullptr;
    }
    return std::move(m).value();
}

bool resolveCachePolicy(const Model& m, const ModelFlags& f, rt::ExpertCacheOptions& opts) {
    auto policy = cache::parsePolicy(f.cachePolicy);
    if (!policy.ok()) {
        fail(policy.error().message);
        return false;
    }
    opts.policy = policy.value();
    if (opts.policy != cache::Policy::Static) return true;
    if (f.cacheStatic.empty()) {
        fail("--cache-policy static needs --cache-static TRACE (the trace its hot set is learned from)");
        return false;
    }
    auto tr = trace::readTrace(f.cacheStatic);
    if (!tr.ok()) {
        fail(tr.error().message);
        return false;
    }
    auto rank = cache::learnStaticRank(tr.value(), m.cfg.block_count, m.cfg.expert_count);
    if (!rank.ok()) {
        fail(rank.error().message);
        return false;
    }
    opts.staticRank = std::move(rank).value();
    return true;
}

std::unique_ptr<rt::Backend> createBackendOrFail(const Model& m, const ModelFlags& f) {
    rt::BackendOptions opts = f.backend;
    if (!resolveCachePolicy(m, f, opts.expertCache)) return nullptr;
    auto b = rt::createBackend(m, opts);
    if (!b.ok()) {
        fail(b.error().message);
        return nullptr;
    }
    const std::string note = b.value()->setupNote();
    if (!note.empty()) std::fprintf(stderr, "moescope: note: %s\n", note.c_str());
    return std::move(b).value();
}

std::string jsonEscape(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", c);
                    o += b;
                } else {
                    o += char(c);
                }
        }
    }
    return o;
}

bool readFileOrFail(const std::string& path, const char* what, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        fail(std::string("cannot open ") + what + " " + path);
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

}  // namespace moe::cli
