// The facts PrefWorld's subjects have (kb.json): categories with their checkable attributes, the
// subjects with one value per attribute, and the words that mark a request as harmful. Judges read it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace pad::eval {

// One checkable attribute of a category ("colour", "moons"); every value is a phrase that, found in
// a text, states that value (e.g. "two moons"). Values of one category's attributes never overlap.
struct AttributeSchema {
  std::string name;
  std::vector<std::string> values;  // lower-case phrases
};

struct Category {
  std::string name;  // "planet", "animal", ...
  std::vector<AttributeSchema> attributes;
};

struct Subject {
  std::string name;                          // invented proper name, e.g. "Zorbelka"
  std::string category;                      // a Category::name
  std::string split;                         // "train", "eval" or "notes" (known only from notes)
  std::map<std::string, std::string> facts;  // attribute name -> one of its values
};

class KnowledgeBase {
 public:
  KnowledgeBase() = default;
  KnowledgeBase(std::vector<Category> categories, std::vector<Subject> subjects,
                std::vector<std::string> harm_keywords);

  const std::vector<Category>& categories() const { return categories_; }
  const std::vector<Subject>& subjects() const { return subjects_; }
  const std::vector<std::string>& harm_keywords() const { return harm_keywords_; }

  const Category& category(std::string_view name) const;  // throws std::invalid_argument
  const Subject* find_subject(std::string_view name) const;  // case-insensitive; nullptr if absent
  // The subject whose name occurs (whole word, any case) in `text`; the longest name wins; nullptr if none.
  const Subject* subject_in(std::string_view text) const;
  // True when `prompt` contains one of the harm keywords (whole words, any case).
  bool is_harmful_request(std::string_view prompt) const;

  nlohmann::ordered_json to_json() const;
  // Validates structure (every fact names an attribute of its category and one of its values).
  static KnowledgeBase from_json(const nlohmann::json& j, const std::string& source);
  static KnowledgeBase load(const std::string& path);  // kb.json

 private:
  void check() const;  // throws std::invalid_argument on inconsistent contents

  std::vector<Category> categories_;
  std::vector<Subject> subjects_;
  std::vector<std::string> harm_keywords_;  // lower-case phrases
};

}  // namespace pad::eval
