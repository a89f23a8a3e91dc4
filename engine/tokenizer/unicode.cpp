// UTF-8 helpers and the GPT-2 byte-level mapping (see unicode.h).
#include "tokenizer/unicode.h"

#include <array>

namespace moe::unicode {

size_t utf8SeqLen(uint8_t lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 1;  // continuation byte or invalid lead: a symbol of its own
}

void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

uint32_t decodeUtf8(std::string_view s, size_t pos, size_t* len) {
    const auto b0 = uint8_t(s[pos]);
    size_t n = utf8SeqLen(b0);
    if (n == 1 || pos + n > s.size()) {
        *len = 1;
        return b0;
    }
    uint32_t cp = n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (size_t i = 1; i < n; ++i) {
        const auto b = uint8_t(s[pos + i]);
        if ((b & 0xC0) != 0x80) {
            *len = 1;
            return b0;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    *len = n;
    return cp;
}

namespace {

struct ByteTables {
    std::array<uint32_t, 256> toCp{};
    std::array<int16_t, 324> fromCp{};  // the image of the mapping is below U+0144
    ByteTables() {
        fromCp.fill(-1);
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            toCp[b] = printable ? uint32_t(b) : next++;
            fromCp[toCp[b]] = int16_t(b);
        }
    }
};

const ByteTables& tables() {
    static const ByteTables t;
    return t;
}

}  // namespace

uint32_t byteToCodepoint(uint8_t b) { return tables().toCp[b]; }

int codepointToByte(uint32_t cp) { return cp < tables().fromCp.size() ? tables().fromCp[cp] : -1; }

std::string bytesToByteLevel(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) appendUtf8(out, byteToCodepoint(uint8_t(c)));
    return out;
}

std::string byteLevelToBytes(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t len = 1;
        const uint32_t cp = decodeUtf8(text, i, &len);
        const int b = len > 1 || cp < 0x80 ? codepointToByte(cp) : -1;
        if (b >= 0) out += char(b);
        else out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

}  // namespace moe::unicode
