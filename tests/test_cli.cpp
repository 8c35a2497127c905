// The `pad` command end to end: outputs match the fixtures' golden values, PAD flags work, and bad
// input exits with code 2 and a message that names the problem.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "pad/model/adapters.h"
#include "pad/model/weights.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

using test::CmdResult;
using test::pad_cmd;

std::string llama() { return test::model_dir("tiny-llama"); }

std::string golden_ids_csv(size_t n, std::vector<int>* greedy = nullptr) {
  auto g = nlohmann::json::parse(read_file(llama() + "/golden.json"))["cases"][0];
  std::string csv;
  auto ids = g["ids"].get<std::vector<int>>();
  for (size_t i = 0; i < ids.size() && i < n; ++i) csv += (i ? "," : "") + std::to_string(ids[i]);
  if (greedy) *greedy = g["greedy_32"].get<std::vector<int>>();
  return csv;
}

// pad info names the architecture (Qwen3: q/k norms) and where a tied matrix was read from.
TEST(Cli, InfoShowsArchitectureAndTiedSource) {
  auto tied = test::pad_cmd("info " + test::shared_dir() + "/testdata/real/TinyStories-656K");
  ASSERT_EQ(tied.code, 0) << tied.out;
  auto j = nlohmann::json::parse(tied.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["tied_from"], "lm_head.weight");
  ModelConfig c;
  c.arch = Arch::kQwen3, c.qk_norm = true;
  c.n_vocab = 64, c.d_model = 32, c.n_layer = 1, c.n_head = 2, c.n_kv_head = 1, c.head_dim = 24, c.d_ff = 48;
  const std::string dir = test::scratch_dir("info-qwen3");
  save_hf_model(dir, c, random_weights(c, at::kFloat, 1));
  auto q = test::pad_cmd("info " + dir);
  ASSERT_EQ(q.code, 0) << q.out;
  j = nlohmann::json::parse(q.out);
  EXPECT_EQ(j["architecture"], "qwen3");
  EXPECT_EQ(j["qk_norm"], true);
  EXPECT_EQ(j["head_dim"], 24);
  EXPECT_TRUE(j["tied_from"].is_null());
  remove_tree(dir);
}

TEST(Cli, GenerateIdsMatchesGoldenGreedy) {
  std::vector<int> greedy;
  const std::string ids = golden_ids_csv(1000, &greedy);
  CmdResult r = pad_cmd("generate -m " + llama() + " --ids " + ids + " -n 8 --temp 0 --print-ids --ignore-eos");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string want;
  for (int i = 0; i < 8; ++i) want += (i ? " " : "") + std::to_string(greedy[i]);
  EXPECT_EQ(r.out, want + "\n");
}

TEST(Cli, LogitsPrintsOneObjectPerPosition) {
  CmdResult r = pad_cmd("logits -m " + llama() + "/model.gguf --ids " + golden_ids_csv(3) + " --top 2");
  ASSERT_EQ(r.code, 0) << r.out;
  auto g = nlohmann::json::parse(read_file(llama() + "/golden.json"))["cases"][0];
  std::istringstream lines(r.out);
  int pos = 0;
  for (std::string line; std::getline(lines, line); ++pos) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["pos"], pos);
    EXPECT_EQ(j["top"].size(), 2u);
    EXPECT_EQ(j["top"][0][0].get<int>(), g["top5_per_position"][pos][0].get<int>());
  }
  EXPECT_EQ(pos, 3);
}

TEST(Cli, PadWithValueHeadWritesJsonlAndTrace) {
  std::string dir = test::scratch_dir("cli-pad");
  ValueHead h = ValueHead::identity(64);
  h.bias[3] = 2.0f;
  h.save(dir + "/head.safetensors");
  CmdResult r = pad_cmd("generate -m " + llama() + " -p 'The license' --preference humor --persrm-head " + dir +
                  "/head.safetensors -n 6 --jsonl --ignore-eos --trace " + dir + "/trace.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["method"], "pad");
  EXPECT_EQ(j["preference"], "humor");
  EXPECT_EQ(j["n_tokens"], 6);
  EXPECT_TRUE(j["text"].is_string());
  std::string trace = read_file(dir + "/trace.jsonl");
  EXPECT_EQ(std::count(trace.begin(), trace.end(), '\n'), 6);
  EXPECT_NE(trace.find("\"reward\""), std::string::npos);
}

TEST(Cli, BadInputExitsWithTwoAndSaysWhy) {
  std::string dir = test::scratch_dir("cli-bad");
  ValueHead::identity(32).save(dir + "/small-head.safetensors");
  const std::string base = "generate -m " + llama() + " --ids 1,2,3 -n 2 --preference humor ";
  struct Case {
    std::string args, needle;
  };
  for (const Case& c : std::vector<Case>{
           {base + "--persrm-head " + dir + "/small-head.safetensors", "hidden size is 64"},
           {base + "--persrm " + llama() + " --k 0", "--k 0"},
           {base + "--persrm " + llama() + " --w nan", "--w nan"},
           {base + "--persrm /no/such/model", "/no/such/model"},
           {base + "--persrm-lora " + dir, "adapter_config.json"},
           {base + "--preference-weights 'a=1' --persrm " + llama(), "not both"},
           {"generate -m " + llama() + " --ids 1,x", "'x' is not an integer"},
           {"generate -m " + llama() + " --ids 1 --strategy pad", "needs"},
           {"info /no/such/dir", "no such file"},
       }) {
    CmdResult r = pad_cmd(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find("error: "), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace pad
