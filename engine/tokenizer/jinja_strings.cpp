#include "tokenizer/jinja_strings.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "tokenizer/jinja_value.h"

namespace moe::jinja {

namespace {

std::vector<uint32_t> decode(const std::string& s) {
    std::vector<uint32_t> cps;
    cps.reserve(s.size());
    for (size_t i = 0; i < s.size();) cps.push_back(utf8Decode(s, i));
    return cps;
}

std::string encode(const std::vector<uint32_t>& cps, size_t from = 0, size_t to = SIZE_MAX) {
    std::string out;
    for (size_t i = from; i < cps.size() && i < to; ++i) utf8Append(out, cps[i]);
    return out;
}

uint32_t upperCp(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

uint32_t lowerCp(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

bool isLowerCp(uint32_t c) { return upperCp(c) != c || c == 0xDF; }
bool isUpperCp(uint32_t c) { return lowerCp(c) != c; }
bool isCased(uint32_t c) { return isLowerCp(c) || isUpperCp(c); }

template <class F>
std::string mapCps(const std::string& s, F f) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) utf8Append(out, f(utf8Decode(s, i)));
    return out;
}

bool isWordCp(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (isPyWhitespace(c)) return false;
    if ((c >= 0x2010 && c <= 0x205E) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF0F) ||
        (c >= 0x80 && c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 || c == 0xF7)
        return false;
    if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji and symbols
    return true;
}

}  // namespace

std::string strStrip(const std::string& s, const std::string* chars, bool left, bool right) {
    auto cps = decode(s);
    std::vector<uint32_t> set;
    if (chars) set = decode(*chars);
    auto strip = [&](uint32_t c) {
        return chars ? std::find(set.begin(), set.end(), c) != set.end() : isPyWhitespace(c);
    };
    size_t a = 0, b = cps.size();
    if (left)
        while (a < b && strip(cps[a])) ++a;
    if (right)
        while (b > a && strip(cps[b - 1])) --b;
    return encode(cps, a, b);
}

std::string strUpper(const std::string& s) { return mapCps(s, upperCp); }
std::string strLower(const std::string& s) { return mapCps(s, lowerCp); }
std::string strSwapcase(const std::string& s) {
    return mapCps(s, [](uint32_t c) { return isUpperCp(c) ? lowerCp(c) : upperCp(c); });
}

std::string strCapitalize(const std::string& s) {
    auto cps = decode(s);
    for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? upperCp(cps[i]) : lowerCp(cps[i]);
    return encode(cps);
}

std::string strTitle(const std::string& s) {
    auto cps = decode(s);
    bool prevCased = false;
    for (auto& c : cps) {
        if (isCased(c)) {
            c = prevCased ? lowerCp(c) : upperCp(c);
            prevCased = true;
        } else {
            prevCased = false;
        }
    }
    return encode(cps);
}

std::string jinjaTitle(const std::string& s) {
    auto cps = decode(s);
    bool start = true;
    for (auto& c : cps) {
        bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || isPyWhitespace(c);
        if (sep) {
            start = true;
            continue;
        }
        c = start ? upperCp(c) : lowerCp(c);
        start = false;
    }
    return encode(cps);
}

bool strIsLower(const std::string& s) {
    bool cased = false;
    for (size_t i = 0; i < s.size();) {
        uint32_t c = utf8Decode(s, i);
        if (isUpperCp(c)) return false;
        if (isLowerCp(c)) cased = true;
    }
    return cased;
}

bool strIsUpper(const std::string& s) {
    bool cased = false;
    for (size_t i = 0; i < s.size();) {
        uint32_t c = utf8Decode(s, i);
        if (isLowerCp(c)) return false;
        if (isUpperCp(c)) cased = true;
    }
    return cased;
}

Result<std::string> strReplace(const std::string& s, const std::string& from, const std::string& to, int64_t count,
                               size_t maxBytes) {
    std::string out;
    auto grow = [&](std::string_view piece) -> Status {
        if (out.size() + piece.size() > maxBytes) return Error{"replace: result too large"};
        out.append(piece);
        return {};
    };
    if (from.empty()) {  // inserts `to` around every code point
        auto off = utf8Offsets(s);
        int64_t done = 0;
        for (size_t i = 0; i + 1 < off.size(); ++i) {
            if (count < 0 || done < count) {
                MOE_TRY(grow(to));
                ++done;
            }
            MOE_TRY(grow(std::string_view(s).substr(off[i], off[i + 1] - off[i])));
        }
        if (count < 0 || done < count) MOE_TRY(grow(to));
        return out;
    }
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t k = s.find(from, pos);
        if (k == std::string::npos) break;
        MOE_TRY(grow(std::string_view(s).substr(pos, k - pos)));
        MOE_TRY(grow(to));
        pos = k + from.size();
        ++done;
    }
    MOE_TRY(grow(std::string_view(s).substr(pos)));
    return out;
}

Result<std::vector<std::string>> strSplit(const std::string& s, const std::string* sep, int64_t maxsplit,
                                          bool fromRight) {
    std::vector<std::string> out;
    if (sep) {
        if (sep->empty()) return Error{"empty separator"};
        if (!fromRight) {
            size_t pos = 0;
            while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
                size_t k = s.find(*sep, pos);
                if (k == std::string::npos) break;
                out.push_back(s.substr(pos, k - pos));
                pos = k + sep->size();
            }
            out.push_back(s.substr(pos));
            return out;
        }
        size_t end = s.size();
        while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
            if (end < sep->size()) break;
            size_t k = s.rfind(*sep, end - sep->size());
            if (k == std::string::npos) break;
            out.push_back(s.substr(k + sep->size(), end - k - sep->size()));
            end = k;
        }
        out.push_back(s.substr(0, end));
        std::reverse(out.begin(), out.end());
        return out;
    }
    auto cps = decode(s);
    if (fromRight) std::reverse(cps.begin(), cps.end());
    size_t i = 0, n = cps.size();
    while (true) {
        while (i < n && isPyWhitespace(cps[i])) ++i;
        if (i >= n) break;
        if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
            std::vector<uint32_t> rest(cps.begin() + long(i), cps.end());
            if (fromRight) std::reverse(rest.begin(), rest.end());
            out.push_back(encode(rest));
            break;
        }
        size_t j = i;
        while (j < n && !isPyWhitespace(cps[j])) ++j;
        std::vector<uint32_t> word(cps.begin() + long(i), cps.begin() + long(j));
        if (fromRight) std::reverse(word.begin(), word.end());
        out.push_back(encode(word));
        i = j;
    }
    if (fromRight) std::reverse(out.begin(), out.end());
    return out;
}

std::vector<std::string> strSplitLines(const std::string& s, bool keepEnds) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i < s.size();) {
        size_t at = i;
        uint32_t c = utf8Decode(s, i);
        bool brk = c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E ||
                   c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!brk) continue;
        if (c == '\r' && i < s.size() && s[i] == '\n') ++i;
        out.push_back(s.substr(start, (keepEnds ? i : at) - start));
        start = i;
    }
    if (start < s.size()) out.push_back(s.substr(start));
    return out;
}

std::string strCenter(const std::string& s, int64_t width, const std::string& fill) {
    int64_t len = int64_t(utf8Length(s));
    if (width <= len) return s;
    int64_t marg = width - len;
    int64_t left = marg / 2 + (marg & width & 1);
    std::string out;
    for (int64_t i = 0; i < left; ++i) out += fill;
    out += s;
    for (int64_t i = 0; i < marg - left; ++i) out += fill;
    return out;
}

int64_t strWordCount(const std::string& s) {
    int64_t n = 0;
    bool in = false;
    for (size_t i = 0; i < s.size();) {
        bool w = isWordCp(utf8Decode(s, i));
        if (w && !in) ++n;
        in = w;
    }
    return n;
}

std::string htmlEscape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

bool pyParseInt(const std::string& raw, int base, int64_t& out) {
    std::string s = strStrip(raw, nullptr, true, true);
    if (base != 0 && (base < 2 || base > 36)) return false;
    size_t i = 0;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    auto prefix = [&](char p) {
        return i + 1 < s.size() && s[i] == '0' && (s[i + 1] | 0x20) == p;
    };
    bool hadPrefix = false;
    if ((base == 16 || base == 0) && prefix('x')) base = 16, i += 2, hadPrefix = true;
    else if ((base == 8 || base == 0) && prefix('o')) base = 8, i += 2, hadPrefix = true;
    else if ((base == 2 || base == 0) && prefix('b')) base = 2, i += 2, hadPrefix = true;
    if (base == 0) {
        base = 10;
        // base 0 forbids leading zeros in a non-zero decimal
        size_t j = i;
        while (j < s.size() && (s[j] == '0' || s[j] == '_')) ++j;
        if (j > i && j < s.size()) return false;
    }
    if (hadPrefix && i < s.size() && s[i] == '_') ++i;
    std::string digits;
    for (size_t j = i; j < s.size(); ++j) {
        char c = s[j];
        if (c == '_') {
            if (j == i || j + 1 >= s.size() || s[j + 1] == '_') return false;
            continue;
        }
        int d = (c >= '0' && c <= '9') ? c - '0' : ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? (c | 0x20) - 'a' + 10 : 99;
        if (d >= base) return false;
        digits += c;
    }
    if (digits.empty()) return false;
    errno = 0;
    unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE || v > uint64_t(INT64_MAX) + (neg ? 1 : 0)) return false;
    out = neg ? int64_t(0 - v) : int64_t(v);
    return true;
}

bool pyParseFloat(const std::string& raw, double& out) {
    std::string s = strStrip(raw, nullptr, true, true);
    std::string lower = strLower(s);
    std::string body = lower;
    bool neg = false;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        neg = body[0] == '-';
        body.erase(0, 1);
    }
    if (body == "inf" || body == "infinity") {
        out = neg ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (body == "nan") {
        out = std::nan("");
        return true;
    }
    // digits with single underscores between them: [d+][.d*][e[+-]d+] with at least one digit
    std::string clean;
    size_t i = 0;
    auto digitsRun = [&]() {
        size_t start = i;
        while (i < body.size() && ((body[i] >= '0' && body[i] <= '9') ||
                                   (body[i] == '_' && i > start && i + 1 < body.size() && body[i + 1] >= '0' &&
                                    body[i + 1] <= '9'))) {
            if (body[i] != '_') clean += body[i];
            ++i;
        }
        return i > start;
    };
    bool intPart = digitsRun();
    bool frac = false;
    if (i < body.size() && body[i] == '.') {
        clean += '.';
        ++i;
        frac = digitsRun();
    }
    if (!intPart && !frac) return false;
    if (i < body.size() && body[i] == 'e') {
        clean += 'e';
        ++i;
        if (i < body.size() && (body[i] == '+' || body[i] == '-')) clean += body[i++];
        if (!digitsRun()) return false;
    }
    if (i != body.size()) return false;
    out = std::strtod(clean.c_str(), nullptr);
    if (neg) out = -out;
    return true;
}

}  // namespace moe::jinja
