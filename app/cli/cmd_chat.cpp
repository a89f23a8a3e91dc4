// `moescope chat`: a terminal conversation using the model's chat template. The KV cache keeps
// the conversation; each turn only the new tokens are evaluated.
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
        std::string line;
        while (true) {
            std::printf("> ");
            std::fflush(stdout);
            if (!std::getline(std::cin, line) || line.empty()) break;
            conv.push_back({"user", line});
            auto full = tmpl.encode(tok, conv, true);
            // reuse the cached prefix when the rendering of the conversation extends it
            size_t common = 0;
            while (common < inCache.size() && common < full.size() && inCache[common] == full[common]) ++common;
            if (common == full.size()) common = full.size() - 1;
            std::vector<int32_t> fresh(full.begin() + long(common), full.end());
            std::vector<int32_t> history(full.begin(), full.begin() + long(common));
            rt::GenerateParams gp;
            gp.maxTokens = o->n;
            gp.sampler = o->sp;
            std::string reply;
            auto st = rt::generate(*backend, tok, fresh, gp, [&](const rt::TokenEvent& ev) {
                reply += ev.text;
                std::fputs(ev.text.c_str(), stdout);
                std::fflush(stdout);
                return true;
            }, uint32_t(common), &history);
            std::printf("\n");
            if (!st.ok()) {
                fail(st.error().message);
                return;
            }
            // the sampled tokens are in the cache except the last one (never evaluated)
            inCache = history;
            if (!inCache.empty() && st.value().stopReason != "eog") inCache.pop_back();
            conv.push_back({"assistant", reply});
            std::fprintf(stderr, "[%.1f tok/s]\n", st.value().decodeTokPerSec());
            if (st.value().stopReason == "context length reached") {
                std::fprintf(stderr, "moescope: the conversation filled the context (%u tokens); start a new chat\n",
                             backend->nCtx());
                break;
            }
        }
    });
}

}  // namespace moe::cli
