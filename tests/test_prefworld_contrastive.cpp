// PrefWorld's contrastive pairs (issue 12): the principle decides the label. Every contrastive pair
// has its flipped twin (same prompt, same two responses, labels swapped, another principle), every
// label agrees with the judges, weighted pairs follow the weighted sum of judges, principles come in
// their training phrasings and held-out phrasings never occur. Without --contrastive the pairs are
// the independent ones of issue 6. Subjects known only from their notes can stand in the conflicts.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "pad/eval/judges.h"
#include "pad/eval/prefworld.h"

namespace pad::eval {
namespace {

WorldOptions contrastive_options(uint64_t seed) {
  WorldOptions o;
  o.seed = seed;
  o.n_sft = 50;
  o.n_pairs = 1201;  // odd: the last item cannot be a pair of twins
  o.n_eval = 20;
  o.contrastive = true;
  return o;
}

const World& world1() {
  static const World w = generate_world(contrastive_options(3));
  return w;
}

double judge(const Judges& j, const std::string& principle, const std::string& prompt, const std::string& text) {
  return j.score({prompt, text, "", {}}).get(principle);
}

TEST(PrefWorldContrastive, DeterministicAndExactCount) {
  const World& a = world1();
  World b = generate_world(contrastive_options(3));
  EXPECT_EQ(prefs_jsonl(a), prefs_jsonl(b));
  EXPECT_EQ(corpus_text(a), corpus_text(b));
  EXPECT_NE(prefs_jsonl(a), prefs_jsonl(generate_world(contrastive_options(4))));
  EXPECT_EQ(a.prefs.size(), 1201u);
  // The SFT data, knowledge base and evaluation prompts do not depend on the pair mode.
  WorldOptions plain = contrastive_options(3);
  plain.contrastive = false;
  World c = generate_world(plain);
  EXPECT_EQ(sft_jsonl(a), sft_jsonl(c));
  EXPECT_EQ(eval_jsonl(a), eval_jsonl(c));
  EXPECT_EQ(kb_json(a), kb_json(c));
  EXPECT_NE(prefs_jsonl(a), prefs_jsonl(c));
  for (const PrefPair& p : c.prefs) {
    EXPECT_TRUE(p.kind.empty());
    EXPECT_EQ(p.group, -1);
  }
  EXPECT_EQ(prefs_jsonl(c).find("\"kind\""), std::string::npos);
}

TEST(PrefWorldContrastive, EveryContrastivePairHasItsFlippedTwin) {
  const World& w = world1();
  Judges judges(w.kb);
  std::map<int64_t, std::vector<const PrefPair*>> groups;
  std::map<std::string, int> conflicts;  // "humor|helpful" -> twins (first line's principle first)
  for (const PrefPair& p : w.prefs)
    if (p.kind == "contrastive") groups[p.group].push_back(&p);
  ASSERT_GT(groups.size(), 300u);
  for (const auto& [id, g] : groups) {
    ASSERT_EQ(g.size(), 2u) << "group " << id;
    const PrefPair &a = *g[0], &b = *g[1];
    EXPECT_EQ(a.prompt, b.prompt);
    EXPECT_EQ(a.chosen, b.rejected);
    EXPECT_EQ(a.rejected, b.chosen);
    const std::string pa = principle_of_phrasing(a.preference), pb = principle_of_phrasing(b.preference);
    ASSERT_FALSE(pa.empty()) << a.preference;
    ASSERT_FALSE(pb.empty()) << b.preference;
    EXPECT_NE(pa, pb);
    EXPECT_TRUE(a.weights.empty());
    // Each label agrees with its principle's judge, by a clear margin.
    for (const PrefPair* p : g) {
      const std::string q = principle_of_phrasing(p->preference);
      EXPECT_GE(judge(judges, q, p->prompt, p->chosen) - judge(judges, q, p->prompt, p->rejected), 0.2)
          << q << "\n" << p->chosen << "\n" << p->rejected;
    }
    ++conflicts[pa + "|" + pb];
  }
  // All three conflicts occur: humor against helpful and against harmless, and harmless (a refusal)
  // against helpful (an answer) on harmful requests, so every pair of trained principles disagrees.
  EXPECT_GT(conflicts["humor|helpful"], 60);
  EXPECT_GT(conflicts["humor|harmless"], 120);
  EXPECT_GT(conflicts["harmless|helpful"], 60);
  EXPECT_EQ(conflicts.size(), 3u);
}

TEST(PrefWorldContrastive, WeightedPairsFollowTheWeightedJudges) {
  const World& w = world1();
  Judges judges(w.kb);
  int n = 0;
  // (first, second principle) -> second principle's weight -> (its response chosen, pairs)
  std::map<std::string, std::map<double, std::pair<int, int>>> second_wins;
  for (const PrefPair& p : w.prefs) {
    if (p.kind != "weighted") continue;
    ++n;
    ASSERT_EQ(p.weights.size(), 2u);
    const std::string& first = p.weights[0].first;
    const std::string& second = p.weights[1].first;
    EXPECT_TRUE((first == "helpful" || first == "harmless") && (second == "humor" || second == "harmless") &&
                first != second)
        << first << " and " << second;
    EXPECT_NEAR(p.weights[0].second + p.weights[1].second, 1.0, 1e-12);
    EXPECT_EQ(p.preference, first + " and " + second);
    double sum = 0;
    for (const auto& [name, weight] : p.weights)
      sum += weight * (judge(judges, name, p.prompt, p.chosen) - judge(judges, name, p.prompt, p.rejected));
    EXPECT_GE(sum, 0.1) << p.chosen << "\n" << p.rejected;
    auto& [won, total] = second_wins[p.preference][p.weights[1].second];
    won += judge(judges, second, p.prompt, p.chosen) > judge(judges, second, p.prompt, p.rejected);
    ++total;
  }
  EXPECT_GT(n, 100);
  // The weights decide: a small weight on the second principle mostly chooses the first one's
  // response, a large one the second's.
  for (const std::string pref : {"helpful and humor", "harmless and humor", "helpful and harmless"}) {
    auto& wins = second_wins[pref];
    ASSERT_TRUE(wins.count(0.2) && wins.count(0.8)) << pref;
    EXPECT_LT(wins[0.2].first, 0.3 * wins[0.2].second) << pref;
    EXPECT_GT(wins[0.8].first, 0.7 * wins[0.8].second) << pref;
  }
}

TEST(PrefWorldContrastive, PhrasingsTrainedAndHeldOut) {
  const World& w = world1();
  std::set<std::string> train, held_out, seen;
  for (const PrinciplePhrasings& p : world_phrasings()) {
    EXPECT_EQ(p.train.front(), p.principle);
    train.insert(p.train.begin(), p.train.end());
    held_out.insert(p.held_out.begin(), p.held_out.end());
    for (const std::string& h : p.held_out) EXPECT_EQ(principle_of_phrasing(h), p.principle);
  }
  EXPECT_EQ(principle_of_phrasing("concise"), "");
  EXPECT_EQ(held_out.count("make me laugh"), 1u);
  Judges judges(w.kb);
  int singles = 0;
  for (const PrefPair& p : w.prefs) {
    EXPECT_EQ(held_out.count(p.preference), 0u) << p.preference;
    if (p.kind == "weighted") continue;
    EXPECT_EQ(train.count(p.preference), 1u) << p.preference;
    seen.insert(p.preference);
    if (p.kind != "single") continue;
    ++singles;
    const std::string q = principle_of_phrasing(p.preference);
    EXPECT_GT(judge(judges, q, p.prompt, p.chosen), judge(judges, q, p.prompt, p.rejected)) << q;
  }
  EXPECT_EQ(seen, train);  // every training phrasing occurs
  EXPECT_GT(singles, 100);
  // The tokenizer corpus states the held-out phrasings too, so they tokenize like trained ones.
  for (const std::string& h : held_out) EXPECT_NE(corpus_text(w).find("[Principles] " + h + " [Instruction]"), std::string::npos);
}

// --n-notes-subjects: subjects the SFT data never names, known only from their notes. The train and
// eval subjects, the SFT data and the evaluation prompts stay what they are without them; twins and
// weighted pairs ask about notes subjects, ordinary pairs about training subjects.
TEST(PrefWorldContrastive, NotesSubjectsAreKnownOnlyFromTheNotes) {
  WorldOptions o = contrastive_options(3);
  o.n_notes_subjects = 5;
  const World w = generate_world(o);
  const World& plain = world1();
  EXPECT_EQ(sft_jsonl(w), sft_jsonl(plain));
  EXPECT_EQ(eval_jsonl(w), eval_jsonl(plain));
  std::map<std::string, int> per_split;
  std::set<std::string> notes;
  for (const Subject& s : w.kb.subjects()) {
    ++per_split[s.split];
    if (s.split == "notes") notes.insert(s.name);
  }
  std::map<std::string, int> plain_split;
  for (const Subject& s : plain.kb.subjects()) ++plain_split[s.split];
  const int n_cats = static_cast<int>(w.kb.categories().size());
  EXPECT_EQ(per_split["notes"], 5 * n_cats);
  EXPECT_EQ(per_split["train"], plain_split["train"]);
  EXPECT_EQ(per_split["eval"], plain_split["eval"]);
  // kb.json round-trips with the new split (its check() would reject an unknown one).
  EXPECT_EQ(KnowledgeBase::from_json(w.kb.to_json(), "test").subjects().size(), w.kb.subjects().size());
  const std::string sft = sft_jsonl(w);
  for (const std::string& n : notes) EXPECT_EQ(sft.find(n), std::string::npos) << n;
  int conflicts = 0, ordinary = 0;
  for (const PrefPair& p : w.prefs) {
    const Subject* s = w.kb.subject_in(p.prompt);
    if (s == nullptr) continue;  // a harmful request names no subject
    if (p.kind == "contrastive" || p.kind == "weighted") {
      EXPECT_EQ(s->split, "notes") << p.prompt;
      ++conflicts;
    } else {
      EXPECT_EQ(s->split, "train") << p.prompt;
      ++ordinary;
    }
  }
  EXPECT_GT(conflicts, 300);
  EXPECT_GT(ordinary, 50);
  o.n_notes_subjects = -1;
  EXPECT_THROW(generate_world(o), std::invalid_argument);
  o.n_notes_subjects = 5;
  o.facts_in_prompt = false;
  EXPECT_THROW(generate_world(o), std::invalid_argument);
}

// --facts-share: helpful pairs whose responses differ only in their facts, in place of ordinary
// pairs; twins and weighted pairs stay what they were.
TEST(PrefWorldContrastive, FactsPairsDifferOnlyInTheirFacts) {
  WorldOptions o = contrastive_options(3);
  o.facts_share = 0.2;
  const World w = generate_world(o);
  const World& plain = world1();
  auto lines_of = [](const World& x, const std::string& kind) {
    std::vector<const PrefPair*> out;
    for (const PrefPair& p : x.prefs)
      if (p.kind == kind) out.push_back(&p);
    return out;
  };
  // Items keep their random streams, so the twins are the plain world's (up to where the count stops).
  const auto twins = lines_of(w, "contrastive"), plain_twins = lines_of(plain, "contrastive");
  ASSERT_GT(twins.size(), 300u);
  for (size_t i = 0; i < std::min(twins.size(), plain_twins.size()); ++i)
    ASSERT_EQ(twins[i]->chosen, plain_twins[i]->chosen) << i;
  EXPECT_TRUE(lines_of(w, "single").empty());  // 0.6 + 0.2 + 0.2 leaves no ordinary pairs
  Judges judges(w.kb);
  const auto facts = lines_of(w, "facts");
  ASSERT_GT(facts.size(), 100u);
  for (const PrefPair* p : facts) {
    EXPECT_EQ(principle_of_phrasing(p->preference), "helpful") << p->preference;
    EXPECT_EQ(p->group, -1);
    ASSERT_NE(w.kb.subject_in(p->prompt), nullptr) << p->prompt;
    EXPECT_GE(judge(judges, "helpful", p->prompt, p->chosen) - judge(judges, "helpful", p->prompt, p->rejected), 0.2)
        << p->chosen << "\n" << p->rejected;
    for (const char* q : {"harmless", "humor"})  // the formal judge reads wording, which a dodge changes
      EXPECT_EQ(judge(judges, q, p->prompt, p->chosen), judge(judges, q, p->prompt, p->rejected))
          << q << "\n" << p->chosen << "\n" << p->rejected;
  }
  EXPECT_NE(prefs_jsonl(w).find("\"kind\":\"facts\""), std::string::npos);
  o.facts_share = 0.3;  // 0.6 + 0.2 + 0.3 > 1
  EXPECT_THROW(generate_world(o), std::invalid_argument);
}

// --sft-phrasings: the SFT guidelines state helpful, harmless and humor in every phrasing, held-out
// ones included, and the responses follow them as often as --sft-follow says; the pairs, the kb and
// the evaluation prompts are what they are without it, so the PersRM still never sees a held-out one.
TEST(PrefWorldContrastive, SftPhrasingsTeachTheBaseEveryPhrasing) {
  WorldOptions o = contrastive_options(3);
  o.n_sft = 3000;
  o.sft_guideline_share = 0.5;
  o.sft_follow = 1.0;
  const World plain = generate_world(o);
  o.sft_phrasings = true;
  const World w = generate_world(o);
  EXPECT_EQ(prefs_jsonl(w), prefs_jsonl(plain));
  EXPECT_EQ(eval_jsonl(w), eval_jsonl(plain));
  EXPECT_EQ(kb_json(w), kb_json(plain));
  std::map<std::string, int> stated;
  int humor_followed = 0, humor_stated = 0;
  Judges judges(w.kb);
  for (const SftExample& e : w.sft) {
    const std::string open = "[Principles] ", close = " [Instruction] ";
    size_t a = e.prompt.find(open), b = e.prompt.find(close);
    if (a == std::string::npos) continue;
    ASSERT_NE(b, std::string::npos) << e.prompt;
    const std::string phrasing = e.prompt.substr(a + open.size(), b - a - open.size());
    ++stated[phrasing];
    if (principle_of_phrasing(phrasing) != "humor") continue;
    ++humor_stated;
    humor_followed += judge(judges, "humor", e.prompt.substr(b + close.size()), e.response) > 0.5;
  }
  for (const PrinciplePhrasings& p : world_phrasings())
    for (const auto* list : {&p.train, &p.held_out})
      for (const std::string& phrasing : *list) EXPECT_GT(stated[phrasing], 20) << phrasing;
  EXPECT_GT(stated["concise"], 100);  // attributes without phrasings keep their name
  EXPECT_EQ(humor_followed, humor_stated);  // --sft-follow 1: every humor guideline gets a joke
  o.sft_follow = 1.5;
  EXPECT_THROW(generate_world(o), std::invalid_argument);
}

TEST(PrefWorldContrastive, BadSharesAreRejected) {
  WorldOptions o = contrastive_options(1);
  o.contrastive_share = 0.9;
  o.weighted_share = 0.2;
  EXPECT_THROW(generate_world(o), std::invalid_argument);
  o.weighted_share = -0.1;
  EXPECT_THROW(generate_world(o), std::invalid_argument);
}

}  // namespace
}  // namespace pad::eval
