// Whole-word phrase matching for the judges and the knowledge base.
#include "pad/eval/text_match.h"

namespace pad::eval {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

int count_phrase(std::string_view text, std::string_view phrase) {
  if (phrase.empty()) return 0;
  bool check_before = is_word_char(phrase.front());
  bool check_after = is_word_char(phrase.back());
  int count = 0;
  size_t pos = text.find(phrase);
  while (pos != std::string_view::npos) {
    size_t end = pos + phrase.size();
    bool ok_before = !check_before || pos == 0 || !is_word_char(text[pos - 1]);
    bool ok_after = !check_after || end == text.size() || !is_word_char(text[end]);
    if (ok_before && ok_after) {
      ++count;
      pos = text.find(phrase, end);
    } else {
      pos = text.find(phrase, pos + 1);
    }
  }
  return count;
}

int count_lexicon(std::string_view text, const std::vector<std::string_view>& lexicon) {
  int total = 0;
  for (std::string_view phrase : lexicon) total += count_phrase(text, phrase);
  return total;
}

int count_words(std::string_view text) {
  int n = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

}  // namespace pad::eval
