// The story world (issue 12): preferences over short children's stories continued by a genuinely
// pretrained base (TinyStories-656K), with programmatic judges, story openings split into training
// and held-out sets, and on-policy preference pairs built from the base's own samples.
//
// Judges score only the generated continuation (never the opening), each in [0, 1]. Words are
// compared lower-case and whole (text_match.h); sentences end at '.', '!' or '?'.
//  happy ending     1 if one of the last two sentences holds a happy word ("happy", "smiled", "laughed",
//                   "hugged", "best friends", ...), else 0.
//  animals          1 if the story names an animal ("dog", "cat", "bird", "bunny", ...), else 0.
//  dialogue         min(1, quoted passages / 2): a quoted passage is text between two '"'.
//  short sentences  mean words per sentence m: 1 for m <= short_full_words, 0 for m >= short_zero_words,
//                   linear between.
//  colours          1 if the story names a colour ("red", "blue", "green", ...), else 0.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pad::eval {

// The guideline template of the story world (DESIGN §1 step 1, replacing the default): the default's
// "[Guidelines] ..." maps to unknown tokens in TinyStories' vocabulary and makes the base end the
// story at once; a plain sentence before the opening keeps it telling stories. Training, evaluation
// and the demo all use it (`pad train persrm --pref-template`).
inline constexpr const char* kStoryGuidelineTemplate = "Principle: {principle}. {prompt}";

// The story attributes, in the order tables show them. Each name is also its first trained phrasing,
// so `pad eval --principles "happy ending"` steers toward the attribute its judge reads.
inline constexpr std::array<std::string_view, 5> kStoryAttributes = {
    "happy ending", "animals", "dialogue", "short sentences", "colours"};

struct StoryJudgeOptions {
  double short_full_words = 6.0;   // mean sentence length at or below: short = 1
  double short_zero_words = 14.0;  // at or above: short = 0
  void validate() const;           // throws std::invalid_argument
};

// Index in kStoryAttributes; throws std::invalid_argument naming the known attributes.
size_t story_attribute_index(std::string_view attribute);

std::vector<std::string> split_sentences(std::string_view text);  // trimmed, non-empty
double judge_story_happy(std::string_view text);
double judge_story_animal(std::string_view text);
double judge_story_dialogue(std::string_view text);
double judge_story_short(std::string_view text, const StoryJudgeOptions& opt = {});
double judge_story_colour(std::string_view text);

// Every story judge, in kStoryAttributes order.
std::array<double, kStoryAttributes.size()> judge_story(std::string_view text, const StoryJudgeOptions& opt = {});

// How users state each attribute. The first `n_trained` phrasings train the PersRM; the rest are
// held out for evaluation (`pad eval --phrasings`).
struct StoryPhrasings {
  std::string attribute;
  std::vector<std::string> trained, held_out;
};
const std::vector<StoryPhrasings>& story_phrasings();

// One story opening the base continues; `held_out` openings never appear in preference data.
struct StoryOpening {
  std::string id, text;
  bool held_out = false;
};

struct StoryWorldOptions {
  uint64_t seed = 1;
  int n_train_openings = 120;  // distinct openings for preference data
  int n_eval_openings = 40;    // held-out openings (other names, characters and sentence forms)
  int n_samples = 12;          // base samples per opening (data generation)
  int n_predict = 96;          // new tokens per sample
  float temperature = 1.0f;    // base sampling temperature
  double margin = 0.5;         // a judge prefers a over b when score_a - score_b >= margin
  int max_twins_per_opening = 10;  // twin groups kept per opening (each a pair under two principles)
  bool aligned = false;            // each twin group also gets an aligned pair (both judges agree);
                                   // measured worse (docs/results/stories/README.md), so off
  void validate() const;          // throws std::invalid_argument
};

// Training and held-out openings for a seed (the same seed gives the same list).
std::vector<StoryOpening> story_openings(const StoryWorldOptions& options);

// The base's samples for one training opening.
struct StorySamples {
  std::string opening;
  std::vector<std::string> stories;  // continuations only
};

// Preference pairs in `pad train persrm`'s JSONL form: for every two samples of an opening that two
// judges order oppositely (each by >= margin), a contrastive twin group: the same prompt and
// responses under principle p (a chosen) and principle q (b chosen), one line each, sharing "group".
// With `aligned`, the group also holds two samples c, d that p and q both prefer c in, chosen under
// p and under q ("kind": "aligned"), and every pair must be tied (< margin) on the other judges;
// twins whose kind has no such pair at that opening are skipped.
// Principles are phrased by a trained phrasing drawn from the seed. Lines are JSON objects
// {"prompt", "preference", "chosen", "rejected", "group", "kind", "attribute", "margin"}.
std::vector<std::string> build_story_prefs(const std::vector<StorySamples>& samples,
                                           const StoryWorldOptions& options);

// Base distribution summary: per attribute the mean score and the share of samples scoring > 0.5.
struct StoryBaseStats {
  std::map<std::string, double> mean, share_high;
  size_t n = 0;
};
StoryBaseStats story_base_stats(const std::vector<StorySamples>& samples, const StoryJudgeOptions& opt = {});

}  // namespace pad::eval
