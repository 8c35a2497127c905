// The online engine: requests that join a running batch decode exactly as they would alone, a
// cancelled request frees its cache slots at once, per-request strategies mix in one batch (best-of-n's
// samples too), and log-probabilities come from the guided distribution.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <ATen/CPUGeneratorImpl.h>

#include "pad/decode/engine.h"
#include "pad/model/adapters.h"
#include "test_model_util.h"
#include "test_util.h"

namespace pad {
namespace {

ModelConfig cfg() { return test::small_decode_config(); }

struct Fixture {
  std::shared_ptr<Model> base = std::make_shared<Model>(cfg(), random_weights(cfg(), at::kFloat, 1));
  std::shared_ptr<Model> full = std::make_shared<Model>(cfg(), random_weights(cfg(), at::kFloat, 2));
  PersRm rm{PersRm::Form::kFull, full, -1, nullptr};
};

PadRequest request(std::vector<int> base, std::vector<int> principle, int n, Strategy s) {
  PadRequest r;
  r.prompts = {base, {principle}, {1.0}};
  r.n_predict = n;
  r.strategy = s;
  r.pad.k = 6;
  return r;
}

struct Collect {
  std::vector<int> tokens;
  PadResult result;
  bool done = false;
  RequestCallbacks callbacks() {
    return {[this](const TokenEvent& e) { tokens.push_back(e.token); },
            [this](const PadResult& r) { result = r, done = true; }};
  }
};

TEST(EngineOnline, JoiningMidRunGivesTheSameTokensAsRunningAlone) {
  Fixture fx;
  PadRequest first = request({3, 14, 15, 9, 2}, {7, 1, 8, 2}, 12, Strategy::kPad);
  PadRequest late = request({5, 9, 26}, {5, 9, 26}, 8, Strategy::kPad);
  PadRequest plain = request({1, 2, 3}, {1, 2, 3}, 8, Strategy::kBase);
  std::vector<int> alone_first, alone_late, alone_plain;
  {
    PadEngine e(fx.base, fx.rm, nullptr, EngineOptions{});
    alone_first = e.run({first})[0].tokens;
    alone_late = e.run({late})[0].tokens;
    alone_plain = e.run({plain})[0].tokens;
  }
  PadEngine e(fx.base, fx.rm, nullptr, EngineOptions{});
  Collect a, b, c;
  e.submit(first, a.callbacks());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(e.step());
  EXPECT_EQ(a.tokens.size(), 3u);
  e.submit(late, b.callbacks());  // joins a running batch
  ASSERT_TRUE(e.step());
  e.submit(plain, c.callbacks());  // another strategy in the same batch
  while (e.step()) {
  }
  ASSERT_TRUE(a.done && b.done && c.done);
  EXPECT_EQ(a.result.tokens, alone_first);
  EXPECT_EQ(b.result.tokens, alone_late);
  EXPECT_EQ(c.result.tokens, alone_plain);
  EXPECT_EQ(a.tokens, alone_first);  // streamed tokens are the result's
  EXPECT_EQ(a.result.stop_reason, "length");
  EXPECT_EQ(fx.base->n_active_slots(), 0);
  EXPECT_EQ(fx.full->n_active_slots(), 0);
  EXPECT_EQ(e.stats().n_rows, 0);
}

TEST(EngineOnline, BestOfNDecodesInTheBatchWithoutHoldingUpOthers) {
  Fixture fx;
  PadRequest best = request({3, 14, 15, 9, 2}, {7, 1, 8, 2}, 16, Strategy::kBestOfN);
  best.n_best = 4;
  best.sampling.temperature = 1.0f;
  best.sampling.seed = 5;
  PadRequest plain = request({1, 2, 3}, {1, 2, 3}, 4, Strategy::kBase);
  PadResult alone_best;
  std::vector<int> alone_plain;
  {
    PadEngine e(fx.base, fx.rm, nullptr, EngineOptions{});
    alone_best = e.run({best})[0];
    alone_plain = e.run({plain})[0].tokens;
  }
  PadEngine e(fx.base, fx.rm, nullptr, EngineOptions{});
  Collect a, b;
  e.submit(best, a.callbacks());
  e.submit(plain, b.callbacks());
  ASSERT_TRUE(e.step());
  EXPECT_EQ(e.stats().n_rows, 5);  // four samples and the plain request, one step
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(e.step());
  EXPECT_TRUE(b.done);   // the plain request finished after its 4 tokens ...
  EXPECT_FALSE(a.done);  // ... while best-of-n still decodes (it used to run whole at admission)
  EXPECT_EQ(b.result.tokens, alone_plain);
  while (e.step()) {
  }
  ASSERT_TRUE(a.done);
  EXPECT_EQ(a.result.tokens, alone_best.tokens);
  EXPECT_DOUBLE_EQ(a.result.sequence_reward, alone_best.sequence_reward);
  EXPECT_EQ(a.tokens, a.result.tokens);  // the kept sample's tokens, reported once it is known
  // Its reward is the best of the four samples' (seeds 5..8, as generate() draws them).
  GenerateOptions g;
  g.n_predict = best.n_predict;
  g.sampling = best.sampling;
  std::vector<std::vector<int>> ys;
  for (const auto& s : generate(*fx.base, std::vector<std::vector<int>>(4, best.prompts.base), g)) ys.push_back(s.tokens);
  const std::vector<double> rewards = e.sequence_rewards(best.prompts, ys);
  EXPECT_DOUBLE_EQ(a.result.sequence_reward, *std::max_element(rewards.begin(), rewards.end()));
  EXPECT_EQ(fx.base->n_active_slots(), 0);
  EXPECT_EQ(fx.full->n_active_slots(), 0);

  // A cancel reaches every sample: one "cancelled" result, no tokens, no slot left.
  Collect c;
  const uint64_t id = e.submit(best, c.callbacks());
  ASSERT_TRUE(e.step());
  e.cancel(id);
  while (e.step()) {
  }
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.result.stop_reason, "cancelled");
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_EQ(fx.base->n_active_slots(), 0);
  EXPECT_EQ(e.stats().n_rows, 0);
}

TEST(EngineOnline, CancelFreesTheSlotsAtOnce) {
  Fixture fx;
  PadEngine e(fx.base, fx.rm, nullptr, EngineOptions{});
  Collect a, b, q;
  const uint64_t ia = e.submit(request({3, 14, 15}, {7, 1, 8}, 50, Strategy::kPad), a.callbacks());
  e.submit(request({4, 4, 4}, {4, 4, 4}, 50, Strategy::kPad), b.callbacks());
  ASSERT_TRUE(e.step());
  EXPECT_GT(fx.full->n_active_slots(), 0);
  const int before = fx.base->n_active_slots() + fx.full->n_active_slots();
  e.cancel(ia);
  ASSERT_TRUE(e.step());
  EXPECT_TRUE(a.done);
  EXPECT_EQ(a.result.stop_reason, "cancelled");
  EXPECT_LT(fx.base->n_active_slots() + fx.full->n_active_slots(), before);
  EXPECT_EQ(e.stats().n_active, 1u);
  // a queued request can be cancelled before it ever runs
  EngineOptions one;
  one.max_batch = 1;
  PadEngine e1(fx.base, fx.rm, nullptr, one);
  Collect x, y;
  e1.submit(request({3, 14, 15}, {7, 1, 8}, 4, Strategy::kPad), x.callbacks());
  const uint64_t iy = e1.submit(request({3, 14, 15}, {7, 1, 8}, 4, Strategy::kPad), y.callbacks());
  e1.cancel(iy);
  while (e1.step()) {
  }
  EXPECT_EQ(y.result.stop_reason, "cancelled");
  EXPECT_TRUE(y.tokens.empty());
  EXPECT_EQ(x.result.tokens.size(), 4u);
  while (e.step()) {
  }
  EXPECT_TRUE(b.done);
  EXPECT_EQ(fx.base->n_active_slots(), 0);
  EXPECT_EQ(fx.full->n_active_slots(), 0);
}

TEST(EngineOnline, BoundedQueueAndValidationOnSubmit) {
  Fixture fx;
  EngineOptions o;
  o.max_queue = 1;
  PadEngine e(fx.base, fx.rm, nullptr, o);
  Collect a, b;
  e.submit(request({1, 2}, {1, 2}, 2, Strategy::kPad), a.callbacks());
  EXPECT_THROW(e.submit(request({1, 2}, {1, 2}, 2, Strategy::kPad), b.callbacks()), EngineBusy);
  PadRequest bad = request({1, 2}, {1, 2}, 2, Strategy::kPad);
  bad.pad.k = 0;
  EXPECT_THROW(e.submit(bad, b.callbacks()), std::invalid_argument);
  while (e.step()) {
  }
  EXPECT_TRUE(a.done);
  EXPECT_FALSE(b.done);
  PadEngine plain_only(fx.base, PersRm{}, nullptr, EngineOptions{Strategy::kBase});
  EXPECT_THROW(plain_only.submit(request({1, 2}, {1, 2}, 2, Strategy::kPad), b.callbacks()), std::invalid_argument);
}

TEST(EngineOnline, LogprobsAreOfTheGuidedDistribution) {
  Fixture fx;
  PadEngine e(fx.base, fx.rm, nullptr, EngineOptions{});
  PadRequest r = request({3, 14, 15}, {7, 1, 8}, 5, Strategy::kPad);
  r.n_logprobs = 3;
  std::vector<TokenEvent> events;
  RequestCallbacks cb{[&](const TokenEvent& ev) { events.push_back(ev); }, {}};
  e.submit(r, cb);
  while (e.step()) {
  }
  ASSERT_EQ(events.size(), 5u);
  for (const TokenEvent& ev : events) {
    ASSERT_EQ(ev.top.size(), 3u);
    EXPECT_EQ(ev.top[0].first, ev.token);  // greedy picks the guided argmax
    EXPECT_FLOAT_EQ(ev.logprob, ev.top[0].second);
    EXPECT_LE(ev.logprob, 0.0f);
    double mass = 0;
    for (const auto& [id, lp] : ev.top) mass += std::exp(lp);
    EXPECT_LE(mass, 1.0 + 1e-5);  // over only k = 6 candidates: a real distribution
    EXPECT_GE(ev.top[0].second, ev.top[1].second);
  }
}

}  // namespace
}  // namespace pad

namespace pad {
namespace {

// Several PersRMs in one engine (two LoRAs on the base, two heads on its backbone, a full model):
// requests that pick different ones, decoded in one batch, get the tokens each gets from an engine
// holding only its own PersRM. Best-of-n's sequence rewards follow the pick too.
TEST(EngineOnline, RequestsPickTheirPersRmInOneBatch) {
  Fixture fx;
  at::Generator g = at::detail::createCPUGenerator(9);
  const int64_t d = cfg().d_model;
  auto lora = [&](uint64_t seed) {
    LoraAdapter a = LoraAdapter::create(cfg(), 4, 8.0, lora_module_names(), seed);
    for (auto& layer : a.layers)
      for (auto& [name, m] : layer) m.b = at::randn(m.b.sizes(), g) * 0.3;
    return a;
  };
  auto head = [&] { return std::make_shared<ValueHead>(ValueHead{at::eye(d) + 0.3 * at::randn({d, d}, g), 0.2 * at::randn({d}, g)}); };
  const LoraAdapter l1 = lora(11), l2 = lora(12);
  std::vector<PersRm> rms = {{PersRm::Form::kLora, nullptr, fx.base->add_adapter(l1), nullptr},
                             {PersRm::Form::kHead, nullptr, -1, head()},
                             {PersRm::Form::kLora, nullptr, fx.base->add_adapter(l2), nullptr},
                             {PersRm::Form::kHead, nullptr, -1, head()},
                             fx.rm};
  std::vector<PadRequest> reqs;
  for (size_t i = 0; i < rms.size(); ++i) {
    PadRequest r = request({3, 14, 15, 9}, {7, 1, 8, 2, static_cast<int>(i)}, 10, Strategy::kPad);
    r.persrm = static_cast<int>(i);
    r.pad.rule = i % 2 ? PadRule::kFull : PadRule::kTopK;
    reqs.push_back(r);
  }
  PadEngine together(fx.base, rms, nullptr, EngineOptions{});
  std::vector<PadResult> got = together.run(reqs);
  for (size_t i = 0; i < rms.size(); ++i) {
    PadEngine alone(fx.base, rms[i], nullptr, EngineOptions{});
    PadRequest r = reqs[i];
    r.persrm = 0;
    EXPECT_EQ(got[i].tokens, alone.run({r})[0].tokens) << "PersRM " << i;
    std::vector<std::vector<int>> ys = {{4, 5, 6}};
    EXPECT_DOUBLE_EQ(together.sequence_rewards(r.prompts, ys, static_cast<int>(i))[0], alone.sequence_rewards(r.prompts, ys)[0]);
  }
  EXPECT_NE(got[0].tokens, got[2].tokens);  // the two LoRAs differ, so the pick matters
  PadRequest bad = reqs[0];
  bad.persrm = 7;
  EXPECT_THROW(together.submit(bad, {}), std::invalid_argument);
}

}  // namespace
}  // namespace pad
