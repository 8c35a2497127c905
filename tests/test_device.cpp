// The device path (DESIGN §5, issue 14) proven on the CPU: the generic ATen forward that CUDA runs
// (switched on here by to_device(cpu)) equals pad's kernel path on the fixtures, through the model,
// the caches and the PAD engine. The CUDA tests at the end skip where no CUDA device is present.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <filesystem>

#include "pad/decode/engine.h"
#include "pad/decode/generate.h"
#include "pad/kernels/weight.h"
#include "pad/model/model.h"

namespace pad {
namespace {

constexpr double kTolF32 = 1e-4;  // issue 14: generic f32 = kernel f32 within 1e-4

std::string fixture(const std::string& rel) { return std::string(PAD_SHARED_DIR) + "/testdata/models/" + rel; }
std::string repo_model(const std::string& rel) { return std::string(PAD_SOURCE_DIR) + "/models/" + rel; }

std::shared_ptr<Model> load(const std::string& path, bool generic, at::Device dev = at::kCPU,
                            at::ScalarType dtype = at::kFloat) {
  LoadOptions o;
  o.keep_stored = true;
  auto m = Model::load(path, o);
  if (generic) m->to_device({dev, dtype});
  return m;
}

std::vector<int> prompt_ids(int n, int vocab, int salt = 0) {
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) ids.push_back((i * 37 + salt * 11 + 5) % vocab);
  return ids;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kCPU, at::kFloat) - b.to(at::kCPU, at::kFloat)).abs().max().item<double>();
}

std::vector<std::string> fixture_paths() {
  std::vector<std::string> out;
  for (const std::string& p : {fixture("tiny-llama"), fixture("tiny-qwen2"), repo_model("base")})
    if (std::filesystem::exists(p)) out.push_back(p);
  return out;
}

TEST(DeviceGeneric, LogitsAndGreedyTokensEqualTheKernelPath) {
  const auto paths = fixture_paths();
  ASSERT_FALSE(paths.empty()) << "no fixture models found";
  for (const std::string& path : paths) {
    auto kern = load(path, false), gen = load(path, true);
    ASSERT_TRUE(gen->generic_ops());
    ASSERT_FALSE(kern->generic_ops());
    const int V = static_cast<int>(kern->config().n_vocab);
    const std::vector<int> ids = prompt_ids(19, V);
    at::Tensor a = kern->forward({Row{kern->create_slot(), ids, true}}).logits;  // [T, V] f32
    at::Tensor b = gen->forward({Row{gen->create_slot(), ids, true}}).logits;
    ASSERT_EQ(a.sizes(), b.sizes()) << path;
    EXPECT_LE(max_diff(a, b), kTolF32) << path;
    GenerateOptions g;
    g.n_predict = 12;
    EXPECT_EQ(generate(*kern, {ids}, g)[0].tokens, generate(*gen, {ids}, g)[0].tokens) << path;
    EXPECT_EQ(generate_simple(*gen, ids, g), generate(*gen, {ids}, g)[0].tokens) << path << ": reference path";
  }
}

TEST(DeviceGeneric, MixedLengthBatchesForkFreeResetEqualTheKernelPath) {
  for (const std::string& path : fixture_paths()) {
    auto kern = load(path, false), gen = load(path, true);
    const int V = static_cast<int>(kern->config().n_vocab);
    // The same script of slot operations on both models; every forward's logits compared.
    auto script = [&](Model& m) {
      std::vector<at::Tensor> out;
      std::vector<int> s = {m.create_slot(), m.create_slot(), m.create_slot()};
      out.push_back(m.forward({{s[0], prompt_ids(5, V, 1)}, {s[1], prompt_ids(1, V, 2)}, {s[2], prompt_ids(23, V, 3)}}).logits);
      int f = m.fork_slot(s[2]);
      out.push_back(m.forward({{s[0], {4}}, {f, {7, 8}, true}, {s[2], {9}}}).logits);
      m.free_slot(s[1]);
      int n = m.create_slot();  // reuses the freed slot (kept allocated on the generic path)
      m.reset_slot(s[0]);
      out.push_back(m.forward({{n, prompt_ids(3, V, 4)}, {s[0], prompt_ids(6, V, 5), true}, {f, {1}}}).logits);
      m.truncate_slot(s[2], 10);
      out.push_back(m.forward({{s[2], {2, 3}, true}}).logits);
      EXPECT_EQ(m.slot_length(f), 26);
      return out;
    };
    auto a = script(*kern), b = script(*gen);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_LE(max_diff(a[i], b[i]), kTolF32) << path << " step " << i;
  }
}

TEST(DeviceGeneric, QuantizedWeightsAreDequantizedAtLoad) {
  const std::string path = repo_model("base");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "models/base not built";
  // q8_0 storage: the generic path multiplies the dequantized matrices, which is what the kernels
  // compute with f32 activations (8-bit activations off), so the two agree to f32 rounding.
  LoadedModel lm = load_weights(path, LoadOptions{at::kFloat, true});
  for (LayerWeights& l : lm.weights.layers) {
    for (auto [t, s] : {std::pair{&l.wq, &l.stored.wq}, {&l.wk, &l.stored.wk}, {&l.wv, &l.stored.wv}, {&l.wo, &l.stored.wo},
                        {&l.w_gate, &l.stored.w_gate}, {&l.w_up, &l.stored.w_up}, {&l.w_down, &l.stored.w_down}}) {
      *s = kernels::WeightMatrix::quantize(t->contiguous(), kernels::WType::kQ8_0);
      *t = at::Tensor();
    }
  }
  auto kern = std::make_shared<Model>(lm.config, lm.weights), gen = std::make_shared<Model>(lm.config, lm.weights);
  gen->to_device({at::kCPU, at::kFloat});
  EXPECT_NE(gen->placement().find("converted from q8_0"), std::string::npos) << gen->placement();
  const bool int8 = kernels::int8_activations();
  kernels::set_int8_activations(false);
  const std::vector<int> ids = prompt_ids(11, static_cast<int>(lm.config.n_vocab));
  const double d = max_diff(kern->forward({Row{kern->create_slot(), ids, true}}).logits,
                            gen->forward({Row{gen->create_slot(), ids, true}}).logits);
  kernels::set_int8_activations(int8);
  EXPECT_LE(d, 1e-3);  // f32 sums in another order over 8-bit-exact weights
}

// PAD through the engine: head, LoRA and full PersRM forms × topk and full rules, generic = kernels.
struct PadForms {
  std::shared_ptr<Model> base, full;
  PersRm persrm;
};

PadForms pad_forms(const std::string& form, bool generic) {
  PadForms f;
  f.base = load(repo_model("base"), generic);
  if (form == "head") {
    auto head = std::make_shared<ValueHead>(ValueHead::load(repo_model("persrm-head/value_head.safetensors"),
                                                            f.base->config().d_model));
    f.persrm = {PersRm::Form::kHead, nullptr, -1, head};
  } else if (form == "lora") {
    f.persrm = {PersRm::Form::kLora, nullptr,
                f.base->add_adapter(LoraAdapter::load(repo_model("persrm-lora"), f.base->config())), nullptr};
  } else {  // full: the LoRA merged into a separate model
    LoadedModel lm = load_weights(repo_model("base"), LoadOptions{at::kFloat, false});
    ModelWeights merged = merge_lora(lm.weights, LoraAdapter::load(repo_model("persrm-lora"), lm.config));
    f.full = std::make_shared<Model>(lm.config, merged);
    if (generic) f.full->to_device({at::kCPU, at::kFloat});
    f.persrm = {PersRm::Form::kFull, f.full, -1, nullptr};
  }
  return f;
}

TEST(DeviceGeneric, PadTokensEqualTheKernelPathForEveryFormAndRule) {
  if (!std::filesystem::exists(repo_model("persrm-lora")) || !std::filesystem::exists(repo_model("persrm-head")))
    GTEST_SKIP() << "models/ PersRMs not built";
  for (const std::string form : {"head", "lora", "full"}) {
    for (PadRule rule : {PadRule::kTopK, PadRule::kFull}) {
      std::vector<std::vector<int>> results[2];
      for (int generic = 0; generic < 2; ++generic) {
        PadForms f = pad_forms(form, generic == 1);
        PadEngine engine(f.base, f.persrm, nullptr, EngineOptions{});
        const int V = static_cast<int>(f.base->config().n_vocab);
        std::vector<PadRequest> reqs;
        for (int i = 0; i < 3; ++i) {  // rows of different lengths, batched together
          PadRequest r;
          r.prompts = {prompt_ids(4 + 5 * i, V, i), {prompt_ids(7 + 3 * i, V, 10 + i)}, {1.0}};
          if (i == 2) r.prompts.principles.push_back(prompt_ids(5, V, 20)), r.prompts.weights.push_back(0.5);
          r.pad.rule = rule;
          r.pad.w = 1.5;
          r.pad.k = 5;
          r.n_predict = 10;
          reqs.push_back(r);
        }
        for (const PadResult& res : engine.run(reqs)) results[generic].push_back(res.tokens);
        EXPECT_EQ(f.base->n_active_slots(), 0);
      }
      EXPECT_EQ(results[0], results[1]) << form << (rule == PadRule::kTopK ? " topk" : " full");
    }
  }
}

TEST(DeviceGeneric, MixedStrategiesAndCandidateCountsInOneBatchEqualTheKernelPath) {
  if (!std::filesystem::exists(repo_model("persrm-head"))) GTEST_SKIP() << "models/ PersRMs not built";
  // Different k per request (the device top-k takes the largest and each request its prefix), and a
  // plain request among PAD ones (the step then copies full logits instead).
  for (bool with_plain : {false, true}) {
    std::vector<std::vector<int>> results[2];
    for (int generic = 0; generic < 2; ++generic) {
      PadForms f = pad_forms("head", generic == 1);
      PadEngine engine(f.base, f.persrm, nullptr, EngineOptions{});
      const int V = static_cast<int>(f.base->config().n_vocab);
      std::vector<PadRequest> reqs;
      for (int i = 0; i < 3; ++i) {
        PadRequest r;
        r.prompts = {prompt_ids(6 + 4 * i, V, i), {prompt_ids(5 + i, V, 30 + i)}, {1.0}};
        if (i == 0) r.prompts.principles = {r.prompts.base};  // the reference row is the base row itself
        r.pad.k = 3 + 4 * i;
        r.pad.w = 2.0;
        r.n_predict = 9;
        if (with_plain && i == 1) r.strategy = Strategy::kBase;
        reqs.push_back(r);
      }
      for (const PadResult& res : engine.run(reqs)) results[generic].push_back(res.tokens);
    }
    EXPECT_EQ(results[0], results[1]) << (with_plain ? "with a plain request" : "PAD only");
  }
}

TEST(DeviceOptionsTest, ParsesAndRejectsClearly) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_EQ(parse_device("cuda").index(), 0);
  EXPECT_EQ(parse_device("cuda:3").index(), 3);
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CUDA", "cuda:1:2", ""})
    EXPECT_THROW(parse_device(bad), std::invalid_argument) << bad;
  EXPECT_THROW((DeviceOptions{at::kCPU, at::kDouble}.validate()), std::invalid_argument);
  EXPECT_EQ(DeviceOptions{at::Device(at::kCUDA, 0)}.resolved_dtype(), at::kBFloat16);
  EXPECT_EQ(DeviceOptions{}.resolved_dtype(), at::kFloat);
  if (torch::cuda::is_available()) return;
  try {
    DeviceOptions{at::Device(at::kCUDA, 0)}.validate();
    ADD_FAILURE() << "cuda accepted on a machine without CUDA";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda"), std::string::npos) << e.what();
  }
}

TEST(DeviceGeneric, ToDeviceRefusesLateOrRepeatedCalls) {
  auto m = load(fixture_paths().at(0), false);
  m->forward({Row{m->create_slot(), {1, 2, 3}}});
  EXPECT_THROW(m->to_device({at::kCPU, at::kFloat}), std::invalid_argument);  // a slot holds tokens
  auto g = load(fixture_paths().at(0), true);
  EXPECT_THROW(g->to_device({at::kCPU, at::kFloat}), std::invalid_argument);
}

// ---- CUDA (skip without a device) ------------------------------------------------------------

#define PAD_NEED_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

TEST(DeviceCuda, F32EqualsCpuWithinTolerance) {
  PAD_NEED_CUDA();
  for (const std::string& path : fixture_paths()) {
    auto cpu = load(path, false), gpu = load(path, true, at::Device(at::kCUDA, 0), at::kFloat);
    const std::vector<int> ids = prompt_ids(19, static_cast<int>(cpu->config().n_vocab));
    at::Tensor a = cpu->forward({Row{cpu->create_slot(), ids, true}}).logits;
    at::Tensor b = gpu->forward({Row{gpu->create_slot(), ids, true}}).logits;
    EXPECT_TRUE(b.is_cuda());
    // TF32 would break 1e-4: the CUDA build keeps f32 matmuls in full precision (libtorch's default).
    EXPECT_LE(max_diff(a, b), kTolF32) << path;
  }
}

TEST(DeviceCuda, Bf16AgreesOnTop1WhereTheMarginAllowsAndOnGreedy) {
  PAD_NEED_CUDA();
  for (const std::string& path : fixture_paths()) {
    auto cpu = load(path, false), gpu = load(path, true, at::Device(at::kCUDA, 0), at::kBFloat16);
    gpu->set_kv_type(at::kBFloat16);
    const std::vector<int> ids = prompt_ids(19, static_cast<int>(cpu->config().n_vocab));
    at::Tensor a = cpu->forward({Row{cpu->create_slot(), ids, true}}).logits;                 // [T, V]
    at::Tensor b = gpu->forward({Row{gpu->create_slot(), ids, true}}).logits.to(at::kCPU);
    auto top2 = a.topk(2, 1);
    at::Tensor margin = std::get<0>(top2).select(1, 0) - std::get<0>(top2).select(1, 1);  // [T]
    const double tol = 4e-2 * (a.abs().max().item<double>() + 1);  // STYLE: bf16 4e-2, relative to the logit scale
    for (int64_t t = 0; t < a.size(0); ++t)
      if (margin[t].item<double>() > 2 * tol)
        EXPECT_EQ(a[t].argmax().item<int64_t>(), b[t].argmax().item<int64_t>()) << path << " position " << t;
    GenerateOptions g;
    g.n_predict = 8;
    EXPECT_EQ(generate(*cpu, {ids}, g)[0].tokens, generate(*gpu, {ids}, g)[0].tokens) << path;
  }
}

TEST(DeviceCuda, PadEqualsCpuForEveryFormAndRule) {
  PAD_NEED_CUDA();
  if (!std::filesystem::exists(repo_model("persrm-lora"))) GTEST_SKIP() << "models/ PersRMs not built";
  for (const std::string form : {"head", "lora", "full"}) {
    for (PadRule rule : {PadRule::kTopK, PadRule::kFull}) {
      std::vector<std::vector<int>> results[2];
      for (int cuda = 0; cuda < 2; ++cuda) {
        PadForms f = pad_forms(form, false);
        if (cuda) {
          f.base->to_device({at::Device(at::kCUDA, 0), at::kFloat});
          if (f.full) f.full->to_device({at::Device(at::kCUDA, 0), at::kFloat});
          if (f.persrm.head) {
            f.persrm.head->weight = f.persrm.head->weight.to(at::kCUDA);
            f.persrm.head->bias = f.persrm.head->bias.to(at::kCUDA);
          }
        }
        PadEngine engine(f.base, f.persrm, nullptr, EngineOptions{});
        const int V = static_cast<int>(f.base->config().n_vocab);
        std::vector<PadRequest> reqs;
        for (int i = 0; i < 3; ++i) {
          PadRequest r;
          r.prompts = {prompt_ids(4 + 5 * i, V, i), {prompt_ids(7 + 3 * i, V, 10 + i)}, {1.0}};
          r.pad.rule = rule;
          r.pad.k = 5;
          r.n_predict = 10;
          reqs.push_back(r);
        }
        for (const PadResult& res : engine.run(reqs)) results[cuda].push_back(res.tokens);
      }
      EXPECT_EQ(results[0], results[1]) << form;
    }
  }
}

}  // namespace
}  // namespace pad
