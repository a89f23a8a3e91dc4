// Shared by the two trace readers/writers: the header object (the same JSON in both forms).
#pragma once
#include <nlohmann/json.hpp>

#include "trace/trace.h"

namespace moe::trace::detail {

// The optional parts a file holds, declared in its header ("steps", "pred", cache "telemetry").
struct Sections {
    bool steps = false, pred = false, telemetry = false;
    bool any() const { return steps || pred || telemetry; }
};
inline Sections sectionsOf(const Trace& tr) { return {!tr.steps.empty(), !tr.pred.empty(), !tr.cache.empty()}; }

// The header fields common to both forms (JSONL adds "tokens"). Optional keys are written only
// when present, so a trace without them gives the same header as before they existed.
nlohmann::json headerJson(const TraceInfo& info, size_t nTokens, bool hasPieces, const WriteOptions& opts,
                          const Sections& sections, uint32_t version);

struct ParsedHeader {
    TraceInfo info;
    uint64_t nTokens = 0;
    bool hasPieces = false;
    Sections sections;
    uint32_t version = 0;
};
// Checks format, version, types and limits. `where` prefixes messages ("file.jsonl:1").
Result<ParsedHeader> parseHeader(const nlohmann::json& j, const std::string& where);

// Sizes of a trace's arrays for T tokens (each bounded by the reader limits, so no overflow).
inline uint64_t rowCount(const TraceInfo& i, uint64_t T) { return T * i.nLayer; }

}  // namespace moe::trace::detail
