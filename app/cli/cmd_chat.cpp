// `moescope chat`: a terminal conversation using the model's chat template. The KV cache keeps
// the conversation; each turn only the new tokens are evaluated. Past the context length the
// context shifts (runtime/context.h): the system prompt stays, the oldest half of the rest goes.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/generate.h"
#include "tokenizer/chat_template.h"

namespace moe::cli {

void registerChat(CLI::App& app) {
    struct Opts {
        ModelFlags mf;
        std::string system;
        int32_t n = 256;
        rt::SamplerParams sp;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("chat", "chat with a model in the terminal (empty line or Ctrl-D ends)");
    addModelFlags(cmd, o->mf);
    cmd->add_option("--system", o->system, "system prompt");
    cmd->add_option("-n,--n-predict", o->n, "maximum tokens per reply");
    cmd->add_option("--temp", o->sp.temperature, "temperature (0: greedy)");
    cmd->add_option("--top-p", o->sp.topP, "top-p");
    cmd->add_option("--seed", o->sp.seed, "sampling seed");
    cmd->callback([o] {
        auto model = loadModelOrFail(o->mf);
        if (!model) return;
        auto backend = createBackendOrFail(*model, o->mf);
        if (!backend) return;
        const Tokenizer& tok = *model->tokenizer;
        auto tmpl = ChatTemplate::forTokenizer(tok);
        if (!tmpl.warning().empty()) std::fprintf(stderr, "moescope: warning: %s\n", tmpl.warning().c_str());
        std::vector<ChatMessage> conv;
        if (!o->system.empty()) conv.push_back({"system", o->system});
        std::vector<int32_t> inCache;  // tokens already evaluated
        uint32_t dropped = 0;          // tokens cut by context shifts
        std::string line;
        while (true) {
            std::printf("> ");
            std::fflush(stdout);
            if (!std::getline(std::cin, line) || line.empty()) break;
            conv.push_back({"user", line});
            auto full = tmpl.encode(tok, conv, true);
            // reuse the cached prefix when the rendering of the conversation extends it; shift
            // the context when the conversation no longer fits
            const uint32_t nKeep = rt::chatKeepTokens(tmpl, tok, conv, full);
            rt::ContextPlan plan = rt::planContext(full, inCache, nKeep, dropped, backend->nCtx());
            if (plan.dropped > dropped)
                std::fprintf(stderr, "moescope: context full: dropped the oldest %u tokens after the system prompt\n",
                             plan.dropped - dropped);
            dropped = plan.dropped;
            std::vector<int32_t> fresh(plan.window.begin() + long(plan.reuse), plan.window.end());
            std::vector<int32_t> history(plan.window.begin(), plan.window.begin() + long(plan.reuse));
            rt::GenerateParams gp;
            gp.maxTokens = o->n;
            gp.sampler = o->sp;
            gp.context = {true, nKeep};
            gp.onContextShift = [](uint32_t, uint32_t cut) {
                std::fprintf(stderr, "\nmoescope: context full: dropped the oldest %u tokens after the system prompt\n", cut);
            };
            std::string reply;
            auto st = rt::generate(*backend, tok, fresh, gp, [&](const rt::TokenEvent& ev) {
                reply += ev.text;
                std::fputs(ev.text.c_str(), stdout);
                std::fflush(stdout);
                return true;
            }, plan.reuse, &history);
            std::printf("\n");
            if (!st.ok()) {
                fail(st.error().message);
                return;
            }
            // the sampled tokens are in the cache except the last one (never evaluated)
            inCache = history;
            if (!inCache.empty() && st.value().stopReason != "eog") inCache.pop_back();
            dropped += st.value().droppedTokens;
            conv.push_back({"assistant", reply});
            std::fprintf(stderr, "[%.1f tok/s]\n", st.value().decodeTokPerSec());
        }
    });
}

}  // namespace moe::cli
