// The integer products for quantized weights: each type's SIMD kernel equals its scalar reference
// (the same integer sums; only the float order of the per-block scaling differs), the reference
// equals the exact product of the dequantized weight with the dequantized 8-bit activations, and
// matmul through them stays within the activation quantization's error of the f32 product.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <ATen/ATen.h>

#include "../src/kernels/quant_dot.h"
#include "pad/kernels/weight.h"

namespace pad::kernels {
namespace {

constexpr WType kIntTypes[] = {WType::kQ8_0, WType::kQ4_0, WType::kQ4_K, WType::kQ5_K, WType::kQ6_K};

// Every instruction set of the integer kernels this CPU runs (the tests below run once per set).
std::vector<detail::IntIsa> isas() {
  std::vector<detail::IntIsa> out;
  for (detail::IntIsa isa : {detail::IntIsa::kReference, detail::IntIsa::kAvx2, detail::IntIsa::kAvx512Vnni})
    if (detail::int_isa_supported(isa)) out.push_back(isa);
  return out;
}

// Selects one instruction set for the scope.
class IsaScope {
 public:
  explicit IsaScope(detail::IntIsa isa) : old_(detail::int_isa()) { detail::set_int_isa(isa); }
  ~IsaScope() { detail::set_int_isa(old_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  detail::IntIsa old_;
};

// The activation row quantize_act_row wrote, back as floats (d · q per block).
std::vector<double> dequantize_act(WType type, const uint8_t* a, int64_t k) {
  std::vector<double> out(static_cast<size_t>(k));
  const bool small = type == WType::kQ8_0 || type == WType::kQ4_0;
  const int64_t block = small ? 32 : 256;
  // ActQ8x32 {float d; int8 qs[32]}, ActQ8x256 {float d; int8 qs[256]; int16 bsums[16]}
  const size_t header = 4, bytes = detail::act_row_bytes(type, block);
  for (int64_t b = 0; b < k / block; ++b) {
    const uint8_t* p = a + size_t(b) * bytes;
    float d;
    std::memcpy(&d, p, 4);
    for (int64_t l = 0; l < block; ++l) out[size_t(b * block + l)] = double(d) * double(int8_t(p[header + l]));
  }
  return out;
}

TEST(QuantDot, KernelEqualsReferenceEqualsDequantizedProduct) {
  at::NoGradGuard no_grad;
  at::manual_seed(11);
  for (WType type : kIntTypes)
    for (int64_t k : {96, 256, 512, 2048}) {  // 96: an odd count of 32-element blocks (a kernel's tail)
      if (k % (type == WType::kQ8_0 || type == WType::kQ4_0 ? 32 : 256) != 0) continue;
      const int64_t n = 24;
      // Weights with varied row scales and a few outliers, so every scale and min field is used.
      const at::Tensor wf = at::randn({n, k}) * at::rand({n, 1}) * 3 + at::randn({n, k}).pow(3) * 0.1;
      const WeightMatrix w = WeightMatrix::quantize(wf, type);
      const at::Tensor wd = w.dequantize().to(at::kDouble);  // [n, k] f64
      const at::Tensor x = at::randn({k}) * 2;                // [k] f32
      std::vector<uint8_t> a(detail::act_row_bytes(type, k));
      detail::quantize_act_row(type, x.data_ptr<float>(), k, a.data());
      const std::vector<double> xa = dequantize_act(type, a.data(), k);
      for (int64_t j = 0; j < n; ++j) {
        const uint8_t* row = w.data + size_t(j) * w.row_stride();
        double exact = 0, magnitude = 0;
        const double* wr = wd[j].data_ptr<double>();
        for (int64_t i = 0; i < k; ++i) {
          exact += wr[i] * xa[size_t(i)];
          magnitude += std::fabs(wr[i] * xa[size_t(i)]);
        }
        const float ref = detail::dot_reference(type)(row, a.data(), k);
        // f32 scaling and summation of k / 32 block sums: a few ulps of the sum of magnitudes.
        EXPECT_NEAR(ref, exact, 1e-6 * magnitude) << wtype_name(type) << " k=" << k << " row " << j;
        for (detail::IntIsa isa : isas()) {
          const IsaScope scope(isa);
          const float fast = detail::dot_kernel(type)(row, a.data(), k);
          EXPECT_NEAR(fast, ref, 1e-6 * magnitude)
              << wtype_name(type) << " " << detail::int_isa_name(isa) << " k=" << k << " row " << j;
        }
      }
    }
}

TEST(QuantDot, ManyActivationRowsEqualOneAtATime) {
  // dot_rows multiplies each weight row with up to four activation rows at once; every row count
  // 1..9 (full groups of four and each remainder) must give the single-row reference's numbers.
  at::NoGradGuard no_grad;
  at::manual_seed(3);
  for (WType type : kIntTypes) {
    const int64_t n = 7, k = 512;
    const WeightMatrix w = WeightMatrix::quantize(at::randn({n, k}), type);
    for (int64_t m = 1; m <= 9; ++m) {
      const at::Tensor x = at::randn({m, k});  // [m, k] f32
      const size_t as = detail::act_row_bytes(type, k);
      std::vector<uint8_t> a(as * size_t(m));
      for (int64_t i = 0; i < m; ++i) detail::quantize_act_row(type, x[i].data_ptr<float>(), k, a.data() + size_t(i) * as);
      for (detail::IntIsa isa : isas()) {
        const IsaScope scope(isa);
        std::vector<float> y(size_t(m * n));
        detail::dot_rows(type, w.data, w.row_stride(), n, a.data(), as, m, k, y.data(), n);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const float ref = detail::dot_reference(type)(w.data + size_t(j) * w.row_stride(), a.data() + size_t(i) * as, k);
            EXPECT_NEAR(y[size_t(i * n + j)], ref, 1e-4 * (1 + std::fabs(ref)))
                << wtype_name(type) << " " << detail::int_isa_name(isa) << " m=" << m << " row " << i << "," << j;
          }
      }
    }
  }
}

TEST(QuantDot, ExtremeCodesDoNotSaturate) {
  // Every weight code at its largest magnitude against activations at ±127: the 16-bit pair sums
  // of maddubs must not saturate (q6_K: 63·127·2, q8_0: 128·127·2 with the sign trick), nor the
  // VNNI kernels' four-product sums packed to 16 bits (q6_K: 63·127·4).
  at::NoGradGuard no_grad;
  const int64_t k = 256;
  for (WType type : kIntTypes) {
    at::Tensor wf = at::ones({2, k});
    wf[1] = -1;
    wf.index_put_({0, 0}, 1.0001);  // scales set by the largest value
    const WeightMatrix w = WeightMatrix::quantize(wf, type);
    const at::Tensor x = at::ones({k}) * -3;  // [k] f32: all activation codes −127
    std::vector<uint8_t> a(detail::act_row_bytes(type, k));
    detail::quantize_act_row(type, x.data_ptr<float>(), k, a.data());
    for (int64_t j = 0; j < 2; ++j) {
      const uint8_t* row = w.data + size_t(j) * w.row_stride();
      const double expect = (w.dequantize()[j].to(at::kDouble) * -3).sum().item<double>();
      for (detail::IntIsa isa : isas()) {
        const IsaScope scope(isa);
        EXPECT_NEAR(detail::dot_kernel(type)(row, a.data(), k), expect, 1e-3 * std::fabs(expect))
            << wtype_name(type) << " " << detail::int_isa_name(isa);
      }
    }
  }
}

TEST(QuantDot, MatmulStaysWithinActivationQuantizationError) {
  // 8-bit activations per block: each element off by at most d/2 = amax/254, so an output is off
  // by ≤ Σ|w|·amax/254 and in practice by ~sqrt(k) times less. Bound: 2% of the largest output.
  at::NoGradGuard no_grad;
  at::manual_seed(5);
  for (WType type : kIntTypes)
    for (int64_t m : {1, 2, 5, 8}) {  // q8_0/q4_0 use 8-bit activations up to 8 rows, k-quants up to 64
      const int64_t n = 45, k = 768;
      const WeightMatrix w = WeightMatrix::quantize(at::randn({n, k}), type);
      const at::Tensor x = at::randn({m, k});  // [m, k] f32
      const at::Tensor bias = at::randn({n});
      const at::Tensor y = linear(x, w, bias), ref = linear_reference(x, w, bias);  // [m, n]
      const double err = (y - ref).abs().max().item<double>() / ref.abs().max().item<double>();
      EXPECT_LE(err, 0.02) << wtype_name(type) << " m=" << m;
      // The f32 path is ~1e-6 off (test_kernels_weight); 8-bit activations must show.
      EXPECT_GT(err, 1e-4) << "the integer path was not taken for " << wtype_name(type);
    }
}

TEST(QuantDot, SimdKernelIsUsedOnAvx2) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this CPU";
  for (WType type : kIntTypes) EXPECT_TRUE(detail::dot_kernel_is_simd(type)) << wtype_name(type);
  // The best set this CPU has is the one in use (unless PAD_INT_ISA asks for less).
  if (std::getenv("PAD_INT_ISA") == nullptr) {
    const bool vnni = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    EXPECT_EQ(detail::int_isa(), vnni ? detail::IntIsa::kAvx512Vnni : detail::IntIsa::kAvx2);
  }
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

}  // namespace
}  // namespace pad::kernels
