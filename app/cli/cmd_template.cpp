// `moescope template`: renders a chat template (the model's tokenizer.chat_template, or a .jinja
// file) over a conversation with the Jinja interpreter and prints the prompt exactly, byte for
// byte, with no newline added. For tests, debugging, and users checking what a model is sent.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "tokenizer/jinja.h"

namespace moe::cli {

namespace {

struct TemplateFlags {
    ModelFlags model;
    std::string templatePath;  // --template FILE.jinja instead of the model's
    std::string messagesPath;  // JSON: an array of messages, or an object with "messages" and more variables
    bool noGenerationPrompt = false;
    std::string bos, eos;
    bool bosSet = false, eosSet = false;
    std::string now;  // strftime_now's date
};

void runTemplate(const TemplateFlags& f) {
    std::string source, bos, eos;
    if (!f.templatePath.empty()) {
        if (!readFileOrFail(f.templatePath, "template", source)) return;
    } else {
        auto model = loadModelOrFail(f.model);
        if (!model) return;
        const Tokenizer& tok = *model->tokenizer;
        source = tok.chatTemplate();
        if (source.empty()) return fail(model->file.name() + ": the model has no chat template (tokenizer.chat_template)");
        if (tok.bos()) bos = tok.tokenText(*tok.bos());
        if (tok.eos()) eos = tok.tokenText(*tok.eos());
    }
    if (f.bosSet) bos = f.bos;
    if (f.eosSet) eos = f.eos;

    std::string text;
    if (!readFileOrFail(f.messagesPath, "messages file", text)) return;
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail(f.messagesPath + ": not valid JSON");
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    if (j.is_array()) {
        ctx["messages"] = j;
    } else if (j.is_object() && j.contains("messages")) {
        ctx = j;
    } else {
        return fail(f.messagesPath + ": expected an array of messages or an object with \"messages\"");
    }
    if (!ctx["messages"].is_array()) return fail(f.messagesPath + ": \"messages\" is not an array");
    for (const auto& m : ctx["messages"])
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            return fail(f.messagesPath + ": every message needs a string \"role\"");
    ctx["add_generation_prompt"] = !f.noGenerationPrompt;
    ctx["bos_token"] = bos;
    ctx["eos_token"] = eos;

    auto t = jinja::Template::parse(source);
    if (!t.ok()) return fail(t.error().message);
    jinja::RenderOptions o;
    o.now = f.now;
    auto out = t.value().render(ctx, o);
    if (!out.ok()) return fail(out.error().message);
    std::fwrite(out.value().data(), 1, out.value().size(), stdout);
    std::fflush(stdout);
}

}  // namespace

void registerTemplate(CLI::App& app) {
    auto f = std::make_shared<TemplateFlags>();
    auto* cmd = app.add_subcommand("template", "render a chat template over a conversation and print the prompt exactly");
    addModelFlags(cmd, f->model, false);
    cmd->add_option("--template", f->templatePath, "a Jinja template file instead of the model's tokenizer.chat_template")
        ->excludes("--model");
    cmd->add_option("--messages", f->messagesPath,
                    "JSON file: an array of {role, content} messages, or an object with \"messages\" and other "
                    "template variables (tools, enable_thinking, ...)")
        ->required();
    cmd->add_flag("--no-generation-prompt", f->noGenerationPrompt, "render without add_generation_prompt");
    cmd->add_option("--bos", f->bos, "text of bos_token (default: the model's BOS token, or empty)")
        ->each([f](const std::string&) { f->bosSet = true; });
    cmd->add_option("--eos", f->eos, "text of eos_token (default: the model's EOS token, or empty)")
        ->each([f](const std::string&) { f->eosSet = true; });
    cmd->add_option("--now", f->now, "the date strftime_now reports, YYYY-MM-DD[ HH:MM:SS] (default: now)");
    cmd->callback([f] { runTemplate(*f); });
}

}  // namespace moe::cli
