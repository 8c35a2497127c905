// pad::kernels::linear against its scalar reference and at::linear: odd shapes, bf16 weights,
// threads, the autograd and large-M fallbacks, strided and batched inputs, bad shapes.
#include <gtest/gtest.h>

#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "pad/kernels/linear.h"

namespace pad::kernels {
namespace {

// max |actual - expected| / max |expected|: a scale-relative error, so outputs that cancel to
// near zero do not need their own absolute tolerance.
double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.to(at::kDouble);    // [..] f64
  const at::Tensor e = expected.to(at::kDouble);  // [..] f64
  const double scale = std::max(e.abs().max().item<double>(), 1e-30);
  return (a - e).abs().max().item<double>() / scale;
}

constexpr double kTolF32 = 1e-4;   // f32 accumulation in a different order than the reference
constexpr double kTolBf16 = 1e-2;  // result rounded to bf16 (8-bit mantissa)

class LinearTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(1234);
    threads_before_ = at::get_num_threads();
    at::set_num_threads(2);
  }
  void TearDown() override { at::set_num_threads(threads_before_); }
  int threads_before_ = 1;
};

TEST_F(LinearTest, MatchesReferenceOnOddShapesF32) {
  at::NoGradGuard no_grad;
  for (int64_t m = 1; m <= 17; ++m)
    for (int64_t k : {1, 7, 16, 33, 100})
      for (int64_t n : {1, 5, 37, 67})
        for (bool with_bias : {false, true}) {
          const at::Tensor x = at::randn({m, k});  // [M, K] f32
          const at::Tensor w = at::randn({n, k});  // [N, K] f32
          c10::optional<at::Tensor> bias;          // [N] f32
          if (with_bias) bias = at::randn({n});
          const at::Tensor y = kernels::linear(x, w, bias);  // [M, N] f32
          ASSERT_EQ(y.sizes(), (at::IntArrayRef{m, n}));
          ASSERT_EQ(y.scalar_type(), at::kFloat);
          EXPECT_LE(relative_error(y, linear_reference(x, w, bias)), kTolF32)
              << "M=" << m << " K=" << k << " N=" << n << " bias=" << with_bias;
        }
}

TEST_F(LinearTest, MatchesReferenceWithBf16Weights) {
  at::NoGradGuard no_grad;
  for (int64_t m : {1, 3, 4, 9, 16})
    for (int64_t k : {15, 64, 129})
      for (int64_t n : {1, 19, 70}) {
        const at::Tensor x = at::randn({m, k});                        // [M, K] f32
        const at::Tensor w = at::randn({n, k}).to(at::kBFloat16);      // [N, K] bf16
        const at::Tensor bias = at::randn({n});                        // [N] f32
        const at::Tensor y = kernels::linear(x, w, bias);                       // [M, N] f32
        ASSERT_EQ(y.scalar_type(), at::kFloat);
        // The reference widens the same bf16 values, so only the summation order differs.
        EXPECT_LE(relative_error(y, linear_reference(x, w, bias)), kTolF32)
            << "M=" << m << " K=" << k << " N=" << n;
      }
}

TEST_F(LinearTest, Bf16InputGivesBf16Result) {
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({5, 96}).to(at::kBFloat16);  // [M, K] bf16
  const at::Tensor w = at::randn({33, 96});                   // [N, K] f32
  const at::Tensor y = kernels::linear(x, w);                          // [M, N] bf16
  ASSERT_EQ(y.scalar_type(), at::kBFloat16);
  EXPECT_LE(relative_error(y, linear_reference(x, w)), kTolBf16);
  EXPECT_LE(relative_error(y, kernels::linear(x.to(at::kFloat), w)), kTolBf16);
}

TEST_F(LinearTest, MatchesAtLinearOnDecodeShapes) {
  at::NoGradGuard no_grad;
  // N = 1000 spans several 16-row blocks per thread and a ragged last block.
  for (int64_t m : {1, 4, 8, 16, 64})
    for (auto [n, k] : {std::pair<int64_t, int64_t>{1000, 768}, {768, 2048}}) {
      const at::Tensor x = at::randn({m, k});     // [M, K] f32
      const at::Tensor w = at::randn({n, k});     // [N, K] f32
      const at::Tensor bias = at::randn({n});     // [N] f32
      const at::Tensor expected = at::linear(x, w, bias);  // [M, N] f32
      EXPECT_LE(relative_error(kernels::linear(x, w, bias), expected), kTolF32) << "M=" << m << " N=" << n;
      const at::Tensor w_bf16 = w.to(at::kBFloat16);  // [N, K] bf16
      EXPECT_LE(relative_error(kernels::linear(x, w_bf16, bias), at::linear(x, w_bf16.to(at::kFloat), bias)),
                kTolF32)
          << "bf16 weights, M=" << m << " N=" << n;
    }
}

TEST_F(LinearTest, SameResultWithOneThread) {
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({6, 256});    // [M, K] f32
  const at::Tensor w = at::randn({517, 256});  // [N, K] f32
  const at::Tensor y2 = kernels::linear(x, w);          // [M, N] f32, 2 threads
  at::set_num_threads(1);
  // Each output is one dot product computed the same way whichever thread owns its row.
  EXPECT_TRUE(at::equal(kernels::linear(x, w), y2));
}

TEST_F(LinearTest, LargeBatchesMatchReference) {
  at::NoGradGuard no_grad;
  const int64_t m = kMaxCustomRows + 67;    // f32: at::linear; bf16: kernel in two row passes
  const at::Tensor x = at::randn({m, 80});  // [M, K] f32
  const at::Tensor w = at::randn({40, 80});  // [N, K] f32
  const at::Tensor w_bf16 = w.to(at::kBFloat16);  // [N, K] bf16
  EXPECT_LE(relative_error(kernels::linear(x, w), linear_reference(x, w)), kTolF32);
  EXPECT_LE(relative_error(kernels::linear(x, w_bf16), linear_reference(x, w_bf16)), kTolF32);
  // Both sides of the threshold give the same numbers, for either weight dtype.
  for (const at::Tensor& weight : {w, w_bf16}) {
    const at::Tensor custom = detail::linear_with_max_rows(x, weight, c10::nullopt, m);  // [M, N]
    const at::Tensor fallback = detail::linear_with_max_rows(x, weight, c10::nullopt, 0);  // [M, N]
    EXPECT_LE(relative_error(custom, fallback), kTolF32);
  }
}

TEST_F(LinearTest, GradModeUsesAtLinearAndBackpropagates) {
  const at::Tensor x = at::randn({3, 20}).requires_grad_(true);   // [M, K] f32
  const at::Tensor w = at::randn({7, 20}).requires_grad_(true);   // [N, K] f32
  const at::Tensor bias = at::randn({7}).requires_grad_(true);    // [N] f32
  const at::Tensor y = kernels::linear(x, w, bias);                        // [M, N] f32
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  // d(sum y)/dx[m, k] = sum_n w[n, k]; d/dw[n, k] = sum_m x[m, k]; d/dbias = M.
  EXPECT_LE(relative_error(x.grad(), w.detach().sum(0).expand({3, 20})), kTolF32);
  EXPECT_LE(relative_error(w.grad(), x.detach().sum(0).expand({7, 20})), kTolF32);
  EXPECT_TRUE(at::allclose(bias.grad(), at::full({7}, 3.0f)));
}

TEST_F(LinearTest, StridedAndBatchedInputs) {
  at::NoGradGuard no_grad;
  const at::Tensor w = at::randn({21, 50});  // [N, K] f32
  const at::Tensor x_t = at::randn({50, 4}).t();  // [M=4, K] f32, column-major
  ASSERT_FALSE(x_t.is_contiguous());
  EXPECT_LE(relative_error(kernels::linear(x_t, w), linear_reference(x_t.contiguous(), w)), kTolF32);
  const at::Tensor x_3d = at::randn({2, 3, 50});  // [B, T, K] f32
  const at::Tensor y_3d = kernels::linear(x_3d, w);        // [B, T, N] f32
  ASSERT_EQ(y_3d.sizes(), (at::IntArrayRef{2, 3, 21}));
  EXPECT_LE(relative_error(y_3d, at::linear(x_3d, w)), kTolF32);
  const at::Tensor x_1d = at::randn({50});  // [K] f32
  EXPECT_LE(relative_error(kernels::linear(x_1d, w), at::linear(x_1d, w)), kTolF32);
  // A transposed (non-contiguous) weight goes to at::linear rather than being copied per call.
  const at::Tensor w_t = at::randn({50, 21}).t();  // [N, K] f32, column-major
  EXPECT_LE(relative_error(kernels::linear(x_3d, w_t), at::linear(x_3d, w_t)), kTolF32);
}

TEST_F(LinearTest, RejectsMismatchedShapes) {
  const at::Tensor x = at::randn({2, 8});  // [M, K] f32
  EXPECT_THROW(kernels::linear(x, at::randn({4, 9})), std::invalid_argument);
  EXPECT_THROW(kernels::linear(x, at::randn({8})), std::invalid_argument);
  EXPECT_THROW(kernels::linear(x, at::randn({4, 8}), at::randn({5})), std::invalid_argument);
  EXPECT_THROW(linear_reference(x, at::randn({4, 9})), std::invalid_argument);
}

TEST(ReadBandwidth, MeasuresAPositiveFiniteRate) {
  const double gbs = measure_read_bandwidth_gbs(size_t(64) << 20);
  EXPECT_GT(gbs, 0.1);
  EXPECT_LT(gbs, 1e5);  // a skipped buffer would read as absurdly fast
}

}  // namespace
}  // namespace pad::kernels
