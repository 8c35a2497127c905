// A user's preference: one principle, several joined with " and ", or weights over principles
// (the paper's w_p, one PersRM row per principle); and the guideline template that puts it in the prompt.
#pragma once

#include <string>
#include <vector>

namespace pad {

// DESIGN §1: the text both the base model and the PersRM see, before the chat template is applied.
// {principle} and {prompt} are replaced.
inline constexpr const char* kDefaultGuidelineTemplate =
    "[Guidelines] Your task is to generate response by considering the following principle. "
    "[Principles] {principle} [Instruction] {prompt}";

struct Principle {
  std::string text;     // e.g. "humor"
  double weight = 1.0;  // w_p entry
};

struct Preference {
  std::vector<Principle> principles;  // empty: no preference
  bool weighted = false;  // true: one PersRM row per principle; false: all joined into one principle

  // "harmless and helpful"; the base model's principle text in both modes.
  std::string joined() const;
  void validate() const;  // non-empty texts, finite weights; throws std::invalid_argument

  static Preference joined_from(const std::vector<std::string>& texts);  // --preference (repeatable)
  static Preference parse_weights(const std::string& spec);              // "helpful=1,humor=0.5"
};

// Fills the guideline template; throws std::invalid_argument if it lacks {prompt}.
std::string apply_guideline(const std::string& tmpl, const std::string& principle, const std::string& prompt);

}  // namespace pad
