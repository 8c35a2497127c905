// `pad eval --kb kb.json` knowledge bases → KnowledgeBase::load. A loaded base must be consistent
// (every subject's category exists, every fact is one of its attribute's listed values, values and
// harm keywords lower-case), find its own subjects by name (find_subject, subject_in), flag each
// harm keyword as harmful, and survive to_json → from_json unchanged; an error must be
// std::invalid_argument or std::runtime_error starting with "FILE:".
#include <algorithm>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "fuzz_common.h"
#include "pad/eval/knowledge_base.h"

namespace {

bool lower_case(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

void check_subject(const pad::eval::KnowledgeBase& kb, const pad::eval::Subject& s) {
  if (s.name.empty() || kb.find_subject(s.name) != &s) std::abort();  // names are unique in any case
  const pad::eval::Subject* in = kb.subject_in(s.name);
  if (!in || in->name.size() < s.name.size()) std::abort();  // the longest name in the text wins
  const pad::eval::Category& cat = kb.category(s.category);
  for (const auto& fact : s.facts) {
    const std::string& attr = fact.first;
    const std::string& value = fact.second;
    auto a = std::find_if(cat.attributes.begin(), cat.attributes.end(), [&](const auto& x) { return x.name == attr; });
    if (a == cat.attributes.end() || std::find(a->values.begin(), a->values.end(), value) == a->values.end())
      std::abort();
    if (!lower_case(value)) std::abort();
  }
}

void check(const pad::eval::KnowledgeBase& kb) {
  for (const pad::eval::Category& c : kb.categories())
    for (const pad::eval::AttributeSchema& a : c.attributes)
      if (!std::all_of(a.values.begin(), a.values.end(), lower_case)) std::abort();
  for (const pad::eval::Subject& s : kb.subjects()) check_subject(kb, s);
  for (const std::string& k : kb.harm_keywords())
    if (!lower_case(k) || (!k.empty() && !kb.is_harmful_request(k))) std::abort();
  const std::string dumped = kb.to_json().dump();
  const auto back = pad::eval::KnowledgeBase::from_json(nlohmann::json::parse(dumped), "round trip");
  if (back.to_json().dump() != dumped) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = pad_fuzz::put_file("kb.json", data, size);
  pad::eval::KnowledgeBase kb;
  try {
    kb = pad::eval::KnowledgeBase::load(path);
  } catch (const std::exception& e) {
    const bool named = std::string(e.what()).rfind(path + ":", 0) == 0;
    if (!named || !(dynamic_cast<const std::invalid_argument*>(&e) || dynamic_cast<const std::runtime_error*>(&e)))
      std::abort();  // an error must name the file and map to the CLI's exit 2 (or 1 for I/O)
    return 0;
  } catch (...) {
    std::abort();
  }
  check(kb);  // outside the try: a valid base must not throw here
  return 0;
}
