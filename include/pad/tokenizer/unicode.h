// UTF-8 helpers for the tokenizer layer: validation, code point access, GPT-2's byte-to-character
// map (ByteLevel) and lossy repair of decoded bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pad {

// Length of the UTF-8 sequence starting with lead byte `c` (1 for invalid lead bytes).
inline size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// Byte offset of the first invalid UTF-8 sequence in `s`, or npos when `s` is valid (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t utf8_find_invalid(std::string_view s);

// Throws std::invalid_argument naming `what` and the byte offset when `s` is not valid UTF-8.
void utf8_require_valid(std::string_view s, std::string_view what);

// Replaces each maximal invalid subsequence with U+FFFD (the practice of Rust's from_utf8_lossy and
// Python's errors="replace"), so decoded bytes are always valid UTF-8.
std::string utf8_repair(std::string_view bytes);

// Length of a valid sequence of bytes that may still be completed: when `s` ends in the first bytes
// of a multi-byte character, the number of those bytes; else 0.
size_t utf8_incomplete_tail(std::string_view s);

// Decodes the code point at s[i] (s must be valid UTF-8 there); advances i.
uint32_t utf8_decode(std::string_view s, size_t& i);
void utf8_append(std::string& out, uint32_t cp);

// GPT-2 ByteLevel map: each byte to a printable code point (printable Latin-1 map to themselves,
// the rest to U+0100 + n), and back.
const std::string& byte_to_unicode(uint8_t b);        // UTF-8 text of the mapped code point
int unicode_to_byte(uint32_t cp);                     // -1 when cp is not a mapped character
std::string bytes_to_byte_level(std::string_view s);  // maps every byte of s

// Unicode simple lowercase of valid UTF-8 text.
std::string utf8_lowercase(std::string_view s);

// Code point classes used by added-token matching (single_word) and decoders.
bool is_unicode_whitespace(uint32_t cp);
bool is_word_char(uint32_t cp);  // letters, digits, '_' and any non-ASCII alphanumeric

}  // namespace pad
