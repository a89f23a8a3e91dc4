// libFuzzer target for the routing trace readers (JSON Lines and .mstrace): any input must give
// either a trace that passes validate(), survives a binary round trip unchanged and yields
// statistics, or a one-line error naming the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "trace/stats.h"
#include "trace/trace.h"

namespace {

void checkError(const std::string& msg, const char* name) {
    if (msg.rfind(name, 0) != 0 || msg.find('\n') != std::string::npos) __builtin_trap();
}

void exercise(const moe::trace::Trace& tr) {
    using namespace moe::trace;
    if (!validate(tr).ok()) __builtin_trap();
    const std::vector<uint8_t> b = toBinary(tr);
    auto back = parseBinary(b.data(), b.size(), "rt");
    if (!back.ok() || back->ids != tr.ids || back->counts != tr.counts || back->tokens != tr.tokens) __builtin_trap();
    auto s = computeStats(tr, StatsOptions{3, 2});
    if (!s.ok()) __builtin_trap();
    volatile size_t keep = formatStats(*s, true).size() + statsJson(*s).size() + toJsonl(tr).size();
    (void)keep;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto j = moe::trace::parseJsonl({reinterpret_cast<const char*>(data), size}, "fuzz.jsonl");
    if (j.ok()) exercise(*j);
    else checkError(j.error().message, "fuzz.jsonl");
    auto b = moe::trace::parseBinary(data, size, "fuzz.mstrace");
    if (b.ok()) exercise(*b);
    else checkError(b.error().message, "fuzz.mstrace");
    return 0;
}
