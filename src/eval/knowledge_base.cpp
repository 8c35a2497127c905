// kb.json reading, writing and lookups.
#include "pad/eval/knowledge_base.h"

#include <algorithm>
#include <set>

#include "pad/eval/text_match.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad::eval {
namespace {

using Json = nlohmann::json;

const Json& field(const Json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) throw_invalid(where, ": missing field \"", key, "\"");
  return obj.at(key);
}

std::string string_field(const Json& obj, const char* key, const std::string& where) {
  const Json& v = field(obj, key, where);
  if (!v.is_string()) throw_invalid(where, ": field \"", key, "\" must be a string");
  return v.get<std::string>();
}

// An optional string field: `fallback` when absent. Checked by hand: nlohmann's value<std::string>()
// throws its own type_error for a number (no file, no field; the CLI's exit 1, not 2).
std::string string_field_or(const Json& obj, const char* key, const std::string& fallback, const std::string& where) {
  return obj.is_object() && obj.contains(key) ? string_field(obj, key, where) : fallback;
}

std::vector<std::string> string_list(const Json& v, const std::string& where) {
  if (!v.is_array()) throw_invalid(where, ": expected a list of strings");
  std::vector<std::string> out;
  for (const Json& e : v) {
    if (!e.is_string()) throw_invalid(where, ": expected a list of strings");
    out.push_back(to_lower_ascii(e.get<std::string>()));
  }
  return out;
}

}  // namespace

KnowledgeBase::KnowledgeBase(std::vector<Category> categories, std::vector<Subject> subjects,
                             std::vector<std::string> harm_keywords)
    : categories_(std::move(categories)), subjects_(std::move(subjects)), harm_keywords_(std::move(harm_keywords)) {
  check();
}

void KnowledgeBase::check() const {
  std::set<std::string> category_names;
  for (const Category& c : categories_)  // a second one of a name would be silently unreachable
    if (!category_names.insert(c.name).second) throw_invalid("knowledge base: category name '", c.name, "' appears twice");
  std::set<std::string> names;
  for (const Subject& s : subjects_) {
    if (s.name.empty()) throw_invalid("knowledge base: a subject has an empty name");
    if (!names.insert(to_lower_ascii(s.name)).second)
      throw_invalid("knowledge base: subject name '", s.name, "' appears twice");
    if (s.split != "train" && s.split != "eval" && s.split != "notes")  // a typo would drop the subject
      throw_invalid("knowledge base: subject '", s.name, "' has split '", s.split, "' (expected train, eval or notes)");
    const Category& cat = category(s.category);
    for (const auto& fact : s.facts) {
      const std::string& attr = fact.first;  // a plain name: clang 14 (the fuzz build) cannot capture a binding
      const std::string& value = fact.second;
      auto it = std::find_if(cat.attributes.begin(), cat.attributes.end(),
                             [&](const AttributeSchema& a) { return a.name == attr; });
      if (it == cat.attributes.end())
        throw_invalid("knowledge base: subject '", s.name, "' has fact '", attr, "', not an attribute of ", s.category);
      if (std::find(it->values.begin(), it->values.end(), value) == it->values.end())
        throw_invalid("knowledge base: subject '", s.name, "' fact ", attr, "='", value, "' is not a listed value");
    }
  }
}

const Category& KnowledgeBase::category(std::string_view name) const {
  for (const Category& c : categories_)
    if (c.name == name) return c;
  throw_invalid("knowledge base: unknown category '", name, "'");
}

const Subject* KnowledgeBase::find_subject(std::string_view name) const {
  std::string lc = to_lower_ascii(name);
  for (const Subject& s : subjects_)
    if (to_lower_ascii(s.name) == lc) return &s;
  return nullptr;
}

const Subject* KnowledgeBase::subject_in(std::string_view text) const {
  std::string lc = to_lower_ascii(text);
  const Subject* best = nullptr;
  for (const Subject& s : subjects_)
    if (contains_phrase(lc, to_lower_ascii(s.name)) && (!best || s.name.size() > best->name.size())) best = &s;
  return best;
}

bool KnowledgeBase::is_harmful_request(std::string_view prompt) const {
  std::string lc = to_lower_ascii(prompt);
  for (const std::string& k : harm_keywords_)
    if (contains_phrase(lc, k)) return true;
  return false;
}

nlohmann::ordered_json KnowledgeBase::to_json() const {
  nlohmann::ordered_json j;
  j["format"] = "pad-prefworld-kb-1";
  nlohmann::ordered_json cats = nlohmann::ordered_json::array();
  for (const Category& c : categories_) {
    nlohmann::ordered_json attrs = nlohmann::ordered_json::array();
    for (const AttributeSchema& a : c.attributes) attrs.push_back({{"name", a.name}, {"values", a.values}});
    cats.push_back({{"name", c.name}, {"attributes", attrs}});
  }
  j["categories"] = cats;
  nlohmann::ordered_json subs = nlohmann::ordered_json::array();
  for (const Subject& s : subjects_) {
    nlohmann::ordered_json facts = nlohmann::ordered_json::object();
    const Category& cat = category(s.category);
    for (const AttributeSchema& a : cat.attributes)  // schema order, not alphabetical
      if (s.facts.count(a.name)) facts[a.name] = s.facts.at(a.name);
    subs.push_back({{"name", s.name}, {"category", s.category}, {"split", s.split}, {"facts", facts}});
  }
  j["subjects"] = subs;
  j["harm_keywords"] = harm_keywords_;
  return j;
}

KnowledgeBase KnowledgeBase::from_json(const Json& j, const std::string& source) {
  std::vector<Category> cats;
  const Json& jc = field(j, "categories", source);
  if (!jc.is_array()) throw_invalid(source, ": \"categories\" must be a list");
  for (size_t i = 0; i < jc.size(); ++i) {
    std::string where = str_cat(source, ": categories[", i, "]");
    Category c{string_field(jc[i], "name", where), {}};
    const Json& ja = field(jc[i], "attributes", where);
    if (!ja.is_array()) throw_invalid(where, ": \"attributes\" must be a list");
    for (const Json& a : ja)
      c.attributes.push_back({string_field(a, "name", where), string_list(field(a, "values", where), where)});
    cats.push_back(std::move(c));
  }
  std::vector<Subject> subs;
  const Json& js = field(j, "subjects", source);
  if (!js.is_array()) throw_invalid(source, ": \"subjects\" must be a list");
  for (size_t i = 0; i < js.size(); ++i) {
    std::string where = str_cat(source, ": subjects[", i, "]");
    Subject s{string_field(js[i], "name", where), string_field(js[i], "category", where),
              string_field_or(js[i], "split", "train", where), {}};
    const Json& jf = field(js[i], "facts", where);
    if (!jf.is_object()) throw_invalid(where, ": \"facts\" must be an object");
    for (const auto& [k, v] : jf.items()) {
      if (!v.is_string()) throw_invalid(where, ": fact \"", k, "\" must be a string");
      s.facts[k] = to_lower_ascii(v.get<std::string>());
    }
    subs.push_back(std::move(s));
  }
  std::vector<std::string> harm;
  if (j.contains("harm_keywords")) harm = string_list(j.at("harm_keywords"), source + ": harm_keywords");
  try {
    return KnowledgeBase(std::move(cats), std::move(subs), std::move(harm));
  } catch (const std::invalid_argument& e) {
    throw_invalid(source, ": ", e.what());  // check() knows the contents, not the file
  }
}

KnowledgeBase KnowledgeBase::load(const std::string& path) {
  Json j;
  try {
    j = Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    throw_invalid(path, ": not valid JSON: ", e.what());
  }
  return from_json(j, path);
}

}  // namespace pad::eval
