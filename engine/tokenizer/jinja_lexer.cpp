#include "tokenizer/jinja_lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "tokenizer/jinja_value.h"

namespace moe::jinja {

Error errorAt(Pos p, const std::string& msg) {
    std::string m = "chat template: line " + std::to_string(p.line) + ", column " + std::to_string(p.col) + ": ";
    for (char c : msg) m += (c == '\n' || c == '\r') ? ' ' : c;
    return Error{std::move(m)};
}

namespace {

// What str.splitlines() breaks on, joined back with '\n'; one trailing break dropped.
std::string normalizeNewlines(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = uint8_t(s[i]);
        if (c == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += '\n';
        } else if (c == '\n' || c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E) {
            out += '\n';
        } else if (c == 0xC2 && i + 1 < s.size() && uint8_t(s[i + 1]) == 0x85) {
            out += '\n';
            ++i;
        } else if (c == 0xE2 && i + 2 < s.size() && uint8_t(s[i + 1]) == 0x80 &&
                   (uint8_t(s[i + 2]) == 0xA8 || uint8_t(s[i + 2]) == 0xA9)) {
            out += '\n';
            i += 2;
        } else {
            out += char(c);
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// Python's str.rstrip() / "\s" on UTF-8 text.
size_t rstripLen(std::string_view s) {
    size_t end = 0;
    for (size_t i = 0; i < s.size();)
        if (!isPyWhitespace(utf8Decode(s, i))) end = i;
    return end;
}

size_t lstripPos(std::string_view s, size_t pos) {
    while (pos < s.size()) {
        size_t i = pos;
        uint32_t cp = utf8Decode(s, i);
        if (!isPyWhitespace(cp)) break;
        pos = i;
    }
    return pos;
}

bool allWhitespace(std::string_view s) { return lstripPos(s, 0) == s.size(); }

bool isNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isNameChar(char c) { return isNameStart(c) || isDigit(c); }

class Lexer {
public:
    Lexer(std::string src, const LexOptions& o) : s_(std::move(src)), o_(o) {
        lineStarts_.push_back(0);
        for (size_t i = 0; i < s_.size(); ++i)
            if (s_[i] == '\n') lineStarts_.push_back(i + 1);
    }

    Result<std::vector<Token>> run() {
        size_t pos = 0;
        bool lineStarting = true;
        while (pos < s_.size()) {
            size_t k = findTag(pos);
            if (k == std::string::npos) {
                emitData(pos, s_.substr(pos));
                break;
            }
            char kind = s_[k + 1];  // '{' variable, '%' block, '#' comment
            size_t p = k + 2;
            char sign = (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ? s_[p] : 0;
            if (sign) ++p;
            bool raw = kind == '%' && isRawBegin(p);
            std::string text = s_.substr(pos, k - pos);
            if (sign == '-') {
                text.resize(rstripLen(text));
            } else if (sign != '+' && o_.lstripBlocks && kind != '{') {
                size_t l = text.rfind('\n');
                l = l == std::string::npos ? 0 : l + 1;
                if ((l > 0 || lineStarting) && l < text.size() && allWhitespace(std::string_view(text).substr(l)))
                    text.resize(l);
            }
            emitData(pos, std::move(text));
            if (kind == '#') {
                MOE_ASSIGN(pos, comment(k, p));
            } else if (raw) {
                MOE_ASSIGN(pos, rawBlock(k, p));
            } else {
                MOE_ASSIGN(pos, tag(k, p, kind == '%'));
            }
            lineStarting = pos > 0 && s_[pos - 1] == '\n';
        }
        Token eof;
        eof.type = Tok::Eof;
        eof.pos = posOf(s_.size());
        toks_.push_back(std::move(eof));
        return std::move(toks_);
    }

private:
    Pos posOf(size_t off) const {
        auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), off);
        size_t line = size_t(it - lineStarts_.begin());
        return Pos{int(line), int(off - lineStarts_[line - 1]) + 1};
    }

    size_t findTag(size_t pos) const {
        for (size_t k = s_.find('{', pos); k != std::string::npos; k = s_.find('{', k + 1))
            if (k + 1 < s_.size() && (s_[k + 1] == '{' || s_[k + 1] == '%' || s_[k + 1] == '#')) return k;
        return std::string::npos;
    }

    void emitData(size_t off, std::string text) {
        if (text.empty()) return;
        Token t;
        t.type = Tok::Data;
        t.text = std::move(text);
        t.pos = posOf(off);
        toks_.push_back(std::move(t));
    }

    // After "{%" and its sign: \s* raw \s* (-%} | %})
    bool isRawBegin(size_t p) const {
        p = skipSpace(p);
        if (s_.compare(p, 3, "raw") != 0) return false;
        p = skipSpace(p + 3);
        return s_.compare(p, 3, "-%}") == 0 || s_.compare(p, 2, "%}") == 0;
    }

    size_t skipSpace(size_t p) const {
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n' || s_[p] == '\r')) ++p;
        return p;
    }

    // Position after a tag end at p ("-%}" strips what follows, "+%}" keeps it, "%}" drops one
    // newline under trim_blocks).
    size_t afterEnd(size_t p, size_t len, char sign) const {
        p += len;
        if (sign == '-') return lstripPos(s_, p);
        if (sign == 0 && o_.trimBlocks && p < s_.size() && s_[p] == '\n') return p + 1;
        return p;
    }

    Result<size_t> comment(size_t k, size_t p) {
        size_t j = s_.find("#}", p);
        if (j == std::string::npos) return errorAt(posOf(k), "missing end of comment tag");
        char sign = (j > p && (s_[j - 1] == '-' || s_[j - 1] == '+')) ? s_[j - 1] : 0;
        return afterEnd(j, 2, sign);
    }

    Result<size_t> rawBlock(size_t k, size_t p) {
        p = skipSpace(skipSpace(p) + 3);
        size_t q = s_.compare(p, 3, "-%}") == 0 ? lstripPos(s_, p + 3) : p + 2;
        for (size_t j = s_.find("{%", q); j != std::string::npos; j = s_.find("{%", j + 1)) {
            size_t e = j + 2;
            char sign = (e < s_.size() && (s_[e] == '-' || s_[e] == '+')) ? s_[e] : 0;
            if (sign) ++e;
            e = skipSpace(e);
            if (s_.compare(e, 6, "endraw") != 0) continue;
            e = skipSpace(e + 6);
            char endSign = 0;
            size_t len = 2;
            if (s_.compare(e, 3, "-%}") == 0 || s_.compare(e, 3, "+%}") == 0) {
                endSign = s_[e];
                len = 3;
            } else if (s_.compare(e, 2, "%}") != 0) {
                continue;
            }
            std::string text = s_.substr(q, j - q);
            if (sign == '-') {
                text.resize(rstripLen(text));
            } else if (sign != '+' && o_.lstripBlocks) {
                size_t l = text.rfind('\n');
                l = l == std::string::npos ? 0 : l + 1;
                bool starting = q > 0 && s_[q - 1] == '\n';
                if ((l > 0 || starting) && l < text.size() && allWhitespace(std::string_view(text).substr(l)))
                    text.resize(l);
            }
            emitData(q, std::move(text));
            return afterEnd(e, len, endSign);
        }
        return errorAt(posOf(k), "missing end of raw block ({% endraw %})");
    }

    Result<size_t> tag(size_t k, size_t p, bool block) {
        Token begin;
        begin.type = block ? Tok::BlockBegin : Tok::VarBegin;
        begin.pos = posOf(k);
        toks_.push_back(begin);
        std::vector<char> brackets;
        while (true) {
            while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n' || s_[p] == '\r' ||
                                     s_[p] == '\f' || s_[p] == '\v'))
                ++p;
            if (p >= s_.size())
                return errorAt(posOf(k), std::string("unexpected end of template: missing '") +
                                             (block ? "%}" : "}}") + "' for the tag opened here");
            if (brackets.empty()) {
                Token end;
                end.type = block ? Tok::BlockEnd : Tok::VarEnd;
                end.pos = posOf(p);
                if (block) {
                    if (s_.compare(p, 3, "-%}") == 0 || s_.compare(p, 3, "+%}") == 0) {
                        toks_.push_back(end);
                        return afterEnd(p, 3, s_[p]);
                    }
                    if (s_.compare(p, 2, "%}") == 0) {
                        toks_.push_back(end);
                        return afterEnd(p, 2, 0);
                    }
                } else {
                    if (s_.compare(p, 3, "-}}") == 0) {
                        toks_.push_back(end);
                        return lstripPos(s_, p + 3);
                    }
                    if (s_.compare(p, 2, "}}") == 0) {
                        toks_.push_back(end);
                        return p + 2;
                    }
                }
            }
            MOE_ASSIGN(p, token(p, brackets));
        }
    }

    Result<size_t> token(size_t p, std::vector<char>& brackets) {
        Token t;
        t.pos = posOf(p);
        char c = s_[p];
        if (isNameStart(c)) {
            size_t e = p;
            while (e < s_.size() && isNameChar(s_[e])) ++e;
            t.type = Tok::Name;
            t.text = s_.substr(p, e - p);
            toks_.push_back(std::move(t));
            return e;
        }
        if (isDigit(c)) return number(p, std::move(t));
        if (c == '\'' || c == '"') return stringLit(p, std::move(t));
        static const char* ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                    "(",  ")",  "{",  "}",  ">",  "<",  "=", ".", ":", "|", ",", ";"};
        for (const char* op : ops) {
            size_t n = std::char_traits<char>::length(op);
            if (s_.compare(p, n, op) != 0) continue;
            if (n == 1 && (c == '(' || c == '[' || c == '{')) brackets.push_back(c);
            if (n == 1 && (c == ')' || c == ']' || c == '}')) {
                char want = c == ')' ? '(' : c == ']' ? '[' : '{';
                if (brackets.empty() || brackets.back() != want)
                    return errorAt(t.pos, std::string("unexpected '") + c + "'");
                brackets.pop_back();
            }
            t.type = Tok::Op;
            t.text = op;
            toks_.push_back(std::move(t));
            return p + n;
        }
        std::string shown = (uint8_t(c) < 0x20 || uint8_t(c) >= 0x7F) ? "byte " + std::to_string(uint8_t(c)) : std::string(1, c);
        return errorAt(t.pos, "unexpected character '" + shown + "'");
    }

    Result<size_t> number(size_t p, Token t) {
        auto digitsRun = [&](size_t e, auto pred) {
            // (d+_)*d+ : digits with single underscores between them
            size_t start = e;
            while (e < s_.size() && (pred(s_[e]) || (s_[e] == '_' && e > start && e + 1 < s_.size() && pred(s_[e + 1]))))
                ++e;
            return e;
        };
        auto dec = [](char ch) { return isDigit(ch); };
        bool afterDot = !toks_.empty() && toks_.back().type == Tok::Op && toks_.back().text == ".";
        size_t e = digitsRun(p, dec);
        std::string digits;
        auto clean = [&](size_t a, size_t b) {
            std::string r;
            for (size_t i = a; i < b; ++i)
                if (s_[i] != '_') r += s_[i];
            return r;
        };
        if (!afterDot) {
            size_t f = e;
            bool isFloat = false;
            if (f + 1 < s_.size() && s_[f] == '.' && isDigit(s_[f + 1])) {
                f = digitsRun(f + 1, dec);
                isFloat = true;
            }
            if (f < s_.size() && (s_[f] == 'e' || s_[f] == 'E')) {
                size_t g = f + 1;
                if (g < s_.size() && (s_[g] == '+' || s_[g] == '-')) ++g;
                if (g < s_.size() && isDigit(s_[g])) {
                    f = digitsRun(g, dec);
                    isFloat = true;
                }
            }
            if (isFloat) {
                t.type = Tok::Float;
                t.f = std::strtod(clean(p, f).c_str(), nullptr);
                t.text = s_.substr(p, f - p);
                toks_.push_back(std::move(t));
                return f;
            }
        }
        int base = 10;
        size_t start = p;
        if (s_[p] == '0' && p + 1 < s_.size()) {
            char b = char(s_[p + 1] | 0x20);
            auto hex = [](char ch) { return isDigit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); };
            auto bin = [](char ch) { return ch == '0' || ch == '1'; };
            auto oct = [](char ch) { return ch >= '0' && ch <= '7'; };
            size_t q = p + 2;
            if (q < s_.size() && s_[q] == '_') ++q;
            if (b == 'x' && q < s_.size() && hex(s_[q])) base = 16, e = digitsRun(q, hex), start = q;
            if (b == 'o' && q < s_.size() && oct(s_[q])) base = 8, e = digitsRun(q, oct), start = q;
            if (b == 'b' && q < s_.size() && bin(s_[q])) base = 2, e = digitsRun(q, bin), start = q;
        }
        digits = clean(start, e);
        if (base == 10 && digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos)
            return errorAt(t.pos, "leading zeros in decimal integer literals are not permitted");
        errno = 0;
        unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
        if (errno == ERANGE || v > uint64_t(INT64_MAX)) return errorAt(t.pos, "integer literal too large");
        t.type = Tok::Int;
        t.i = int64_t(v);
        t.text = s_.substr(p, e - p);
        toks_.push_back(std::move(t));
        return e;
    }

    // Python's unicode-escape decoding of the literal's body.
    Result<size_t> stringLit(size_t p, Token t) {
        char q = s_[p];
        std::string out;
        size_t i = p + 1;
        auto hexVal = [](char ch) -> int {
            if (isDigit(ch)) return ch - '0';
            ch = char(ch | 0x20);
            return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        };
        while (true) {
            if (i >= s_.size()) return errorAt(t.pos, "unterminated string literal");
            char c = s_[i];
            if (c == q) break;
            if (c != '\\') {
                out += c;
                ++i;
                continue;
            }
            if (i + 1 >= s_.size()) return errorAt(t.pos, "unterminated string literal");
            char e = s_[i + 1];
            i += 2;
            switch (e) {
                case '\n': break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'v': out += '\v'; break;
                case 'x':
                case 'u':
                case 'U': {
                    int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    uint32_t cp = 0;
                    for (int k = 0; k < n; ++k) {
                        int h = i + k < s_.size() ? hexVal(s_[i + k]) : -1;
                        if (h < 0) return errorAt(t.pos, std::string("truncated \\") + e + " escape in string literal");
                        cp = cp * 16 + uint32_t(h);
                    }
                    if (cp > 0x10FFFF) return errorAt(t.pos, "illegal Unicode character in string literal");
                    i += size_t(n);
                    utf8Append(out, cp);
                    break;
                }
                case 'N': return errorAt(t.pos, "\\N{...} escapes are not supported");
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t cp = uint32_t(e - '0');
                        for (int k = 0; k < 2 && i < s_.size() && s_[i] >= '0' && s_[i] <= '7'; ++k, ++i)
                            cp = cp * 8 + uint32_t(s_[i] - '0');
                        utf8Append(out, cp);
                    } else {
                        out += '\\';
                        out += e;
                    }
            }
        }
        t.type = Tok::String;
        t.text = std::move(out);
        toks_.push_back(std::move(t));
        return i + 1;
    }

    std::string s_;
    LexOptions o_;
    std::vector<size_t> lineStarts_;
    std::vector<Token> toks_;
};

}  // namespace

Result<std::vector<Token>> lex(std::string_view source, const LexOptions& o) {
    Lexer l(normalizeNewlines(source), o);
    return l.run();
}

}  // namespace moe::jinja
