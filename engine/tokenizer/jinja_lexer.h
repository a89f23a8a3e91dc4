// Jinja2 lexer (jinja.h): splits a template into text and the tokens of its {{ }} and {% %} tags,
// applying whitespace control as jinja2's lexer does (trim_blocks, lstrip_blocks, '-' and '+'
// markers, one trailing newline dropped, newlines normalised to '\n'). Comments vanish here and
// raw blocks become text.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace moe::jinja {

struct Pos {
    int line = 0, col = 0;  // 1-based; column in bytes
};

// "chat template: line L, column C: msg"
Error errorAt(Pos p, const std::string& msg);

enum class Tok { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type = Tok::Eof;
    std::string text;  // data, name, decoded string literal, operator
    int64_t i = 0;
    double f = 0;
    Pos pos;
};

struct LexOptions {
    bool trimBlocks = true;
    bool lstripBlocks = true;
};

Result<std::vector<Token>> lex(std::string_view source, const LexOptions& o);

}  // namespace moe::jinja
