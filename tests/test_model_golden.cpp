// Logits and greedy tokens of the tiny fixture models agree with an independent engine (golden.json),
// from the Hugging Face directory and from GGUF, in f32 and bf16.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "pad/decode/generate.h"
#include "pad/model/model.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

struct Case {
  std::string model;  // fixture name
  bool gguf;
  at::ScalarType dtype;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string n = info.param.model + (info.param.gguf ? "_gguf" : "_hf") + (info.param.dtype == at::kFloat ? "_f32" : "_bf16");
  for (char& ch : n) if (ch == '-') ch = '_';
  return n;
}

class Golden : public testing::TestWithParam<Case> {};

// Tolerances, measured (see the closing note of issue 2):
// - golden.json's producer rounds the attention's K/V (and accumulates) in f16: position 0 agrees with
//   pad to 5e-6 once V is rounded to f16, and its logits deviate from a float64 forward pass by up to
//   0.04 at later positions. pad's f32 path agrees with float64 to 3e-5, so against golden.json the
//   logit tolerance is the producer's error, and rank order is only checked where it is not a near tie.
// - bf16 weights move logits by up to ~0.7 on these random-weight models; a bf16 decision is checked
//   wherever the float64 margin between the best and second-best token exceeds that.
constexpr double kGoldenTol = 0.05;
constexpr double kF64Tol = 1e-4;
constexpr double kBf16Margin = 0.75;

at::Tensor f64_logits(const Model& m, const std::vector<int>& ids) {
  std::vector<int64_t> v(ids.begin(), ids.end());
  return m.forward_sequence(at::tensor(v, at::kLong).unsqueeze(0), at::kDouble)[0];  // [T, V] f64
}

double top_margin(const at::Tensor& row) {  // best minus second-best
  auto top2 = std::get<0>(row.topk(2));
  return (top2[0] - top2[1]).item<double>();
}

TEST_P(Golden, LogitsAndGreedyMatch) {
  const Case& c = GetParam();
  const std::string dir = test::model_dir(c.model);
  auto model = Model::load(c.gguf ? dir + "/model.gguf" : dir, LoadOptions{c.dtype});
  auto oracle = Model::load(dir);  // f32 weights for the float64 reference pass
  auto golden = nlohmann::json::parse(read_file(dir + "/golden.json"));
  const bool f32 = c.dtype == at::kFloat;
  for (const auto& g : golden["cases"]) {
    std::vector<int> ids = g["ids"].get<std::vector<int>>();
    int slot = model->create_slot();
    at::Tensor logits = model->forward({Row{slot, ids, true}}).logits;  // [T, V] f32
    model->free_slot(slot);
    ASSERT_EQ(logits.size(0), static_cast<int64_t>(ids.size()));
    at::Tensor exact = f64_logits(*oracle, ids);                       // [T, V] f64
    auto top5 = g["top5_per_position"].get<std::vector<std::vector<int>>>();
    auto top5_logits = g["top5_logits_per_position"].get<std::vector<std::vector<double>>>();
    at::Tensor indices = std::get<1>(logits.topk(5, 1));
    if (f32) EXPECT_LE((logits.to(at::kDouble) - exact).abs().max().item<double>(), kF64Tol);
    for (size_t p = 0; p < ids.size(); ++p) {
      if (f32) {
        for (int i = 0; i < 5; ++i) {
          EXPECT_NEAR(logits[p][top5[p][i]].item<float>(), top5_logits[p][i], kGoldenTol) << "position " << p;
          // Rank i holds the golden token, or one whose logit ties the golden rank-i logit within tolerance.
          const int64_t ours = indices[p][i].item<int64_t>();
          if (ours != top5[p][i])
            EXPECT_NEAR(logits[p][ours].item<float>(), top5_logits[p][i], 2 * kGoldenTol) << "position " << p << " rank " << i;
        }
        EXPECT_EQ(indices[p][0].item<int64_t>(), top5[p][0]) << "top-1 at position " << p;
      } else if (top_margin(exact[p]) > kBf16Margin) {
        EXPECT_EQ(indices[p][0].item<int64_t>(), top5[p][0]) << "bf16 top-1 at position " << p;
      }
    }
    GenerateOptions opt;
    opt.n_predict = 32;
    auto greedy = g["greedy_32"].get<std::vector<int>>();
    std::vector<int> got = generate(*model, {ids}, opt)[0].tokens;
    ASSERT_EQ(got.size(), greedy.size());
    if (f32) {
      EXPECT_EQ(got, greedy);
      continue;
    }
    std::vector<int> prefix = ids;
    for (size_t i = 0; i < 8; ++i) {  // bf16: the first 8 steps, unless a step is a float64 near tie
      if (top_margin(f64_logits(*oracle, prefix)[-1]) <= kBf16Margin) break;
      EXPECT_EQ(got[i], greedy[i]) << "bf16 greedy step " << i;
      prefix.push_back(greedy[i]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden,
                         testing::Values(Case{"tiny-llama", false, at::kFloat}, Case{"tiny-llama", true, at::kFloat},
                                         Case{"tiny-qwen2", false, at::kFloat}, Case{"tiny-qwen2", true, at::kFloat},
                                         Case{"tiny-llama", false, at::kBFloat16}, Case{"tiny-llama", true, at::kBFloat16},
                                         Case{"tiny-qwen2", false, at::kBFloat16}, Case{"tiny-qwen2", true, at::kBFloat16}),
                         case_name);

}  // namespace
}  // namespace pad
