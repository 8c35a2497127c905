// UTF-8 validation, repair and the GPT-2 byte-level character map.
#include "pad/tokenizer/unicode.h"

#include <array>
#include <clocale>
#include <cwctype>
#include <locale.h>
#include <wctype.h>

#include "pad/util/error.h"

namespace pad {
namespace {

// Length of the valid sequence at s[i], or 0 if invalid; `complete` is false when the bytes present
// are a valid start of a sequence cut off by the end of `s`.
size_t valid_seq_len(std::string_view s, size_t i, bool* truncated) {
  *truncated = false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char c = p[i];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= n) {
      *truncated = true;
      return 0;
    }
    unsigned char b = p[i + k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
  }
  return len;
}

// Number of bytes of the maximal invalid subpart starting at s[i] (at least 1).
size_t invalid_subpart_len(std::string_view s, size_t i) {
  // A maximal subpart is the longest prefix of a valid sequence; find how many bytes of one match.
  for (size_t take = 3; take >= 1; --take) {
    if (i + take > s.size()) continue;
    bool truncated = false;
    if (valid_seq_len(s.substr(0, i + take), i, &truncated) == 0 && truncated) return take;
  }
  return 1;
}

struct ByteMap {
  std::array<std::string, 256> to_text;
  std::array<int, 324> to_byte;  // code points below 0x144 cover the whole map
  ByteMap() {
    to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : 0x100u + n++;
      utf8_append(to_text[b], cp);
      to_byte[cp] = b;
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

locale_t utf8_locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

}  // namespace

size_t utf8_find_invalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    bool truncated = false;
    size_t len = valid_seq_len(s, i, &truncated);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

void utf8_require_valid(std::string_view s, std::string_view what) {
  size_t bad = utf8_find_invalid(s);
  if (bad != std::string_view::npos)
    throw_invalid(what, " is not valid UTF-8: invalid byte 0x", std::hex,
                  static_cast<int>(static_cast<unsigned char>(s[bad])), std::dec, " at byte offset ", bad,
                  " (expected UTF-8 text)");
}

std::string utf8_repair(std::string_view s) {
  size_t bad = utf8_find_invalid(s);
  if (bad == std::string_view::npos) return std::string(s);
  std::string out(s.substr(0, bad));
  size_t i = bad;
  while (i < s.size()) {
    bool truncated = false;
    size_t len = static_cast<unsigned char>(s[i]) < 0x80 ? 1 : valid_seq_len(s, i, &truncated);
    if (len > 0) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += invalid_subpart_len(s, i);
    }
  }
  return out;
}

size_t utf8_incomplete_tail(std::string_view s) {
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    bool truncated = false;
    return valid_seq_len(s, n - back, &truncated) == 0 && truncated ? back : 0;
  }
  return 0;
}

uint32_t utf8_decode(std::string_view s, size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = utf8_len(c);
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

const std::string& byte_to_unicode(uint8_t b) { return byte_map().to_text[b]; }

int unicode_to_byte(uint32_t cp) { return cp < byte_map().to_byte.size() ? byte_map().to_byte[cp] : -1; }

std::string bytes_to_byte_level(std::string_view s) {
  const ByteMap& map = byte_map();
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) out += map.to_text[static_cast<unsigned char>(c)];
  return out;
}

std::string utf8_lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      ++i;
      continue;
    }
    uint32_t cp = utf8_decode(s, i);
    locale_t loc = utf8_locale();
    utf8_append(out, loc ? static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), loc)) : cp);
  }
  return out;
}

bool is_unicode_whitespace(uint32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680) return true;
  if (cp >= 0x2000 && cp <= 0x200A) return true;
  return cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  locale_t loc = utf8_locale();
  return loc ? iswalnum_l(static_cast<wint_t>(cp), loc) != 0 : true;
}

}  // namespace pad
