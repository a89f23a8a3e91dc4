// Generation loop.
#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

namespace moe::rt {

namespace {

// Length of the longest prefix of s that ends on a UTF-8 character boundary.
size_t completeUtf8(const std::string& s) {
    size_t n = s.size(), i = n;
    // look back at most 3 bytes for an unfinished sequence
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        unsigned char c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        if (need > back) i = n - back;
        break;
    }
    return i;
}

double msSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Result<GenerateStats> generate(Backend& backend, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                               const GenerateParams& params, const std::function<bool(const TokenEvent&)>& onToken,
                               uint32_t pos0, std::vector<int32_t>* history) {
    GenerateStats st;
    st.promptTokens = uint32_t(prompt.size());
    if (prompt.empty()) return makeError("the prompt is empty");
    const uint32_t nCtx = backend.nCtx();
    if (uint64_t(pos0) + prompt.size() > nCtx)
        return makeError("the prompt (" + std::to_string(pos0 + prompt.size()) + " tokens) exceeds the context length " +
                         std::to_string(nCtx));
    std::vector<int32_t> localHistory;
    std::vector<int32_t>& hist = history ? *history : localHistory;
    hist.insert(hist.end(), prompt.begin(), prompt.end());

    std::vector<float> logits(size_t(tok.vocabSize()));
    auto t0 = std::chrono::steady_clock::now();
    MOE_TRY(backend.forward(prompt.data(), uint32_t(prompt.size()), pos0, logits.data(), false));
    st.prefillMs = msSince(t0);
    uint32_t pos = pos0 + uint32_t(prompt.size());

    Sampler sampler(params.sampler);
    std::vector<int32_t> generated;
    std::string emitted;  // decoded text already streamed
    auto t1 = std::chrono::steady_clock::now();
    st.stopReason = "max tokens";
    for (int32_t i = 0; i < params.maxTokens; ++i) {
        float lp = 0;
        int32_t id = sampler.sample(logits, hist, &lp);
        const bool stop = params.stopTokens.empty()
                              ? tok.isEog(id)
                              : std::find(params.stopTokens.begin(), params.stopTokens.end(), id) != params.stopTokens.end();
        if (params.stopAtEog && stop) {
            st.stopReason = "eog";
            break;
        }
        generated.push_back(id);
        hist.push_back(id);
        ++st.generatedTokens;
        std::string text = tok.decode(generated, params.renderSpecial);
        // SPM drops a leading space only at the very start; keep the delta relative to what was sent
        size_t ready = completeUtf8(text);
        TokenEvent ev;
        ev.id = id;
        ev.logprob = lp;
        ev.position = pos;
        if (ready > emitted.size() && text.compare(0, emitted.size(), emitted) == 0) {
            ev.text = text.substr(emitted.size(), ready - emitted.size());
            emitted = text.substr(0, ready);
        }
        if (!onToken(ev)) {
            st.stopReason = "stopped";
            break;
        }
        if (i + 1 == params.maxTokens) break;
        if (pos >= nCtx) {
            // the context shift: keep [0, nKeep), cut half of the rest, re-evaluate the tail
            // (with the new token) at its new positions; needs every cached token in hist
            const uint32_t keep = std::min(params.context.nKeep, nCtx / 2);
            const uint32_t drop = (pos - keep) / 2;
            if (!params.context.shift || hist.size() != size_t(pos) + 1 || drop == 0) {
                st.stopReason = "context length reached";
                break;
            }
            auto ts = std::chrono::steady_clock::now();
            if (params.onContextShift) params.onContextShift(keep, drop);
            hist.erase(hist.begin() + keep, hist.begin() + keep + drop);
            MOE_TRY(backend.forward(hist.data() + keep, uint32_t(hist.size() - keep), keep, logits.data(), false));
            pos = uint32_t(hist.size());
            ++st.contextShifts;
            st.droppedTokens += drop;
            st.shiftMs += msSince(ts);
            continue;
        }
        MOE_TRY(backend.forward(&id, 1, pos, logits.data(), false));
        ++pos;
        ++st.decodeSteps;
    }
    st.decodeMs = msSince(t1) - st.shiftMs;
    return st;
}

}  // namespace moe::rt
