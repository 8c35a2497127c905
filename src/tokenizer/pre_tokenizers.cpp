// Pre-tokenizers: regex splitting with tokenizer.json's delimiter behaviours, byte-level mapping and
// the metaspace rewrite.
#include "pad/tokenizer/pre_tokenizer.h"

#include <utility>

#include "pad/tokenizer/regex.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"

namespace pad {

const char* const kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

SplitBehavior parse_split_behavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw_invalid("split behavior '", name,
                "' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

namespace {

struct Span {
  size_t begin, end;
  bool is_match;
};

// Applies `behavior` to a partition of the text into matched and unmatched spans, keeping the
// pieces to emit (tokenizers' SplitDelimiterBehavior).
std::vector<Span> apply_behavior(const std::vector<Span>& spans, SplitBehavior behavior) {
  std::vector<Span> out;
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated: return spans;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans)
        if (!s.is_match) out.push_back(s);
      return out;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !prev_match && !out.empty()) out.back().end = s.end;
        else out.push_back(s);
        prev_match = s.is_match;
      }
      return out;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match == prev_match && !out.empty()) out.back().end = s.end;
        else out.push_back(s);
        prev_match = s.is_match;
      }
      return out;
    case SplitBehavior::kMergedWithNext:
      for (size_t k = spans.size(); k-- > 0;) {
        const Span& s = spans[k];
        if (s.is_match && !prev_match && !out.empty()) out.back().begin = s.begin;
        else out.push_back(s);
        prev_match = s.is_match;
      }
      return {out.rbegin(), out.rend()};
  }
  return out;
}

// Splits every word with `find` (which lists [begin, end) matches) under `behavior`/`invert`.
template <typename Finder>
void split_words(std::vector<PreToken>& words, const Finder& find, SplitBehavior behavior, bool invert) {
  std::vector<PreToken> out;
  out.reserve(words.size() * 2);
  std::vector<std::pair<size_t, size_t>> matches;
  std::vector<Span> spans;
  for (PreToken& w : words) {
    find(w.text, matches);
    spans.clear();
    size_t prev = 0;
    for (auto [b, e] : matches) {
      if (b > prev) spans.push_back({prev, b, invert});
      spans.push_back({b, e, !invert});
      prev = e;
    }
    if (prev < w.text.size()) spans.push_back({prev, w.text.size(), invert});
    if (spans.size() == 1 && spans[0].begin == 0 && spans[0].end == w.text.size() &&
        (behavior != SplitBehavior::kRemoved || !spans[0].is_match)) {
      out.push_back(std::move(w));  // nothing to split
      continue;
    }
    std::vector<Span> merged;
    if (behavior != SplitBehavior::kIsolated) merged = apply_behavior(spans, behavior);
    const std::vector<Span>& kept = behavior == SplitBehavior::kIsolated ? spans : merged;
    out.reserve(out.size() + kept.size());
    for (const Span& s : kept) {
      if (s.end <= s.begin) continue;
      out.push_back({w.text.substr(s.begin, s.end - s.begin), w.at_start && s.begin == 0});
    }
  }
  words = std::move(out);
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(const TextPattern& pattern, SplitBehavior behavior, bool invert)
      : behavior_(behavior), invert_(invert) {
    if (pattern.is_regex) regex_ = std::make_unique<Regex>(pattern.text, "Split pre-tokenizer");
    else literal_ = pattern.text;
  }
  void pre_tokenize(std::vector<PreToken>& words) const override {
    if (regex_) {
      split_words(words, [this](const std::string& t, auto& m) { regex_->find_all(t, m); }, behavior_, invert_);
      return;
    }
    auto find_literal = [this](const std::string& t, std::vector<std::pair<size_t, size_t>>& m) {
      m.clear();
      if (literal_.empty()) return;
      for (size_t p = t.find(literal_); p != std::string::npos; p = t.find(literal_, p + literal_.size()))
        m.emplace_back(p, p + literal_.size());
    };
    split_words(words, find_literal, behavior_, invert_);
  }

 private:
  std::unique_ptr<Regex> regex_;
  std::string literal_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
  }
  void pre_tokenize(std::vector<PreToken>& words) const override {
    if (add_prefix_space_)
      for (PreToken& w : words)
        if (!w.text.empty() && w.text[0] != ' ') w.text.insert(0, 1, ' ');
    if (regex_)
      split_words(words, [this](const std::string& t, auto& m) { regex_->find_all(t, m); },
                  SplitBehavior::kIsolated, false);
    for (PreToken& w : words) w.text = bytes_to_byte_level(w.text);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<PreToken>& words) const override {
    for (PreToken& w : words) {
      std::string out;
      out.reserve(w.text.size() + 3);
      for (char c : w.text) {
        if (c == ' ') out += replacement_;
        else out += c;
      }
      bool prepend = scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && w.at_start);
      if (prepend && !out.empty() && out.compare(0, replacement_.size(), replacement_) != 0)
        out.insert(0, replacement_);
      w.text = std::move(out);
    }
    if (!split_) return;
    auto find = [this](const std::string& t, std::vector<std::pair<size_t, size_t>>& m) {
      m.clear();
      for (size_t p = t.find(replacement_); p != std::string::npos; p = t.find(replacement_, p + replacement_.size()))
        m.emplace_back(p, p + replacement_.size());
    };
    split_words(words, find, SplitBehavior::kMergedWithNext, false);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class RegexPreTokenizer : public PreTokenizer {
 public:
  RegexPreTokenizer(const std::string& pattern, SplitBehavior behavior, bool invert, const char* what)
      : regex_(pattern, what), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<PreToken>& words) const override {
    split_words(words, [this](const std::string& t, auto& m) { regex_.find_all(t, m); }, behavior_, invert_);
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<PreToken>& words) const override {
    for (const auto& s : steps_) s->pre_tokenize(words);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(const TextPattern& pattern, SplitBehavior behavior,
                                                       bool invert) {
  return std::make_unique<SplitPreTokenizer>(pattern, behavior, invert);
}
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(std::string replacement, PrependScheme scheme,
                                                           bool split) {
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), scheme, split);
}
std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits) {
  return std::make_unique<RegexPreTokenizer>(individual_digits ? "\\p{N}" : "\\p{N}+", SplitBehavior::kIsolated,
                                             false, "Digits pre-tokenizer");
}
std::unique_ptr<PreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior) {
  // One match per character: ASCII punctuation (Rust's is_ascii_punctuation) or Unicode P*.
  return std::make_unique<RegexPreTokenizer>("[\\p{P}!-/:-@\\[-`{-~]", behavior, false,
                                             "Punctuation pre-tokenizer");
}
std::unique_ptr<PreTokenizer> make_whitespace_pre_tokenizer() {
  return std::make_unique<RegexPreTokenizer>("\\w+|[^\\w\\s]+", SplitBehavior::kRemoved, true,
                                             "Whitespace pre-tokenizer");
}
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer() {
  return std::make_unique<RegexPreTokenizer>("\\s+", SplitBehavior::kRemoved, false,
                                             "WhitespaceSplit pre-tokenizer");
}
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace pad
