// UTF-8 helpers and the GPT-2 byte <-> printable-codepoint mapping used by byte-level BPE.
// Everything here is total: malformed UTF-8 never throws, it is handled byte by byte.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moe::unicode {

// Length of the UTF-8 sequence a lead byte announces (1 for continuation or invalid bytes),
// clamped by the caller to what is left of the input.
size_t utf8SeqLen(uint8_t lead);

// Appends the UTF-8 encoding of cp (cp < 0x110000).
void appendUtf8(std::string& out, uint32_t cp);

// Decodes one codepoint at s[pos]; on malformed input returns the byte value and len 1.
uint32_t decodeUtf8(std::string_view s, size_t pos, size_t* len);

// GPT-2 bytes_to_unicode: each byte maps to a printable codepoint; the printable Latin-1 bytes map
// to themselves, the 68 others to U+0100.. in byte order.
uint32_t byteToCodepoint(uint8_t b);
// Inverse; returns -1 for codepoints that are not the image of a byte.
int codepointToByte(uint32_t cp);

// Byte-level encoding of raw bytes: each byte becomes the UTF-8 of byteToCodepoint(byte).
std::string bytesToByteLevel(std::string_view bytes);
// Decoding of byte-level text back to raw bytes; codepoints outside the mapping are kept as UTF-8.
std::string byteLevelToBytes(std::string_view text);

}  // namespace moe::unicode
