// Preference parsing and the guideline template.
#include "pad/decode/preference.h"

#include <cmath>
#include <cstdlib>

#include "pad/util/error.h"
#include "pad/util/strings.h"

namespace pad {

std::string Preference::joined() const {
  std::vector<std::string> texts;
  for (const Principle& p : principles) texts.push_back(p.text);
  return join(texts, " and ");
}

void Preference::validate() const {
  for (const Principle& p : principles) {
    if (p.text.empty()) throw_invalid("preference: a principle is empty");
    if (!std::isfinite(p.weight)) throw_invalid("preference weight for '", p.text, "' is ", p.weight, " (expected a finite number)");
  }
}

Preference Preference::joined_from(const std::vector<std::string>& texts) {
  Preference p;
  for (const std::string& t : texts) p.principles.push_back({t, 1.0});
  p.validate();
  return p;
}

Preference Preference::parse_weights(const std::string& spec) {
  Preference p;
  p.weighted = true;
  for (const std::string& item : split(spec, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      throw_invalid("--preference-weights: '", item, "' is not name=weight (e.g. \"helpful=1,humor=0.5\")");
    std::string name = item.substr(0, eq);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    const std::string value = item.substr(eq + 1);
    char* end = nullptr;
    const double w = std::strtod(value.c_str(), &end);
    if (value.empty() || end == value.c_str() || *end != '\0')
      throw_invalid("--preference-weights: weight '", value, "' of '", name, "' is not a number");
    if (name.empty()) throw_invalid("--preference-weights: empty principle name in '", spec, "'");
    p.principles.push_back({name, w});
  }
  p.validate();
  return p;
}

std::string apply_guideline(const std::string& tmpl, const std::string& principle, const std::string& prompt) {
  if (tmpl.find("{prompt}") == std::string::npos)
    throw_invalid("--pref-template must contain {prompt} (and usually {principle}); got '", tmpl, "'");
  std::string out = tmpl;
  auto replace_all = [&](const std::string& key, const std::string& value) {
    for (size_t pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos + value.size()))
      out.replace(pos, key.size(), value);
  };
  replace_all("{principle}", principle);
  replace_all("{prompt}", prompt);
  return out;
}

}  // namespace pad
