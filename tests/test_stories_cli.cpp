// The story world from the command line (issue 12): `pad world --world stories` is deterministic per
// seed and rejects bad input; the committed story PersRM (models/stories-persrm-lora on the pretrained
// TinyStories-656K base) ranks held-out twins by the principle — the same two stories flip with it.
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

using test::pad_cmd;

const std::string kRepo = PAD_SOURCE_DIR;
const std::string kBase = kRepo + "/models/stories-base";

std::string world_cmd(const std::string& out, int seed) {
  return "world --world stories --base " + kBase + " --out " + out + " --seed " + std::to_string(seed) +
         " --n-openings 4 --n-eval-openings 3 --n-samples 4 --n-predict 32 --threads 1";
}

TEST(StoryWorldCli, SameSeedSameBytesOtherSeedOtherData) {
  const std::string dir = test::scratch_dir("stories-world");
  auto a = pad_cmd(world_cmd(dir + "/a", 5)), b = pad_cmd(world_cmd(dir + "/b", 5)), c = pad_cmd(world_cmd(dir + "/c", 6));
  ASSERT_EQ(a.code, 0) << a.out;
  ASSERT_EQ(b.code, 0) << b.out;
  ASSERT_EQ(c.code, 0) << c.out;
  for (const char* f : {"/prefs.jsonl", "/heldout-prefs.jsonl", "/samples.jsonl", "/eval.jsonl", "/base-stats.json"})
    EXPECT_EQ(read_file(dir + "/a" + f), read_file(dir + "/b" + f)) << f;
  EXPECT_NE(read_file(dir + "/a/samples.jsonl"), read_file(dir + "/c/samples.jsonl"));
  // 4 openings x 4 samples, each judged; 3 held-out openings that no sample or pair uses.
  std::istringstream samples(read_file(dir + "/a/samples.jsonl")), held(read_file(dir + "/a/eval.jsonl"));
  std::vector<std::string> held_prompts;
  for (std::string line; std::getline(held, line);) held_prompts.push_back(nlohmann::json::parse(line)["prompt"]);
  EXPECT_EQ(held_prompts.size(), 3u);
  int n = 0;
  for (std::string line; std::getline(samples, line); ++n) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["scores"].size(), 5u);
    for (const auto& h : held_prompts) EXPECT_NE(j["prompt"], h);
  }
  EXPECT_EQ(n, 16);
  remove_tree(dir);
}

TEST(StoryWorldCli, BadInputIsAClearError) {
  const std::string dir = test::scratch_dir("stories-bad");
  auto r = pad_cmd("world --world stories --base " + dir + "/nothing --out " + dir + "/o");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--base"), std::string::npos) << r.out;
  r = pad_cmd("world --world stories --base " + kBase + " --out " + dir + "/o --n-openings 500");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("120"), std::string::npos) << r.out;
  r = pad_cmd("eval --world stories -m " + kBase + " --eval " + kRepo + "/models/stories-world/eval.jsonl --out " + dir +
              "/e --principles humor --methods base");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown story attribute 'humor'"), std::string::npos) << r.out;
  remove_tree(dir);
}

// Held-out twins (openings never trained on): the same prompt and stories under two principles with
// opposite labels. A PersRM that ignored the principle ranks both twins of a group alike, so it is
// right on at most half of them (0.50); the committed one scores 0.64 on these 80 pairs.
TEST(StoryPersRm, CommittedPersRmFlipsWithThePrincipleOnHeldOutTwins) {
  auto r = pad_cmd("eval-pairs -m " + kBase + " --persrm-lora " + kRepo + "/models/stories-persrm-lora --data " + kRepo +
                   "/models/stories-world/heldout-prefs.jsonl --limit 80 --threads 2 --pref-template "
                   "'Principle: {principle}. {prompt}'");
  ASSERT_EQ(r.code, 0) << r.out;
  const size_t at = r.out.find("| all | ");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::istringstream row(r.out.substr(at + 8));
  int n = 0;
  char bar;
  double accuracy = 0;
  row >> n >> bar >> accuracy;
  EXPECT_EQ(n, 80);
  EXPECT_GT(accuracy, 0.55) << r.out;
}

// The README's story demo from the committed models: three outputs, each with the five story judges.
TEST(StoryDemo, PrintsBasePromptAndPadWithTheStoryJudges) {
  auto r = pad_cmd("demo --world stories --models " + kRepo + "/models --threads 2 -n 24 \"Once upon a time, a little dog\" "
                   "\"happy ending\"");
  ASSERT_EQ(r.code, 0) << r.out;
  size_t n = 0;
  for (size_t at = 0; (at = r.out.find("[colours ", at)) != std::string::npos; ++at) ++n;
  EXPECT_EQ(n, 3u) << r.out;
  EXPECT_NE(r.out.find("PAD (lora PersRM"), std::string::npos) << r.out;
  EXPECT_EQ(pad_cmd("demo --world stories --form head --models " + kRepo + "/models").code, 2);
}

}  // namespace
}  // namespace pad
