// The structure of a model's reply: its reasoning (the text inside the chat template's thinking
// markers, or gpt-oss's analysis channel), its answer, and the tool calls it made, found by the
// markers the model's template uses. The chat panels show reasoning apart from the answer and
// tool calls as blocks; the conversation passes them back to the template in later turns as
// reasoning_content / thinking and tool_calls, and the template decides what it keeps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

struct ToolCall {
    std::string name;       // empty when the block could not be read as a call
    std::string arguments;  // JSON text as the model wrote it (or the block's raw text)
    bool operator==(const ToolCall&) const = default;
};

enum class ReplyPart : uint8_t {
    Answer,     // shown as the reply
    Reasoning,  // thinking: shown collapsed
    ToolCall,   // a tool-call block
    Markup,     // the markers themselves (<think>, <|channel|>analysis<|message|>, ...): not shown
};

const char* replyPartName(ReplyPart p);  // "answer", "reasoning", "tool call", "markup"

// Bytes [begin, end) of the raw reply are of one part.
struct ReplySpan {
    ReplyPart part = ReplyPart::Answer;
    size_t begin = 0, end = 0;
    bool closed = true;  // its closing marker was seen (false: the reply ended inside it)
    uint32_t firstCall = 0, calls = 0;  // ToolCall spans: their calls in ParsedReply::toolCalls
    bool operator==(const ReplySpan&) const = default;
};

struct ParsedReply {
    std::string reasoning;           // the reasoning, whitespace-trimmed
    std::string content;             // the answer (raw when the format has no markers; else trimmed)
    std::vector<ToolCall> toolCalls;
    std::vector<ReplySpan> spans;    // cover the raw reply in order, adjacent spans of a part merged
    bool inReasoning = false;        // the reply ends inside its reasoning (still thinking)
};

// The markers of one template, found in its source.
struct ReplyFormat {
    enum class Syntax : uint8_t {
        Plain,    // no markers: the whole reply is the answer
        Tags,     // thinking between thinkOpen / thinkClose, tool calls between toolOpen / toolClose
        Harmony,  // gpt-oss: <|channel|>analysis / commentary / final <|message|> ... <|end|>
    };
    Syntax syntax = Syntax::Plain;
    std::string thinkOpen, thinkClose;  // empty: no thinking markers
    std::string toolOpen, toolClose;    // empty toolOpen: no tool-call blocks; empty toolClose: to the end

    static ReplyFormat detect(std::string_view templateSource);
    bool hasReasoning() const { return syntax == Syntax::Harmony || !thinkClose.empty(); }
    // "plain", "think tags <think>...</think>", "harmony channels"
    std::string describe() const;

    // Splits a reply. startsInReasoning: the prompt ended inside a thinking block (a generation
    // prompt that opens <think> itself), so the reply starts with reasoning.
    ParsedReply parse(std::string_view raw, bool startsInReasoning = false) const;
    // True when the rendered prompt ends inside a thinking block.
    bool promptOpensReasoning(std::string_view prompt) const;
    // The number of bytes at the end of `raw` that may be the start of a marker (held back while
    // streaming, so that a marker split over tokens is never shown as text).
    size_t pendingMarkerBytes(std::string_view raw) const;
};

// Tool calls in the text of one tool-call block: a JSON object {"name", "arguments" |
// "parameters"} or an array of them (Hermes, Qwen, Mistral), GLM's name + <arg_key>/<arg_value>
// pairs, DeepSeek's <｜tool▁call▁begin｜>...<｜tool▁sep｜>... calls, Mistral's name[ARGS]{...}.
// A block none of these read is one call with an empty name and the block as its arguments.
std::vector<ToolCall> parseToolCalls(std::string_view block);

// A reply as it streams: feed() the text each token adds; it returns the newly shown pieces,
// each of one part (Markup never; a tool call once its block is complete, its text being the
// block). Text that may be the start of a marker waits for the next feed; finish() flushes.
class ReplyStream {
public:
    struct Piece {
        ReplyPart part;
        std::string text;
        std::vector<ToolCall> calls;  // ToolCall pieces: the calls of the block
    };
    ReplyStream(ReplyFormat format, bool startsInReasoning) : format_(std::move(format)), reasoning0_(startsInReasoning) {}
    std::vector<Piece> feed(std::string_view text);
    std::vector<Piece> finish();
    const std::string& raw() const { return raw_; }
    ParsedReply parsed() const { return format_.parse(raw_, reasoning0_); }

private:
    std::vector<Piece> emit(size_t upTo, bool final);
    ReplyFormat format_;
    bool reasoning0_;
    std::string raw_;
    size_t shown_ = 0;  // bytes of raw_ already returned (or skipped as markup)
};

}  // namespace moe
