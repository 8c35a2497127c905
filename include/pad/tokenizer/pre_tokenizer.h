// Pre-tokenizers of Hugging Face tokenizer.json (ByteLevel, Split, Metaspace, Digits, Punctuation,
// Whitespace, WhitespaceSplit, Sequence): they cut normalized text into words the model encodes one
// by one, and may rewrite them (ByteLevel maps bytes to printable characters, Metaspace spaces to ▁).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pad/tokenizer/normalizer.h"

namespace pad {

struct PreToken {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the whole input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<PreToken>& words) const = 0;
};

// What happens to the matched delimiters of a Split (names as in tokenizer.json).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_split_behavior(const std::string& name);  // throws std::invalid_argument

enum class PrependScheme { kAlways, kFirst, kNever };

// GPT-2's pre-tokenization regex (ByteLevel with use_regex).
extern const char* const kGpt2Pattern;

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(const TextPattern& pattern, SplitBehavior behavior,
                                                       bool invert);
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(std::string replacement, PrependScheme scheme,
                                                           bool split);
std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits);
std::unique_ptr<PreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior);
std::unique_ptr<PreTokenizer> make_whitespace_pre_tokenizer();        // \w+|[^\w\s]+
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer();  // split on whitespace
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps);

}  // namespace pad
