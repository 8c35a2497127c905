// WeightMatrix products against linear_reference for every stored type, dequantization bit-exact
// against tests/quant_oracle.py (numpy), quantization error bounds, row-size errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <ATen/ATen.h>

#include "pad/kernels/weight.h"

namespace pad::kernels {
namespace {

constexpr WType kTypes[] = {WType::kF32,  WType::kF16,  WType::kBF16, WType::kQ8_0,
                            WType::kQ4_0, WType::kQ4_K, WType::kQ5_K, WType::kQ6_K};

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);  // [..] f64
  const double scale = std::max(e.abs().max().item<double>(), 1e-30);
  return (a - e).abs().max().item<double>() / scale;
}

TEST(WeightKernels, MatmulMatchesReferenceForEveryType) {
  at::NoGradGuard no_grad;
  at::manual_seed(7);
  for (WType type : kTypes)
    for (int64_t k : {256, 768})
      for (int64_t m : {1, 2, 3, 4, 7, 16, 33, 64, 65, 130}) {
        const int64_t n = 37;  // odd: a ragged last 16-row block, an odd thread split
        const WeightMatrix w = WeightMatrix::quantize(at::randn({n, k}), type);
        const at::Tensor x = at::randn({m, k});     // [m, k] f32
        const at::Tensor bias = at::randn({n});     // [n] f32
        const at::Tensor y = linear(x, w, bias);    // [m, n] f32
        ASSERT_EQ(y.sizes(), (at::IntArrayRef{m, n}));
        // Float types, and quantized ones past 64 rows (sgemm over dequantized panels), multiply
        // f32 activations with exactly dequantized weights: the only difference from the
        // double-accumulated reference is f32 summation order over k ≤ 768, ~sqrt(k)·2^-24
        // relative per output, so 1e-4 of the largest output leaves a wide margin. Quantized
        // types up to 64 rows quantize the activations to 8 bits per block (test_quant_dot):
        // within 2% of the largest output.
        const bool int8_acts = !w.is_float() && m <= ((type == WType::kQ8_0 || type == WType::kQ4_0) ? 8 : 64);
        EXPECT_LE(relative_error(y, linear_reference(x, w, bias)), int8_acts ? 2e-2 : 1e-4)
            << wtype_name(type) << " m=" << m << " k=" << k;
      }
}

TEST(WeightKernels, FloatTypesAcceptOddK) {
  at::NoGradGuard no_grad;
  for (WType type : {WType::kF32, WType::kF16, WType::kBF16}) {
    const WeightMatrix w = WeightMatrix::quantize(at::randn({19, 33}), type);
    const at::Tensor x = at::randn({5, 33});  // [m, k] f32
    EXPECT_LE(relative_error(linear(x, w), linear_reference(x, w)), 1e-5) << wtype_name(type);
  }
}

// Relative RMS error of quantize → dequantize on Gaussian weights. Bounds: about 1.5× what the
// bits allow (q8_0 ~0.4%, q6_K ~1%, q5_K ~3%, q4_0 ~10%, q4_K ~6%; bf16 8 mantissa bits, f16 11).
TEST(WeightKernels, QuantizationErrorIsBounded) {
  at::manual_seed(3);
  const at::Tensor t = at::randn({64, 512});  // [n, k] f32
  const std::pair<WType, double> bounds[] = {
      {WType::kF32, 0.0},   {WType::kF16, 5e-4},  {WType::kBF16, 4e-3}, {WType::kQ8_0, 8e-3},
      {WType::kQ4_0, 0.15}, {WType::kQ4_K, 0.10}, {WType::kQ5_K, 0.05}, {WType::kQ6_K, 0.02}};
  for (auto [type, bound] : bounds) {
    const at::Tensor back = WeightMatrix::quantize(t, type).dequantize();  // [n, k] f32
    const double rel = ((back - t).pow(2).mean() / t.pow(2).mean()).sqrt().item<double>();
    EXPECT_LE(rel, bound) << wtype_name(type);
    if (type != WType::kF32) {
      EXPECT_GT(rel, 0.0) << wtype_name(type) << " cannot be lossless";
    }
  }
}

TEST(WeightKernels, RowBytesRefusesPartialBlocks) {
  EXPECT_EQ(row_bytes(WType::kQ4_K, 512), 288u);
  EXPECT_EQ(row_bytes(WType::kQ8_0, 64), 68u);
  try {
    (void)row_bytes(WType::kQ6_K, 300, "blk.0.ffn_down.weight");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("blk.0.ffn_down.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("300"), std::string::npos) << what;
    EXPECT_NE(what.find("256"), std::string::npos) << what;
  }
  EXPECT_THROW(WeightMatrix::quantize(at::randn({2, 40}), WType::kQ8_0), std::invalid_argument);
  EXPECT_THROW(parse_wtype("q3_K"), std::invalid_argument);
  EXPECT_EQ(parse_wtype("Q4_k"), WType::kQ4_K);
}

TEST(WeightKernels, GatherRowsMatchesDequantize) {
  const WeightMatrix w = WeightMatrix::quantize(at::randn({10, 256}), WType::kQ5_K);
  const at::Tensor all = w.dequantize();             // [10, 256] f32
  const at::Tensor some = w.gather_rows({7, 0, 7});  // [3, 256] f32
  EXPECT_TRUE(at::equal(some[0], all[7]) && at::equal(some[1], all[0]) && at::equal(some[2], all[7]));
  EXPECT_THROW(w.gather_rows({10}), std::invalid_argument);
}

// Blocks with hand-set extreme fields: every scale/min byte 0xFF (6-bit fields at 63, the packed
// high bits set), f16 scales at the largest finite half and at a subnormal.
std::vector<uint8_t> extreme_blocks(WType type) {
  std::vector<uint8_t> bytes(block_bytes(type) * 4);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 37 + 11);
  const uint16_t halves[4] = {0x7BFF, 0x0001, 0xFBFF, 0x3C00};  // 65504, 2^-24, -65504, 1
  for (int b = 0; b < 4; ++b) {
    uint8_t* p = bytes.data() + size_t(b) * block_bytes(type);
    if (type == WType::kQ6_K) {
      std::memcpy(p + 208, &halves[b], 2);
    } else {
      std::memcpy(p, &halves[b], 2);
      if (type == WType::kQ4_K || type == WType::kQ5_K) {
        std::memcpy(p + 2, &halves[3 - b], 2);
        if (b == 0) std::memset(p + 4, 0xFF, 12);
      }
    }
  }
  return bytes;
}

// Debian's python3 (scripts/setup installs python3-numpy there), not whatever python3 PATH finds.
std::string python() { return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

TEST(WeightKernels, DequantizationMatchesNumpyOracle) {
  if (std::system((python() + " -c 'import numpy' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "python3 with numpy is not installed (scripts/setup installs python3-numpy)";
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "pad_quant_oracle";
  std::filesystem::create_directories(dir);
  at::manual_seed(11);
  for (WType type : {WType::kF16, WType::kBF16, WType::kQ8_0, WType::kQ4_0, WType::kQ4_K, WType::kQ5_K,
                     WType::kQ6_K})
    for (bool extreme : {false, true}) {
      std::vector<uint8_t> bytes;
      int64_t n_elems = 0;
      if (extreme) {
        bytes = extreme_blocks(type);
        n_elems = 4 * block_elems(type);
      } else {
        const WeightMatrix w = WeightMatrix::quantize(at::randn({3, 512}) * 3.0, type);
        bytes.assign(w.data, w.data + w.nbytes());
        n_elems = 3 * 512;
      }
      std::vector<float> ours(static_cast<size_t>(n_elems));
      dequantize_row_ref(type, bytes.data(), ours.data(), n_elems);
      const std::filesystem::path in = dir / "in.bin", out = dir / "out.bin";
      std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      const std::string cmd = python() + " " + PAD_SOURCE_DIR + "/tests/quant_oracle.py " +
                              wtype_name(type) + " " + in.string() + " " + out.string();
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
      std::vector<float> theirs(static_cast<size_t>(n_elems));
      std::ifstream(out, std::ios::binary).read(reinterpret_cast<char*>(theirs.data()), std::streamsize(n_elems * 4));
      // Bit-exact: both do the same float32 operations in ggml's order.
      EXPECT_EQ(std::memcmp(ours.data(), theirs.data(), size_t(n_elems) * 4), 0)
          << wtype_name(type) << (extreme ? " (hand-made blocks)" : " (quantized blocks)");
    }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pad::kernels
