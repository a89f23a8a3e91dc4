// Helpers shared by the GGUF reader and writer sources (not part of the engine API):
// little-endian loads and stores independent of the host, and quoting of file-provided names.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace moe {

inline uint32_t byteSwap32(uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

// The n (1, 2, 4 or 8) little-endian bytes at p, zero-extended.
inline uint64_t loadLEBits(const uint8_t* p, uint32_t n) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

// A T (integer or float) stored little-endian at p, which need not be aligned.
template <class T>
T loadLE(const uint8_t* p) {
    if constexpr (std::endian::native == std::endian::little) {
        T v;
        std::memcpy(&v, p, sizeof v);
        return v;
    } else {
        using U = std::conditional_t<sizeof(T) == 8, uint64_t,
                                     std::conditional_t<sizeof(T) == 4, uint32_t,
                                                        std::conditional_t<sizeof(T) == 2, uint16_t, uint8_t>>>;
        return std::bit_cast<T>(U(loadLEBits(p, sizeof(T))));
    }
}

// The low n bytes of v, appended little-endian.
inline void appendLE(std::vector<uint8_t>& out, uint64_t v, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// 'name' for an error message: one line, printable, at most ~80 characters.
inline std::string quoteForMessage(std::string_view s) {
    static const char* kHex = "0123456789abcdef";
    std::string q = "'";
    size_t shown = 0;
    for (unsigned char c : s) {
        if (shown == 80) {
            q += "...";
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
            q += "\\x";
            q += kHex[c >> 4];
            q += kHex[c & 15];
        } else {
            q += char(c);
        }
        ++shown;
    }
    return q + "'";
}

}  // namespace moe
