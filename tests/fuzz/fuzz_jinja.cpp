// libFuzzer target for the Jinja2 chat-template interpreter (engine/tokenizer/jinja.h).
// Input: template source, then optionally a NUL byte and a context. A context that parses as a
// JSON object is used as is; otherwise its bytes become the contents of a small conversation
// (with tools, bos/eos tokens and add_generation_prompt). Parsing and rendering run with small
// limits; every failure must be a one-line error.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/jinja.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nul = in.find('\0');
    std::string_view source = in.substr(0, nul);
    std::string_view rest = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);

    moe::jinja::RenderOptions o;
    o.maxOutputBytes = 1 << 16;
    o.maxSteps = 200000;
    o.maxDepth = 40;
    o.now = "2024-07-26 14:05:09";
    auto t = moe::jinja::Template::parse(source);
    if (!t.ok()) {
        if (t.error().message.find('\n') != std::string::npos) std::abort();
        return 0;
    }
    nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(rest.begin(), rest.end(), nullptr, false);
    if (ctx.is_discarded() || !ctx.is_object()) {
        std::string text(rest);
        // keep the text valid UTF-8 for JSON: replace bytes >= 0x80 (the interpreter sees raw bytes in templates)
        for (char& c : text)
            if (uint8_t(c) >= 0x80) c = '?';
        ctx = nlohmann::ordered_json::object();
        ctx["bos_token"] = "<s>";
        ctx["eos_token"] = "</s>";
        ctx["add_generation_prompt"] = !text.empty() && (text[0] & 1);
        ctx["messages"] = nlohmann::ordered_json::array(
            {{{"role", "system"}, {"content", text}},
             {{"role", "user"}, {"content", text.substr(0, text.size() / 2)}},
             {{"role", "assistant"}, {"content", "<think>r</think>" + text},
              {"tool_calls", {{{"type", "function"}, {"function", {{"name", "f"}, {"arguments", {{"a", 1}}}}}}}}},
             {{"role", "tool"}, {"content", text}}});
        ctx["tools"] = nlohmann::ordered_json::array(
            {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}});
    }
    auto r = t->render(ctx, o);
    if (!r.ok() && r.error().message.find('\n') != std::string::npos) std::abort();
    if (r.ok() && r->size() > o.maxOutputBytes) std::abort();
    return 0;
}
