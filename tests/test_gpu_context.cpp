// Generation up to and past the context length (runtime/context.h): without a shift it stops
// with "context length reached"; with the shift, every token after a shift equals a fresh run
// over the shifted window (CPU reference and Vulkan), and a chat in a Session goes on for many
// times its context with a bounded window.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "cpu/nmse.h"
#include "runtime/context.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "synth_models.h"
#include "vk/instance.h"

using namespace moe;
using namespace moe::rt;

namespace {

SynthSpec contextSpec() {
    SynthSpec s = synthSpecFor(Arch::Qwen2Moe);
    s.n_layer = 3;
    s.weightType = GgmlType::Q8_0;
    return s;
}

std::string modelPath() { return test::synthModelPath("context_qwen2moe", contextSpec()); }

// A backend that remembers the logits of each forward() call.
class RecordingBackend final : public Backend {
public:
    explicit RecordingBackend(Backend& inner) : Backend(inner.model(), inner.options()), inner_(inner) {}
    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override {
        MOE_TRY(inner_.forward(tokens, nTok, pos0, logits, allLogits));
        calls.push_back({pos0, nTok, std::vector<float>(logits, logits + vocab)});
        return {};
    }
    uint32_t nCtx() const override { return inner_.nCtx(); }
    std::string name() const override { return inner_.name(); }
    struct Call {
        uint32_t pos0, nTok;
        std::vector<float> logits;  // of the last token
    };
    std::vector<Call> calls;
    size_t vocab = 0;

private:
    Backend& inner_;
};

// Greedy generation of n tokens past a small context with the shift; then every segment after
// a shift is generated again from its window on a fresh backend: same tokens, same logits.
void shiftEqualsFreshRun(bool cpu) {
    const uint32_t validation0 = vk::validationMessagesInProcess();
    auto model = loadModel(modelPath());
    REQUIRE(model.ok());
    const Model& m = *model.value();
    const Tokenizer& tok = *m.tokenizer;
    BackendOptions bo;
    bo.cpu = cpu;
    bo.nCtx = 48;
    bo.maxBatch = 16;
    auto backend = createBackend(m, bo);
    REQUIRE_MESSAGE(backend.ok(), (backend.ok() ? std::string() : backend.error().message));
    RecordingBackend rec(*backend.value());
    rec.vocab = m.cfg.n_vocab;

    const std::vector<int32_t> prompt = tok.encode("The experts of the first layer", true, false);
    REQUIRE(prompt.size() < 16);
    GenerateParams gp;
    gp.maxTokens = 160;
    gp.stopAtEog = false;
    gp.context = {true, 4};

    // the context as the cache holds it, mirrored from the events
    std::vector<int32_t> ctx = prompt;
    struct Shift {
        std::vector<int32_t> window;  // after the shift, with the token being evaluated last
        size_t generatedBefore = 0;   // tokens generated before it
        size_t call = 0;              // index of the re-evaluation in rec.calls
    };
    std::vector<Shift> shifts;
    std::vector<int32_t> generated;
    gp.onContextShift = [&](uint32_t kept, uint32_t dropped) {
        CHECK(kept == 4);
        ctx.erase(ctx.begin() + kept, ctx.begin() + kept + dropped);
        shifts.push_back({ctx, generated.size(), rec.calls.size()});
    };
    auto st = generate(rec, tok, prompt, gp, [&](const TokenEvent& e) {
        generated.push_back(e.id);
        ctx.push_back(e.id);
        return true;
    });
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
    CHECK(st.value().generatedTokens == 160);
    CHECK(st.value().stopReason == "max tokens");
    CHECK(st.value().contextShifts == shifts.size());
    REQUIRE(shifts.size() >= 3);
    const std::string name = cpu ? "CPU" : "Vulkan";
    double worst = 0;
    size_t compared = 0;

    for (size_t i = 0; i < shifts.size(); ++i) {
        const Shift& sh = shifts[i];
        CAPTURE(i);
        REQUIRE(sh.window.size() < bo.nCtx);
        // the re-evaluation put the kept tail at positions 4.. and produced the logits of the last token
        const auto& call = rec.calls.at(sh.call);
        CHECK(call.pos0 == 4);
        CHECK(call.pos0 + call.nTok == sh.window.size());
        // tokens the original run sampled after this shift, up to the next one
        const size_t end = i + 1 < shifts.size() ? shifts[i + 1].generatedBefore : generated.size();
        const std::vector<int32_t> after(generated.begin() + long(sh.generatedBefore), generated.begin() + long(end));
        REQUIRE(!after.empty());

        auto fresh = createBackend(m, bo);
        REQUIRE(fresh.ok());
        RecordingBackend frec(*fresh.value());
        frec.vocab = m.cfg.n_vocab;
        GenerateParams fp = gp;
        fp.maxTokens = int32_t(after.size());
        fp.context = {};
        fp.onContextShift = {};
        std::vector<int32_t> again;
        auto fs = generate(frec, tok, sh.window, fp, [&](const TokenEvent& e) {
            again.push_back(e.id);
            return true;
        });
        REQUIRE_MESSAGE(fs.ok(), (fs.ok() ? std::string() : fs.error().message));
        CHECK(again == after);
        compared += after.size();
        // the logits after the shift and after the fresh prefill of the same window
        const double e = cpu::nmse(frec.calls.at(0).logits.data(), call.logits.data(), call.logits.size());
        CHECK(e < 1e-9);
        worst = std::max(worst, e);
    }
    MESSAGE(name, ": ", shifts.size(), " shifts, ", st.value().droppedTokens, " tokens dropped; the ", compared,
            " tokens after them equal fresh runs; logits NMSE after a shift at most ", worst);
    CHECK(vk::validationMessagesInProcess() == validation0);
}

}  // namespace

TEST_CASE("context windows: the cut stays put while the conversation fits, halves the rest when it does not") {
    std::vector<int32_t> full(100);
    for (int i = 0; i < 100; ++i) full[i] = i;
    CHECK(contextWindow(full, 3, 10).size() == 90);
    CHECK(contextWindow(full, 3, 10)[3] == 13);

    // fits: nothing dropped, the cached prefix reused
    std::vector<int32_t> cached(full.begin(), full.begin() + 60);
    ContextPlan p = planContext(full, cached, 3, 0, 128);
    CHECK(p.dropped == 0);
    CHECK(p.window == full);
    CHECK(p.reuse == 60);
    // fully cached: the last token is evaluated again for its logits
    p = planContext(cached, cached, 3, 0, 128);
    CHECK(p.reuse == 59);

    // too long for 64: the oldest half after the 3 kept tokens goes (100 -> 3 + 48.5 -> 52)
    p = planContext(full, cached, 3, 0, 64);
    CHECK(p.dropped == 48);
    CHECK(p.window.size() == 52);
    CHECK(p.window[2] == 2);
    CHECK(p.window[3] == 51);
    CHECK(p.reuse == 3);

    // a shifted conversation that grew a little: the cut stays, the shifted cache is reused
    std::vector<int32_t> shiftedCache = contextWindow(full, 3, 48);
    std::vector<int32_t> grown = full;
    for (int i = 100; i < 105; ++i) grown.push_back(i);
    p = planContext(grown, shiftedCache, 3, 48, 64);
    CHECK(p.dropped == 48);
    CHECK(p.reuse == shiftedCache.size());
    // ... also when the re-rendered reply is two tokens longer than the sampled one
    std::vector<int32_t> retokenized = grown;
    retokenized.insert(retokenized.begin() + 10, {-1, -2});
    p = planContext(retokenized, shiftedCache, 3, 48, 64);
    CHECK(p.dropped == 50);
    CHECK(p.reuse == shiftedCache.size());

    // a kept prefix of more than half the context is capped at half
    p = planContext(full, {}, 90, 0, 64);
    CHECK(p.window.size() <= 64);
    CHECK(std::equal(p.window.begin(), p.window.begin() + 32, full.begin()));
}

TEST_CASE("generation at the context length without a shift stops with its reason") {
    auto model = loadModel(modelPath());
    REQUIRE(model.ok());
    const Tokenizer& tok = *model.value()->tokenizer;
    for (bool cpu : {true, false}) {
        BackendOptions bo;
        bo.cpu = cpu;
        bo.nCtx = 32;
        auto b = createBackend(*model.value(), bo);
        REQUIRE_MESSAGE(b.ok(), (b.ok() ? std::string() : b.error().message));
        GenerateParams gp;
        gp.maxTokens = 100;
        gp.stopAtEog = false;
        const auto prompt = tok.encode("Once upon a time", true, false);
        auto st = generate(*b.value(), tok, prompt, gp, [](const TokenEvent&) { return true; });
        REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
        CHECK(st.value().stopReason == "context length reached");
        // every position was used: the last sampled token is the one that did not fit
        CHECK(prompt.size() + st.value().generatedTokens == 33);
        CHECK(st.value().contextShifts == 0);
    }
}

TEST_CASE("context shift == a fresh run over the shifted window: CPU reference") { shiftEqualsFreshRun(true); }
TEST_CASE("context shift == a fresh run over the shifted window: Vulkan") { shiftEqualsFreshRun(false); }

TEST_CASE("session: a chat goes on past the context, keeping the system prompt") {
    const uint32_t validation0 = vk::validationMessagesInProcess();
    Session s;
    std::vector<SessionEvent> all;
    auto waitFor = [&](auto pred) {
        auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
            for (auto& e : s.poll()) {
                all.push_back(std::move(e));
                if (pred(all.back())) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return false;
    };
    LoadModelCmd load;
    load.path = modelPath();
    load.backend.nCtx = 96;
    s.post(load);
    REQUIRE(waitFor([](const SessionEvent& e) { return std::holds_alternative<ModelLoadedEvent>(e); }));

    auto model = loadModel(modelPath());
    REQUIRE(model.ok());
    const Tokenizer& tok = *model.value()->tokenizer;
    const ChatTemplate tmpl = ChatTemplate::forTokenizer(tok);
    const std::vector<ChatMessage> system = {{"system", "You are a helpful assistant who knows about experts."}};
    const std::vector<int32_t> systemTokens = tmpl.encode(tok, system, false);

    GenerateCmd g;
    g.conversation = system;
    g.params.maxTokens = 40;
    g.params.stopAtEog = false;
    uint32_t shifts = 0, generatedTotal = 0;
    for (int turn = 0; turn < 6; ++turn) {
        CAPTURE(turn);
        g.conversation.push_back({"user", "Tell me more about the routing of turn " + std::to_string(turn) + "."});
        all.clear();
        s.post(g);
        REQUIRE(waitFor([](const SessionEvent& e) { return std::holds_alternative<GenerationDoneEvent>(e); }));
        const auto& done = std::get<GenerationDoneEvent>(all.back());
        REQUIRE_MESSAGE(done.error.empty(), done.error);
        CHECK(done.stats.generatedTokens == 40);
        CHECK(done.stats.stopReason == "max tokens");
        generatedTotal += done.stats.generatedTokens;
        std::string reply;
        for (auto& e : all) {
            if (auto* p = std::get_if<PromptEvent>(&e)) {
                CHECK(p->ids.size() <= 96);
                // the system prompt is always at the start of the window
                REQUIRE(p->ids.size() >= systemTokens.size());
                CHECK(std::equal(systemTokens.begin(), systemTokens.end(), p->ids.begin()));
            }
            if (auto* c = std::get_if<ContextShiftEvent>(&e)) {
                CHECK(c->kept == systemTokens.size());
                ++shifts;
            }
            if (auto* t = std::get_if<TokenOutEvent>(&e)) {
                CHECK(t->position <= 96);  // the token that fills the context, before the shift moves it
                reply += t->text;
            }
        }
        g.conversation.push_back({"assistant", reply});
    }
    MESSAGE("chat: ", generatedTotal, " tokens in a 96-token context, ", shifts, " shifts during replies");
    CHECK(shifts >= 2);
    CHECK(vk::validationMessagesInProcess() == validation0);
}
