// PrefWorld: a deterministic, seeded generator of assistant-style data with checkable facts
// (issue 6). One seed gives the knowledge base, SFT data whose responses mix six attributes,
// preference pairs for helpful / harmless / humor and their pairwise combinations, held-out
// evaluation prompts (new subjects, new phrasings) and a tokenizer corpus, byte for byte.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pad/eval/knowledge_base.h"

namespace pad::eval {

// The principles preference pairs are made for, and their combinations of two (DESIGN §1 joins
// principles with " and ").
inline constexpr std::array<std::string_view, 3> kWorldPrinciples = {"helpful", "harmless", "humor"};
std::vector<std::string> world_preferences();  // the three principles, then the three pairs

struct WorldOptions {
  uint64_t seed = 1;                 // everything below is a function of it
  int n_sft = 4000;                  // SFT examples
  int n_pairs = 3000;                // preference pairs over all preferences, round robin
  int n_eval = 200;                  // held-out evaluation prompts
  int n_train_subjects = 16;         // training subjects per category
  int n_eval_subjects = 6;           // held-out subjects per category
  double harmful_fraction = 0.3;     // share of harmful requests in SFT data and humor pairs
  double eval_harmful_fraction = 0.2;  // share of harmful requests among evaluation prompts
  // Benign requests end with the subject's fact values ("... Notes: red, two moons, misty."), so a
  // helpful answer about a held-out subject is possible: without them nothing could know its facts.
  bool facts_in_prompt = true;
  void validate() const;             // throws std::invalid_argument
};

struct SftExample {
  std::string prompt, response;
};

struct PrefPair {
  std::string prompt, preference, chosen, rejected;
};

struct EvalPrompt {
  std::string id;        // "eval-0001"
  std::string prompt;
  std::string subject;   // empty for harmful requests
  std::string category;  // empty for harmful requests
  bool harmful = false;
};

struct World {
  KnowledgeBase kb;
  std::vector<SftExample> sft;
  std::vector<PrefPair> prefs;
  std::vector<EvalPrompt> eval;
};

World generate_world(const WorldOptions& options);

// File contents, exactly as write_world writes them.
std::string sft_jsonl(const World& world);    // {"prompt","response"}
std::string prefs_jsonl(const World& world);  // {"prompt","preference","chosen","rejected"}
std::string eval_jsonl(const World& world);   // {"id","prompt","subject","category","harmful"}
std::string kb_json(const World& world);
// Text for the tokenizer trainer: training prompts and responses, and the guideline template
// (DESIGN §1) filled with every principle, judged attributes included. No held-out subject.
std::string corpus_text(const World& world);

// Creates `dir` if needed and writes sft.jsonl, prefs.jsonl, eval.jsonl, corpus.txt and kb.json,
// each atomically.
void write_world(const World& world, const std::string& dir);

}  // namespace pad::eval
