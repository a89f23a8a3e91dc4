// `moescope run`: generate from a prompt, streaming text (or JSON lines with --json).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/generate.h"

namespace moe::cli {

void registerRun(CLI::App& app) {
    struct Opts {
        ModelFlags mf;
        std::string prompt = "In the beginning";
        int32_t n = 64;
        rt::SamplerParams sp;
        bool json = false;
        bool noBos = false;
        bool contextShift = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("run", "generate text from a prompt");
    addModelFlags(cmd, o->mf);
    cmd->add_option("-p,--prompt", o->prompt, "prompt text");
    cmd->add_option("-n,--n-predict", o->n, "tokens to generate")->check(CLI::Range(0, 1 << 20));
    cmd->add_option("--temp", o->sp.temperature, "temperature (0: greedy)")->check(CLI::Range(0.0, 100.0));
    cmd->add_option("--top-k", o->sp.topK, "top-k (0: off)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p", o->sp.topP, "top-p (1: off)")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--min-p", o->sp.minP, "min-p (0: off)")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--repeat-penalty", o->sp.repeatPenalty, "repetition penalty (1: off)")->check(CLI::Range(0.0, 100.0));
    cmd->add_option("--seed", o->sp.seed, "sampling seed");
    cmd->add_flag("--json", o->json, "one JSON object per line: tokens, then a summary");
    cmd->add_flag("--no-bos", o->noBos, "do not add BOS even if the model asks for it");
    cmd->add_flag("--context-shift", o->contextShift,
                  "at the context length keep the prompt, drop the oldest half of the rest and go on (default: stop)");
    cmd->callback([o] {
        auto model = loadModelOrFail(o->mf);
        if (!model) return;
        auto backend = createBackendOrFail(*model, o->mf);
        if (!backend) return;
        const Tokenizer& tok = *model->tokenizer;
        auto ids = tok.encode(o->prompt, !o->noBos, true);
        rt::GenerateParams gp;
        gp.maxTokens = o->n;
        gp.sampler = o->sp;
        gp.context = {o->contextShift, uint32_t(ids.size())};
        if (!o->json) {
            std::fputs(o->prompt.c_str(), stdout);
            std::fflush(stdout);
        }
        auto st = rt::generate(*backend, tok, ids, gp, [&](const rt::TokenEvent& ev) {
            if (o->json) {
                nlohmann::json j{{"id", ev.id}, {"text", ev.text}, {"logprob", ev.logprob}};
                std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            } else {
                std::fputs(ev.text.c_str(), stdout);
            }
            std::fflush(stdout);
            return true;
        });
        if (!st.ok()) {
            if (!o->json) std::printf("\n");
            fail(st.error().message);
            return;
        }
        const auto& s = st.value();
        if (o->json) {
            nlohmann::json j{{"done", true},
                             {"backend", backend->name()},
                             {"prompt_tokens", s.promptTokens},
                             {"generated_tokens", s.generatedTokens},
                             {"prefill_tok_s", s.prefillTokPerSec()},
                             {"decode_tok_s", s.decodeTokPerSec()},
                             {"stop", s.stopReason},
                             {"context_shifts", s.contextShifts},
                             {"n_ctx", backend->nCtx()}};
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::printf("\n");
            std::fprintf(stderr, "[%s] prompt %u tokens, %.1f tok/s | generated %u tokens, %.1f tok/s | stop: %s\n",
                         backend->name().c_str(), s.promptTokens, s.prefillTokPerSec(), s.generatedTokens,
                         s.decodeTokPerSec(), s.stopReason.c_str());
            if (s.contextShifts)
                std::fprintf(stderr, "moescope: the context shifted %u times (%u tokens dropped)\n", s.contextShifts,
                             s.droppedTokens);
            if (s.stopReason == "context length reached")
                std::fprintf(stderr,
                             "moescope: generation stopped at the context length (%u tokens); --ctx N for a larger "
                             "context, --context-shift to go on\n",
                             backend->nCtx());
        }
    });
}

}  // namespace moe::cli
