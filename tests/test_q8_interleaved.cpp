// q8_0 matrices interleaved by 16 rows (src/kernels/q8_interleaved.h): the layout holds the same
// blocks (round trip, bit-exact dequantization), its reference computes exactly the row layout's
// integer sums, its VNNI kernel equals the reference for every activation row count, and matmul
// over it matches matmul over the rows — decode and prefill, with a bias, with int8 activations off.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <ATen/ATen.h>

#include "../src/kernels/q8_interleaved.h"
#include "../src/kernels/quant_dot.h"
#include "pad/kernels/weight.h"

namespace pad::kernels {
namespace {

// A q8_0 matrix with varied row scales and outliers, and its interleaved copy (built directly, so
// the tests run on CPUs whose kernels would not interleave: there the product is the reference).
struct Pair {
  WeightMatrix rows, packed;
};
Pair make_pair(int64_t n, int64_t k, uint64_t seed) {
  at::manual_seed(seed);
  const at::Tensor wf = at::randn({n, k}) * at::rand({n, 1}) * 3 + at::randn({n, k}).pow(3) * 0.1;
  Pair p;
  p.rows = WeightMatrix::quantize(wf, WType::kQ8_0);
  at::Tensor bytes = at::empty({int64_t(p.rows.nbytes())}, at::kByte);  // [n · row bytes] u8
  detail::interleave_q8_0(p.rows.data, n, k, bytes.data_ptr<uint8_t>());
  p.packed = WeightMatrix::from_bytes(WType::kQ8_0, n, k, bytes.data_ptr<uint8_t>(), bytes);
  p.packed.layout = Layout::kInterleaved16;
  return p;
}

TEST(Q8Interleaved, HoldsTheSameBlocks) {
  const int64_t n = 48, k = 96;
  const Pair p = make_pair(n, k, 1);
  std::vector<uint8_t> row(p.rows.row_stride());
  std::vector<float> a(size_t(k), 0.0f), b(size_t(k), 1.0f);
  for (int64_t r = 0; r < n; ++r) {
    detail::deinterleave_q8_0_row(p.packed.data, r, k, row.data());
    EXPECT_EQ(std::memcmp(row.data(), p.rows.data + size_t(r) * p.rows.row_stride(), row.size()), 0) << "row " << r;
    p.rows.dequantize_row(r, a.data());
    p.packed.dequantize_row(r, b.data());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "row " << r;
  }
  EXPECT_TRUE(at::equal(p.rows.dequantize(), p.packed.dequantize()));
  EXPECT_TRUE(at::equal(p.rows.gather_rows({47, 0, 17}), p.packed.gather_rows({47, 0, 17})));
  EXPECT_EQ(p.packed.rows(16, 32).n, 32);
  EXPECT_THROW(p.packed.rows(8, 16), std::invalid_argument);
  EXPECT_THROW(p.packed.rows(16, 8), std::invalid_argument);
}

TEST(Q8Interleaved, ReferenceIsTheRowLayoutsIntegerSum) {
  // Same activation codes and scales, same integer sum per block (the +128 offset undone exactly),
  // same float order: the interleaved reference equals the row reference bit for bit.
  const int64_t n = 32, k = 256, m = 3;
  const Pair p = make_pair(n, k, 2);
  const at::Tensor x = at::randn({m, k}) * 2;  // [m, k] f32
  const size_t as = detail::act_row_bytes_q8x16(k), as_rows = detail::act_row_bytes(WType::kQ8_0, k);
  std::vector<uint8_t> a(as * m), a_rows(as_rows * m);
  for (int64_t i = 0; i < m; ++i) {
    detail::quantize_act_row_q8x16(x[i].data_ptr<float>(), k, a.data() + i * as);
    detail::quantize_act_row(WType::kQ8_0, x[i].data_ptr<float>(), k, a_rows.data() + i * as_rows);
  }
  std::vector<float> y(size_t(m * n));
  detail::dot_groups_q8x16_ref(p.packed.data, 0, n / 16, a.data(), m, k, y.data(), n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < n; ++r)
      EXPECT_EQ(y[size_t(i * n + r)], detail::dot_reference(WType::kQ8_0)(p.rows.data + size_t(r) * p.rows.row_stride(),
                                                                           a_rows.data() + i * as_rows, k))
          << i << "," << r;
}

TEST(Q8Interleaved, KernelEqualsReferenceForEveryRowCount) {
  const int64_t n = 64, k = 768;
  const Pair p = make_pair(n, k, 3);
  const size_t as = detail::act_row_bytes_q8x16(k);
  for (int64_t m : {1, 2, 3, 4, 5, 8, 9, 17}) {
    const at::Tensor x = at::randn({m, k});  // [m, k] f32
    std::vector<uint8_t> a(as * m);
    for (int64_t i = 0; i < m; ++i) detail::quantize_act_row_q8x16(x[i].data_ptr<float>(), k, a.data() + i * as);
    std::vector<float> fast(size_t(m * n)), ref(size_t(m * n));
    // Groups [1, 4) only: the kernel writes its own groups and nothing else.
    std::vector<float> untouched = fast;
    detail::dot_groups_q8x16(p.packed.data, 1, 4, a.data(), m, k, fast.data(), n);
    detail::dot_groups_q8x16_ref(p.packed.data, 1, 4, a.data(), m, k, ref.data(), n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t r = 0; r < n; ++r) {
        const size_t at = size_t(i * n + r);
        if (r < 16) {
          EXPECT_EQ(fast[at], 0.0f);
          continue;
        }
        EXPECT_NEAR(fast[at], ref[at], 1e-4 * (1 + std::fabs(ref[at])))
            << (detail::q8x16_kernel_is_simd() ? "vnni" : "reference") << " m=" << m << " " << i << "," << r;
      }
  }
}

TEST(Q8Interleaved, ExtremeCodesAreExact) {
  // Codes −128 and 127 (stored 0 and 255) against activations ±127: dpbusd sums without saturating.
  const int64_t n = 16, k = 64;
  std::vector<uint8_t> rows(size_t(n) * 2 * sizeof(detail::BlockQ8_0));
  auto* blocks = reinterpret_cast<detail::BlockQ8_0*>(rows.data());
  for (int64_t i = 0; i < n * 2; ++i) {
    blocks[i].d = detail::f32_to_f16(1.0f);
    for (int l = 0; l < 32; ++l) blocks[i].qs[l] = int8_t(i % 2 ? -128 : 127);
  }
  std::vector<uint8_t> packed(rows.size());
  detail::interleave_q8_0(rows.data(), n, k, packed.data());
  const std::vector<float> x(size_t(k), -1.0f);  // codes −127, d = 1/127
  std::vector<uint8_t> a(detail::act_row_bytes_q8x16(k));
  detail::quantize_act_row_q8x16(x.data(), k, a.data());
  std::vector<float> y(static_cast<size_t>(n));
  detail::dot_groups_q8x16(packed.data(), 0, 1, a.data(), 1, k, y.data(), n);
  // (1/127) · (32 · 127 · (−127) + 32 · (−128) · (−127)) = 32
  for (int64_t r = 0; r < n; ++r) EXPECT_NEAR(y[size_t(r)], 32.0f, 1e-4) << r;
}

TEST(Q8Interleaved, MatmulMatchesTheRowLayout) {
  const int64_t n = 80, k = 512;
  const Pair p = make_pair(n, k, 4);
  const at::Tensor bias = at::randn({n});
  for (int64_t m : {1, 4, 9, 64, 300}) {  // 300: two panels of activation rows
    const at::Tensor x = at::randn({m, k});
    const at::Tensor want = linear(x, p.rows, bias), got = linear(x, p.packed, bias);
    // Both quantize the activations to 8 bits; the row kernels above 8 rows dequantize instead.
    const at::Tensor exact = linear_reference(x, p.packed, bias);
    EXPECT_TRUE(at::equal(exact, linear_reference(x, p.rows, bias))) << "m=" << m;
    const double tol = 0.02 * exact.abs().max().item<double>();
    EXPECT_LT((got - exact).abs().max().item<double>(), tol) << "m=" << m;
    EXPECT_LT((got - want).abs().max().item<double>(), tol) << "m=" << m;
    set_int8_activations(false);
    const at::Tensor f32_rows = linear(x, p.rows, bias), f32_packed = linear(x, p.packed, bias);
    set_int8_activations(true);
    EXPECT_TRUE(at::equal(f32_rows, f32_packed)) << "m=" << m << ": dequantized paths must agree bit for bit";
  }
}

TEST(Q8Interleaved, ForKernelsInterleavesOnlyWhatItCan) {
  const WeightMatrix q8 = WeightMatrix::quantize(at::randn({32, 64}), WType::kQ8_0);
  const WeightMatrix odd = WeightMatrix::quantize(at::randn({24, 64}), WType::kQ8_0);
  const WeightMatrix q4 = WeightMatrix::quantize(at::randn({32, 256}), WType::kQ4_K);
  EXPECT_EQ(odd.for_kernels().layout, Layout::kRows);
  EXPECT_EQ(q4.for_kernels().layout, Layout::kRows);
  const WeightMatrix packed = q8.for_kernels();
  if (!detail::q8x16_kernel_is_simd()) {
    EXPECT_EQ(packed.layout, Layout::kRows);
    GTEST_SKIP() << "no AVX-512 VNNI kernels here: q8_0 keeps its rows";
  }
  EXPECT_EQ(packed.layout, Layout::kInterleaved16);
  EXPECT_NE(packed.data, q8.data);
  EXPECT_EQ(packed.nbytes(), q8.nbytes());
  EXPECT_TRUE(at::equal(packed.dequantize(), q8.dequantize()));
  EXPECT_EQ(packed.for_kernels().data, packed.data);  // already interleaved
}

}  // namespace
}  // namespace pad::kernels
