// The story world's judges on hand-written stories, its openings (deterministic, training and
// held-out disjoint) and its preference builder (twins with opposite labels, deterministic per seed).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "pad/eval/stories.h"

namespace pad::eval {
namespace {

TEST(StoryJudges, HappyEndingReadsTheLastSentences) {
  EXPECT_EQ(judge_story_happy("Tom lost his ball. He looked everywhere. At last he found it and smiled."), 1.0);
  EXPECT_EQ(judge_story_happy("Tom was happy. He played all day. Then the rain came. His ball was lost."), 0.0);
  EXPECT_EQ(judge_story_happy("They were best friends forever"), 1.0);
  EXPECT_EQ(judge_story_happy(""), 0.0);
  EXPECT_EQ(judge_story_happy("She was unhappy."), 0.0);  // whole words only
}

TEST(StoryJudges, AnimalsAndColoursAreWholeWords) {
  EXPECT_EQ(judge_story_animal("A little cat sat on the mat."), 1.0);
  EXPECT_EQ(judge_story_animal("She went to the catalog store."), 0.0);
  EXPECT_EQ(judge_story_animal("The Bunny hopped."), 1.0);  // case-insensitive
  EXPECT_EQ(judge_story_colour("He had a red hat."), 1.0);
  EXPECT_EQ(judge_story_colour("He was bored and tired."), 0.0);  // "red" inside "bored", "tired"
}

TEST(StoryJudges, DialogueCountsQuotedPassages) {
  EXPECT_EQ(judge_story_dialogue("They played."), 0.0);
  EXPECT_EQ(judge_story_dialogue("Mom said, \"Come home.\""), 0.5);
  EXPECT_EQ(judge_story_dialogue("\"Hi,\" said Sue. \"Hello!\" said Ben."), 1.0);
  EXPECT_EQ(judge_story_dialogue("\"Hi,\" said Sue. \"Hello"), 0.5);  // an unclosed quote is not a passage
}

TEST(StoryJudges, ShortSentencesFollowTheMeanLength) {
  EXPECT_EQ(judge_story_short("He ran. She hid. They laughed."), 1.0);  // 2 words a sentence
  EXPECT_EQ(judge_story_short("Once upon a time there was a very little girl who liked to play in the big green "
                              "park with all of her many friends."),
            0.0);  // 26 words
  // 10 words a sentence: halfway between 6 and 14.
  EXPECT_DOUBLE_EQ(judge_story_short("one two three four five six seven eight nine ten."), 0.5);
  EXPECT_EQ(judge_story_short(""), 0.0);
  StoryJudgeOptions bad;
  bad.short_zero_words = bad.short_full_words;
  EXPECT_THROW(bad.validate(), std::invalid_argument);
}

TEST(StoryJudges, AllJudgesInOrderAndInRange) {
  const auto s = judge_story("\"Look, a blue bird!\" said Lily. \"Yes,\" said Tom. They smiled.");
  ASSERT_EQ(s.size(), kStoryAttributes.size());
  EXPECT_EQ(s[story_attribute_index("happy ending")], 1.0);
  EXPECT_EQ(s[story_attribute_index("animals")], 1.0);
  EXPECT_EQ(s[story_attribute_index("dialogue")], 1.0);
  EXPECT_EQ(s[story_attribute_index("colours")], 1.0);
  EXPECT_GT(s[story_attribute_index("short sentences")], 0.5);
  EXPECT_THROW(story_attribute_index("humor"), std::invalid_argument);
}

TEST(StoryWorld, OpeningsAreDeterministicAndHeldOutOnesDisjoint) {
  StoryWorldOptions o;
  const auto a = story_openings(o), b = story_openings(o);
  ASSERT_EQ(a.size(), 160u);
  std::set<std::string> train, held;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    (a[i].held_out ? held : train).insert(a[i].text);
    // No opening names an animal or a colour: the judges read only what the model adds.
    EXPECT_EQ(judge_story_animal(a[i].text), 0.0) << a[i].text;
    EXPECT_EQ(judge_story_colour(a[i].text), 0.0) << a[i].text;
  }
  EXPECT_EQ(train.size(), 120u);
  EXPECT_EQ(held.size(), 40u);
  for (const auto& t : held) EXPECT_EQ(train.count(t), 0u) << t;
  o.seed = 2;
  EXPECT_NE(story_openings(o)[0].text + story_openings(o)[1].text, a[0].text + a[1].text);
  o.n_eval_openings = 41;
  EXPECT_THROW(story_openings(o), std::invalid_argument);
}

TEST(StoryWorld, PrefsAreTwinsWithOppositeLabels) {
  // Story 0: dialogue, no colour; story 1: colour, no dialogue; story 2 like 0 (a copy is never paired with 0).
  const std::string talk = "\"Hi,\" said Tom. \"Hello,\" said Sue.";
  const std::string red = "Tom saw a red ball near the tall old tree by the house.";
  StoryWorldOptions o;
  o.max_twins_per_opening = 10;
  o.aligned = false;
  const std::vector<StorySamples> samples = {{"Tom had a new toy.", {talk, red, talk}}};
  const std::vector<std::string> lines = build_story_prefs(samples, o);
  ASSERT_FALSE(lines.empty());
  ASSERT_EQ(lines.size() % 2, 0u);
  const auto& ph = story_phrasings();
  for (size_t i = 0; i < lines.size(); i += 2) {
    const auto x = nlohmann::json::parse(lines[i]), y = nlohmann::json::parse(lines[i + 1]);
    EXPECT_EQ(x["group"], y["group"]);
    EXPECT_EQ(x["prompt"], "Tom had a new toy.");
    EXPECT_EQ(x["chosen"], y["rejected"]);
    EXPECT_EQ(x["rejected"], y["chosen"]);
    EXPECT_NE(x["attribute"], y["attribute"]);
    EXPECT_NE(x["chosen"], x["rejected"]);
    for (const auto* j : {&x, &y}) {
      const size_t a = story_attribute_index((*j)["attribute"].get<std::string>());
      const auto& trained = ph[a].trained;
      EXPECT_NE(std::find(trained.begin(), trained.end(), (*j)["preference"].get<std::string>()), trained.end());
      // The chosen story is the better one under the line's own judge.
      EXPECT_GE(judge_story((*j)["chosen"].get<std::string>())[a] - judge_story((*j)["rejected"].get<std::string>())[a],
                o.margin);
    }
  }
  EXPECT_EQ(build_story_prefs(samples, o), lines);  // deterministic per seed
  // Samples that no two judges order oppositely give no pairs.
  EXPECT_TRUE(build_story_prefs({{"x", {talk, talk + " More."}}}, o).empty());
}

TEST(StoryWorld, AlignedPairsBalanceEachTwinGroup) {
  // All four in short sentences (so the judges other than dialogue and colours tie): talk has dialogue,
  // red a colour, both has both, plain neither.
  const std::string talk = "\"Hi,\" said Tom. \"Hello,\" said Sue.";
  const std::string red = "Tom saw a red ball.";
  const std::string both = "\"Hi,\" said Tom. \"A red hat,\" said Sue.";
  const std::string plain = "Tom sat down. Sue sat down.";
  StoryWorldOptions o;
  o.aligned = true;
  const std::vector<StorySamples> samples = {{"Tom had a new toy.", {talk, red, both, plain}}};
  const std::vector<std::string> lines = build_story_prefs(samples, o);
  ASSERT_FALSE(lines.empty());
  ASSERT_EQ(lines.size() % 4, 0u);
  for (size_t i = 0; i < lines.size(); i += 4) {
    std::vector<nlohmann::json> g;
    for (size_t k = 0; k < 4; ++k) g.push_back(nlohmann::json::parse(lines[i + k]));
    for (const auto& x : g) EXPECT_EQ(x["group"], g[0]["group"]);
    EXPECT_EQ(g[0]["kind"], "contrastive");
    EXPECT_EQ(g[0]["chosen"], g[1]["rejected"]);
    EXPECT_EQ(g[2]["kind"], "aligned");
    EXPECT_EQ(g[3]["kind"], "aligned");
    EXPECT_EQ(g[2]["chosen"], g[3]["chosen"]);
    EXPECT_EQ(g[2]["rejected"], g[3]["rejected"]);
    // The aligned pair is under the twin's two principles, and both judges prefer its chosen story.
    EXPECT_EQ(g[2]["attribute"], g[0]["attribute"]);
    EXPECT_EQ(g[3]["attribute"], g[1]["attribute"]);
    const size_t p = story_attribute_index(g[0]["attribute"].get<std::string>());
    const size_t q = story_attribute_index(g[1]["attribute"].get<std::string>());
    for (size_t k = 0; k < 4; ++k) {
      const auto chosen = judge_story(g[k]["chosen"].get<std::string>());
      const auto rejected = judge_story(g[k]["rejected"].get<std::string>());
      const size_t a = k % 2 == 0 ? p : q;
      EXPECT_GE(chosen[a] - rejected[a], o.margin);
      // No judge but the group's two orders either pair.
      for (size_t r = 0; r < chosen.size(); ++r)
        if (r != p && r != q) EXPECT_LT(std::abs(chosen[r] - rejected[r]), o.margin) << r;
    }
  }
  // A twin whose two judges no pair of samples orders the same way is left out when aligned pairs are
  // on (talk and red are a twin, tied on the other judges, with no aligned pair beside them).
  EXPECT_TRUE(build_story_prefs({{"x", {talk, red, talk}}}, o).empty());
  o.aligned = false;
  EXPECT_FALSE(build_story_prefs({{"x", {talk, red, talk}}}, o).empty());
  // A pair another judge orders is not used when aligned pairs are on: a long sentence orders "short".
  o.aligned = true;
  const std::string long_red = "Tom saw a red ball near the tall old tree by the house.";
  const std::vector<std::string> some = build_story_prefs({{"x", {talk, red, long_red, both, plain}}}, o);
  ASSERT_FALSE(some.empty());
  for (const std::string& line : some) {
    const auto x = nlohmann::json::parse(line);
    EXPECT_NE(x["chosen"], long_red);
    EXPECT_NE(x["rejected"], long_red);
  }
}

TEST(StoryWorld, PhrasingsStartWithTheAttributeAndHoldSomeOut) {
  const auto& ph = story_phrasings();
  ASSERT_EQ(ph.size(), kStoryAttributes.size());
  for (size_t i = 0; i < ph.size(); ++i) {
    EXPECT_EQ(ph[i].attribute, kStoryAttributes[i]);
    EXPECT_EQ(ph[i].trained.front(), kStoryAttributes[i]);
    EXPECT_FALSE(ph[i].held_out.empty());
  }
}

}  // namespace
}  // namespace pad::eval
