// Context windows of conversations longer than the KV cache.
#include "runtime/context.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"

namespace moe::rt {

namespace {

size_t commonPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

}  // namespace

std::vector<int32_t> contextWindow(const std::vector<int32_t>& full, uint32_t nKeep, uint32_t dropped) {
    const size_t keep = std::min<size_t>(nKeep, full.size());
    const size_t tail = std::min(full.size(), keep + dropped);
    std::vector<int32_t> w(full.begin(), full.begin() + long(keep));
    w.insert(w.end(), full.begin() + long(tail), full.end());
    return w;
}

ContextPlan planContext(const std::vector<int32_t>& full, const std::vector<int32_t>& cached, uint32_t nKeep,
                        uint32_t dropped, uint32_t nCtx) {
    const size_t n = full.size();
    const uint32_t keep = uint32_t(std::min<size_t>({nKeep, nCtx / 2, n}));
    // cuts that leave at least one token after the kept prefix
    const uint32_t maxDrop = n > keep ? uint32_t(n - keep - 1) : 0;
    ContextPlan best;
    bool found = false;
    auto consider = [&](int64_t d) {
        if (d < 0 || d > maxDrop || n - size_t(d) > nCtx) return;
        std::vector<int32_t> w = contextWindow(full, keep, uint32_t(d));
        const uint32_t reuse = uint32_t(commonPrefix(w, cached));
        if (!found || reuse > best.reuse || (reuse == best.reuse && uint32_t(d) < best.dropped)) {
            best = {std::move(w), reuse, uint32_t(d)};
            found = true;
        }
    };
    consider(0);
    for (int64_t delta = -16; delta <= 16; ++delta) consider(int64_t(dropped) + delta);
    if (!found) {
        // it does not fit: drop the oldest half of the rest until it does
        uint32_t d = std::min(dropped, maxDrop);
        while (n - d > nCtx && d < maxDrop) d += std::max<uint32_t>(1, uint32_t((n - keep - d) / 2));
        d = std::min(d, maxDrop);
        best.window = contextWindow(full, keep, d);
        best.reuse = uint32_t(commonPrefix(best.window, cached));
        best.dropped = d;
    }
    if (!best.window.empty() && best.reuse >= best.window.size()) best.reuse = uint32_t(best.window.size() - 1);
    return best;
}

uint32_t chatKeepTokens(const ChatTemplate& tmpl, const Tokenizer& tok, const std::vector<ChatMessage>& conversation,
                        const std::vector<int32_t>& full, const ChatOptions& options) {
    std::vector<ChatMessage> system;
    for (const ChatMessage& m : conversation) {
        if (m.role != "system") break;
        system.push_back(m);
    }
    // ChatML inserts its default system prompt before the first turn; alone it renders nothing
    if (system.empty() && !tmpl.defaultSystem().empty()) system.push_back({"system", tmpl.defaultSystem()});
    return uint32_t(commonPrefix(tmpl.encode(tok, system, false, options), full));
}

}  // namespace moe::rt
