// The binary trace form (.mstrace): magic, version, the JSON header, then packed little-endian
// arrays (docs/trace-format.md). The reader computes every section's size from the header and
// checks it against the bytes present before it allocates anything.
#include <cstring>

#include "trace/trace.h"
#include "trace/trace_internal.h"

namespace moe::trace {

namespace {

constexpr char kMagic[8] = {'M', 'S', 'T', 'R', 'A', 'C', 'E', '\0'};
constexpr uint32_t kMaxHeaderBytes = 1u << 20;
constexpr uint16_t kNoExpert = 0xFFFF;

void putU32(std::vector<uint8_t>& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void putF32(std::vector<uint8_t>& b, float f) {
    uint32_t v;
    std::memcpy(&v, &f, 4);
    putU32(b, v);
}
void putU64(std::vector<uint8_t>& b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

// One step-layer record of the cache telemetry section: 8 u64 counters, then wait_ms as f64.
constexpr uint64_t kCacheRecordBytes = 8 * 8 + 8;

struct Reader {
    const uint8_t* p;
    size_t left;
    uint32_t u32() {
        uint32_t v = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
        p += 4, left -= 4;
        return v;
    }
    uint16_t u16() {
        uint16_t v = uint16_t(p[0] | p[1] << 8);
        p += 2, left -= 2;
        return v;
    }
    uint8_t u8() {
        --left;
        return *p++;
    }
    float f32() {
        uint32_t v = u32();
        float f;
        std::memcpy(&f, &v, 4);
        return f;
    }
    uint64_t u64() {
        const uint64_t lo = u32();
        return lo | uint64_t(u32()) << 32;
    }
    double f64() {
        uint64_t v = u64();
        double d;
        std::memcpy(&d, &v, 8);
        return d;
    }
};

}  // namespace

std::vector<uint8_t> toBinary(const Trace& tr, const WriteOptions& opts) {
    const TraceInfo& in = tr.info;
    const bool probs = in.hasProbs && opts.probs;
    const int32_t digits = opts.probDigits >= 0 ? opts.probDigits : in.probDigits;
    // version 2 only when the optional sections follow, so other files stay readable by version 1
    const detail::Sections sec = detail::sectionsOf(tr);
    const uint32_t version = sec.any() ? 2 : 1;
    const std::string header = detail::headerJson(in, tr.nTokens(), !tr.pieces.empty(), opts, sec, version)
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const size_t T = tr.nTokens(), rows = T * in.nLayer;
    std::vector<uint8_t> b(kMagic, kMagic + 8);
    b.reserve(64 + header.size() + T * 8 + rows * (1 + 4 + in.kMax * 6 + (probs ? in.nExpert * 4 : 0)));
    putU32(b, version);
    putU32(b, uint32_t(header.size()));
    b.insert(b.end(), header.begin(), header.end());
    for (int32_t v : tr.tokens) putU32(b, uint32_t(v));
    for (int32_t v : tr.positions) putU32(b, uint32_t(v));
    for (int32_t v : tr.counts) b.push_back(uint8_t(v));
    for (int32_t v : tr.ids) {
        const uint16_t u = v < 0 ? kNoExpert : uint16_t(v);
        b.push_back(uint8_t(u)), b.push_back(uint8_t(u >> 8));
    }
    for (float v : tr.weights) putF32(b, v);
    for (float v : tr.entropy) putF32(b, v);
    if (probs)
        for (float v : tr.probs) putF32(b, roundProb(v, digits));
    for (const std::string& s : tr.pieces) {
        putU32(b, uint32_t(s.size()));
        b.insert(b.end(), s.begin(), s.end());
    }
    for (int32_t v : tr.steps) putU32(b, uint32_t(v));
    for (int32_t v : tr.pred) {
        const uint16_t u = v < 0 ? kNoExpert : uint16_t(v);
        b.push_back(uint8_t(u)), b.push_back(uint8_t(u >> 8));
    }
    for (const cache::CacheStats& c : tr.cache) {
        for (uint64_t v : {c.accesses, c.hits, c.misses, c.evictions, c.prefetches, c.prefetchUsed, c.prefetchWasted,
                           c.bytesUploaded})
            putU64(b, v);
        uint64_t w;
        std::memcpy(&w, &c.waitMs, 8);
        putU64(b, w);
    }
    return b;
}

Result<Trace> parseBinary(const uint8_t* data, size_t size, const std::string& name) {
    try {
        auto err = [&](const std::string& why) { return makeError(name + ": " + why); };
        if (size < 16 || std::memcmp(data, kMagic, 8) != 0) return err("not a .mstrace file (bad magic bytes)");
        Reader r{data + 8, size - 8};
        const uint32_t version = r.u32();
        if (version < kMinFormatVersion || version > kFormatVersion)
            return err("trace format version " + std::to_string(version) + " is not supported (this build reads versions " +
                       std::to_string(kMinFormatVersion) + " to " + std::to_string(kFormatVersion) + ")");
        const uint32_t hlen = r.u32();
        if (hlen > kMaxHeaderBytes || hlen > r.left)
            return err("header length " + std::to_string(hlen) + " exceeds the file (" + std::to_string(size) + " bytes)");
        nlohmann::json hj = nlohmann::json::parse(r.p, r.p + hlen, nullptr, false);
        if (hj.is_discarded()) return err("the header is not valid JSON");
        r.p += hlen, r.left -= hlen;
        MOE_ASSIGN(detail::ParsedHeader h, detail::parseHeader(hj, name + ": header"));
        if (h.version != version)
            return err("the header says version " + std::to_string(h.version) + " but the file is version " +
                       std::to_string(version));
        const TraceInfo& in = h.info;
        const detail::Sections& sec = h.sections;
        // every factor is bounded by the header limits (T < 2^31, L <= 4096, E <= 65535, kMax <= 255)
        const uint64_t T = h.nTokens, rows = T * in.nLayer;
        const uint64_t need = T * 8 + rows * (1 + uint64_t(in.kMax) * 6 + 4) + (in.hasProbs ? rows * in.nExpert * 4 : 0) +
                              (h.hasPieces ? T * 4 : 0) + (sec.steps ? T * 4 : 0) + (sec.pred ? rows * in.kMax * 2 : 0);
        if (need > r.left)
            return err("the header describes " + std::to_string(T) + " tokens (" + std::to_string(need) +
                       " bytes of arrays) but only " + std::to_string(r.left) + " bytes follow it");
        Trace tr;
        tr.info = in;
        tr.tokens.resize(T);
        tr.positions.resize(T);
        tr.counts.resize(rows);
        tr.ids.resize(rows * in.kMax);
        tr.weights.resize(rows * in.kMax);
        tr.entropy.resize(rows);
        for (auto& v : tr.tokens) v = int32_t(r.u32());
        for (auto& v : tr.positions) v = int32_t(r.u32());
        for (auto& v : tr.counts) v = r.u8();
        for (auto& v : tr.ids) {
            const uint16_t u = r.u16();
            v = u == kNoExpert ? -1 : int32_t(u);
        }
        for (auto& v : tr.weights) v = r.f32();
        for (auto& v : tr.entropy) v = r.f32();
        if (in.hasProbs) {
            tr.probs.resize(rows * in.nExpert);
            for (auto& v : tr.probs) v = r.f32();
        }
        if (h.hasPieces) {
            tr.pieces.resize(T);
            for (uint64_t t = 0; t < T; ++t) {
                if (r.left < 4) return err("the token pieces end early (token " + std::to_string(t) + ")");
                const uint32_t n = r.u32();
                if (n > r.left) return err("token piece " + std::to_string(t) + " runs past the end of the file");
                tr.pieces[t].assign(reinterpret_cast<const char*>(r.p), n);
                r.p += n, r.left -= n;
            }
        }
        if (sec.steps) {
            if (r.left < T * 4) return err("the step section ends early");
            tr.steps.resize(T);
            for (auto& v : tr.steps) v = int32_t(r.u32());
        }
        if (sec.pred) {
            if (r.left < rows * in.kMax * 2) return err("the prediction section ends early");
            tr.pred.resize(rows * in.kMax);
            for (auto& v : tr.pred) {
                const uint16_t u = r.u16();
                v = u == kNoExpert ? -1 : int32_t(u);
            }
        }
        if (sec.telemetry) {
            uint64_t nSteps = 0;  // counted from the step section (validate() checks it afterwards)
            for (uint64_t t = 0; t < T; ++t) nSteps += t == 0 || tr.steps.empty() || tr.steps[t] != tr.steps[t - 1];
            if (r.left < nSteps * in.nLayer * kCacheRecordBytes)
                return err("the cache telemetry section ends early (" + std::to_string(nSteps) + " steps x " +
                           std::to_string(in.nLayer) + " layers expected)");
            tr.cache.resize(nSteps * in.nLayer);
            for (cache::CacheStats& c : tr.cache) {
                for (uint64_t* f : {&c.accesses, &c.hits, &c.misses, &c.evictions, &c.prefetches, &c.prefetchUsed,
                                    &c.prefetchWasted, &c.bytesUploaded})
                    *f = r.u64();
                c.waitMs = r.f64();
            }
        }
        if (r.left != 0) return err(std::to_string(r.left) + " unexpected bytes after the last section");
        Status st = validate(tr);
        if (!st.ok()) return err(st.message());
        return tr;
    } catch (const std::exception& e) {
        return makeError(name + ": cannot read the trace (" + std::string(e.what()) + ")");
    }
}

}  // namespace moe::trace
