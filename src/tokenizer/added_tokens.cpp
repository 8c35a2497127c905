// Added-token matching: a first-byte index keeps the scan linear in the text length.
#include "pad/tokenizer/added_tokens.h"

#include <algorithm>

#include "pad/tokenizer/unicode.h"

namespace pad {
namespace {

// Code point ending just before byte `pos` (text valid UTF-8), or 0 at the start.
uint32_t cp_before(std::string_view text, size_t pos) {
  if (pos == 0) return 0;
  size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return utf8_decode(text, start);
}

uint32_t cp_at(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  return utf8_decode(text, pos);
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i)
    if (!tokens_[i].content.empty())
      by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(static_cast<int>(i));
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](int a, int b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

int AddedTokenMatcher::match_at(std::string_view text, size_t pos, bool parse_special) const {
  for (int idx : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    const AddedToken& t = tokens_[static_cast<size_t>(idx)];
    if (t.special && !parse_special) continue;
    if (text.compare(pos, t.content.size(), t.content) != 0) continue;
    if (t.single_word) {
      size_t end = pos + t.content.size();
      if ((pos > 0 && is_word_char(cp_before(text, pos))) || (end < text.size() && is_word_char(cp_at(text, end))))
        continue;
    }
    return idx;
  }
  return -1;
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text, bool parse_special) const {
  std::vector<TextSegment> out;
  if (tokens_.empty()) {
    if (!text.empty()) out.push_back({text, -1, true});
    return out;
  }
  size_t seg_start = 0, pos = 0;
  while (pos < text.size()) {
    int idx = match_at(text, pos, parse_special);
    if (idx < 0) {
      pos += utf8_len(static_cast<unsigned char>(text[pos]));
      continue;
    }
    const AddedToken& t = tokens_[static_cast<size_t>(idx)];
    size_t text_end = pos, next = pos + t.content.size();
    if (t.lstrip)
      while (text_end > seg_start && is_unicode_whitespace(cp_before(text, text_end))) {
        size_t s = text_end - 1;
        while (s > seg_start && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
        text_end = s;
      }
    if (t.rstrip)
      while (next < text.size() && is_unicode_whitespace(cp_at(text, next)))
        next += utf8_len(static_cast<unsigned char>(text[next]));
    if (text_end > seg_start) out.push_back({text.substr(seg_start, text_end - seg_start), -1, seg_start == 0});
    out.push_back({text.substr(pos, t.content.size()), t.id, pos == 0});
    seg_start = pos = next;
  }
  if (seg_start < text.size()) out.push_back({text.substr(seg_start), -1, seg_start == 0});
  return out;
}

}  // namespace pad
