// PersRM training for personalization (issue 12): pairs that share a "group" (contrastive twins)
// train in one micro-batch, --init-from continues a trained adapter or head, and a PersRM trained on
// twins (the same two responses, labels opposite under two principles) learns to flip its preference
// with the principle on held-out twins.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "pad/tokenizer/tokenizer.h"
#include "pad/train/persrm.h"
#include "test_train_util.h"

namespace pad {
namespace {

const auto* const kOneThread = ::testing::AddGlobalTestEnvironment(new test::OneThread);

std::string line(const std::string& principle, const std::string& chosen, const std::string& rejected,
                 const nlohmann::json& group) {
  nlohmann::json j = {{"prompt", "Tell me about lunch."}, {"preference", principle}, {"chosen", chosen},
                      {"rejected", rejected}};
  if (!group.is_null()) j["group"] = group;
  return j.dump() + "\n";
}

TEST(PersonaData, GroupFieldLoadsAndBadGroupsAreReported) {
  const std::string dir = test::make_tiny_model_dir("persona-data");
  auto tok = Tokenizer::load(dir);
  const std::string file = dir + "/pairs.jsonl";
  write_file_atomic(file, line("fruit", "apple", "rock", 7) + line("mineral", "rock", "apple", 7) +
                              line("fruit", "melon", "iron", "g-1") + line("fruit", "grape", "stone", nullptr) +
                              line("fruit", "grape", "stone", nlohmann::json::object()) +
                              line("fruit", "grape", "stone", ""));
  DataReport report;
  std::vector<PreferencePair> pairs = load_preference_data(file, *tok, DataOptions{}, &report);
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].group, "7");
  EXPECT_EQ(pairs[1].group, "7");
  EXPECT_EQ(pairs[2].group, "g-1");
  EXPECT_EQ(pairs[3].group, "");
  ASSERT_EQ(report.bad.size(), 2u);
  EXPECT_EQ(report.bad[0].line, 5);
  EXPECT_NE(report.bad[0].reason.find("'group'"), std::string::npos) << report.bad[0].reason;
  EXPECT_EQ(report.bad[1].line, 6);
}

TEST(PersonaTrain, PairsOfOneGroupShareAMicroBatch) {
  ModelConfig c = test::tiny_config();
  auto base = std::make_shared<Model>(c, random_weights(c, at::kFloat, 5), "tiny");
  std::mt19937 rng(3);
  std::vector<PreferencePair> pairs;
  for (const char* g : {"a", "b", "a", "", "", "b", "c"}) {
    pairs.push_back(test::random_pair(rng, c.n_vocab, {1.0}));
    pairs.back().group = g;
  }
  PersRmTask task(Policy::create(Form::kLora, base, LoraOptions{}, 1), pairs, {}, PersRmOptions{});
  // Groups in order of first appearance: a = {0, 2}, b = {1, 5}, {3}, {4}, c = {6}.
  std::vector<int64_t> lengths = task.example_lengths();
  ASSERT_EQ(lengths.size(), 5u);
  EXPECT_EQ(lengths[0], pairs[0].n_tokens() + pairs[2].n_tokens());
  EXPECT_EQ(lengths[1], pairs[1].n_tokens() + pairs[5].n_tokens());
  EXPECT_EQ(lengths[2], pairs[3].n_tokens());
  EXPECT_EQ(task.items_in({0, 4}), 3.0);
  StepStats s = task.accumulate({1, 2}, 3.0);
  EXPECT_EQ(s.n_items, 3.0);
}

TEST(PersonaTrain, InitFromContinuesATrainedAdapterAndHead) {
  ModelConfig c = test::tiny_config();
  auto base = std::make_shared<Model>(c, random_weights(c, at::kFloat, 5), "tiny");
  std::mt19937 rng(4);
  std::vector<PreferencePair> pairs;
  for (int i = 0; i < 8; ++i) pairs.push_back(test::random_pair(rng, c.n_vocab, {1.0}));
  const at::Tensor tokens = at::tensor({5, 17, 200, 33, 91, 7, 300, 12}, at::kLong).view({2, 4});
  for (Form form : {Form::kLora, Form::kHead}) {
    LoraOptions lora{4, 8, {"q_proj", "v_proj", "down_proj"}};
    PersRmTask task(Policy::create(form, base, lora, 1), pairs, {}, PersRmOptions{0.5});
    TrainOptions o;
    o.out_dir = test::scratch_dir(std::string("persona-init-") + form_name(form));
    o.steps = 3;
    o.batch_size = 4;
    o.schedule.lr = 1e-2;
    train(task, o);
    const at::Tensor trained = task.policy().logits(tokens);
    LoraOptions from;  // rank, alpha and targets come from the adapter
    from.init_from = form == Form::kLora ? o.out_dir : o.out_dir + "/value_head.safetensors";
    auto resumed = Policy::create(form, base, from, 99);
    EXPECT_TRUE(at::allclose(resumed->logits(tokens), trained, 1e-5, 1e-5)) << form_name(form);
    EXPECT_FALSE(at::allclose(Policy::create(form, base, LoraOptions{}, 99)->logits(tokens), trained, 1e-5, 1e-5));
  }
  LoraOptions bad;
  bad.init_from = "/nonexistent-adapter";
  EXPECT_THROW(Policy::create(Form::kLora, base, bad, 1), std::invalid_argument);
  EXPECT_THROW(Policy::create(Form::kFull, base, bad, 1), std::invalid_argument);
}

// Twins: under "fruit" the fruit response wins, under "mineral" the same mineral response wins.
std::string twins_jsonl(uint64_t seed, int n_groups) {
  std::mt19937 rng(seed);
  std::string out;
  for (int g = 0; g < n_groups; ++g) {
    const std::string fruit = test::words(rng, test::kGood, 2 + rng() % 2);
    const std::string mineral = test::words(rng, test::kBad, 2 + rng() % 2);
    out += line("fruit", fruit, mineral, g) + line("mineral", mineral, fruit, g);
  }
  return out;
}

TEST(PersonaTrain, LearnsToFlipThePreferenceWithThePrinciple) {
  const std::string dir = test::make_tiny_model_dir("persona-twins");
  auto tok = Tokenizer::load(dir);
  write_file_atomic(dir + "/train.jsonl", twins_jsonl(1, 48));
  write_file_atomic(dir + "/eval.jsonl", twins_jsonl(2, 20));
  auto base = Model::load(dir);
  auto train_pairs = load_preference_data(dir + "/train.jsonl", *tok, DataOptions{}, nullptr);
  auto eval_pairs = load_preference_data(dir + "/eval.jsonl", *tok, DataOptions{}, nullptr);
  LoraOptions lora{8, 16, {"q_proj", "k_proj", "v_proj", "o_proj", "down_proj"}};
  PersRmTask task(Policy::create(Form::kLora, base, lora, 1), train_pairs, eval_pairs, PersRmOptions{0.5});
  TrainOptions o;
  o.out_dir = test::scratch_dir("persona-twins-out");
  o.steps = 60;
  o.batch_size = 4;  // groups: 8 pairs
  o.schedule.lr = 1e-2;
  o.schedule.warmup_steps = 2;
  o.seed = 2;
  train(task, o);
  // Both twins of a held-out group right: the preference flips with the principle.
  int both = 0;
  for (size_t i = 0; i + 1 < eval_pairs.size(); i += 2) {
    auto m = task.evaluate_on({eval_pairs[i], eval_pairs[i + 1]});
    both += m["eval_accuracy"] == 1.0;
  }
  EXPECT_GE(both, 18) << "of 20 held-out twin groups";
}

}  // namespace
}  // namespace pad
