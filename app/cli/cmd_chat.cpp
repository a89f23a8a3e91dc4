// `moescope chat`: a terminal conversation using the model's chat template. The KV cache keeps
// the conversation; each turn only the new tokens are evaluated. Past the context length the
// context shifts (runtime/context.h): the system prompt stays, the oldest half of the rest goes.
// A reply's reasoning (thinking markers, gpt-oss's analysis channel) is printed apart from the
// answer, dimmed on a terminal, or hidden; tool-call blocks are printed as calls.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/generate.h"
#include "tokenizer/chat_template.h"

namespace moe::cli {

namespace {

// Prints the pieces of a streaming reply: "[thinking]" then the reasoning (dim on a terminal),
// "[answer]" when an answer follows reasoning, "[tool call] name arguments" per call.
class ReplyPrinter {
public:
    ReplyPrinter(bool hideThinking, bool tty) : hide_(hideThinking), tty_(tty) {}
    void print(const std::vector<ReplyStream::Piece>& pieces, bool tokenWasReasoning) {
        if (tokenWasReasoning) ++reasoningTokens_;
        for (const auto& p : pieces) {
            if (p.part == ReplyPart::Reasoning) {
                if (last_ != ReplyPart::Reasoning) begin("[thinking]\n");
                if (!hide_) out(p.text, true);
            } else if (p.part == ReplyPart::ToolCall) {
                endThinking();
                for (const auto& c : p.calls)
                    line("[tool call] " + (c.name.empty() ? std::string("(unreadable)") : c.name) + " " + c.arguments);
            } else {
                std::string_view t = p.text;
                if (last_ != ReplyPart::Answer) {
                    const bool afterThinking = last_ == ReplyPart::Reasoning;
                    endThinking();
                    t.remove_prefix(std::min(t.size(), t.find_first_not_of(" \t\r\n")));  // after a block
                    if (t.empty()) continue;
                    if (afterThinking) line("[answer]");
                }
                out(t, false);
                last_ = ReplyPart::Answer;
            }
        }
        std::fflush(stdout);
    }
    void finish() {
        endThinking();
        std::printf("\n");
    }

private:
    void begin(const char* header) {
        if (atLineStart_ == false) std::fputs("\n", stdout);
        std::fputs(header, stdout);
        atLineStart_ = true;
        last_ = ReplyPart::Reasoning;
    }
    void endThinking() {
        if (last_ != ReplyPart::Reasoning) return;
        if (hide_) std::printf("(%u tokens of reasoning hidden)\n", reasoningTokens_);
        else if (!atLineStart_) std::fputs("\n", stdout);
        atLineStart_ = true;
        last_ = ReplyPart::Markup;
    }
    void line(const std::string& s) {
        if (!atLineStart_) std::fputs("\n", stdout);
        std::fputs(s.c_str(), stdout);
        std::fputs("\n", stdout);
        atLineStart_ = true;
        last_ = ReplyPart::ToolCall;
    }
    void out(std::string_view t, bool dim) {
        if (t.empty()) return;
        if (dim && tty_) std::fputs("\033[2m", stdout);
        std::fwrite(t.data(), 1, t.size(), stdout);
        if (dim && tty_) std::fputs("\033[0m", stdout);
        atLineStart_ = t.back() == '\n';
    }
    bool hide_, tty_;
    ReplyPart last_ = ReplyPart::Markup;  // Markup: nothing printed yet in this reply
    bool atLineStart_ = true;
    uint32_t reasoningTokens_ = 0;
};

}  // namespace

void registerChat(CLI::App& app) {
    struct Opts {
        ModelFlags mf;
        std::string system;
        int32_t n = 256;
        rt::SamplerParams sp;
        std::string think, effort, toolsPath;
        bool hideThinking = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("chat", "chat with a model in the terminal (empty line or Ctrl-D ends)");
    addModelFlags(cmd, o->mf);
    cmd->add_option("--system", o->system, "system prompt");
    cmd->add_option("-n,--n-predict", o->n, "maximum tokens per reply");
    cmd->add_option("--temp", o->sp.temperature, "temperature (0: greedy)");
    cmd->add_option("--top-p", o->sp.topP, "top-p");
    cmd->add_option("--seed", o->sp.seed, "sampling seed");
    cmd->add_option("--think", o->think, "on | off: the template's enable_thinking (default: the template's own)")
        ->check(CLI::IsMember({"on", "off"}));
    cmd->add_option("--reasoning-effort", o->effort, "low | medium | high: the template's reasoning_effort (gpt-oss)")
        ->check(CLI::IsMember({"low", "medium", "high"}));
    cmd->add_flag("--hide-thinking", o->hideThinking, "print how long the model reasoned instead of its reasoning");
    cmd->add_option("--tools", o->toolsPath, "JSON file: the tools list (OpenAI form) the template offers the model");
    cmd->callback([o] {
        ChatOptions opts;
        opts.thinking = o->think.empty() ? -1 : o->think == "on" ? 1 : 0;
        opts.reasoningEffort = o->effort;
        if (!o->toolsPath.empty()) {
            std::string text;
            if (!readFileOrFail(o->toolsPath, "tools file", text)) return;
            opts.tools = nlohmann::ordered_json::parse(text, nullptr, false);
            if (opts.tools.is_discarded() || !opts.tools.is_array())
                return fail(o->toolsPath + ": expected a JSON array of tools");
        }
        auto model = loadModelOrFail(o->mf);
        if (!model) return;
        auto backend = createBackendOrFail(*model, o->mf);
        if (!backend) return;
        const Tokenizer& tok = *model->tokenizer;
        auto tmpl = ChatTemplate::forTokenizer(tok);
        if (!tmpl.warning().empty()) std::fprintf(stderr, "moescope: warning: %s\n", tmpl.warning().c_str());
        std::fprintf(stderr, "moescope: chat template: %s%s; replies: %s\n",
                     tmpl.usesJinja() ? "the model's own (Jinja), family " : "built-in ", std::string(tmpl.name()).c_str(),
                     tmpl.replyFormat().describe().c_str());
        const std::vector<int32_t> stops = tmpl.stopTokenIds(tok);
        const bool tty = isatty(fileno(stdout)) != 0;
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
            const ChatPrompt prompt = tmpl.format(conv, true, opts);
            auto full = tmpl.encode(tok, prompt);
            // reuse the cached prefix when the rendering of the conversation extends it; shift
            // the context when the conversation no longer fits
            const uint32_t nKeep = rt::chatKeepTokens(tmpl, tok, conv, full, opts);
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
            gp.stopTokens = stops;
            gp.renderSpecial = tmpl.replyFormat().syntax == ReplyFormat::Syntax::Harmony;
            gp.onContextShift = [](uint32_t, uint32_t cut) {
                std::fprintf(stderr, "\nmoescope: context full: dropped the oldest %u tokens after the system prompt\n", cut);
            };
            ReplyStream reply(tmpl.replyFormat(), prompt.opensReasoning);
            ReplyPrinter printer(o->hideThinking, tty);
            auto st = rt::generate(*backend, tok, fresh, gp, [&](const rt::TokenEvent& ev) {
                const bool reasoning = reply.parsed().inReasoning;
                printer.print(reply.feed(ev.text), reasoning);
                return true;
            }, plan.reuse, &history);
            printer.print(reply.finish(), false);
            printer.finish();
            if (!st.ok()) {
                fail(st.error().message);
                return;
            }
            // the sampled tokens are in the cache except the last one (never evaluated)
            inCache = history;
            if (!inCache.empty() && st.value().stopReason != "eog") inCache.pop_back();
            dropped += st.value().droppedTokens;
            const ParsedReply parts = reply.parsed();
            conv.push_back({"assistant", parts.content, parts.reasoning, parts.toolCalls});
            std::fprintf(stderr, "[%.1f tok/s]\n", st.value().decodeTokPerSec());
        }
    });
}

}  // namespace moe::cli
