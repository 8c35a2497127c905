// The story world's judges, phrasings and openings (definitions in stories.h).
#include "pad/eval/stories.h"

#include <algorithm>

#include "pad/eval/text_match.h"
#include "pad/util/error.h"
#include "world_rng.h"

namespace pad::eval {
namespace {

const std::vector<std::string_view> kHappyWords = {
    "happy",  "smiled", "smile",  "smiles", "laughed", "laugh", "glad",    "joy",    "hugged", "hug",
    "loved",  "fun",    "cheered", "best friends", "proud", "giggled", "thanked", "yay"};

const std::vector<std::string_view> kAnimalWords = {
    "dog",   "dogs",  "puppy", "cat",   "cats",  "kitten", "bird",  "birds", "fish",  "bunny", "rabbit",
    "bear",  "lion",  "frog",  "duck",  "mouse", "cow",    "horse", "pig",   "owl",   "fox",   "elephant",
    "monkey", "bug",  "bee",   "butterfly", "squirrel", "turtle", "sheep", "chicken", "tiger", "snake"};

const std::vector<std::string_view> kColourWords = {"red",   "blue",   "green", "yellow", "pink",  "purple",
                                                    "orange", "white", "black", "brown",  "gray",  "grey"};

}  // namespace

void StoryJudgeOptions::validate() const {
  if (!(short_full_words >= 0) || !(short_zero_words > short_full_words))
    throw_invalid("story judge options: need 0 <= short_full_words < short_zero_words, got ", short_full_words,
                  " and ", short_zero_words);
}

size_t story_attribute_index(std::string_view attribute) {
  for (size_t i = 0; i < kStoryAttributes.size(); ++i)
    if (kStoryAttributes[i] == attribute) return i;
  throw_invalid("unknown story attribute '", attribute,
                "' (expected happy ending, animals, dialogue, short sentences or colours)");
}

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    const size_t a = cur.find_first_not_of(" \t\r\n\""), b = cur.find_last_not_of(" \t\r\n\"");
    if (a != std::string::npos) out.push_back(cur.substr(a, b - a + 1));
    cur.clear();
  };
  for (char c : text) {
    cur += c;
    if (c == '.' || c == '!' || c == '?' || c == '\n') flush();
  }
  flush();
  return out;
}

double judge_story_happy(std::string_view text) {
  const std::vector<std::string> s = split_sentences(text);
  const size_t from = s.size() > 2 ? s.size() - 2 : 0;
  for (size_t i = from; i < s.size(); ++i)
    if (count_lexicon(to_lower_ascii(s[i]), kHappyWords) > 0) return 1.0;
  return 0.0;
}

double judge_story_animal(std::string_view text) {
  return count_lexicon(to_lower_ascii(text), kAnimalWords) > 0 ? 1.0 : 0.0;
}

double judge_story_dialogue(std::string_view text) {
  const auto quotes = std::count(text.begin(), text.end(), '"');
  return std::min(1.0, static_cast<double>(quotes / 2) / 2.0);
}

double judge_story_short(std::string_view text, const StoryJudgeOptions& opt) {
  const std::vector<std::string> s = split_sentences(text);
  if (s.empty()) return 0.0;  // nothing written is not a story of short sentences
  int words = 0;
  for (const std::string& x : s) words += count_words(x);
  const double m = static_cast<double>(words) / s.size();
  return std::clamp((opt.short_zero_words - m) / (opt.short_zero_words - opt.short_full_words), 0.0, 1.0);
}

double judge_story_colour(std::string_view text) {
  return count_lexicon(to_lower_ascii(text), kColourWords) > 0 ? 1.0 : 0.0;
}

std::array<double, kStoryAttributes.size()> judge_story(std::string_view text, const StoryJudgeOptions& opt) {
  return {judge_story_happy(text), judge_story_animal(text), judge_story_dialogue(text),
          judge_story_short(text, opt), judge_story_colour(text)};
}

const std::vector<StoryPhrasings>& story_phrasings() {
  static const std::vector<StoryPhrasings> k = {
      {"happy ending", {"happy ending", "a story that ends happily", "end on a happy note"}, {"a joyful ending"}},
      {"animals", {"animals", "a story about an animal", "include an animal"}, {"put a pet in it"}},
      {"dialogue", {"dialogue", "characters who talk", "use quoted speech"}, {"lots of talking"}},
      {"short sentences", {"short sentences", "simple short sentences", "keep sentences short"}, {"brief sentences"}},
      {"colours", {"colours", "a named colour", "mention colours"}, {"colorful words"}},
  };
  return k;
}

void StoryWorldOptions::validate() const {
  if (n_train_openings < 0 || n_eval_openings < 0)
    throw_invalid("story world: opening counts must be >= 0, got ", n_train_openings, " and ", n_eval_openings);
  if (n_train_openings > 120 || n_eval_openings > 40)
    throw_invalid("story world: at most 120 training and 40 held-out openings exist, asked for ", n_train_openings,
                  " and ", n_eval_openings);
  if (n_samples < 2) throw_invalid("story world: --n-samples ", n_samples, " is out of range (expected >= 2)");
  if (n_predict < 1) throw_invalid("story world: --n-predict ", n_predict, " is out of range (expected >= 1)");
  if (!(temperature > 0)) throw_invalid("story world: --temp ", temperature, " must be > 0 (the data samples)");
  if (!(margin > 0 && margin <= 1)) throw_invalid("story world: --margin ", margin, " is outside (0, 1]");
  if (max_twins_per_opening < 1) throw_invalid("story world: --max-twins ", max_twins_per_opening, " must be >= 1");
}

namespace {

struct Name {
  const char* name;
  const char* kind;  // "girl" | "boy"
};

// Names and sentence forms differ between training and held-out openings. No opening names an
// animal or a colour, so the judges read only what the model wrote.
const std::vector<Name> kTrainNames = {
    {"Lily", "girl"}, {"Tom", "boy"},  {"Sue", "girl"},  {"Ben", "boy"},  {"Mia", "girl"},
    {"Max", "boy"},   {"Anna", "girl"}, {"Tim", "boy"},  {"Sara", "girl"}, {"Jack", "boy"},
    {"Lucy", "girl"}, {"Sam", "boy"},  {"Emma", "girl"}, {"Leo", "boy"},  {"Zoe", "girl"},
    {"Jake", "boy"},  {"Mary", "girl"}, {"Bob", "boy"},  {"Amy", "girl"}, {"Joe", "boy"}};
const std::vector<Name> kEvalNames = {{"Kim", "girl"},  {"Dan", "boy"},   {"Rose", "girl"}, {"Fred", "boy"},
                                      {"Ellie", "girl"}, {"Nick", "boy"}, {"Molly", "girl"}, {"Pete", "boy"},
                                      {"Grace", "girl"}, {"Billy", "boy"}};
// Every opening stops mid-sentence: after a full stop this base tends to end the story at once.
const std::vector<std::string> kTrainForms = {
    "Once upon a time, there was a little {kind} named {name}. {Pron}", "One day, {name} went to the park and",
    "{name} was a little {kind} who liked to",                          "Once upon a time, {name} found a big box. Inside the box",
    "{name} wanted to go outside, but it was raining. So {pron}",       "One sunny day, {name} and mom went for a walk. They"};
const std::vector<std::string> kEvalForms = {"One morning, {name} woke up early and",
                                             "There once was a {kind} called {name}. Every day, {pron}",
                                             "{name} and dad went to the store. At the store,", "{name} had a new toy. It was"};

std::string fill(std::string form, const Name& n) {
  const bool girl = std::string(n.kind) == "girl";
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{name}", n.name},
                                   {"{kind}", n.kind},
                                   {"{Pron}", girl ? "She" : "He"},
                                   {"{pron}", girl ? "she" : "he"}})
    for (size_t at; (at = form.find(key)) != std::string::npos;) form.replace(at, key.size(), value);
  return form;
}

std::vector<std::string> all_openings(const std::vector<Name>& names, const std::vector<std::string>& forms) {
  std::vector<std::string> out;
  for (const std::string& f : forms)
    for (const Name& n : names) out.push_back(fill(f, n));
  return out;
}

}  // namespace

std::vector<StoryOpening> story_openings(const StoryWorldOptions& options) {
  options.validate();
  std::vector<StoryOpening> out;
  for (bool held_out : {false, true}) {
    std::vector<std::string> texts = held_out ? all_openings(kEvalNames, kEvalForms)
                                              : all_openings(kTrainNames, kTrainForms);
    world::Rng rng = world::Rng::derive(options.seed, held_out ? 2 : 1);
    rng.shuffle(texts);
    const int n = held_out ? options.n_eval_openings : options.n_train_openings;
    for (int i = 0; i < n; ++i)
      out.push_back({(held_out ? "story-eval-" : "story-train-") + std::to_string(i + 1), texts[i], held_out});
  }
  return out;
}

}  // namespace pad::eval
