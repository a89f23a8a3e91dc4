// The engine thread: a command loop over one model and its instrumented backend.
#include "runtime/session.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

namespace moe::rt {

ModelFacts describeModel(const Model& model, const std::string& path) {
    const ModelConfig& c = model.cfg;
    ModelFacts f;
    f.path = path;
    f.name = c.name;
    f.arch = archName(c.arch);
    f.layers = c.block_count;
    f.experts = c.expert_count;
    f.expertsUsed = c.expert_used_count;
    f.sharedExperts = c.expert_shared_feed_forward_length ? std::max<uint32_t>(1, c.expert_shared_count) : 0;
    f.contextLength = c.context_length;
    f.vocab = c.n_vocab;
    f.embd = c.embedding_length;
    f.expertFf = c.expert_feed_forward_length;
    f.sharedFf = c.expert_shared_feed_forward_length;
    f.paramsTotal = model.paramsTotal();
    f.paramsActive = model.paramsActive();
    std::error_code ec;
    f.fileBytes = std::filesystem::file_size(path, ec);
    if (ec) f.fileBytes = 0;
    std::map<std::string, uint32_t> types;
    for (const auto& t : model.file.tensors()) ++types[typeName(t.type)];
    f.tensorTypes.assign(types.begin(), types.end());
    if (model.tokenizer) {
        ChatTemplate tmpl = ChatTemplate::forTokenizer(*model.tokenizer);
        f.chatTemplate = std::string(tmpl.name());
        f.templateWarning = tmpl.warning();
        f.defaultSystem = tmpl.defaultSystem();
    }
    return f;
}

// Engine-thread state. Members are destroyed in reverse order: backend, model, instance.
struct Session::Engine {
    explicit Engine(Session& s) : s(s) {}
    Session& s;
    std::unique_ptr<vk::Instance> instance;
    std::unique_ptr<Model> model;
    std::unique_ptr<SessionBackend> backend;
    std::vector<int32_t> inCache;  // tokens whose keys/values are in the KV cache, by position
    uint32_t dropped = 0;          // tokens of the conversation cut by context shifts (context.h)
    bool profile = false;
    // the running generation
    uint32_t step = 0, promptTokens = 0, generated = 0, decodeSteps = 0;
    double prefillMs = 0, decodeMs = 0;

    void start();
    void load(const LoadModelCmd& c);
    void generate(const GenerateCmd& g);
    void setRouting(const SetRoutingCmd& c);
    void setProfile(const SetProfileCmd& c);
    void onStep(const StepReport& r);
    void emitMemory() {
        if (backend) s.emit(MemoryEvent{backend->memoryInUse()});
    }
    uint32_t validationMessages() const { return instance ? instance->validationMessageCount() : 0; }
};

void Session::Engine::start() {
    DevicesEvent ev;
    auto inst = vk::Instance::create();
    if (!inst.ok()) {
        ev.error = inst.error().message;
    } else {
        instance = std::move(inst).value();
        for (const auto& c : instance->devices()) {
            ev.names.push_back(c.name);
            ev.notes.push_back(c.missingRequirements());
        }
        auto chosen = instance->chooseDevice(-1);
        ev.chosen = chosen.ok() ? int(chosen.value()) : -1;
        if (!chosen.ok()) ev.error = chosen.error().message;
    }
    s.emit(std::move(ev));
}

void Session::Engine::load(const LoadModelCmd& c) {
    auto m = loadModel(c.path);
    if (!m.ok()) return s.emit(LoadFailedEvent{c.path, m.error().message});
    SessionBackendOptions opts = c.backend;
    opts.profile = profile;
    // the new backend is built beside the old one so that a failure keeps the old model usable
    auto b = SessionBackend::create(opts.cpu ? nullptr : instance.get(), *m.value(), opts);
    if (!b.ok() && backend && !opts.cpu && vk::isOutOfDeviceMemory(b.error().message)) {
        // no room beside the loaded model: free it, try alone, and rebuild it if that fails too
        const SessionBackendOptions prevOpts = backend->options();
        const std::vector<RoutingPolicy> prevRouting = backend->routing();
        backend.reset();
        inCache.clear();
        b = SessionBackend::create(instance.get(), *m.value(), opts);
        if (!b.ok()) {
            const std::string message = b.error().message;
            auto prev = SessionBackend::create(prevOpts.cpu ? nullptr : instance.get(), *model, prevOpts);
            if (!prev.ok()) {
                model.reset();
                return s.emit(LoadFailedEvent{c.path, message + "; the previous model could not be reloaded either: " +
                                                          prev.error().message});
            }
            backend = std::move(prev).value();
            backend->setObserver([this](const StepReport& r) { onStep(r); });
            if (!backend->setRouting(prevRouting).ok()) (void)backend->setRouting({});
            emitMemory();
            return s.emit(LoadFailedEvent{c.path, message});
        }
    }
    if (!b.ok()) return s.emit(LoadFailedEvent{c.path, b.error().message});
    backend.reset();
    model = std::move(m).value();
    backend = std::move(b).value();
    backend->setObserver([this](const StepReport& r) { onStep(r); });
    inCache.clear();
    dropped = 0;
    ModelFacts facts = describeModel(*model, c.path);
    facts.backend = backend->name();
    facts.nCtx = backend->nCtx();
    s.emit(ModelLoadedEvent{std::move(facts)});
    emitMemory();
}

void Session::Engine::setRouting(const SetRoutingCmd& c) {
    if (!backend) return;
    auto st = backend->setRouting(c.layers);
    if (!st.ok()) s.emit(NoticeEvent{"routing policy not applied: " + st.message()});
}

void Session::Engine::setProfile(const SetProfileCmd& c) {
    profile = c.on;
    if (!backend || backend->profile() == c.on) return;
    inCache.clear();  // the forward pass is rebuilt with an empty KV cache
    auto st = backend->setProfile(c.on);
    if (!st.ok()) {
        s.emit(NoticeEvent{"profiling could not be switched: " + st.message() + "; load the model again"});
        backend.reset();
    }
    emitMemory();
}

void Session::Engine::onStep(const StepReport& r) {
    const RoutingRecord& rr = *r.routing;
    const uint32_t L = rr.nLayer, K = rr.kMax, NE = rr.nExpert, T = rr.nTok;
    for (uint32_t t = 0; t < r.nTok && t < T; ++t) {
        TokenRoutingEvent ev;
        ev.position = r.pos0 + t;
        ev.token = r.tokens[t];
        ev.nLayer = L;
        ev.kMax = K;
        ev.nExpert = NE;
        ev.ids.reserve(size_t(L) * K);
        ev.weights.reserve(size_t(L) * K);
        ev.probs.reserve(size_t(L) * NE);
        for (uint32_t il = 0; il < L; ++il) {
            const size_t row = size_t(il) * T + t;
            ev.ids.insert(ev.ids.end(), rr.ids.begin() + row * K, rr.ids.begin() + (row + 1) * K);
            ev.weights.insert(ev.weights.end(), rr.weights.begin() + row * K, rr.weights.begin() + (row + 1) * K);
            ev.counts.push_back(rr.counts[row]);
            ev.probs.insert(ev.probs.end(), rr.probs.begin() + row * NE, rr.probs.begin() + (row + 1) * NE);
        }
        s.emit(std::move(ev));
    }
    const bool prefill = step++ == 0;
    if (prefill) {
        prefillMs += r.ms;
    } else {
        decodeMs += r.ms;
        ++decodeSteps;
    }
    if (!r.kernels.empty()) s.emit(KernelTimesEvent{prefill, r.nTok, r.ms, r.kernels});
    StatsEvent st;
    st.promptTokens = promptTokens;
    st.generatedTokens = generated;
    st.prefillTokPerSec = prefillMs > 0 ? promptTokens * 1000.0 / prefillMs : 0;
    st.decodeTokPerSec = decodeMs > 0 ? decodeSteps * 1000.0 / decodeMs : 0;
    s.emit(st);
}

void Session::Engine::generate(const GenerateCmd& g) {
    GenerationDoneEvent done;
    if (!backend) {
        done.error = model ? "the backend was released after an error; load the model again" : "no model loaded";
        return s.emit(std::move(done));
    }
    const Tokenizer& tok = *model->tokenizer;
    const ChatTemplate tmpl = ChatTemplate::forTokenizer(tok);
    std::vector<int32_t> full = g.completion ? tok.encode(g.prompt, true, true) : tmpl.encode(tok, g.conversation, true);
    if (full.empty()) {
        done.error = "the prompt is empty";
        return s.emit(std::move(done));
    }
    // the context window: the cached prefix is reused, a conversation past nCtx is shifted
    // (chat: the system prompt kept; completion: BOS kept)
    const uint32_t nKeep = g.completion ? uint32_t(tok.bos() && full[0] == *tok.bos())
                                        : chatKeepTokens(tmpl, tok, g.conversation, full);
    ContextPlan plan = planContext(full, inCache, nKeep, dropped, backend->nCtx());
    PromptEvent pe;
    pe.ids = plan.window;
    for (int32_t id : plan.window) pe.pieces.push_back(tok.tokenPiece(id));
    pe.reused = plan.reuse;
    s.emit(std::move(pe));

    std::vector<int32_t> fresh(plan.window.begin() + long(plan.reuse), plan.window.end());
    std::vector<int32_t> history(plan.window.begin(), plan.window.begin() + long(plan.reuse));
    step = generated = decodeSteps = 0;
    prefillMs = decodeMs = 0;
    promptTokens = uint32_t(fresh.size());
    inCache.clear();  // unknown while the backend runs; set again below
    dropped = plan.dropped;
    GenerateParams params = g.params;
    params.context = {true, nKeep};
    params.onContextShift = [this](uint32_t kept, uint32_t cut) { s.emit(ContextShiftEvent{kept, cut}); };
    auto r = rt::generate(*backend, tok, fresh, params, [&](const TokenEvent& te) {
        if (s.stopRequested()) return false;
        ++generated;
        s.emit(TokenOutEvent{te.id, te.text, tok.tokenPiece(te.id), te.position, te.logprob});
        s.applyLiveCommands(*this);
        return !s.stopRequested();
    }, plan.reuse, &history);
    done.validationMessages = validationMessages();
    if (!r.ok()) {
        done.error = r.error().message;
        return s.emit(std::move(done));
    }
    // every sampled token is in the cache except the last one (never evaluated) unless EOG ended it
    inCache = std::move(history);
    if (!inCache.empty() && r.value().stopReason != "eog") inCache.pop_back();
    dropped += r.value().droppedTokens;
    done.stats = r.value();
    StatsEvent st;
    st.promptTokens = done.stats.promptTokens;
    st.generatedTokens = done.stats.generatedTokens;
    st.prefillTokPerSec = done.stats.prefillTokPerSec();
    st.decodeTokPerSec = done.stats.decodeTokPerSec();
    s.emit(st);
    emitMemory();
    s.emit(std::move(done));
}

Session::Session(std::function<void()> notify) : notify_(std::move(notify)) {
    thread_ = std::thread([this] { run(); });
}

Session::~Session() {
    {
        std::lock_guard lk(mutex_);
        quit_ = true;
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Session::post(SessionCommand c) {
    {
        std::lock_guard lk(mutex_);
        commands_.push_back(std::move(c));
    }
    cv_.notify_all();
}

void Session::stop() {
    size_t dropped = 0;
    {
        std::lock_guard lk(mutex_);
        if (running_) stop_ = true;
        dropped = std::erase_if(commands_, [](const SessionCommand& c) { return std::holds_alternative<GenerateCmd>(c); });
    }
    // every generation asked for ends with a done event, also those that never started
    for (size_t i = 0; i < dropped; ++i) {
        GenerationDoneEvent done;
        done.stats.stopReason = "stopped";
        emit(std::move(done));
    }
}

std::vector<SessionEvent> Session::poll() {
    std::lock_guard lk(mutex_);
    return std::exchange(events_, {});
}

bool Session::busy() const {
    std::lock_guard lk(mutex_);
    return running_ || !commands_.empty();
}

bool Session::stopRequested() const {
    std::lock_guard lk(mutex_);
    return stop_ || quit_;
}

void Session::emit(SessionEvent e) {
    {
        std::lock_guard lk(mutex_);
        events_.push_back(std::move(e));
    }
    if (notify_) notify_();
}

void Session::applyLiveCommands(Engine& eng) {
    std::vector<SetRoutingCmd> routing;
    {
        std::lock_guard lk(mutex_);
        for (auto it = commands_.begin(); it != commands_.end();) {
            if (auto* r = std::get_if<SetRoutingCmd>(&*it)) {
                routing.push_back(std::move(*r));
                it = commands_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const auto& r : routing) eng.setRouting(r);
}

void Session::run() {
    Engine eng(*this);
    eng.start();
    while (true) {
        SessionCommand c;
        {
            std::unique_lock lk(mutex_);
            cv_.wait(lk, [&] { return quit_ || !commands_.empty(); });
            if (quit_) break;
            c = std::move(commands_.front());
            commands_.pop_front();
            running_ = true;
            stop_ = false;  // a stop() from now on reaches this command
        }
        try {
            std::visit([&](auto& cmd) {
                using T = std::decay_t<decltype(cmd)>;
                if constexpr (std::is_same_v<T, LoadModelCmd>) eng.load(cmd);
                else if constexpr (std::is_same_v<T, GenerateCmd>) eng.generate(cmd);
                else if constexpr (std::is_same_v<T, SetRoutingCmd>) eng.setRouting(cmd);
                else eng.setProfile(cmd);
            }, c);
        } catch (const std::exception& e) {
            // the engine API returns errors; this only catches allocation failures and the like
            emit(NoticeEvent{std::string("engine error: ") + e.what()});
            if (auto* l = std::get_if<LoadModelCmd>(&c)) emit(LoadFailedEvent{l->path, e.what()});
            if (std::holds_alternative<GenerateCmd>(c)) {
                GenerationDoneEvent done;
                done.error = e.what();
                emit(std::move(done));
            }
        }
        {
            std::lock_guard lk(mutex_);
            running_ = false;
        }
        if (notify_) notify_();
    }
}

}  // namespace moe::rt
