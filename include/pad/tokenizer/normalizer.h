// Normalizers of Hugging Face tokenizer.json (NFC, NFKC, Prepend, Replace, Lowercase, Strip, Sequence):
// text-to-text steps applied to each stretch of input between added tokens, before pre-tokenization.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pad {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// A literal string or a PCRE2 regex, as in tokenizer.json's {"String": ...} / {"Regex": ...}.
struct TextPattern {
  std::string text;
  bool is_regex = false;
};

enum class UnicodeForm { kNFC, kNFD, kNFKC, kNFKD };

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form);
std::unique_ptr<Normalizer> make_prepend_normalizer(std::string prefix);
std::unique_ptr<Normalizer> make_replace_normalizer(const TextPattern& pattern, std::string content);
std::unique_ptr<Normalizer> make_lowercase_normalizer();
std::unique_ptr<Normalizer> make_strip_normalizer(bool left, bool right);
std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> steps);

}  // namespace pad
