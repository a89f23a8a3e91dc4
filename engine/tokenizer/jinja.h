// A Jinja2 interpreter for the subset that GGUF chat templates (tokenizer.chat_template) use,
// rendering as HF transformers renders them: jinja2's ImmutableSandboxedEnvironment with
// trim_blocks and lstrip_blocks, the loopcontrols extension ({% break %}, {% continue %}), the
// {% generation %} tag (renders its body), HF's tojson (json.dumps with ensure_ascii=False, no
// HTML escaping, keys in their order) and the globals raise_exception and strftime_now. Output
// is byte for byte what python3-jinja2 gives (tests/test_jinja.cpp compares the two).
//
// Differences from jinja2, each one where jinja2 errors and this renders: list.append() works
// (the immutable sandbox forbids it; llama.cpp allows it and templates use it on namespace lists).
//
// Untrusted templates: every failure is a one-line Error naming the construct and its
// position ("chat template: line 3, column 12: unknown filter 'foo'"); nesting, macro recursion,
// evaluation steps and output size are bounded by RenderOptions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace moe::jinja {

struct Node;

struct RenderOptions {
    bool trimBlocks = true;
    bool lstripBlocks = true;
    size_t maxOutputBytes = size_t(16) << 20;  // also the largest string or list a template may build
    uint64_t maxSteps = 50'000'000;            // statements and expression nodes evaluated
    int maxDepth = 200;                        // nested macro calls
    // strftime_now's clock: "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (also with 'T'); empty: the
    // current local time.
    std::string now;
};

class Template {
public:
    // Lexes with trim_blocks and lstrip_blocks on (what llama.cpp and HF use). parse() with
    // options re-lexes with the given whitespace settings.
    static Result<Template> parse(std::string_view source);
    static Result<Template> parse(std::string_view source, const RenderOptions& lexing);

    // context: a JSON object whose members become the template's variables (messages, tools,
    // add_generation_prompt, bos_token, ...).
    Result<std::string> render(const nlohmann::ordered_json& context, const RenderOptions& o = {}) const;

private:
    std::shared_ptr<const Node> root_;
};

}  // namespace moe::jinja
