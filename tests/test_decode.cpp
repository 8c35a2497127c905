// The sampling chain's steps do what their names say.
#include <gtest/gtest.h>

#include "pad/decode/sampler.h"

namespace pad {
namespace {

Candidates make(std::vector<float> scores) {
  return Candidates::from_logits(scores.data(), static_cast<int64_t>(scores.size()));
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler s(SamplingOptions{});
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(s.choose(logits.data(), 4), 1);
  Candidates c = make(logits);
  EXPECT_EQ(argmax(c), 1);
}

TEST(Sampler, TopKTopPMinP) {
  Candidates c = make({1, 5, 3, 4, 2});
  keep_top_k(c, 2);
  EXPECT_EQ(c.ids, (std::vector<int>{1, 3}));
  Candidates p = make({0, 10, 0, 0});  // one token holds ~all the mass
  keep_top_p(p, 0.9f);
  EXPECT_EQ(p.ids, (std::vector<int>{1}));
  Candidates m = make({0.0f, std::log(0.5f), std::log(0.05f)});
  keep_min_p(m, 0.1f);  // keeps p ≥ 0.1 · p_max
  EXPECT_EQ(m.ids, (std::vector<int>{0, 1}));
}

TEST(Sampler, SamplingFollowsTheDistributionAndSeed) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.seed = 3;
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  Sampler a(o), b(o);
  int ones = 0;
  for (int i = 0; i < 4000; ++i) {
    int x = a.choose(logits.data(), 2);
    EXPECT_EQ(x, b.choose(logits.data(), 2));
    ones += x;
  }
  EXPECT_NEAR(ones / 4000.0, 0.75, 0.03);
}

TEST(Sampler, InvalidOptionsAreRejected) {
  SamplingOptions o;
  o.temperature = -1;
  EXPECT_THROW(Sampler{o}, std::invalid_argument);
  o = {};
  o.top_p = 0;
  EXPECT_THROW(Sampler{o}, std::invalid_argument);
  o = {};
  o.min_p = 1.5f;
  EXPECT_THROW(Sampler{o}, std::invalid_argument);
}

}  // namespace
}  // namespace pad
