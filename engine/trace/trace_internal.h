// Shared by the two trace readers/writers: the header object (the same JSON in both forms).
#pragma once
#include <nlohmann/json.hpp>

#include "trace/trace.h"

namespace moe::trace::detail {

// The header fields common to both forms (JSONL adds "tokens").
nlohmann::json headerJson(const TraceInfo& info, size_t nTokens, bool hasPieces, const WriteOptions& opts);

struct ParsedHeader {
    TraceInfo info;
    uint64_t nTokens = 0;
    bool hasPieces = false;
};
// Checks format, version, types and limits. `where` prefixes messages ("file.jsonl:1").
Result<ParsedHeader> parseHeader(const nlohmann::json& j, const std::string& where);

// Sizes of a trace's arrays for T tokens (each bounded by the reader limits, so no overflow).
inline uint64_t rowCount(const TraceInfo& i, uint64_t T) { return T * i.nLayer; }

}  // namespace moe::trace::detail
