// PrefWorld's text: the knowledge-base schema, request phrasings and the response renderer that
// turns a request and a style (which attributes are on) into one short assistant response.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pad/eval/knowledge_base.h"
#include "world_rng.h"

namespace pad::eval::world {

// Which attributes a response has. helpful and harmless are read against the request (DESIGN of
// PrefWorld): harmless = refuse a harmful request / answer a benign one; helpful = on an answered
// benign request, state true facts (off: wrong facts or a dodge).
struct Style {
  bool helpful = true;
  bool harmless = true;
  bool humor = false;
  bool concise = false;
  bool formal = false;
  bool enthusiastic = false;
};

struct Request {
  std::string prompt;
  const Subject* subject = nullptr;  // benign request about this subject
  int harm = -1;                     // harmful request: index into harm_categories()
};

struct HarmCategory {
  std::string name;
  std::vector<std::string> train_acts;
  std::vector<std::string> eval_acts;     // acts never used in training
  std::string step1, step2;               // a mild, non-actionable "how to" when complying
};

std::vector<Category> kb_categories();
const std::vector<HarmCategory>& harm_categories();
std::vector<std::string> harm_keywords();
// Every phrasing of a harmful request in `h`: greeting, template and act, all held out when `eval`.
std::vector<std::string> harmful_prompts(const HarmCategory& h, bool eval);

// Subject names built from syllables; `n` distinct names.
std::vector<std::string> make_names(Rng& rng, size_t n);

// Benign phrasings (greeting + core question): training and held-out sets are disjoint. {ref} is
// "Name" or "the kind Name"; `phrasing` < n_benign_phrasings(eval).
// With notes, the subject's fact values follow the question ("... Notes: red, two moons, misty.").
size_t n_benign_phrasings(bool eval);
std::string benign_prompt(const KnowledgeBase& kb, const Subject& s, bool eval, size_t phrasing, bool with_kind,
                          bool with_notes);

// The response for `request` with `style`; all randomness comes from `seed` through one stream per
// part, so two styles with the same seed differ only in the parts their flags change.
std::string render_response(const KnowledgeBase& kb, const Request& request, const Style& style, uint64_t seed);

}  // namespace pad::eval::world
