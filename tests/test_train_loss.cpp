// The PersRM loss: gradients against central finite differences in f64 for each form, and the loss
// with one-hot weights against DPO computed directly, one unpadded example at a time.
#include <gtest/gtest.h>

#include <cmath>

#include "pad/train/optim.h"
#include "pad/train/persrm.h"
#include "test_train_util.h"

namespace pad {
namespace {

const auto* const kOneThread = ::testing::AddGlobalTestEnvironment(new test::OneThread);

using test::random_pair;
using test::tiny_config;

std::shared_ptr<Model> double_model(int64_t n_vocab = 64) {
  ModelConfig c = tiny_config(n_vocab, 2);
  return std::make_shared<Model>(c, test::to_dtype(random_weights(c, at::kFloat, 11), at::kDouble), "tiny64");
}

// Moves the parameters off their initial values so that policy ≠ reference and every gradient is non-trivial.
void perturb(Policy& p, uint64_t seed) {
  at::NoGradGuard g;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (NamedTensor& t : p.parameters()) {
    at::Tensor x = t.tensor;
    x.add_(at::randn(x.sizes(), gen, at::kDouble) * 0.05);
  }
}

double loss_value(Policy& p, const PersRmBatch& b, double beta, double anchor = 0) {
  at::NoGradGuard g;
  return persrm_loss(p, b, beta, at::kDouble, anchor).loss.item<double>();
}

// Contrastive twins: the same two responses under a second prompt with the labels swapped.
PreferencePair twin_of(const PreferencePair& p, std::mt19937& rng, const std::string& group) {
  PreferencePair t = test::random_pair(rng, 64, {1.0});
  t.chosen = p.rejected;
  t.rejected = p.chosen;
  t.group = group;
  return t;
}

// Directional derivative along a random direction per parameter tensor vs. the analytic gradient.
void check_gradients(Form form) {
  auto base = double_model();
  LoraOptions lora{4, 8.0, {"q_proj", "v_proj", "down_proj"}};
  auto policy = Policy::create(form, base, lora, 5);
  perturb(*policy, 17);
  std::mt19937 rng(3);
  std::vector<PreferencePair> pairs = {random_pair(rng, 64, {1.0}), random_pair(rng, 64, {0.7, -0.4}),
                                       random_pair(rng, 64, {1.0}), random_pair(rng, 64, {0.5, 1.5, 0.25})};
  pairs[2].group = "twins";  // with the pair below: the anchor term is differentiated too
  pairs.push_back(twin_of(pairs[2], rng, "twins"));
  std::vector<const PreferencePair*> ptrs;
  for (const auto& p : pairs) ptrs.push_back(&p);
  PersRmBatch batch = make_persrm_batch(ptrs);
  ASSERT_GT(batch.n_anchor_slots, 0);
  const double beta = 0.5, anchor = 0.3;
  PersRmOutput out = persrm_loss(*policy, batch, beta, at::kDouble, anchor);
  out.loss.backward();
  at::Generator gen = at::detail::createCPUGenerator(99);
  const double eps = 1e-6;
  for (NamedTensor& p : policy->parameters()) {
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    at::Tensor u = at::randn(p.tensor.sizes(), gen, at::kDouble);  // direction
    const double analytic = (p.tensor.grad() * u).sum().item<double>();
    at::Tensor x = p.tensor;
    {
      at::NoGradGuard g;
      x.add_(u * eps);
    }
    const double up = loss_value(*policy, batch, beta, anchor);
    {
      at::NoGradGuard g;
      x.add_(u * (-2 * eps));
    }
    const double down = loss_value(*policy, batch, beta, anchor);
    {
      at::NoGradGuard g;
      x.add_(u * eps);
    }
    const double numeric = (up - down) / (2 * eps);
    // f64 central differences: truncation and rounding well below the 1e-3 bound.
    EXPECT_LE(std::abs(numeric - analytic), 1e-3 * std::max(std::abs(analytic), 1e-6))
        << form_name(form) << " " << p.name << ": analytic " << analytic << ", numeric " << numeric;
  }
}

TEST(PersRmLoss, GradientsMatchFiniteDifferencesHead) { check_gradients(Form::kHead); }
TEST(PersRmLoss, GradientsMatchFiniteDifferencesLora) { check_gradients(Form::kLora); }
TEST(PersRmLoss, GradientsMatchFiniteDifferencesFull) { check_gradients(Form::kFull); }

// Σ log p(response | prompt) under logits [1, T, V] for one unpadded sequence.
double response_logprob(const at::Tensor& logits, const std::vector<int>& ids, size_t n_prompt) {
  at::Tensor lp = at::log_softmax(logits[0], -1);  // [T, V]
  double s = 0;
  for (size_t t = n_prompt; t < ids.size(); ++t) s += lp[t - 1][ids[t]].item<double>();
  return s;
}

at::Tensor tokens_of(const std::vector<int>& prompt, const std::vector<int>& response) {
  std::vector<int64_t> v(prompt.begin(), prompt.end());
  v.insert(v.end(), response.begin(), response.end());
  return at::tensor(v, at::kLong).unsqueeze(0);
}

// Plain DPO, example by example: −log σ(β[(π_c − ref_c) − (π_r − ref_r)]).
void check_one_hot_equals_dpo(Form form) {
  auto base = double_model();
  LoraOptions lora{4, 8.0, {"q_proj", "v_proj"}};
  auto policy = Policy::create(form, base, lora, 5);
  perturb(*policy, 23);
  std::mt19937 rng(8);
  std::vector<PreferencePair> pairs;
  for (int i = 0; i < 5; ++i) pairs.push_back(random_pair(rng, 64, {1.0}));
  // One-hot over two principles: the zero-weight principle must not contribute.
  PreferencePair two = random_pair(rng, 64, {1.0, 0.0});
  pairs.push_back(two);
  std::vector<const PreferencePair*> ptrs;
  for (const auto& p : pairs) ptrs.push_back(&p);
  const double beta = 0.3;
  const double batched = persrm_loss(*policy, make_persrm_batch(ptrs), beta, at::kDouble).loss.item<double>();

  // The policy's logits computed independently of the loss code, in f64.
  auto policy_logits = [&](const at::Tensor& tokens) {
    at::NoGradGuard g;
    std::vector<NamedTensor> ps = policy->parameters();
    if (form == Form::kHead) {
      at::Tensor h = base->hidden_sequence(tokens, at::kDouble);
      return at::matmul(at::linear(h, ps[0].tensor, ps[1].tensor), base->weights().lm_head.t());
    }
    LoraAdapter a;
    a.rank = lora.rank, a.alpha = lora.alpha, a.targets = lora.targets;
    a.layers.resize(base->config().n_layer);
    for (size_t i = 0; i < ps.size(); i += 2) {
      const std::string& n = ps[i].name;  // layers.L.MODULE.lora_A
      const size_t dot1 = n.find('.'), dot2 = n.find('.', dot1 + 1), dot3 = n.rfind('.');
      const int64_t l = std::stoll(n.substr(dot1 + 1, dot2 - dot1 - 1));
      a.layers[l][n.substr(dot2 + 1, dot3 - dot2 - 1)] = {ps[i].tensor, ps[i + 1].tensor * (lora.alpha / lora.rank)};
    }
    return base->forward_sequence(tokens, at::kDouble, &a);
  };
  double direct = 0;
  for (const PreferencePair& p : pairs) {
    const auto& prompt = p.prompts[0].ids;
    auto lr = [&](const std::vector<int>& resp) {
      at::Tensor t = tokens_of(prompt, resp);
      std::vector<int> ids(prompt);
      ids.insert(ids.end(), resp.begin(), resp.end());
      at::NoGradGuard g;
      return response_logprob(policy_logits(t), ids, prompt.size()) -
             response_logprob(base->forward_sequence(t, at::kDouble), ids, prompt.size());
    };
    const double margin = beta * (lr(p.chosen) - lr(p.rejected));
    direct += -std::log(1 / (1 + std::exp(-margin)));
  }
  EXPECT_NEAR(batched, direct, 1e-9 * std::abs(direct)) << form_name(form);  // f64, different batching
}

TEST(PersRmLoss, OneHotWeightsEqualDpoHead) { check_one_hot_equals_dpo(Form::kHead); }
TEST(PersRmLoss, OneHotWeightsEqualDpoLora) { check_one_hot_equals_dpo(Form::kLora); }

// The anchor term, computed directly: for each response a twin group shows under two prompts, at
// each of its tokens, the squared mean over the two prompts of log π_θ − log π_ref. Pairs outside a
// group add nothing.
TEST(PersRmLoss, AnchorIsTheSquaredLogRatioTheTwinsShare) {
  auto base = double_model();
  auto policy = Policy::create(Form::kHead, base, LoraOptions{}, 5);
  perturb(*policy, 31);
  std::mt19937 rng(12);
  std::vector<PreferencePair> pairs = {random_pair(rng, 64, {1.0}), random_pair(rng, 64, {1.0})};
  pairs[0].group = "g";
  pairs.push_back(twin_of(pairs[0], rng, "g"));
  std::vector<const PreferencePair*> ptrs;
  for (const auto& p : pairs) ptrs.push_back(&p);
  const PersRmBatch batch = make_persrm_batch(ptrs);
  EXPECT_EQ(batch.n_anchor_slots, static_cast<int64_t>(pairs[0].chosen.size() + pairs[0].rejected.size()));
  const double beta = 0.4, anchor = 0.7;
  const double with = loss_value(*policy, batch, beta, anchor), without = loss_value(*policy, batch, beta);

  std::vector<NamedTensor> ps = policy->parameters();
  auto token_ratios = [&](const std::vector<int>& prompt, const std::vector<int>& resp) {
    at::NoGradGuard g;
    at::Tensor h = base->hidden_sequence(tokens_of(prompt, resp), at::kDouble);
    at::Tensor pol = at::log_softmax(at::matmul(at::linear(h, ps[0].tensor, ps[1].tensor), base->weights().lm_head.t()), -1);
    at::Tensor ref = at::log_softmax(base->forward_sequence(tokens_of(prompt, resp), at::kDouble), -1);
    std::vector<double> out;
    for (size_t j = 0; j < resp.size(); ++j) {
      const size_t t = prompt.size() + j - 1;
      out.push_back(pol[0][t][resp[j]].item<double>() - ref[0][t][resp[j]].item<double>());
    }
    return out;
  };
  double direct = 0;
  for (const std::vector<int>* resp : {&pairs[0].chosen, &pairs[0].rejected}) {
    const std::vector<double> a = token_ratios(pairs[0].prompts[0].ids, *resp), b = token_ratios(pairs[2].prompts[0].ids, *resp);
    for (size_t j = 0; j < a.size(); ++j) direct += std::pow((a[j] + b[j]) / 2, 2);
  }
  ASSERT_GT(direct, 1e-8);  // the perturbed head has drifted: the check can fail
  EXPECT_NEAR(with - without, anchor * direct, 1e-9 * anchor * direct);
}

TEST(Optim, ScheduleWarmsUpThenDecaysToTheFloor) {
  ScheduleOptions s{1.0, 4, 0.1};
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 0, 20), 0.25);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 3, 20), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 4, 20), 1.0);
  EXPECT_NEAR(scheduled_lr(s, 19, 20), 0.1, 1e-12);
  EXPECT_GT(scheduled_lr(s, 10, 20), scheduled_lr(s, 11, 20));
}

TEST(Optim, AdamWMatchesTheClosedFormFirstStep) {
  // First step: m̂ = g, v̂ = g², so p ← p·(1 − lr·wd) − lr·g/(|g| + eps).
  at::Tensor w = at::ones({2, 2}, at::kDouble).requires_grad_(true);
  w.mutable_grad() = at::tensor({0.5, -2.0, 0.0, 1.0}, at::kDouble).view({2, 2});
  AdamW opt({{"w", w}}, AdamWOptions{0.9, 0.999, 1e-8, 0.1});
  opt.step(0.01);
  at::Tensor expected = at::tensor({0.999 - 0.01 * 0.5 / (0.5 + 1e-8), 0.999 + 0.01 * 2 / (2 + 1e-8), 0.999,
                                    0.999 - 0.01 / (1 + 1e-8)}, at::kDouble).view({2, 2});
  EXPECT_TRUE(at::allclose(w.detach(), expected, 0, 1e-12)) << w;
}

TEST(Optim, ClipScalesToMaxNorm) {
  at::Tensor w = at::zeros({2}, at::kDouble).requires_grad_(true);
  w.mutable_grad() = at::tensor({3.0, 4.0}, at::kDouble);
  EXPECT_DOUBLE_EQ(clip_grad_norm({{"w", w}}, 1.0), 5.0);
  EXPECT_NEAR(w.grad().norm().item<double>(), 1.0, 1e-6);
}

}  // namespace
}  // namespace pad
