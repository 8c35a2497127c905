// q8_0, q4_K, q5_K and q6_K matrices interleaved by 16 rows (src/kernels/interleaved.h): the layout holds the
// same blocks (round trip, bit-exact dequantization), its reference computes exactly the row layout's
// integer sums, its VNNI kernel equals the reference for every activation row count, and matmul
// over it matches matmul over the rows — decode and prefill, with a bias, with int8 activations off.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <ATen/ATen.h>

#include "../src/kernels/interleaved.h"
#include "../src/kernels/quant_dot.h"
#include "pad/kernels/weight.h"

namespace pad::kernels {
namespace {

// A q8_0 matrix with varied row scales and outliers, and its interleaved copy (built directly, so
// the tests run on CPUs whose kernels would not interleave: there the product is the reference).
constexpr WType kTypes[] = {WType::kQ8_0, WType::kQ4_K, WType::kQ5_K, WType::kQ6_K};

struct Pair {
  WeightMatrix rows, packed;
};
Pair make_pair(WType type, int64_t n, int64_t k, uint64_t seed) {
  at::manual_seed(seed);
  const at::Tensor wf = at::randn({n, k}) * at::rand({n, 1}) * 3 + at::randn({n, k}).pow(3) * 0.1;
  Pair p;
  p.rows = WeightMatrix::quantize(wf, type);
  const size_t bytes_len = size_t(n / 16) * detail::interleaved_group_bytes(type, k);
  at::Tensor bytes = at::empty({int64_t(bytes_len)}, at::kByte);  // [n/16 groups] u8
  detail::interleave_rows(type, p.rows.data, n, k, bytes.data_ptr<uint8_t>());
  p.packed = WeightMatrix::from_bytes(type, n, k, bytes.data_ptr<uint8_t>(), bytes);
  p.packed.layout = Layout::kInterleaved16;
  return p;
}

std::vector<uint8_t> quantize_acts(WType type, const at::Tensor& x) {  // x [m, k] f32
  const int64_t m = x.size(0), k = x.size(1);
  const size_t as = detail::interleaved_act_row_bytes(type, k);
  std::vector<uint8_t> a(as * size_t(m));
  for (int64_t i = 0; i < m; ++i) detail::quantize_interleaved_act_row(type, x[i].data_ptr<float>(), k, a.data() + i * as);
  return a;
}

TEST(Interleaved, HoldsTheSameBlocks) {
  for (WType type : kTypes) {
    const int64_t n = 48, k = type == WType::kQ8_0 ? 96 : 512;
    const Pair p = make_pair(type, n, k, 1);
    std::vector<float> a(size_t(k), 0.0f), b(size_t(k), 1.0f);
    for (int64_t r = 0; r < n; ++r) {
      if (type == WType::kQ8_0) {
        std::vector<uint8_t> row(p.rows.row_stride());
        detail::deinterleave_q8_0_row(p.packed.data, r, k, row.data());
        EXPECT_EQ(std::memcmp(row.data(), p.rows.data + size_t(r) * p.rows.row_stride(), row.size()), 0) << "row " << r;
      }
      p.rows.dequantize_row(r, a.data());
      p.packed.dequantize_row(r, b.data());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << wtype_name(type) << " row " << r;
    }
    EXPECT_TRUE(at::equal(p.rows.dequantize(), p.packed.dequantize())) << wtype_name(type);
    EXPECT_TRUE(at::equal(p.rows.gather_rows({47, 0, 17}), p.packed.gather_rows({47, 0, 17}))) << wtype_name(type);
    const WeightMatrix view = p.packed.rows(16, 32);
    EXPECT_EQ(view.n, 32);
    EXPECT_TRUE(at::equal(view.dequantize(), p.rows.dequantize().narrow(0, 16, 32))) << wtype_name(type);
    EXPECT_THROW(p.packed.rows(8, 16), std::invalid_argument);
    EXPECT_THROW(p.packed.rows(16, 8), std::invalid_argument);
  }
}

TEST(Interleaved, ReferenceIsTheRowLayoutsIntegerSum) {
  // Same activation codes and scales, same integer sums per block (q8_0's +128 offset undone
  // exactly), same float order: the interleaved reference equals the row reference bit for bit.
  for (WType type : kTypes) {
    const int64_t n = 32, k = 512, m = 3;
    const Pair p = make_pair(type, n, k, 2);
    const at::Tensor x = at::randn({m, k}) * 2;  // [m, k] f32
    const std::vector<uint8_t> a = quantize_acts(type, x);
    const size_t as_rows = detail::act_row_bytes(type, k);
    std::vector<uint8_t> a_rows(as_rows * m);
    for (int64_t i = 0; i < m; ++i) detail::quantize_act_row(type, x[i].data_ptr<float>(), k, a_rows.data() + i * as_rows);
    std::vector<float> y(size_t(m * n));
    detail::dot_groups_ref(type, p.packed.data, 0, n / 16, a.data(), m, k, y.data(), n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t r = 0; r < n; ++r)
        EXPECT_EQ(y[size_t(i * n + r)], detail::dot_reference(type)(p.rows.data + size_t(r) * p.rows.row_stride(),
                                                                     a_rows.data() + i * as_rows, k))
            << wtype_name(type) << " " << i << "," << r;
  }
}

// Runs `body` once under each integer instruction set this CPU has (AVX2 and, where present,
// AVX-512 VNNI), so the AVX2 kernels are checked on machines whose default is VNNI.
template <typename Body>
void for_each_isa(Body body) {
  const detail::IntIsa before = detail::int_isa();
  for (detail::IntIsa isa : {detail::IntIsa::kReference, detail::IntIsa::kAvx2, detail::IntIsa::kAvx512Vnni}) {
    if (!detail::int_isa_supported(isa)) continue;
    detail::set_int_isa(isa);
    body();
  }
  detail::set_int_isa(before);
}

TEST(Interleaved, KernelEqualsReferenceForEveryRowCount) {
  for_each_isa([] {
    for (WType type : kTypes) {
      const int64_t n = 64, k = 768;
      const Pair p = make_pair(type, n, k, 3);
      for (int64_t m : {1, 2, 3, 4, 5, 8, 9, 17}) {
        const std::vector<uint8_t> a = quantize_acts(type, at::randn({m, k}));
        std::vector<float> fast(size_t(m * n)), ref(size_t(m * n));
        // Groups [1, 4) only: the kernel writes its own groups and nothing else.
        detail::dot_groups(type, p.packed.data, 1, 4, a.data(), m, k, fast.data(), n);
        detail::dot_groups_ref(type, p.packed.data, 1, 4, a.data(), m, k, ref.data(), n);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t r = 0; r < n; ++r) {
            const size_t at = size_t(i * n + r);
            if (r < 16) {
              EXPECT_EQ(fast[at], 0.0f);
              continue;
            }
            EXPECT_NEAR(fast[at], ref[at], 1e-4 * (1 + std::fabs(ref[at])))
                << wtype_name(type) << " "
                << (detail::interleaved_kernels_are_simd(type) ? detail::int_isa_name(detail::int_isa()) : "reference")
                << " m=" << m << " " << i << "," << r;
          }
      }
    }
  });
}

TEST(Interleaved, ExtremeQ8CodesAreExact) {
  // Codes −128 and 127 (stored 0 and 255) against activations ±127: dpbusd (VNNI) and maddubs with the
  // sign trick (AVX2) sum without saturating.
  const int64_t n = 16, k = 64;
  std::vector<uint8_t> rows(size_t(n) * 2 * sizeof(detail::BlockQ8_0));
  auto* blocks = reinterpret_cast<detail::BlockQ8_0*>(rows.data());
  for (int64_t i = 0; i < n * 2; ++i) {
    blocks[i].d = detail::f32_to_f16(1.0f);
    for (int l = 0; l < 32; ++l) blocks[i].qs[l] = int8_t(i % 2 ? -128 : 127);
  }
  std::vector<uint8_t> packed(rows.size());
  detail::interleave_rows(WType::kQ8_0, rows.data(), n, k, packed.data());
  const std::vector<float> x(size_t(k), -1.0f);  // codes −127, d = 1/127
  std::vector<uint8_t> a(detail::interleaved_act_row_bytes(WType::kQ8_0, k));
  detail::quantize_interleaved_act_row(WType::kQ8_0, x.data(), k, a.data());
  for_each_isa([&] {
    std::vector<float> y(static_cast<size_t>(n));
    detail::dot_groups(WType::kQ8_0, packed.data(), 0, 1, a.data(), 1, k, y.data(), n);
    // (1/127) · (32 · 127 · (−127) + 32 · (−128) · (−127)) = 32
    for (int64_t r = 0; r < n; ++r) EXPECT_NEAR(y[size_t(r)], 32.0f, 1e-4) << detail::int_isa_name(detail::int_isa()) << " " << r;
  });
}

TEST(Interleaved, MatmulMatchesTheRowLayout) {
  for (WType type : kTypes) {
    const int64_t n = 80, k = 512;
    const Pair p = make_pair(type, n, k, 4);
    const at::Tensor bias = at::randn({n});
    for (int64_t m : {1, 4, 9, 64, 300}) {  // 300: two panels of activation rows
      const at::Tensor x = at::randn({m, k});
      const at::Tensor want = linear(x, p.rows, bias), got = linear(x, p.packed, bias);
      // Both quantize the activations to 8 bits (the row kernels dequantize above 8 rows for q8_0, 64
      // for the k-quants).
      const at::Tensor exact = linear_reference(x, p.packed, bias);
      EXPECT_TRUE(at::equal(exact, linear_reference(x, p.rows, bias))) << wtype_name(type) << " m=" << m;
      const double tol = 0.02 * exact.abs().max().item<double>();
      EXPECT_LT((got - exact).abs().max().item<double>(), tol) << wtype_name(type) << " m=" << m;
      EXPECT_LT((got - want).abs().max().item<double>(), tol) << wtype_name(type) << " m=" << m;
      set_int8_activations(false);
      const at::Tensor f32_rows = linear(x, p.rows, bias), f32_packed = linear(x, p.packed, bias);
      set_int8_activations(true);
      EXPECT_TRUE(at::equal(f32_rows, f32_packed))
          << wtype_name(type) << " m=" << m << ": dequantized paths must agree bit for bit";
    }
  }
}

TEST(Interleaved, ForKernelsInterleavesOnlyWhatItCan) {
  const WeightMatrix odd = WeightMatrix::quantize(at::randn({24, 64}), WType::kQ8_0);
  const WeightMatrix q4_0 = WeightMatrix::quantize(at::randn({32, 256}), WType::kQ4_0);
  EXPECT_EQ(odd.for_kernels().layout, Layout::kRows);
  EXPECT_EQ(q4_0.for_kernels().layout, Layout::kRows);
  for (WType type : kTypes) {
    const WeightMatrix rows = WeightMatrix::quantize(at::randn({32, 256}), type);
    const WeightMatrix packed = rows.for_kernels();
    if (!detail::interleaved_kernels_are_simd(type)) {
      EXPECT_EQ(packed.layout, Layout::kRows);
      continue;
    }
    EXPECT_EQ(packed.layout, Layout::kInterleaved16) << wtype_name(type);
    EXPECT_NE(packed.data, rows.data);
    EXPECT_TRUE(at::equal(packed.dequantize(), rows.dequantize())) << wtype_name(type);
    EXPECT_EQ(packed.for_kernels().data, packed.data);  // already interleaved
  }
}

}  // namespace
}  // namespace pad::kernels
