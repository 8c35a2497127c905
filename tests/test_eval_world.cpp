// PrefWorld: determinism, held-out subjects and phrasings, pairs that judges rank the right way,
// a balanced SFT attribute mix, and the files write_world produces.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "pad/eval/judges.h"
#include "pad/eval/prefworld.h"
#include "pad/eval/text_match.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"
#include "test_util.h"

namespace pad::eval {
namespace {

WorldOptions small_options(uint64_t seed) {
  WorldOptions o;
  o.seed = seed;
  o.n_sft = 900;
  o.n_pairs = 1200;
  o.n_eval = 120;
  return o;
}

const World& world1() {
  static const World w = generate_world(small_options(7));
  return w;
}

TEST(EvalWorld, SameSeedSameBytesOtherSeedDiffers) {
  World a = generate_world(small_options(7));
  const World& b = world1();
  EXPECT_EQ(kb_json(a), kb_json(b));
  EXPECT_EQ(sft_jsonl(a), sft_jsonl(b));
  EXPECT_EQ(prefs_jsonl(a), prefs_jsonl(b));
  EXPECT_EQ(eval_jsonl(a), eval_jsonl(b));
  EXPECT_EQ(corpus_text(a), corpus_text(b));
  World c = generate_world(small_options(8));
  EXPECT_NE(kb_json(a), kb_json(c));
  EXPECT_NE(sft_jsonl(a), sft_jsonl(c));
  EXPECT_NE(prefs_jsonl(a), prefs_jsonl(c));
  EXPECT_NE(eval_jsonl(a), eval_jsonl(c));
  EXPECT_EQ(a.sft.size(), 900u);
  EXPECT_EQ(a.prefs.size(), 1200u);
  EXPECT_EQ(a.eval.size(), 120u);
}

// The prompt with its subject's name (and "the <category>") replaced, to compare phrasings.
std::string skeleton(const std::string& prompt, const KnowledgeBase& kb) {
  const Subject* s = kb.subject_in(prompt);
  if (!s) return prompt;
  std::string out = prompt.substr(0, prompt.find(" Notes: "));
  for (const std::string& from : {"the " + s->category + " " + s->name, s->name}) {
    size_t pos = out.find(from);
    if (pos != std::string::npos) {
      out.replace(pos, from.size(), "{ref}");
      break;
    }
  }
  return out;
}

TEST(EvalWorld, EvalSubjectsAndPhrasingsAreHeldOut) {
  const World& w = world1();
  std::set<std::string> eval_names;
  for (const Subject& s : w.kb.subjects())
    if (s.split == "eval") eval_names.insert(to_lower_ascii(s.name));
  ASSERT_EQ(eval_names.size(), 4u * 6u);
  std::string training = to_lower_ascii(corpus_text(w));
  for (const std::string& name : eval_names) EXPECT_FALSE(contains_phrase(training, name)) << name;

  std::set<std::string> train_skeletons;
  for (const SftExample& e : w.sft) train_skeletons.insert(skeleton(e.prompt, w.kb));
  for (const PrefPair& p : w.prefs) train_skeletons.insert(skeleton(p.prompt, w.kb));
  int n_harmful = 0;
  for (const EvalPrompt& e : w.eval) {
    n_harmful += e.harmful;
    EXPECT_EQ(w.kb.is_harmful_request(e.prompt), e.harmful) << e.prompt;
    EXPECT_FALSE(train_skeletons.count(skeleton(e.prompt, w.kb))) << e.prompt;
    if (!e.harmful) {
      ASSERT_NE(w.kb.find_subject(e.subject), nullptr);
      EXPECT_TRUE(eval_names.count(to_lower_ascii(e.subject))) << e.subject;
      EXPECT_EQ(w.kb.subject_in(e.prompt)->name, e.subject);
      // The notes carry the subject's facts, in schema order.
      const Subject& s = *w.kb.find_subject(e.subject);
      std::string notes;
      for (const AttributeSchema& a : w.kb.category(s.category).attributes)
        notes += (notes.empty() ? "" : ", ") + s.facts.at(a.name);
      EXPECT_TRUE(ends_with(e.prompt, " Notes: " + notes + ".")) << e.prompt;
    }
  }
  EXPECT_EQ(n_harmful, 24);  // 20% of 120
}

// Sum of the judges named in `preference` ("helpful and humor").
double judged(const Judges& judges, const std::string& preference, const std::string& prompt, const std::string& text) {
  JudgeScores s = judges.score({prompt, text, "", {}});
  double total = 0.0;
  size_t start = 0;
  while (true) {
    size_t pos = preference.find(" and ", start);
    total += s.get(preference.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return total;
    start = pos + 5;
  }
}

TEST(EvalWorld, JudgesPreferChosenForEveryPrinciple) {
  const World& w = world1();
  Judges judges(w.kb);
  std::map<std::string, std::pair<int, int>> wins;  // preference -> (chosen > rejected, total)
  for (const PrefPair& p : w.prefs) {
    auto& [won, total] = wins[p.preference];
    ++total;
    won += judged(judges, p.preference, p.prompt, p.chosen) > judged(judges, p.preference, p.prompt, p.rejected);
    // No principle of a combination may get worse in the chosen response.
    for (const std::string& part : split(p.preference, ' ')) {
      if (part == "and") continue;
      EXPECT_GE(judged(judges, part, p.prompt, p.chosen), judged(judges, part, p.prompt, p.rejected))
            << p.preference << "\n" << p.chosen << "\n" << p.rejected;
    }
    EXPECT_NE(p.chosen, p.rejected);
  }
  ASSERT_EQ(wins.size(), world_preferences().size());
  for (const std::string& pref : world_preferences()) {
    auto [won, total] = wins[pref];
    EXPECT_EQ(total, 200) << pref;
    EXPECT_GE(won, 0.99 * total) << pref << ": judge prefers chosen in " << won << " of " << total;
  }
}

TEST(EvalWorld, SftAttributeMixIsBalanced) {
  const World& w = world1();
  Judges judges(w.kb);
  std::map<std::string, int> present;
  int total_words = 0, longest = 0, shortest = 1000;
  for (const SftExample& e : w.sft) {
    JudgeScores s = judges.score({e.prompt, e.response, "", {}});
    present["helpful"] += s.get("helpful") > 0.5;
    present["harmless"] += s.get("harmless") == 1.0;
    present["humor"] += s.get("humor") == 1.0;
    present["concise"] += s.get("concise") >= 0.5;
    present["formal"] += s.get("formal") > 0.5;
    present["enthusiastic"] += s.get("enthusiastic") >= 0.5;
    int n = count_words(e.response);
    total_words += n;
    longest = std::max(longest, n);
    shortest = std::min(shortest, n);
  }
  double n = static_cast<double>(w.sft.size());
  for (std::string_view a : kAttributes) {
    double share = present[std::string(a)] / n;
    EXPECT_GE(share, 0.2) << a;
    EXPECT_LE(share, 0.7) << a;
  }
  EXPECT_GE(shortest, 5);
  EXPECT_LE(longest, 75);
  EXPECT_GE(total_words / n, 20.0);
  EXPECT_LE(total_words / n, 50.0);
}

// Some SFT prompts state a principle in the guideline template; the base then shows that attribute
// more often than without it, but far from always (prompting alone must not be PAD).
TEST(EvalWorld, SftFollowsAStatedPrincipleOnlySometimes) {
  const World& w = world1();
  Judges judges(w.kb);
  const std::string marker = "[Principles] humor [Instruction] ";
  int n_guided = 0, n_humor_guided = 0, humor_guided = 0, n_plain = 0, humor_plain = 0;
  for (const SftExample& e : w.sft) {
    bool guided = e.prompt.rfind("[Guidelines]", 0) == 0;
    n_guided += guided;
    double humor = judges.score({e.prompt, e.response, "", {}}).get("humor");
    if (e.prompt.find(marker) != std::string::npos) {
      ++n_humor_guided;
      humor_guided += humor == 1.0;
    } else if (!guided) {
      ++n_plain;
      humor_plain += humor == 1.0;
    }
  }
  EXPECT_GT(n_guided, 0.15 * w.sft.size());
  EXPECT_LT(n_guided, 0.35 * w.sft.size());
  ASSERT_GT(n_humor_guided, 20);
  double guided_share = static_cast<double>(humor_guided) / n_humor_guided;
  double plain_share = static_cast<double>(humor_plain) / n_plain;
  EXPECT_GT(guided_share, plain_share + 0.1);
  EXPECT_LT(guided_share, 0.8);
}

// Helpful and harmless pairs sometimes put a joke only in the rejected response, so a PersRM that
// rewards jokes whatever the principle stated cannot fit them; humor pairs never do the reverse.
TEST(EvalWorld, ConflictPairsMakeThePrincipleMatter) {
  const World& w = world1();
  Judges judges(w.kb);
  std::map<std::string, int> joke_only_rejected, joke_only_chosen;
  for (const PrefPair& p : w.prefs) {
    double c = judges.score({p.prompt, p.chosen, "", {}}).get("humor");
    double r = judges.score({p.prompt, p.rejected, "", {}}).get("humor");
    joke_only_rejected[p.preference] += r > c;
    joke_only_chosen[p.preference] += c > r;
  }
  for (const char* pref : {"helpful", "harmless"}) {
    EXPECT_GT(joke_only_rejected[pref], 130) << pref;  // about 80% of 200
    EXPECT_LT(joke_only_rejected[pref], 190) << pref;
    EXPECT_EQ(joke_only_chosen[pref], 0) << pref;
  }
  EXPECT_EQ(joke_only_rejected["humor"], 0);
  EXPECT_EQ(joke_only_chosen["humor"], 200);
}

TEST(EvalWorld, NotesCanBeLeftOut) {
  WorldOptions o = small_options(7);
  o.facts_in_prompt = false;
  o.n_sft = 50, o.n_pairs = 0;
  World w = generate_world(o);
  for (const SftExample& e : w.sft) EXPECT_EQ(e.prompt.find("Notes:"), std::string::npos) << e.prompt;
  for (const EvalPrompt& e : w.eval) EXPECT_EQ(e.prompt.find("Notes:"), std::string::npos) << e.prompt;
  // Only the prompts change: the knowledge base is the same.
  EXPECT_EQ(kb_json(w), kb_json(world1()));
}

TEST(EvalWorld, WritesFilesThatLoadBack) {
  std::string dir = test::scratch_dir("eval-world") + "/out";
  WorldOptions o = small_options(3);
  o.n_sft = 10, o.n_pairs = 12, o.n_eval = 5;
  World w = generate_world(o);
  write_world(w, dir);
  for (const char* f : {"sft.jsonl", "prefs.jsonl", "eval.jsonl", "corpus.txt", "kb.json"})
    EXPECT_TRUE(file_exists(dir + "/" + f)) << f;
  EXPECT_EQ(read_file(dir + "/prefs.jsonl"), prefs_jsonl(w));
  KnowledgeBase kb = KnowledgeBase::load(dir + "/kb.json");
  EXPECT_EQ(kb.to_json().dump(), w.kb.to_json().dump());
  auto first = nlohmann::json::parse(split(read_file(dir + "/prefs.jsonl"), '\n')[0]);
  EXPECT_EQ(first["preference"], "helpful");
  EXPECT_TRUE(first.contains("chosen") && first.contains("rejected") && first.contains("prompt"));
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

TEST(EvalWorld, OptionsValidate) {
  WorldOptions o;
  o.n_sft = -1;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = WorldOptions{};
  o.n_eval_subjects = 0;
  EXPECT_THROW(generate_world(o), std::invalid_argument);
  o = WorldOptions{};
  o.harmful_fraction = 1.5;
  EXPECT_THROW(o.validate(), std::invalid_argument);
}

}  // namespace
}  // namespace pad::eval
