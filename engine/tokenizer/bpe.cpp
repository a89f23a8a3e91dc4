// Byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer regex splits the text into
// words; each word's bytes map to GPT-2's printable characters, one symbol per byte; adjacent
// symbols merge by rank (lowest first, leftmost on ties) until no ranked pair is left. Symbols
// are token ids, so a merge is one hash lookup of (left id, right id).
#include <queue>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace moe {

namespace {

struct BpeSymbol {
    int32_t id;            // token id, -1 for a byte the vocabulary has no character for
    ptrdiff_t prev, next;  // neighbours in the live list, -1 at the ends
    bool dead;             // merged into the left neighbour
};

struct BpeBigram {
    int32_t rank;
    ptrdiff_t left, right;
    int32_t leftId, rightId;  // ids when queued; a change later means the entry is stale
    int32_t result;           // id of the merged token
};

struct BpeBigramOrder {  // std::priority_queue pops the "largest": lowest rank, then leftmost
    bool operator()(const BpeBigram& a, const BpeBigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

void Tokenizer::encodeBpe(std::string_view text, std::vector<int32_t>& out) const {
    pre_->split(text, [&](size_t off, size_t len) { encodeBpeWord(text.substr(off, len), out); });
}

void Tokenizer::encodeBpeWord(std::string_view word, std::vector<int32_t>& out) const {
    if (pre_->ignoreMerges()) {  // a word that is a token as a whole is taken as is (llama3)
        auto it = pieceToId_.find(unicode::bytesToByteLevel(word));
        if (it != pieceToId_.end()) {
            out.push_back(it->second);
            return;
        }
    }

    std::vector<BpeSymbol> syms(word.size());
    for (size_t i = 0; i < word.size(); ++i) {
        syms[i] = {byteToken_[uint8_t(word[i])], ptrdiff_t(i) - 1, i + 1 < word.size() ? ptrdiff_t(i) + 1 : -1, false};
    }

    std::priority_queue<BpeBigram, std::vector<BpeBigram>, BpeBigramOrder> queue;
    auto tryAdd = [&](ptrdiff_t l, ptrdiff_t r) {
        if (l < 0 || r < 0 || syms[l].id < 0 || syms[r].id < 0) return;
        const uint64_t key = (uint64_t(uint32_t(syms[l].id)) << 32) | uint32_t(syms[r].id);
        auto it = merges_.find(key);
        if (it == merges_.end()) return;
        queue.push({it->second.rank, l, r, syms[l].id, syms[r].id, it->second.result});
    };
    for (size_t i = 1; i < syms.size(); ++i) tryAdd(ptrdiff_t(i) - 1, ptrdiff_t(i));

    while (!queue.empty()) {
        const BpeBigram b = queue.top();
        queue.pop();
        BpeSymbol& left = syms[b.left];
        BpeSymbol& right = syms[b.right];
        if (left.dead || right.dead || left.next != b.right || left.id != b.leftId || right.id != b.rightId)
            continue;  // stale
        left.id = b.result;
        right.dead = true;
        left.next = right.next;
        if (right.next >= 0) syms[right.next].prev = b.left;
        tryAdd(left.prev, b.left);
        tryAdd(b.left, left.next);
    }

    for (ptrdiff_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
        if (syms[i].id >= 0) out.push_back(syms[i].id);
        else if (unk_) out.push_back(*unk_);  // the vocabulary lacks this byte's character
    }
}

}  // namespace moe
