// Personalization end to end in miniature (issue 12), through the `pad` command only: a contrastive
// PrefWorld → a LoRA PersRM trained on its twins from the committed base (models/base) → `pad
// eval-pairs` on held-out twins. The PersRM must flip its preference with the principle: in each of
// the three conflicts (humor vs helpful, humor vs harmless, helpful vs harmless) the same two
// responses are ranked one way under one principle and the other way under the other (a
// principle-blind reward gets exactly one twin of a group right and a summed margin of 0).
// A reduced first stage of `THREADS=2 ONLY=persrm-lora scripts/build-default-models` (the twins; the
// second stage, twins plus facts pairs from that adapter, is not repeated here).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pad/eval/prefworld.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

void pad_ok(const std::string& args, const std::string& out = "/dev/null") {
  const std::string cmd = std::string(PAD_PAD_BIN) + " " + args + " > " + out + " 2>/dev/null";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
}

std::vector<nlohmann::json> jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(PersonaE2E, TwinTrainedLoraFlipsItsPreferenceWithThePrinciple) {
  const std::string models = std::string(PAD_SOURCE_DIR) + "/models";
  if (!std::filesystem::exists(models + "/base/model.safetensors")) GTEST_SKIP() << "no committed models/base";
  const std::string d = test::scratch_dir("persona-e2e");
  // All twins: 400 groups; the first 300 train, the last 100 are held out (new draws of requests).
  pad_ok("world --contrastive --contrastive-share 1 --weighted-share 0 --out " + d +
         "/world --seed 1 --n-sft 0 --n-pairs 800 --n-eval 0");
  const std::vector<nlohmann::json> all = jsonl(read_file(d + "/world/prefs.jsonl"));
  ASSERT_EQ(all.size(), 800u);
  std::string train, held_out;
  for (size_t i = 0; i < all.size(); ++i) (i < 600 ? train : held_out) += all[i].dump() + "\n";
  write_file_atomic(d + "/train.jsonl", train);
  write_file_atomic(d + "/heldout.jsonl", held_out);
  pad_ok("train persrm -q --threads 2 -m " + models + "/base --form lora --lora-r 8 --lora-alpha 16 " +
         "--lora-targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --data " + d +
         "/train.jsonl --steps 300 --warmup 5 --lr 5e-3 --beta 0.1 --anchor 0.05 --batch-size 6 --seed 1 --out " + d + "/lora");
  pad_ok("eval-pairs --threads 2 -m " + models + "/base --persrm-lora " + d + "/lora --data " + d + "/heldout.jsonl",
         d + "/scored.jsonl");
  const std::vector<nlohmann::json> pairs = jsonl(held_out), scored = jsonl(read_file(d + "/scored.jsonl"));
  ASSERT_EQ(scored.size(), pairs.size());
  struct Tally {
    int groups = 0, both = 0;
    double flip = 0;  // Σ over groups of margin₁ + margin₂: the principle's effect on the preference
  };
  std::map<std::string, Tally> per;  // the twins' conflict: "humor vs helpful", "humor vs harmless", ...
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    ASSERT_EQ(pairs[i]["group"], pairs[i + 1]["group"]);
    ASSERT_EQ(pairs[i]["chosen"], pairs[i + 1]["rejected"]);
    const std::string family = eval::principle_of_phrasing(pairs[i]["preference"]) + " vs " +
                               eval::principle_of_phrasing(pairs[i + 1]["preference"]);
    Tally& t = per[family];
    ++t.groups;
    t.both += scored[i]["right"].get<bool>() && scored[i + 1]["right"].get<bool>();
    t.flip += scored[i]["margin"].get<double>() + scored[i + 1]["margin"].get<double>();
  }
  ASSERT_EQ(per.size(), 3u);
  for (const auto& [family, t] : per) {
    std::printf("%s: %d groups, both twins right %d, mean margin sum %+.2f\n", family.c_str(), t.groups, t.both,
                t.flip / t.groups);
    EXPECT_GT(t.flip / t.groups, 0.0) << family;  // selectivity > 0
    EXPECT_GE(3 * t.both, t.groups) << family;    // a blind reward: 0
  }
}

}  // namespace
}  // namespace pad
