// The engine thread: a command loop over one model and its instrumented backend.
#include "runtime/session.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "trace/cache_sim.h"

namespace moe::rt {

namespace {
constexpr auto kRouting = NoticeEvent::About::Routing;
constexpr auto kCache = NoticeEvent::About::Cache;
}  // namespace

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
        f.templateJinja = tmpl.usesJinja();
        f.replyFormat = tmpl.replyFormat();
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
    std::string path;                    // of the loaded model
    BackendOptions opts;          // the backend's, as last built
    std::string staticSource;            // what the static cache policy learned from
    std::vector<routing::Policy> routingPolicies;  // as last applied (kept by a budget change)
    std::vector<int32_t> inCache;  // tokens whose keys/values are in the KV cache, by position
    uint32_t dropped = 0;          // tokens of the conversation cut by context shifts (context.h)
    bool profile = false;
    bool cacheFresh = false;       // a backend was built since the last CacheConfigEvent
    // the running generation
    uint32_t step = 0, promptTokens = 0, generated = 0, decodeSteps = 0;
    double prefillMs = 0, decodeMs = 0;

    void start();
    void load(const LoadModelCmd& c);
    // Makes a backend for `next` (null: the loaded model again) current; false on failure (the
    // previous backend stays, rebuilt if the device could not hold both).
    bool install(std::unique_ptr<Model> next, const std::string& nextPath, BackendOptions o);
    void generate(const GenerateCmd& g);
    void setRouting(const SetRoutingCmd& c);
    Status applyRouting();
    void setProfile(const SetProfileCmd& c);
    void setCachePolicy(const SetCachePolicyCmd& c);
    void setPrefetch(const SetPrefetchCmd& c);
    void setBudget(const SetCacheBudgetCmd& c);
    void emitCacheConfig();
    void onStep(const StepReport& r);
    void emitMemory() {
        if (backend) s.emit(MemoryEvent{backend->memoryInUse()});
    }
    void notice(std::string m, NoticeEvent::About about = NoticeEvent::About::General) {
        s.emit(NoticeEvent{std::move(m), about});
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

namespace {

// The static policy's hot set: per layer, per expert, learned from a trace of this model.
Result<std::vector<std::vector<float>>> staticRank(const Model& m, const trace::Trace& tr, const std::string& name) {
    const ModelConfig& c = m.cfg;
    if (tr.info.nLayer != c.block_count || tr.info.nExpert != c.expert_count)
        return makeError(name + " has " + std::to_string(tr.info.nLayer) + " layers x " +
                         std::to_string(tr.info.nExpert) + " experts; the model has " + std::to_string(c.block_count) +
                         " x " + std::to_string(c.expert_count));
    if (tr.nTokens() == 0) return makeError(name + " has no tokens to learn a hot set from");
    return cache::learnStaticRank(tr, c.block_count, c.expert_count);
}

Result<std::vector<std::vector<float>>> staticRankFromFile(const Model& m, const std::string& path) {
    if (path.empty()) return makeError("no trace given to learn the hot set from");
    MOE_ASSIGN(trace::Trace tr, trace::readTrace(path));
    return staticRank(m, tr, path);
}

}  // namespace

void Session::Engine::load(const LoadModelCmd& c) {
    auto m = loadModel(c.path);
    if (!m.ok()) return s.emit(LoadFailedEvent{c.path, m.error().message});
    BackendOptions o = c.backend;
    std::string source;
    if (o.expertCache.policy == cache::Policy::Static) {
        // learned before the backend is built, so that the cache starts with it
        auto rank = staticRankFromFile(*m.value(), c.cacheStaticTrace);
        if (rank.ok()) {
            o.expertCache.staticRank = std::move(rank).value();
            source = "trace " + std::filesystem::path(c.cacheStaticTrace).filename().string();
        } else {
            notice("static cache policy: " + rank.error().message + "; using lru", kCache);
            o.expertCache.policy = cache::Policy::LRU;
            o.expertCache.staticRank.clear();
        }
    }
    if (install(std::move(m).value(), c.path, std::move(o))) staticSource = source;
    emitCacheConfig();
}

bool Session::Engine::install(std::unique_ptr<Model> next, const std::string& nextPath, BackendOptions o) {
    o.profile = profile;
    const Model& target = next ? *next : *model;
    vk::Instance* inst = o.cpu ? nullptr : instance.get();
    // the new backend is built beside the old one so that a failure keeps the old model usable
    auto b = SessionBackend::create(inst, target, o);
    if (!b.ok() && backend && !o.cpu && !backend->isCpu()) {
        // the device may not hold both: free the current backend and try again, else restore it
        BackendOptions old = opts;
        old.expertCache = backend->cacheOptions();  // with the live policy and prefetch
        old.profile = profile;
        backend.reset();
        inCache.clear();
        b = SessionBackend::create(inst, target, o);
        if (!b.ok()) {
            auto back = SessionBackend::create(old.cpu ? nullptr : instance.get(), *model, old);
            if (back.ok()) {
                backend = std::move(back).value();
                cacheFresh = true;
                backend->setObserver([this](const StepReport& r) { onStep(r); });
                if (auto st = applyRouting(); !st.ok())
                    notice("routing policy not restored: " + st.message(), kRouting);
            } else {
                s.emit(NoticeEvent{"the previous model could not be restored: " + back.error().message +
                                   "; load a model again"});
            }
        }
    }
    if (!b.ok()) {
        s.emit(LoadFailedEvent{nextPath, b.error().message});
        emitMemory();
        return false;
    }
    const bool reload = !next;
    backend.reset();
    if (next) {
        model = std::move(next);
        routingPolicies.clear();  // a new model starts with its own routing; a reload keeps it
    }
    backend = std::move(b).value();
    backend->setObserver([this](const StepReport& r) { onStep(r); });
    cacheFresh = true;
    path = nextPath;
    opts = std::move(o);
    inCache.clear();
    dropped = 0;
    if (auto st = applyRouting(); !st.ok()) {
        notice("routing policy not applied: " + st.message(), kRouting);
        routingPolicies.clear();
    }
    ModelFacts facts = describeModel(*model, path);
    facts.backend = backend->name();
    facts.nCtx = backend->nCtx();
    s.emit(ModelLoadedEvent{std::move(facts), reload});
    emitMemory();
    return true;
}

Status Session::Engine::applyRouting() {
    if (!backend || !model) return {};
    const ModelConfig& c = model->cfg;
    const std::vector<routing::Policy>& ps = routingPolicies;
    std::vector<cpu::RouterParams> layers;
    if (ps.empty()) {
        MOE_ASSIGN(layers, routing::resolve(routing::Policy{}, *model));
    } else {
        // layer l takes what its own policy resolves to at layer l
        for (uint32_t il = 0; il < c.block_count; ++il) {
            auto r = routing::resolve(ps[std::min<size_t>(il, ps.size() - 1)], *model);
            if (!r.ok()) return makeError("layer " + std::to_string(il) + ": " + r.error().message);
            layers.push_back(std::move(r.value()[il]));
        }
    }
    return backend->setRouting(layers);
}

void Session::Engine::setRouting(const SetRoutingCmd& c) {
    if (!backend) return;
    std::vector<routing::Policy> before = std::exchange(routingPolicies, c.layers);
    if (auto st = applyRouting(); !st.ok()) {
        routingPolicies = std::move(before);  // the backend kept the previous parameters
        notice("routing policy not applied: " + st.message(), kRouting);
    }
}

void Session::Engine::setCachePolicy(const SetCachePolicyCmd& c) {
    if (!backend) return s.emit(NoticeEvent{"no model loaded"});
    std::vector<std::vector<float>> rank;
    std::string source;
    if (c.policy == cache::Policy::Static) {
        Result<std::vector<std::vector<float>>> r = makeError("no trace given to learn the hot set from");
        if (c.staticFrom) {
            r = staticRank(*model, *c.staticFrom, c.staticSource.empty() ? std::string("the trace") : c.staticSource);
            source = c.staticSource;
        } else if (!c.staticTrace.empty()) {
            r = staticRankFromFile(*model, c.staticTrace);
            source = "trace " + std::filesystem::path(c.staticTrace).filename().string();
        }
        if (!r.ok()) {
            notice("static cache policy not applied: " + r.error().message, kCache);
            return emitCacheConfig();
        }
        rank = std::move(r).value();
    }
    if (auto st = backend->setCachePolicy(c.policy, std::move(rank)); !st.ok())
        notice(std::string("cache policy ") + cache::policyName(c.policy) + " not applied: " + st.message(),
               kCache);
    else
        staticSource = source;
    emitCacheConfig();
}

void Session::Engine::setPrefetch(const SetPrefetchCmd& c) {
    if (!backend) return s.emit(NoticeEvent{"no model loaded"});
    backend->setPrefetch(c.on);
    emitCacheConfig();
}

void Session::Engine::setBudget(const SetCacheBudgetCmd& c) {
    if (!backend || !model) return s.emit(NoticeEvent{"no model loaded"});
    if (backend->isCpu())
        return notice("the expert cache is a Vulkan feature: choose a Vulkan device", kCache);
    BackendOptions o = opts;
    o.expertCache = backend->cacheOptions();  // with the live policy, hot set and prefetch
    o.expertCache.slots = c.slots;
    o.expertCache.budgetMiB = c.slots < 0 ? c.budgetMiB : 0;
    install(nullptr, path, std::move(o));
    emitCacheConfig();
}

void Session::Engine::emitCacheConfig() {
    CacheConfigEvent ev;
    if (!model) return s.emit(std::move(ev));
    const ModelConfig& c = model->cfg;
    ev.layers = c.block_count;
    ev.experts = c.expert_count;
    ev.expertsUsed = c.expert_used_count;
    ev.slots = c.expert_count;
    for (const LayerPlan& l : model->plan.layers) {
        ev.layerExpertBytes.push_back(l.moe() ? expertBytes(*l.moe()) : 0);
        ev.routedBytes += ev.layerExpertBytes.back() * c.expert_count;
    }
    for (uint64_t b : ev.layerExpertBytes)  // the first MoE layer's (dense layers have none)
        if (b) {
            ev.expertBytes = b;
            break;
        }
    if (backend) {
        ev.available = !backend->isCpu();
        ev.policy = backend->cacheOptions().policy;
        ev.prefetch = backend->cacheOptions().prefetch;
        if (const ExpertOffload* off = backend->expertCache()) {
            ev.enabled = true;
            ev.slots = off->slots();
            ev.slotBytes = off->deviceBytes();
        }
        ev.note = backend->setupNote();
    }
    if (ev.policy == cache::Policy::Static) ev.staticSource = staticSource;
    ev.fresh = std::exchange(cacheFresh, false);
    s.emit(std::move(ev));
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
    cacheFresh = true;  // the expert cache was rebuilt with the forward pass
    emitCacheConfig();
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
            if (!rr.pred.empty())
                ev.pred.insert(ev.pred.end(), rr.pred.begin() + row * K, rr.pred.begin() + (row + 1) * K);
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
    if (r.cache && r.cacheSteps && !r.cacheSteps->empty()) {
        // one event per cache step (prefill batch or decode token); the bookkeeping is host-side,
        // reading it does not wait on the device
        const std::vector<std::vector<cache::CacheStats>>& steps = *r.cacheSteps;
        const bool split = rr.stepStart.size() == steps.size();
        const uint32_t nl = r.cache->nLayer();
        for (size_t i = 0; i < steps.size(); ++i) {
            if (!split && i > 0) break;
            CacheStepEvent ce;
            ce.prefill = prefill;
            const uint32_t b = split ? rr.stepStart[i] : 0;
            const uint32_t e = split && i + 1 < steps.size() ? rr.stepStart[i + 1] : r.nTok;
            ce.pos0 = r.pos0 + b;
            ce.nTok = e - b;
            ce.layers.resize(nl);
            for (size_t j = split ? i : 0; j < (split ? i + 1 : steps.size()); ++j)
                for (uint32_t il = 0; il < nl && il < steps[j].size(); ++il) ce.layers[il] += steps[j][il];
            if (!split || i + 1 == steps.size())
                for (uint32_t il = 0; il < nl; ++il) ce.slots.push_back(r.cache->layer(il).slots());
            s.emit(std::move(ce));
        }
    }
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
    std::vector<int32_t> full;
    bool opensReasoning = false;
    if (g.completion) {
        full = tok.encode(g.prompt, true, true);
    } else {
        const ChatPrompt prompt = tmpl.format(g.conversation, true, g.chatOptions);
        opensReasoning = prompt.opensReasoning;
        full = tmpl.encode(tok, prompt);
    }
    if (full.empty()) {
        done.error = "the prompt is empty";
        return s.emit(std::move(done));
    }
    // the context window: the cached prefix is reused, a conversation past nCtx is shifted
    // (chat: the system prompt kept; completion: BOS kept)
    const uint32_t nKeep = g.completion ? uint32_t(tok.bos() && full[0] == *tok.bos())
                                        : chatKeepTokens(tmpl, tok, g.conversation, full, g.chatOptions);
    ContextPlan plan = planContext(full, inCache, nKeep, dropped, backend->nCtx());
    PromptEvent pe;
    pe.ids = plan.window;
    for (int32_t id : plan.window) pe.pieces.push_back(tok.tokenPiece(id));
    pe.reused = plan.reuse;
    pe.opensReasoning = opensReasoning;
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
    if (!g.completion) {
        params.stopTokens = tmpl.stopTokenIds(tok);
        params.renderSpecial = tmpl.replyFormat().syntax == ReplyFormat::Syntax::Harmony;
    }
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
    std::vector<SessionCommand> live;
    {
        std::lock_guard lk(mutex_);
        for (auto it = commands_.begin(); it != commands_.end();) {
            if (std::holds_alternative<SetRoutingCmd>(*it) || std::holds_alternative<SetCachePolicyCmd>(*it) ||
                std::holds_alternative<SetPrefetchCmd>(*it)) {
                live.push_back(std::move(*it));
                it = commands_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const auto& c : live) {
        if (auto* r = std::get_if<SetRoutingCmd>(&c)) eng.setRouting(*r);
        else if (auto* p = std::get_if<SetCachePolicyCmd>(&c)) eng.setCachePolicy(*p);
        else if (auto* f = std::get_if<SetPrefetchCmd>(&c)) eng.setPrefetch(*f);
    }
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
                else if constexpr (std::is_same_v<T, SetCachePolicyCmd>) eng.setCachePolicy(cmd);
                else if constexpr (std::is_same_v<T, SetPrefetchCmd>) eng.setPrefetch(cmd);
                else if constexpr (std::is_same_v<T, SetCacheBudgetCmd>) eng.setBudget(cmd);
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
