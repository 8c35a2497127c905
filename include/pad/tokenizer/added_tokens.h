// Added tokens (special and user-defined): found in the raw text before normalization, honouring
// tokenizer.json's lstrip, rstrip and single_word flags, leftmost-longest first.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pad {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;      // control token: matched only when parsing special text, skippable in decode
  bool lstrip = false;       // swallows whitespace on its left
  bool rstrip = false;       // swallows whitespace on its right
  bool single_word = false;  // matches only when not inside a word
  bool normalized = false;   // tokenizers matches it after normalization; pad matches raw text (documented)
};

// A stretch of input: plain text (id == -1) or one added token.
struct TextSegment {
  std::string_view text;
  int id = -1;
  bool at_start = false;  // begins at offset 0 of the input
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // Splits `text`; with parse_special false only non-special tokens are recognized.
  std::vector<TextSegment> split(std::string_view text, bool parse_special) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Index of the longest allowed token matching at text[pos], or -1.
  int match_at(std::string_view text, size_t pos, bool parse_special) const;

  std::vector<AddedToken> tokens_;
  std::vector<int> by_first_byte_[256];  // token indices, longest first
};

}  // namespace pad
