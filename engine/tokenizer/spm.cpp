// SentencePiece-style tokenization (tokenizer.ggml.model = "llama"), the algorithm llama.cpp
// uses: spaces become U+2581, the text starts as one symbol per UTF-8 character, and adjacent
// symbols are merged greedily, the pair whose concatenation is the highest-scoring vocabulary
// piece first (leftmost on ties). Characters no piece covers fall back to <0xXX> byte tokens.
#include <queue>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace moe {

namespace {

struct SpmSymbol {
    ptrdiff_t prev, next;  // neighbours in the live list, -1 at the ends
    size_t off, len;       // bytes of the escaped text; len == 0 once merged into the left neighbour
};

struct SpmBigram {
    float score;
    ptrdiff_t left, right;
    size_t len;  // left.len + right.len when queued; a mismatch later means the entry is stale
};

struct SpmBigramOrder {  // std::priority_queue pops the "largest": highest score, then leftmost
    bool operator()(const SpmBigram& a, const SpmBigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

void Tokenizer::encodeSpm(std::string_view text, bool addPrefix, std::vector<int32_t>& out) const {
    // escape: ' ' -> U+2581, with the dummy prefix
    std::string s;
    s.reserve(text.size() + 3);
    if (addPrefix) s += "\xE2\x96\x81";
    for (char c : text) {
        if (c == ' ') s += "\xE2\x96\x81";
        else s += c;
    }
    if (s.empty()) return;

    std::vector<SpmSymbol> syms;
    syms.reserve(s.size());
    for (size_t off = 0; off < s.size();) {
        size_t len = 1;  // a malformed sequence is split into single bytes, so it cannot swallow a ▁
        unicode::decodeUtf8(s, off, &len);
        const auto idx = ptrdiff_t(syms.size());
        syms.push_back({idx - 1, off + len < s.size() ? idx + 1 : -1, off, len});
        off += len;
    }

    std::priority_queue<SpmBigram, std::vector<SpmBigram>, SpmBigramOrder> queue;
    auto tryAdd = [&](ptrdiff_t l, ptrdiff_t r) {
        if (l < 0 || r < 0) return;
        const size_t len = syms[l].len + syms[r].len;
        auto it = pieceToId_.find(std::string_view(s).substr(syms[l].off, len));
        if (it == pieceToId_.end()) return;
        queue.push({vocab_[it->second].score, l, r, len});
    };
    for (size_t i = 1; i < syms.size(); ++i) tryAdd(ptrdiff_t(i) - 1, ptrdiff_t(i));

    while (!queue.empty()) {
        const SpmBigram b = queue.top();
        queue.pop();
        SpmSymbol& left = syms[b.left];
        SpmSymbol& right = syms[b.right];
        if (left.len == 0 || right.len == 0 || left.len + right.len != b.len) continue;  // stale
        left.len += right.len;
        right.len = 0;
        left.next = right.next;
        if (right.next >= 0) syms[right.next].prev = b.left;
        tryAdd(left.prev, b.left);
        tryAdd(b.left, left.next);
    }

    for (ptrdiff_t i = 0; i >= 0; i = syms[i].next) {
        const std::string_view piece = std::string_view(s).substr(syms[i].off, syms[i].len);
        auto it = pieceToId_.find(piece);
        if (it != pieceToId_.end()) {
            out.push_back(it->second);
            continue;
        }
        for (char c : piece) pushByteFallback(uint8_t(c), out);
    }
}

}  // namespace moe
