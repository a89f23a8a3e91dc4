// Text and JSON forms of `moescope bench` results.
#include "cli/bench_report.h"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/common.h"
#include "cli/device_report.h"

namespace moe::cli {

namespace {

constexpr double kMiB = 1048576.0;

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string params(uint64_t n) { return n >= 1000000000ull ? fmt("%.2fB", n / 1e9) : fmt("%.2fM", n / 1e6); }

double gflops(const TestResult& t) { return t.flopsPerToken * t.tokPerS.mean / 1e9; }
double gbps(const TestResult& t) { return double(t.bytes.total()) * t.tokPerS.mean / 1e9; }

std::string shapeText(const ModelInfo& m) {
    const ModelConfig& c = m.cfg;
    char b[512];
    std::string heads;
    if (c.kv_lora_rank)
        heads = std::to_string(c.head_count) + " heads (latent attention, dim " + std::to_string(c.head_dim) +
                ", kv_lora_rank " + std::to_string(c.kv_lora_rank) + ")";
    else
        heads = std::to_string(c.head_count) + " heads (kv " + std::to_string(c.head_count_kv) + ", dim " +
                std::to_string(c.head_dim) + ")";
    std::string dense = m.denseLayers ? " (" + std::to_string(m.denseLayers) + " dense)" : "";
    std::snprintf(b, sizeof b, "%u layers%s, n_embd %u, %s, %u experts top-%u%s (FFN %u), vocab %u", c.block_count,
                  dense.c_str(), c.embedding_length, heads.c_str(), c.expert_count, c.expert_used_count,
                  c.expert_shared_feed_forward_length ? " + shared" : "", c.expert_feed_forward_length, c.n_vocab);
    return b;
}

std::string kvText(const ModelInfo& m) {
    char b[256];
    if (m.kvBytesUnlatent)
        std::snprintf(b, sizeof b, "%.2f KiB per token (F32 latent rows; %.2f KiB as keys and values per head, %.1fx more)",
                      m.kvBytesPerToken / 1024.0, m.kvBytesUnlatent / 1024.0, double(m.kvBytesUnlatent) / double(m.kvBytesPerToken));
    else
        std::snprintf(b, sizeof b, "%.2f KiB per token (F32 keys and values)", m.kvBytesPerToken / 1024.0);
    return b;
}

// Rows of a profile: the kernel families, with the lm head split out of mul_mat, and for the
// families whose reads cost.h counts, the bytes and the rate they reach.
struct ProfileRow {
    std::string name;
    double ms = 0;
    uint32_t dispatches = 0;
    uint64_t bytes = 0;
};

std::vector<ProfileRow> profileRows(const StepProfile& p) {
    std::vector<ProfileRow> rows;
    const bool decode = p.bytes.total() > 0;
    for (const rt::FamilyTime& f : p.families) {
        ProfileRow r{f.family, f.ms, f.dispatches, 0};
        if (f.family == "mul_mat" && p.lmHeadMs > 0) {
            r.name = "mul_mat (layers)";
            r.ms -= p.lmHeadMs;
            r.dispatches -= 1;
            if (decode) r.bytes = p.bytes.dense;
            rows.push_back(r);
            r = ProfileRow{"mul_mat (lm head)", p.lmHeadMs, 1, decode ? p.bytes.lmHead : 0};
        } else if (decode && f.family == "mul_mat_moe") {
            r.bytes = p.bytes.experts;
        } else if (decode && f.family == "attention") {
            r.bytes = p.bytes.kv;
        }
        rows.push_back(r);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.ms > b.ms; });
    return rows;
}

nlohmann::ordered_json bytesJson(const TokenBytes& b) {
    return {{"total", b.total()}, {"dense", b.dense}, {"experts", b.experts}, {"lmHead", b.lmHead},
            {"embedding", b.embedding}, {"kv", b.kv}};
}

nlohmann::ordered_json profileJson(const BenchResult& r, const StepProfile& p) {
    nlohmann::ordered_json fam = nlohmann::ordered_json::array();
    for (const ProfileRow& row : profileRows(p)) {
        nlohmann::ordered_json e = {{"family", row.name}, {"ms", row.ms}, {"share", row.ms / p.wallMs},
                                    {"dispatches", row.dispatches}};
        if (row.bytes) e["bytes"] = row.bytes;
        fam.push_back(e);
    }
    nlohmann::ordered_json j = {{"what", p.what},     {"nTok", p.nTok},
                                {"pos", p.pos},       {"steps", p.steps},
                                {"wallMs", p.wallMs}, {"submitMs", p.submitMs},
                                {"kernelMs", p.kernelMs}, {"outsideKernelsMs", p.wallMs - p.kernelMs},
                                {"outsideKernelsShare", (p.wallMs - p.kernelMs) / p.wallMs},
                                {"dispatches", p.counts.dispatches}, {"barriers", p.counts.barriers},
                                {"transfers", p.counts.transfers},   {"submits", p.counts.submits},
                                {"families", fam}};
    if (p.bytes.total()) j["bytes"] = bytesJson(p.bytes);
    return j;
}

}  // namespace

void printProfile(const BenchResult& r, const StepProfile& p) {
    const double outside = p.wallMs - p.kernelMs;
    const double host = p.wallMs - p.submitMs;
    std::printf("\nprofile: %s", p.what.c_str());
    if (p.nTok > 1) std::printf(" of %u tokens from position 0", p.nTok);
    else if (p.steps == 1) std::printf(" at position %u", p.pos);
    else std::printf(" at positions %u..%u (mean of %u steps)", p.pos, p.pos + p.steps - 1, p.steps);
    std::printf("\n  wall %.3f ms = kernels %.3f ms (%.1f%%) + outside kernels %.3f ms (%.1f%%)\n", p.wallMs, p.kernelMs,
                100 * p.kernelMs / p.wallMs, outside, 100 * outside / p.wallMs);
    std::printf("  outside kernels = host recording and copies %.3f ms + submit-to-fence beyond the kernels %.3f ms\n",
                host, p.submitMs - p.kernelMs);
    std::printf("  %llu dispatches, %llu barriers, %llu fills/copies, %llu submits",
                (unsigned long long)p.counts.dispatches, (unsigned long long)p.counts.barriers,
                (unsigned long long)p.counts.transfers, (unsigned long long)p.counts.submits);
    if (r.hasRoofline && r.roofline.dispatchFloorUs > 0) {
        const double floorMs = r.roofline.dispatchFloorUs * 1e-3 * double(p.counts.dispatches);
        std::printf("; empty-dispatch floor %.1f us x %llu = %.3f ms (%.1f%% of wall, inside the kernel time)",
                    r.roofline.dispatchFloorUs, (unsigned long long)p.counts.dispatches, floorMs,
                    100 * floorMs / p.wallMs);
    }
    std::printf("\n\n| kernel family | ms | %% of wall | dispatches | us/dispatch | MiB read | GB/s |\n");
    std::printf("| :-- | --: | --: | --: | --: | --: | --: |\n");
    for (const ProfileRow& row : profileRows(p)) {
        std::printf("| %s | %.3f | %.1f | %u | %.1f | %s | %s |\n", row.name.c_str(), row.ms, 100 * row.ms / p.wallMs,
                    row.dispatches, row.dispatches ? 1e3 * row.ms / row.dispatches : 0.0,
                    row.bytes ? fmt("%.2f", row.bytes / kMiB).c_str() : "",
                    row.bytes && row.ms > 0 ? fmt("%.2f", row.bytes / (row.ms * 1e6)).c_str() : "");
    }
    std::printf("| (outside kernels) | %.3f | %.1f | | | | |\n", outside, 100 * outside / p.wallMs);
}

void printHeader(const BenchResult& r) {
    const ModelInfo& m = r.model;
    if (r.backend == "Vulkan") {
        const vk::DeviceCaps& c = r.caps;
        std::printf("device      %u: %s (%s); driver %s%s; Vulkan %s\n", c.index, c.name.c_str(), c.typeName().c_str(),
                    c.driverName.c_str(), c.driverInfo.empty() ? "" : (" " + c.driverInfo).c_str(),
                    vk::formatVersion(c.apiVersion).c_str());
    } else {
        std::printf("device      %s\n", r.backend.c_str());
    }
    std::printf("model       %s: %s, %s, %s\n", m.cfg.name.c_str(), archName(m.cfg.arch), m.path.c_str(),
                bytesText(m.fileBytes).c_str());
    std::printf("shape       %s\n", shapeText(m).c_str());
    std::printf("kv cache    %s\n", kvText(m).c_str());
    std::printf("types      ");
    for (const TypeCount& t : m.types) std::printf(" %s x%u (%s)", t.type.c_str(), t.tensors, bytesText(t.bytes).c_str());
    std::printf("\nparameters  %s total, %s active per token\n", params(m.paramsTotal).c_str(),
                params(m.paramsActive).c_str());
    if (!r.experts.empty()) std::printf("experts     %s\n", r.experts.c_str());
    if (r.hasRoofline) {
        const selftest::Roofline& f = r.roofline;
        std::printf("roofline    read %.2f GB/s (%s; %s buffer, best of %zu shapes)\n", f.readGBps,
                    selftest::readShapeText(f.best).c_str(), bytesText(f.readBytes).c_str(), f.shapes.size());
        if (f.best.texel)
            std::printf("            read %.2f GB/s through buffer device addresses, as the kernels read (%s)\n",
                        f.addressReadGBps, selftest::readShapeText(f.bestAddress).c_str());
        std::printf("            f32 FMA %.1f GFLOP/s", f.peakGflops);
        if (f.dispatchFloorUs > 0)
            std::printf(", empty dispatch %.1f us + %.0f ns per workgroup of %u", f.dispatchFloorUs, f.workgroupCostNs,
                        f.workgroupCostSize);
        std::printf("\n");
        if (f.hostReadGBps > 0)
            std::printf("host        read %.2f GB/s (plain C++, %u threads, same size): the memory outside the driver\n",
                        f.hostReadGBps, f.hostThreads);
    }
    std::printf("method      ppN: one forward of N tokens from position 0 in batches of %u; tgN: N greedy single-token\n"
                "            steps after a prompt of %u tokens; %u timed runs after a warm-up; t/s = mean ± stddev\n",
                r.batch, r.decodePrompt, r.reps);
    if (r.loadBefore >= 0) std::printf("load        %.2f (1-minute load average before the runs)\n", r.loadBefore);
    if (r.cacheSweep) {
        std::printf("experts     slots per MoE layer of %u (%s policy%s); MiB/tok: weights the kernels read; hit %%: "
                    "experts a step needed that were resident; MiB up/tok: expert uploads\n",
                    m.cfg.expert_count, r.cachePolicy.c_str(), r.cachePrefetch ? ", prefetch" : "");
        std::printf("\n| test | slots | t/s | ms/tok | MiB/tok | GB/s | %% of bw | %% of addr bw | GFLOP/s | %% of FMA | hit %% "
                    "| MiB up/tok |\n");
        std::printf("| :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n");
    } else {
        std::printf("\n| test | t/s | ms/tok | MiB/tok | GB/s | %% of bw | %% of addr bw | GFLOP/s | %% of FMA |\n");
        std::printf("| :-- | --: | --: | --: | --: | --: | --: | --: | --: |\n");
    }
    std::fflush(stdout);
}

void printRow(const BenchResult& r, const TestResult& t) {
    const double tps = t.tokPerS.mean;
    std::string mib = "", gb = "", bw = "", addr = "", peak = "";
    if (t.decode && t.bytes.total()) {
        mib = fmt("%.2f", t.bytes.total() / kMiB);
        gb = fmt("%.2f", gbps(t));
        if (r.hasRoofline && r.roofline.readGBps > 0) bw = fmt("%.1f", 100 * gbps(t) / r.roofline.readGBps);
        if (r.hasRoofline && r.roofline.addressReadGBps > 0)
            addr = fmt("%.1f", 100 * gbps(t) / r.roofline.addressReadGBps);
    }
    if (r.hasRoofline && r.roofline.peakGflops > 0) peak = fmt("%.1f", 100 * gflops(t) / r.roofline.peakGflops);
    std::printf("| %s |", t.name.c_str());
    if (r.cacheSweep) std::printf(" %u%s |", t.slots, t.cached ? "" : " (all)");
    std::printf(" %.2f ± %.2f | %.2f | %s | %s | %s | %s | %.2f | %s |", tps, t.tokPerS.stddev, tps > 0 ? 1e3 / tps : 0.0,
                mib.c_str(), gb.c_str(), bw.c_str(), addr.c_str(), gflops(t), peak.c_str());
    if (r.cacheSweep)
        std::printf(" %.1f | %.3f |", t.cached ? 100 * t.cache.hitRate() : 100.0,
                    t.cacheTokens ? double(t.cache.bytesUploaded) / double(t.cacheTokens) / kMiB : 0.0);
    std::printf("\n");
    std::fflush(stdout);
}

void printSkipped(const BenchResult& r) {
    for (const std::string& s : r.skipped) std::printf("skipped: %s\n", s.c_str());
}

void printLoadAfter(const BenchResult& r) {
    if (r.loadAfter >= 0) std::printf("\nload        %.2f after the runs\n", r.loadAfter);
}

void printJson(const BenchResult& r) {
    nlohmann::ordered_json j;
    j["backend"] = r.backend;
    if (r.backend == "Vulkan") {
        j["device"] = {{"index", r.caps.index},
                       {"name", r.caps.name},
                       {"type", r.caps.typeName()},
                       {"driverName", r.caps.driverName},
                       {"driverInfo", r.caps.driverInfo},
                       {"apiVersion", vk::formatVersion(r.caps.apiVersion)}};
    }
    const ModelInfo& m = r.model;
    nlohmann::ordered_json types = nlohmann::ordered_json::object();
    for (const TypeCount& t : m.types) types[t.type] = {{"tensors", t.tensors}, {"bytes", t.bytes}};
    const ModelConfig& c = m.cfg;
    j["model"] = {{"name", c.name},
                  {"arch", archName(c.arch)},
                  {"file", m.path},
                  {"fileBytes", m.fileBytes},
                  {"types", types},
                  {"paramsTotal", m.paramsTotal},
                  {"paramsActive", m.paramsActive},
                  {"n_layer", c.block_count},
                  {"n_embd", c.embedding_length},
                  {"n_head", c.head_count},
                  {"n_head_kv", c.head_count_kv},
                  {"n_expert", c.expert_count},
                  {"n_expert_used", c.expert_used_count},
                  {"n_ff_exp", c.expert_feed_forward_length},
                  {"n_ff_shexp", c.expert_shared_feed_forward_length},
                  {"n_vocab", c.n_vocab},
                  {"dense_layers", m.denseLayers},
                  {"kv_lora_rank", c.kv_lora_rank},
                  {"kvBytesPerToken", m.kvBytesPerToken},
                  {"kvBytesPerTokenWithoutMla", m.kvBytesUnlatent ? m.kvBytesUnlatent : m.kvBytesPerToken}};
    j["settings"] = {{"reps", r.reps}, {"nCtx", r.nCtx}, {"batch", r.batch}, {"decodePrompt", r.decodePrompt}};
    if (!r.experts.empty()) j["settings"]["experts"] = r.experts;
    if (r.cacheSweep) j["settings"]["cache"] = {{"policy", r.cachePolicy}, {"prefetch", r.cachePrefetch}};
    if (r.hasRoofline) {
        const selftest::Roofline& f = r.roofline;
        nlohmann::ordered_json shapes = nlohmann::ordered_json::array();
        for (const selftest::ReadShape& s : f.shapes)
            shapes.push_back({{"order", selftest::readOrderName(s.order)}, {"source", s.texel ? "texel buffer" : "address"},
                              {"wordBits", s.texel ? 32 : s.wide ? 64 : 32},
                              {"workgroup", s.workgroup}, {"groups", s.groups}, {"probeGBps", s.probeGBps},
                              {"GBps", s.gbPerS}});
        j["roofline"] = {{"readBytes", f.readBytes},
                         {"readGBps", f.readGBps},
                         {"readShape", selftest::readShapeText(f.best)},
                         {"addressReadGBps", f.addressReadGBps},
                         {"addressReadShape", selftest::readShapeText(f.bestAddress)},
                         {"peakGflops", f.peakGflops},
                         {"fmaChains", f.fmaChains},
                         {"dispatchFloorUs", f.dispatchFloorUs},
                         {"workgroupCostNs", f.workgroupCostNs},
                         {"workgroupCostSize", f.workgroupCostSize},
                         {"hostReadGBps", f.hostReadGBps},
                         {"hostThreads", f.hostThreads},
                         {"shapes", shapes}};
    }
    nlohmann::ordered_json tests = nlohmann::ordered_json::array();
    for (const TestResult& t : r.tests) {
        nlohmann::ordered_json e = {{"test", t.name},
                                    {"kind", t.decode ? "decode" : "prefill"},
                                    {"nTok", t.nTok},
                                    {"tokPerS", t.tokPerS.mean},
                                    {"tokPerSStddev", t.tokPerS.stddev},
                                    {"samples", t.tokPerS.samples},
                                    {"flopsPerToken", t.flopsPerToken},
                                    {"gflops", gflops(t)}};
        if (r.hasRoofline && r.roofline.peakGflops > 0) e["computeEfficiency"] = gflops(t) / r.roofline.peakGflops;
        if (r.cacheSweep) {
            const cache::CacheStats& c = t.cache;
            e["experts"] = {{"slots", t.slots},
                            {"resident", !t.cached},
                            {"tokens", t.cacheTokens},
                            {"accesses", c.accesses},
                            {"hits", c.hits},
                            {"misses", c.misses},
                            {"hitRate", t.cached ? c.hitRate() : 1.0},
                            {"evictions", c.evictions},
                            {"prefetches", c.prefetches},
                            {"prefetchUsed", c.prefetchUsed},
                            {"prefetchWasted", c.prefetchWasted},
                            {"bytesUploaded", c.bytesUploaded},
                            {"bytesUploadedPerToken", t.cacheTokens ? double(c.bytesUploaded) / double(t.cacheTokens) : 0.0},
                            {"waitMs", c.waitMs}};
        }
        if (t.decode && t.bytes.total()) {
            e["bytesPerToken"] = bytesJson(t.bytes);
            e["GBps"] = gbps(t);
            if (r.hasRoofline && r.roofline.readGBps > 0) e["bandwidthEfficiency"] = gbps(t) / r.roofline.readGBps;
            if (r.hasRoofline && r.roofline.addressReadGBps > 0)
                e["addressBandwidthEfficiency"] = gbps(t) / r.roofline.addressReadGBps;
        }
        tests.push_back(e);
    }
    j["tests"] = tests;
    j["skipped"] = r.skipped;
    if (r.decodeProfiled) j["profile"]["decode"] = profileJson(r, r.decodeProfile);
    if (r.prefillProfiled) j["profile"]["prefill"] = profileJson(r, r.prefillProfile);
    j["loadAverage"] = {{"before", r.loadBefore}, {"after", r.loadAfter}};
    std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace moe::cli
