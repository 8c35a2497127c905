// The tokenizer.json normalizers as small text-to-text steps.
#include "pad/tokenizer/normalizer.h"

#include "pad/tokenizer/regex.h"
#include "pad/tokenizer/unicode.h"
#include "pad/tokenizer/unicode_norm.h"

namespace pad {
namespace {

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  std::string normalize(std::string_view text) const override { return unicode_normalize(text, form_); }

 private:
  UnicodeForm form_;
};

// Hugging Face's Prepend adds the prefix to every non-empty piece.
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string_view text) const override {
    return text.empty() ? std::string() : prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const TextPattern& pattern, std::string content) : content_(std::move(content)) {
    if (pattern.is_regex) regex_ = std::make_unique<Regex>(pattern.text, "Replace normalizer");
    else literal_ = pattern.text;
  }
  std::string normalize(std::string_view text) const override {
    std::string out;
    out.reserve(text.size());
    if (regex_) {
      std::vector<std::pair<size_t, size_t>> matches;
      regex_->find_all(text, matches);
      size_t prev = 0;
      for (auto [b, e] : matches) {
        out.append(text.substr(prev, b - prev));
        out += content_;
        prev = e;
      }
      out.append(text.substr(prev));
      return out;
    }
    if (literal_.empty()) return std::string(text);
    size_t prev = 0;
    for (size_t pos = text.find(literal_); pos != std::string_view::npos; pos = text.find(literal_, prev)) {
      out.append(text.substr(prev, pos - prev));
      out += content_;
      prev = pos + literal_.size();
    }
    out.append(text.substr(prev));
    return out;
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return utf8_lowercase(text); }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view text) const override {
    size_t b = 0, e = text.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!is_unicode_whitespace(utf8_decode(text, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!is_unicode_whitespace(utf8_decode(text, i))) break;
        e = start;
      }
    }
    return std::string(text.substr(b, e - b));
  }

 private:
  bool left_, right_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string_view text) const override {
    std::string cur(text);
    for (const auto& step : steps_) cur = step->normalize(cur);
    return cur;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form) {
  return std::make_unique<UnicodeNormalizer>(form);
}
std::unique_ptr<Normalizer> make_prepend_normalizer(std::string prefix) {
  return std::make_unique<PrependNormalizer>(std::move(prefix));
}
std::unique_ptr<Normalizer> make_replace_normalizer(const TextPattern& pattern, std::string content) {
  return std::make_unique<ReplaceNormalizer>(pattern, std::move(content));
}
std::unique_ptr<Normalizer> make_lowercase_normalizer() { return std::make_unique<LowercaseNormalizer>(); }
std::unique_ptr<Normalizer> make_strip_normalizer(bool left, bool right) {
  return std::make_unique<StripNormalizer>(left, right);
}
std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> steps) {
  return std::make_unique<SequenceNormalizer>(std::move(steps));
}

}  // namespace pad
