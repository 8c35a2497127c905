// A compiled PCRE2 pattern in UTF + UCP mode (Unicode \p{L}, \s, lookahead), JIT-compiled when the
// library supports it. Compiled once per tokenizer and shared by all threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pad {

class Regex {
 public:
  // Throws std::invalid_argument naming `what`, the pattern and PCRE2's message when it does not compile.
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches in `text` (valid UTF-8) as [begin, end) byte ranges, left to right.
  // An empty match advances by one character, as Oniguruma's find_iter does.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pad
