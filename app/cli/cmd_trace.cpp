// `moescope trace`: runs a text through the model (teacher-forced, or a prompt plus generated
// tokens) under a routing policy and writes the routing of every token to a trace file
// (JSON Lines, or .mstrace binary; docs/trace-format.md).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/routing_flags.h"
#include "runtime/sampler.h"
#include "trace/cache_sim.h"
#include "trace/trace.h"

namespace moe::cli {

namespace {

// Appends the last forward step's routing (with the expert cache: its predictions and counters)
// to the trace. Callers run one step per forward() call (at most the prefill batch).
Status record(trace::Trace& tr, const rt::Backend& backend, const Tokenizer& tok, const int32_t* tokens, uint32_t n,
              uint32_t pos0) {
    const rt::RoutingRecord* r = backend.lastRouting();
    if (!r || r->nTok != n) return makeError("the backend did not record the routing of the step");
    trace::StepView v{r->nTok, r->nLayer, r->kMax, r->nExpert, r->ids.data(), r->weights.data(), r->counts.data(),
                      r->probs.data()};
    if (!r->pred.empty()) v.pred = r->pred.data();
    const auto* steps = backend.lastCacheSteps();
    if (steps) {
        if (steps->size() != 1) return makeError("a traced forward call ran " + std::to_string(steps->size()) + " cache steps");
        v.cache = steps->front().data();
    }
    std::vector<std::string> pieces(n);
    for (uint32_t i = 0; i < n; ++i) pieces[i] = tok.tokenPiece(tokens[i]);
    return trace::append(tr, v, tokens, pos0, &pieces);
}

// Runs tokens [0, n) at pos0.. in forward calls of at most `batch` tokens (one trace step each).
Status runSteps(trace::Trace& tr, rt::Backend& backend, const Tokenizer& tok, const int32_t* tokens, uint32_t n,
                uint32_t pos0, uint32_t batch, std::vector<float>& logits) {
    for (uint32_t done = 0; done < n;) {
        const uint32_t m = std::min(batch, n - done);
        MOE_TRY(backend.forward(tokens + done, m, pos0 + done, logits.data(), false));
        MOE_TRY(record(tr, backend, tok, tokens + done, m, pos0 + done));
        done += m;
    }
    return {};
}

}  // namespace

void registerTrace(CLI::App& app) {
    struct Opts {
        ModelFlags mf;
        RoutingFlags rf;
        std::string file, prompt, out;
        int32_t n = 0;
        rt::SamplerParams sp;
        int32_t probDigits = -1;
        bool noProbs = false, noBos = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("trace", "record the routing of every token of a text into a trace file");
    addModelFlags(cmd, o->mf);
    addRoutingFlags(cmd, o->rf);
    auto* f = cmd->add_option("-f,--file", o->file, "text file to run through the model (teacher-forced)");
    auto* p = cmd->add_option("-p,--prompt", o->prompt, "text to run through the model (teacher-forced)");
    f->excludes(p);
    cmd->add_option("-o,--out", o->out, "trace file: .jsonl (JSON Lines) or .mstrace (compact binary)")->required();
    cmd->add_option("-n,--n-predict", o->n, "generate this many tokens after the text (and trace them too)")
        ->check(CLI::Range(0, 1 << 20));
    cmd->add_option("--temp", o->sp.temperature, "sampling temperature when generating (0: greedy)")->check(CLI::Range(0.0, 100.0));
    cmd->add_option("--seed", o->sp.seed, "sampling seed");
    cmd->add_option("--prob-digits", o->probDigits, "round router probabilities to this many decimals (default: exact)")
        ->check(CLI::Range(0, 9));
    cmd->add_flag("--no-probs", o->noProbs, "leave the full router probability vectors out of the trace");
    cmd->add_flag("--no-bos", o->noBos, "do not add BOS even if the model asks for it");
    cmd->callback([o] {
        std::string text = o->prompt;
        if (!o->file.empty()) {
            std::ifstream in(o->file, std::ios::binary);
            if (!in) return fail("cannot read '" + o->file + "'");
            std::stringstream ss;
            ss << in.rdbuf();
            text = ss.str();
        }
        if (text.empty()) return fail("nothing to trace: give a text with -f FILE or -p TEXT");
        auto model = loadModelOrFail(o->mf);
        if (!model) return;
        auto backend = createBackendOrFail(*model, o->mf);
        if (!backend) return;
        uint32_t widest = 0;
        auto policy = applyRoutingOrFail(*backend, *model, o->rf, &widest);
        if (!policy) return;
        const Tokenizer& tok = *model->tokenizer;
        const ModelConfig& c = model->cfg;
        std::vector<int32_t> ids = tok.encode(text, !o->noBos, false);
        if (ids.empty()) return fail("the text encodes to no tokens");
        const uint32_t nCtx = backend->nCtx();

        trace::Trace tr;
        trace::TraceInfo& info = tr.info;
        info.model = c.name.empty() ? std::filesystem::path(o->mf.modelPath).stem().string() : c.name;
        info.arch = archName(c.arch);
        info.policy = routing::toString(*policy);
        info.mode = o->n > 0 ? "generated" : "teacher-forced";
        info.backend = backend->name();
        info.nLayer = c.block_count;
        info.nExpert = c.expert_count;
        info.k = c.expert_used_count;
        info.kMax = widest;
        info.ctx = nCtx;
        for (const LayerPlan& l : model->plan.layers) info.expertBytes.push_back(l.moe() ? expertBytes(*l.moe()) : 0);
        if (rt::ExpertOffload* cache = backend->expertCache()) {
            info.cache.policy = cache::policyName(cache->layer(0).policy());
            info.cache.slots = cache->slots();
            info.cache.prefetch = cache->prefetch();
        }
        const uint32_t batch = std::max<uint32_t>(1, o->mf.backend.maxBatch);
        std::vector<float> logits(size_t(c.n_vocab));
        if (o->n == 0) {
            // teacher-forced: the text in windows of the context size, each from position 0
            for (size_t start = 0; start < ids.size(); start += nCtx) {
                const uint32_t n = uint32_t(std::min<size_t>(nCtx, ids.size() - start));
                Status st = runSteps(tr, *backend, tok, ids.data() + start, n, 0, batch, logits);
                if (!st.ok()) return fail(st.message());
            }
        } else {
            if (ids.size() + size_t(o->n) > nCtx)
                return fail("the text (" + std::to_string(ids.size()) + " tokens) plus " + std::to_string(o->n) +
                            " generated tokens exceed the context (" + std::to_string(nCtx) + "); use --ctx");
            Status st = runSteps(tr, *backend, tok, ids.data(), uint32_t(ids.size()), 0, batch, logits);
            if (!st.ok()) return fail(st.message());
            rt::Sampler sampler(o->sp);
            for (int32_t i = 0; i < o->n; ++i) {
                const int32_t next = sampler.sample(logits, ids);
                if (tok.isEog(next)) break;
                const uint32_t pos = uint32_t(ids.size());
                ids.push_back(next);
                st = backend->forward(&next, 1, pos, logits.data(), false);
                if (st.ok()) st = record(tr, *backend, tok, &next, 1, pos);
                if (!st.ok()) return fail(st.message());
            }
        }
        trace::WriteOptions wo;
        wo.probs = !o->noProbs;
        wo.probDigits = o->probDigits;
        Status st = trace::writeTrace(o->out, tr, wo);
        if (!st.ok()) return fail(st.message());
        std::error_code ec;
        const auto bytes = std::filesystem::file_size(o->out, ec);
        std::fprintf(stderr, "[%s] policy %s: %zu tokens traced (%s) -> %s (%llu bytes)\n", backend->name().c_str(),
                     info.policy.c_str(), tr.nTokens(), info.mode.c_str(), o->out.c_str(), (unsigned long long)bytes);
        if (info.cache.slots) {
            const cache::CacheStats live = cache::liveTotals(tr);
            std::fprintf(stderr, "expert cache %s, %u slots per layer%s: hit rate %.4f (%llu of %llu), %.1f MiB uploaded\n",
                         info.cache.policy.c_str(), info.cache.slots, info.cache.prefetch ? ", prefetch" : "",
                         live.hitRate(), (unsigned long long)live.hits, (unsigned long long)live.accesses,
                         double(live.bytesUploaded) / 1048576.0);
        }
    });
}

}  // namespace moe::cli
