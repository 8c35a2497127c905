// The PAD engine against a straight-line reference of DESIGN §1 (one prompt, no cache), for every
// PersRM form, rule, reference choice and weighted principles; plus constructed PersRMs and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pad/decode/engine.h"
#include "pad/decode/preference.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/file.h"
#include "test_model_util.h"
#include "test_util.h"

namespace pad {
namespace {

ModelConfig cfg() { return test::small_decode_config(); }

std::shared_ptr<Model> make_model(uint64_t seed, ModelWeights* weights_out = nullptr) {
  ModelWeights w = random_weights(cfg(), at::kFloat, seed);
  if (weights_out) *weights_out = w;
  return std::make_shared<Model>(cfg(), w);
}

std::vector<int> ids(std::initializer_list<int> v) { return v; }

// ---- the reference: DESIGN §1 written out, whole sequences recomputed every step ----
using LogitsFn = std::function<at::Tensor(const std::vector<int>&)>;  // tokens → last-position logits [V]

LogitsFn full_logits(std::shared_ptr<Model> m) {
  return [m](const std::vector<int>& t) {
    std::vector<int64_t> v(t.begin(), t.end());
    return m->forward_sequence(at::tensor(v, at::kLong).unsqueeze(0))[0][-1];
  };
}

LogitsFn head_logits(std::shared_ptr<Model> m, ValueHead head) {
  return [m, head](const std::vector<int>& t) {
    std::vector<int64_t> v(t.begin(), t.end());
    at::Tensor h = m->hidden_sequence(at::tensor(v, at::kLong).unsqueeze(0))[0][-1];  // [d]
    at::Tensor hv = at::matmul(head.weight, h) + head.bias;
    return at::matmul(m->weights().lm_head, hv);
  };
}

std::vector<int> reference_pad(const LogitsFn& base, const LogitsFn& persrm, const LogitsFn& ref, const RequestPrompts& p,
                               PadRule rule, double w, int k, int n) {
  std::vector<int> yb = p.base, out;
  std::vector<std::vector<int>> yj = p.principles;
  for (int step = 0; step < n; ++step) {
    at::Tensor lb = base(yb);  // [V]
    at::Tensor score;
    at::Tensor cand;
    if (rule == PadRule::kTopK) {
      cand = std::get<1>(lb.topk(k));
      score = lb.index_select(0, cand);
      for (size_t j = 0; j < yj.size(); ++j) {
        at::Tensor r = at::log_softmax(persrm(yj[j]).index_select(0, cand), 0) - at::log_softmax(ref(yj[j]).index_select(0, cand), 0);
        score = score + w * p.weights[j] * r;
      }
    } else {
      cand = at::arange(lb.size(0), at::kLong);
      score = at::log_softmax(lb, 0);
      for (size_t j = 0; j < yj.size(); ++j)
        score = score + w * p.weights[j] * (at::log_softmax(persrm(yj[j]), 0) - at::log_softmax(ref(yj[j]), 0));
    }
    const int token = static_cast<int>(cand[score.argmax()].item<int64_t>());
    out.push_back(token);
    yb.push_back(token);
    for (auto& y : yj) y.push_back(token);
  }
  return out;
}

PadRequest request(const RequestPrompts& p, PadRule rule, double w, int k, int n) {
  PadRequest r;
  r.prompts = p;
  r.pad.rule = rule;
  r.pad.w = w;
  r.pad.k = k;
  r.n_predict = n;
  return r;
}

RequestPrompts single() { return {ids({3, 14, 15, 9, 2}), {ids({3, 14, 15, 9, 2})}, {1.0}}; }
RequestPrompts separate() { return {ids({3, 14, 15, 9, 2}), {ids({7, 1, 8, 2, 8, 18})}, {1.0}}; }
RequestPrompts weighted() { return {ids({3, 14, 15}), {ids({5, 9, 26, 5}), ids({35, 8, 9})}, {1.0, 0.5}}; }

struct Form {
  std::string name;
  PersRm persrm;
  LogitsFn reference;  // the PersRM's logits in the reference implementation
};

struct Fixture {
  std::shared_ptr<Model> base, full, ref;
  ModelWeights base_w;
  LoraAdapter lora;
  ValueHead head;
  Fixture() {
    base = make_model(1, &base_w);
    full = make_model(2);
    ref = make_model(3);
    lora = LoraAdapter::create(cfg(), 4, 8.0, lora_module_names(), 11);
    at::Generator g = at::detail::createCPUGenerator(5);
    for (auto& layer : lora.layers)
      for (auto& [name, m] : layer) m.b = at::randn(m.b.sizes(), g) * 0.3;  // a trained-looking adapter
    head = {at::eye(32) + 0.3 * at::randn({32, 32}, g), 0.2 * at::randn({32}, g)};
  }
  std::vector<Form> forms() {
    PersRm f{PersRm::Form::kFull, full, -1, nullptr};
    PersRm h{PersRm::Form::kHead, nullptr, -1, std::make_shared<ValueHead>(head)};
    auto merged = std::make_shared<Model>(cfg(), merge_lora(base_w, lora));
    return {{"full", f, full_logits(full)}, {"head", h, head_logits(base, head)}, {"lora", PersRm{}, full_logits(merged)}};
  }
};

void check_against_reference(bool separate_ref, PadRule rule) {
  Fixture fx;
  for (Form form : fx.forms()) {
    std::shared_ptr<Model> base = make_model(1);  // fresh base per form (adapters register on it)
    if (form.name == "lora") form.persrm = {PersRm::Form::kLora, nullptr, base->add_adapter(fx.lora), nullptr};
    PadEngine engine(base, form.persrm, separate_ref ? fx.ref : nullptr, EngineOptions{});
    LogitsFn ref = full_logits(separate_ref ? fx.ref : base);
    std::vector<PadRequest> reqs;
    std::vector<RequestPrompts> prompts = {single(), separate(), weighted()};
    for (const auto& p : prompts) reqs.push_back(request(p, rule, 1.5, 5, 12));
    std::vector<PadResult> got = engine.run(reqs);  // all three batched together
    int differs_from_plain = 0;  // the guidance must actually change something, or the test proves little
    GenerateOptions plain;
    plain.n_predict = 12;
    for (size_t i = 0; i < prompts.size(); ++i) {
      std::vector<int> want = reference_pad(full_logits(base), form.reference, ref, prompts[i], rule, 1.5, 5, 12);
      EXPECT_EQ(got[i].tokens, want) << form.name << " request " << i << (separate_ref ? " separate ref" : "");
      differs_from_plain += got[i].tokens != generate(*base, {prompts[i].base}, plain)[0].tokens;
    }
    EXPECT_GT(differs_from_plain, 0) << form.name;
  }
}

TEST(Pad, TopKMatchesReferenceForEveryForm) { check_against_reference(false, PadRule::kTopK); }
TEST(Pad, TopKMatchesReferenceWithSeparateReference) { check_against_reference(true, PadRule::kTopK); }
TEST(Pad, FullRuleMatchesReferenceForEveryForm) { check_against_reference(false, PadRule::kFull); }
TEST(Pad, FullRuleMatchesReferenceWithSeparateReference) { check_against_reference(true, PadRule::kFull); }

TEST(Pad, ZeroWeightIsPlainGreedy) {
  Fixture fx;
  PadEngine engine(fx.base, fx.forms()[0].persrm, nullptr, EngineOptions{});
  std::vector<PadResult> got = engine.run({request(single(), PadRule::kTopK, 0.0, 10, 20)});
  GenerateOptions g;
  g.n_predict = 20;
  EXPECT_EQ(got[0].tokens, generate(*fx.base, {single().base}, g)[0].tokens);
}

TEST(Pad, HeadEqualsFullPersRmWithFoldedLmHead) {
  Fixture fx;
  ValueHead head{fx.head.weight, at::zeros({32})};  // a bias cannot be folded into a bias-free lm_head
  ModelWeights folded = fx.base_w;
  folded.lm_head = at::matmul(fx.base_w.lm_head, head.weight).contiguous();
  auto folded_model = std::make_shared<Model>(cfg(), folded);
  PadEngine a(fx.base, {PersRm::Form::kHead, nullptr, -1, std::make_shared<ValueHead>(head)}, nullptr, EngineOptions{});
  PadEngine b(fx.base, {PersRm::Form::kFull, folded_model, -1, nullptr}, nullptr, EngineOptions{});
  for (const RequestPrompts& p : {single(), separate(), weighted()})
    EXPECT_EQ(a.run({request(p, PadRule::kTopK, 2.0, 8, 16)})[0].tokens, b.run({request(p, PadRule::kTopK, 2.0, 8, 16)})[0].tokens);
}

TEST(Pad, LoraEqualsMergedFullPersRm) {
  Fixture fx;
  auto base = make_model(1);
  int id = base->add_adapter(fx.lora);
  auto merged = std::make_shared<Model>(cfg(), merge_lora(fx.base_w, fx.lora));
  PadEngine a(base, {PersRm::Form::kLora, nullptr, id, nullptr}, nullptr, EngineOptions{});
  PadEngine b(base, {PersRm::Form::kFull, merged, -1, nullptr}, nullptr, EngineOptions{});
  for (const RequestPrompts& p : {single(), separate(), weighted()})
    EXPECT_EQ(a.run({request(p, PadRule::kFull, 1.0, 8, 16)})[0].tokens, b.run({request(p, PadRule::kFull, 1.0, 8, 16)})[0].tokens);
}

TEST(Pad, WeightsCombineLinearly) {
  // {a: 1} equals the single principle a; {a: 1, b: 1} equals the summed rewards, checked on PadStep.
  std::vector<float> base = {1, 2, 3, 4}, pa = {0, 1, 0, 5}, pb = {3, 0, 1, 0}, ref = {1, 1, 1, 1};
  PadOptions o;
  o.k = 4;
  auto run = [&](std::vector<const float*> p, std::vector<const float*> r, std::vector<double> w) {
    PadStep s(o);
    s.set_inputs({base.data(), p, r, w, 4});
    Candidates c = Candidates::from_logits(base.data(), 4);
    s.apply(c);
    return s.trace().reward;
  };
  std::vector<float> ra = run({pa.data()}, {ref.data()}, {1.0});
  std::vector<float> rb = run({pb.data()}, {ref.data()}, {1.0});
  std::vector<float> rab = run({pa.data(), pb.data()}, {ref.data(), ref.data()}, {1.0, 1.0});
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(rab[i], ra[i] + rb[i], 1e-6);
  // and through the engine: weights {a: 1} with principle a's prompt == the joined single principle
  Fixture fx;
  PadEngine e(fx.base, fx.forms()[0].persrm, nullptr, EngineOptions{});
  RequestPrompts one = separate();
  EXPECT_EQ(e.run({request(one, PadRule::kTopK, 1.0, 6, 12)})[0].tokens,
            reference_pad(full_logits(fx.base), full_logits(fx.full), full_logits(fx.base), one, PadRule::kTopK, 1.0, 6, 12));
}

TEST(Pad, ConstructedPersRmFavouringXPicksXWheneverInTopK) {
  const int x = 17;
  ModelWeights w = random_weights(cfg(), at::kFloat, 1);
  w.lm_head[x].zero_();
  w.lm_head[x][0] = 4.0f;  // the base likes x only when h_0 is large, so x is sometimes in the top-k
  auto base = std::make_shared<Model>(cfg(), w);
  at::Tensor b = at::zeros({32});
  b[0] = 25.0f;  // the PersRM's logits are lm_head·b: x's is 100, every other |·| < ~5
  auto head = std::make_shared<ValueHead>(ValueHead{at::zeros({32, 32}), b});
  std::ostringstream trace;
  EngineOptions opt;
  opt.trace = &trace;
  PadEngine e(base, {PersRm::Form::kHead, nullptr, -1, head}, nullptr, opt);
  std::vector<PadRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(request({ids({i + 1, 2 * i + 3}), {ids({i + 1, 2 * i + 3})}, {1.0}}, PadRule::kTopK, 1.0, 5, 10));
  e.run(reqs);
  std::istringstream lines(trace.str());
  int with_x = 0, without_x = 0;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    auto cand = j["candidates"].get<std::vector<int>>();
    const int chosen = j["chosen"].get<int>();
    EXPECT_NE(std::find(cand.begin(), cand.end(), chosen), cand.end()) << "chose outside the top-k";
    if (std::find(cand.begin(), cand.end(), x) != cand.end()) {
      ++with_x;
      EXPECT_EQ(chosen, x);
    } else {
      ++without_x;
    }
    // rank of x among candidates never drops as w grows (rewards from the trace)
    auto base_l = j["base_logits"].get<std::vector<float>>();
    auto reward = j["reward"].get<std::vector<float>>();
    auto it = std::find(cand.begin(), cand.end(), x);
    if (it == cand.end()) continue;
    const size_t xi = it - cand.begin();
    int last_rank = 1 << 30;
    for (double ww : {0.0, 0.1, 0.5, 1.0, 2.0, 8.0}) {
      int rank = 0;
      for (size_t i = 0; i < cand.size(); ++i)
        rank += base_l[i] + ww * reward[i] > base_l[xi] + ww * reward[xi];
      EXPECT_LE(rank, last_rank);
      last_rank = rank;
    }
  }
  EXPECT_GT(with_x, 0);
  EXPECT_GT(without_x, 0);  // both situations were exercised
}

TEST(Pad, BestOfNKeepsTheHighestSequenceReward) {
  Fixture fx;
  PersRm f{PersRm::Form::kFull, fx.full, -1, nullptr};
  PadEngine e(fx.base, f, nullptr, EngineOptions{Strategy::kBestOfN});
  PadRequest r = request(separate(), PadRule::kTopK, 1.0, 10, 8);
  r.n_best = 5;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 9;
  PadResult best = e.run({r})[0];
  GenerateOptions g;
  g.n_predict = 8;
  g.sampling = r.sampling;
  auto samples = generate(*fx.base, std::vector<std::vector<int>>(5, separate().base), g);
  std::vector<std::vector<int>> ys;
  for (auto& s : samples) ys.push_back(s.tokens);
  std::vector<double> rewards = e.sequence_rewards(separate(), ys);
  EXPECT_DOUBLE_EQ(best.sequence_reward, *std::max_element(rewards.begin(), rewards.end()));
  // sequence reward = Σ_t [log π_persrm − log π_ref] computed independently for sample 0
  std::vector<int> y = separate().principles[0];
  double want = 0;
  for (int t : ys[0]) {
    want += (at::log_softmax(full_logits(fx.full)(y), 0)[t] - at::log_softmax(full_logits(fx.base)(y), 0)[t]).item<double>();
    y.push_back(t);
  }
  EXPECT_NEAR(rewards[0], want, 1e-3);
}

TEST(Pad, BadInputIsRejected) {
  Fixture fx;
  PersRm f{PersRm::Form::kFull, fx.full, -1, nullptr};
  PadEngine e(fx.base, f, nullptr, EngineOptions{});
  EXPECT_THROW(e.run({request(single(), PadRule::kTopK, 1.0, 0, 4)}), std::invalid_argument);
  EXPECT_THROW(e.run({request(single(), PadRule::kTopK, 1.0, 62, 4)}), std::invalid_argument);
  EXPECT_THROW(e.run({request(single(), PadRule::kTopK, NAN, 5, 4)}), std::invalid_argument);
  EXPECT_EQ(fx.base->n_active_slots(), 0);  // nothing leaked
  EXPECT_THROW(Preference::parse_weights("helpful=nan"), std::invalid_argument);
  EXPECT_THROW(Preference::parse_weights("helpful"), std::invalid_argument);
  EXPECT_THROW(Preference::parse_weights("helpful=x"), std::invalid_argument);
  EXPECT_THROW(PadEngine(fx.base, PersRm{}, nullptr, EngineOptions{}), std::invalid_argument);  // PAD without PersRM
  ModelConfig other = cfg();
  other.n_vocab = 60;
  auto mismatch = std::make_shared<Model>(other, random_weights(other, at::kFloat, 1));
  EXPECT_THROW(PadEngine(fx.base, {PersRm::Form::kFull, mismatch, -1, nullptr}, nullptr, EngineOptions{}), std::invalid_argument);
}

TEST(Pad, AdapterAndHeadFilesRoundTripAndRefuseMismatches) {
  Fixture fx;
  std::string dir = test::scratch_dir("lora");
  fx.lora.save(dir, "base");
  LoraAdapter back = LoraAdapter::load(dir, cfg());
  EXPECT_TRUE(at::allclose(back.layers[1]["down_proj"].b, fx.lora.layers[1]["down_proj"].b));
  ModelConfig bigger = cfg();
  bigger.d_model = 40;
  bigger.head_dim = 10;
  EXPECT_THROW(LoraAdapter::load(dir, bigger), std::invalid_argument);
  std::string text = read_file(dir + "/adapter_config.json");
  text.replace(text.find("q_proj"), 6, "qkv_proj");
  write_file_atomic(dir + "/adapter_config.json", text);
  try {
    LoraAdapter::load(dir, cfg());
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("qkv_proj"), std::string::npos) << e.what();
  }
  fx.head.save(dir + "/head.safetensors");
  EXPECT_TRUE(at::equal(ValueHead::load(dir + "/head.safetensors", 32).weight, fx.head.weight));
  try {
    ValueHead::load(dir + "/head.safetensors", 64);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("hidden size is 64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ValueHead::load(dir + "/missing.safetensors", 32), std::runtime_error);
}

}  // namespace
}  // namespace pad

namespace pad {
namespace {

TEST(Pad, VocabBridgeMatchesReTokenizingReference) {
  std::shared_ptr<const Tokenizer> tb = Tokenizer::load(test::model_dir("tiny-qwen2"));
  std::shared_ptr<const Tokenizer> tp = Tokenizer::load(test::model_dir("tiny-llama"));
  ModelConfig c = cfg();
  c.n_vocab = tb->n_vocab();
  auto base = std::make_shared<Model>(c, random_weights(c, at::kFloat, 1));
  ModelConfig cp = c;
  cp.n_vocab = tp->n_vocab();
  auto persrm = std::make_shared<Model>(cp, random_weights(cp, at::kFloat, 2));
  auto bridge = std::make_shared<VocabBridge>();
  bridge->base = tb;
  bridge->persrm = tp;
  PadEngine e(base, {PersRm::Form::kFull, persrm, -1, nullptr, bridge}, nullptr, EngineOptions{});
  const std::string prompt_text = "The license grants you";
  RequestPrompts p;
  p.base = tb->encode(prompt_text);
  p.principles = {p.base};
  p.weights = {1.0};
  p.persrm_principles = {tp->encode(prompt_text)};
  std::vector<int> got = e.run({request(p, PadRule::kTopK, 2.0, 6, 10)})[0].tokens;
  // Reference: every step re-tokenize the generated text for the PersRM; map candidates by text.
  std::vector<int> yb = p.base, out;
  for (int step = 0; step < 10; ++step) {
    at::Tensor lb = full_logits(base)(yb);
    std::vector<int> yp = p.persrm_principles[0];
    for (int t : tp->encode(tb->decode(out), EncodeOptions{false, false})) yp.push_back(t);
    at::Tensor lp = full_logits(persrm)(yp);
    at::Tensor cand = std::get<1>(lb.topk(6));
    std::vector<int64_t> mapped;
    for (int i = 0; i < 6; ++i) {
      auto ids = tp->encode(tb->token_text(static_cast<int>(cand[i].item<int64_t>())), EncodeOptions{false, false});
      ASSERT_FALSE(ids.empty());
      mapped.push_back(ids[0]);
    }
    at::Tensor r = at::log_softmax(lp.index_select(0, at::tensor(mapped, at::kLong)), 0) -
                   at::log_softmax(lb.index_select(0, cand), 0);
    at::Tensor score = lb.index_select(0, cand) + 2.0 * r;
    const int token = static_cast<int>(cand[score.argmax()].item<int64_t>());
    out.push_back(token);
    yb.push_back(token);
  }
  EXPECT_EQ(got, out);
  EXPECT_EQ(base->n_active_slots(), 0);
  EXPECT_EQ(persrm->n_active_slots(), 0);
}

}  // namespace
}  // namespace pad
