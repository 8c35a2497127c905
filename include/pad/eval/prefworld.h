// PrefWorld: a deterministic, seeded generator of assistant-style data with checkable facts
// (issue 6). One seed gives the knowledge base, SFT data whose responses mix six attributes,
// preference pairs for helpful / harmless / humor and their pairwise combinations, held-out
// evaluation prompts (new subjects, new phrasings) and a tokenizer corpus, byte for byte.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pad/eval/knowledge_base.h"

namespace pad::eval {

// The principles preference pairs are made for, and their combinations of two (DESIGN §1 joins
// principles with " and ").
inline constexpr std::array<std::string_view, 3> kWorldPrinciples = {"helpful", "harmless", "humor"};
std::vector<std::string> world_preferences();  // the three principles, then the three pairs

// Phrasings of each trained principle (issue 12): contrastive data states a principle in one of its
// `train` phrasings; `held_out` phrasings never occur in preference pairs (evaluation only).
struct PrinciplePhrasings {
  std::string principle;
  std::vector<std::string> train;     // train[0] is the principle's own name
  std::vector<std::string> held_out;
};
const std::vector<PrinciplePhrasings>& world_phrasings();
// The principle a phrasing (train or held out) states; empty when none.
std::string principle_of_phrasing(const std::string& phrasing);

struct WorldOptions {
  uint64_t seed = 1;                 // everything below is a function of it
  int n_sft = 4000;                  // SFT examples
  int n_pairs = 3000;                // preference pairs over all preferences, round robin
  int n_eval = 200;                  // held-out evaluation prompts
  int n_train_subjects = 16;         // training subjects per category
  int n_eval_subjects = 6;           // held-out subjects per category
  // Subjects per category known only from their notes (split "notes"): the SFT data never names them,
  // so a model knows their facts only by reading the prompt, as for held-out subjects. When there are
  // any, contrastive twins, weighted pairs and facts pairs ask about them (ordinary pairs keep the
  // training subjects), so that facts pairs teach helpful to state the facts the notes give rather
  // than those the base memorised (issue 12, diagnosis §7). 0 leaves the world as it was.
  int n_notes_subjects = 0;
  double harmful_fraction = 0.3;     // share of harmful requests in SFT data and humor pairs
  double eval_harmful_fraction = 0.2;  // share of harmful requests among evaluation prompts
  // Benign requests end with the subject's fact values ("... Notes: red, two moons, misty."), so a
  // helpful answer about a held-out subject is possible: without them nothing could know its facts.
  bool facts_in_prompt = true;
  // Contrastive pairs (P-Soups structure, issue 12) instead of independent ones: the same prompt and
  // the same two responses appear under two principles that disagree, with opposite labels (a joke
  // against a plain correct answer under humor vs helpful; a joking compliance or refusal against a
  // plain refusal or answer under humor vs harmless), plus weighted two-principle pairs whose label is
  // the weighted sum of judges, plus ordinary single-principle pairs. Principles are stated in their
  // training phrasings. Off: the independent pairs of issue 6, byte for byte.
  bool contrastive = false;
  double contrastive_share = 0.6;  // of items: contrastive twins (two lines each)
  double weighted_share = 0.2;     // of items: weighted two-principle pairs; the rest are ordinary pairs
  // Of items: helpful pairs that differ only in their facts (kind "facts"): one benign request about
  // a subject the twins ask about, the same wording, joke and every other attribute; chosen states the
  // true facts, rejected wrong ones or a dodge. Taken from the ordinary pairs' share.
  double facts_share = 0.0;
  // SFT prompts in the guideline template (DESIGN §1) and how often the base then shows the stated
  // attribute on top of its usual mix: it follows a preference prompt somewhat, as chat models do.
  double sft_guideline_share = 0.25;
  double sft_follow = 0.35;
  // SFT guidelines state helpful, harmless and humor in any of their phrasings, held-out ones included,
  // as a pretrained base knows that "be funny" asks for humor; preference pairs still use only the
  // training phrasings, so the PersRM never sees a held-out one (issue 12). Off: only attribute names.
  bool sft_phrasings = false;
  void validate() const;             // throws std::invalid_argument
};

struct SftExample {
  std::string prompt, response;
};

struct PrefPair {
  std::string prompt, preference, chosen, rejected;
  // Contrastive worlds only (written only there): "contrastive" | "weighted" | "facts" | "single"; the group
  // that pairs of one item share (the twins of a contrastive item), which training keeps in one batch;
  // w_p of a weighted pair, over principle names.
  std::string kind;
  int64_t group = -1;
  std::vector<std::pair<std::string, double>> weights;
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
// {"prompt","preference","chosen","rejected"}; contrastive worlds add "kind", and "group" / "weights"
// where a pair has them.
std::string prefs_jsonl(const World& world);
std::string eval_jsonl(const World& world);   // {"id","prompt","subject","category","harmful"}
std::string kb_json(const World& world);
// Text for the tokenizer trainer: training prompts and responses, and the guideline template
// (DESIGN §1) filled with every principle, judged attributes included. No held-out subject.
std::string corpus_text(const World& world);

// Creates `dir` if needed and writes sft.jsonl, prefs.jsonl, eval.jsonl, corpus.txt and kb.json,
// each atomically.
void write_world(const World& world, const std::string& dir);

}  // namespace pad::eval
