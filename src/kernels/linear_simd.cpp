// Highway kernels for y = x·wᵀ with few rows in x: each weight row is loaded once per register tile
// and multiplied into up to kTileRows rows of x; compiled per SIMD target and dispatched at runtime.
#include "linear_simd.h"

#include <cstring>

#include "blocks.h"

#undef HWY_TARGET_INCLUDE
// Re-included once per SIMD target by foreach_target.h, found through the include/ directory that
// pad_util exports (quoted includes search the including header's folder, /usr/include/hwy, first).
#define HWY_TARGET_INCLUDE "../src/kernels/linear_simd.cpp"
#include <hwy/foreach_target.h>  // must precede highway.h
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace pad::kernels::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Register tile: kTileRows rows of x times kTileCols weight rows = 16 accumulators, plus 4 weight
// vectors and 1 x vector in flight; fits the 32 AVX-512 registers (AVX2's 16 spill a little).
constexpr int kTileRows = 4;
constexpr int kTileCols = 4;

HWY_INLINE VF load_weights(DF d, const float* HWY_RESTRICT p) { return hn::LoadU(d, p); }
HWY_INLINE VF load_weights(DF d, const hwy::bfloat16_t* HWY_RESTRICT p) {
  const hn::Rebind<hwy::bfloat16_t, DF> d_bf16;
  return hn::PromoteTo(d, hn::LoadU(d_bf16, p));  // bf16 is the upper half of an f32
}
HWY_INLINE VF load_weights(DF d, const hwy::float16_t* HWY_RESTRICT p) {
  const hn::Rebind<hwy::float16_t, DF> d_f16;
  return hn::PromoteTo(d, hn::LoadU(d_f16, p));  // F16C on AVX2
}
HWY_INLINE float to_f32(float v) { return v; }
HWY_INLINE float to_f32(hwy::bfloat16_t v) { return hwy::F32FromBF16(v); }
HWY_INLINE float to_f32(hwy::float16_t v) {
  uint16_t bits;
  std::memcpy(&bits, &v, 2);
  return f16_to_f32(bits);
}

#if HWY_TARGET != HWY_SCALAR  // 1-lane vectors have no blocks to transpose
// Adds the 128-bit blocks of v: [v0+v4+.., v1+v5+.., v2+.., v3+..].
template <class D>
HWY_INLINE hn::Vec<hn::Full128<float>> add_blocks(D d, hn::Vec<D> v) {
  if constexpr (hn::MaxLanes(D()) <= 4) {
    return v;
  } else {
    const hn::Half<D> dh;
    return add_blocks(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
}

// [sum(a0), sum(a1), sum(a2), sum(a3)] in one 128-bit vector: a transpose-and-add tree, about a
// quarter of the shuffles of four separate SumOfLanes.
template <class D>
HWY_INLINE hn::Vec<hn::Full128<float>> sum_of_four(D d, hn::Vec<D> a0, hn::Vec<D> a1,
                                                   hn::Vec<D> a2, hn::Vec<D> a3) {
  // Per 128-bit block: [a0_0+a0_2, a1_0+a1_2, a0_1+a0_3, a1_1+a1_3], likewise for a2, a3.
  const auto t01 = hn::Add(hn::InterleaveLower(d, a0, a1), hn::InterleaveUpper(d, a0, a1));
  const auto t23 = hn::Add(hn::InterleaveLower(d, a2, a3), hn::InterleaveUpper(d, a2, a3));
  const hn::RepartitionToWide<D> d64;  // pairs of f32 moved as one 64-bit lane
  const auto lo = hn::InterleaveLower(d64, hn::BitCast(d64, t01), hn::BitCast(d64, t23));
  const auto hi = hn::InterleaveUpper(d64, hn::BitCast(d64, t01), hn::BitCast(d64, t23));
  return add_blocks(d, hn::Add(hn::BitCast(d, lo), hn::BitCast(d, hi)));  // per block: 4 sums
}
#endif  // HWY_TARGET != HWY_SCALAR

// y[i, j] = dot(x[i, :], w[j, :]) + bias[j] for i < kRows, j < kCols. x, w, y, bias point at the
// tile's first row/column; x: [kRows, k] f32, w: [kCols, k], y: row stride ldy, bias may be null.
// kPrefetch: also prefetch the next kCols weight rows, one cache line per row per step, so the
// next tile's rows arrive while this one computes (the hardware prefetcher alone reaches about
// half the streaming bandwidth on this access pattern).
template <int kRows, int kCols, bool kPrefetch, typename WeightT>
HWY_INLINE void tile(const float* HWY_RESTRICT x, int64_t k, const WeightT* HWY_RESTRICT w,
                     const float* HWY_RESTRICT bias, float* HWY_RESTRICT y, int64_t ldy) {
  const DF d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  VF acc[kRows][kCols];
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < kCols; ++j) acc[i][j] = hn::Zero(d);

  int64_t kk = 0;
  for (; kk + lanes <= k; kk += lanes) {
    VF wv[kCols];
    for (int j = 0; j < kCols; ++j) {
      if constexpr (kPrefetch) hwy::Prefetch(w + (kCols + j) * k + kk);
      wv[j] = load_weights(d, w + j * k + kk);
    }
    for (int i = 0; i < kRows; ++i) {
      const VF xv = hn::LoadU(d, x + i * k + kk);
      for (int j = 0; j < kCols; ++j) acc[i][j] = hn::MulAdd(xv, wv[j], acc[i][j]);
    }
  }
  float rest[kRows][kCols] = {};  // bias plus the k % lanes leftover products (odd K only)
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < kCols; ++j) rest[i][j] = bias != nullptr ? bias[j] : 0.0f;
  for (; kk < k; ++kk)
    for (int i = 0; i < kRows; ++i)
      for (int j = 0; j < kCols; ++j) rest[i][j] += x[i * k + kk] * to_f32(w[j * k + kk]);

#if HWY_TARGET != HWY_SCALAR
  if constexpr (kCols == 4) {
    const hn::Full128<float> d4;
    for (int i = 0; i < kRows; ++i) {
      const auto sums = sum_of_four(d, acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      hn::StoreU(hn::Add(sums, hn::LoadU(d4, rest[i])), d4, y + i * ldy);
    }
    return;
  }
#endif
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < kCols; ++j)
      y[i * ldy + j] = hn::GetLane(hn::SumOfLanes(d, acc[i][j])) + rest[i][j];
}

// All n_rows_x rows of x against kCols weight rows starting at w: full row tiles, then the rest.
// Only the first row tile prefetches the next group's rows; later tiles find this group's rows in
// L1/L2. (Measured on Zen 5, 2 threads: +10-30% for bf16 weights at M = 1 and for f32 at M = 16,
// no change for f32 at M = 1.)
template <int kCols, typename WeightT>
HWY_INLINE void column_group(const float* HWY_RESTRICT x, int64_t n_rows_x, int64_t k,
                             const WeightT* HWY_RESTRICT w, const float* HWY_RESTRICT bias,
                             float* HWY_RESTRICT y, int64_t ldy) {
  int64_t m = 0;
  if (n_rows_x >= kTileRows) {
    tile<kTileRows, kCols, true>(x, k, w, bias, y, ldy);
    m = kTileRows;
  }
  for (; m + kTileRows <= n_rows_x; m += kTileRows)
    tile<kTileRows, kCols, false>(x + m * k, k, w, bias, y + m * ldy, ldy);
  const float* x_m = x + m * k;
  float* y_m = y + m * ldy;
  static_assert(kTileRows == 4, "the switch below covers remainders 1..3");
  switch (n_rows_x - m) {  // only reached with m == 0 when n_rows_x < kTileRows: prefetch then
    case 3: tile<3, kCols, true>(x_m, k, w, bias, y_m, ldy); break;
    case 2: tile<2, kCols, true>(x_m, k, w, bias, y_m, ldy); break;
    case 1: tile<1, kCols, true>(x_m, k, w, bias, y_m, ldy); break;
    default: break;
  }
}

// Weight rows [n_begin, n_end) in groups of kTileCols, then single rows. (Alternating two distant
// halves of the range, for more read streams per thread, measured no better here.)
template <typename WeightT>
void linear_rows(const float* HWY_RESTRICT x, int64_t n_rows_x, int64_t k,
                 const WeightT* HWY_RESTRICT w, const float* HWY_RESTRICT bias,
                 float* HWY_RESTRICT y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kTileCols <= n_end; n += kTileCols)
    column_group<kTileCols>(x, n_rows_x, k, w + n * k, bias ? bias + n : nullptr, y + n, ldy);
  for (; n < n_end; ++n)
    column_group<1>(x, n_rows_x, k, w + n * k, bias ? bias + n : nullptr, y + n, ldy);
}

void linear_rows_f32(const float* x, int64_t n_rows_x, int64_t k, const float* w,
                     const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  linear_rows(x, n_rows_x, k, w, bias, y, ldy, n_begin, n_end);
}

void linear_rows_bf16(const float* x, int64_t n_rows_x, int64_t k, const uint16_t* w,
                      const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  linear_rows(x, n_rows_x, k, reinterpret_cast<const hwy::bfloat16_t*>(w), bias, y, ldy, n_begin,
              n_end);
}

void linear_rows_f16(const float* x, int64_t n_rows_x, int64_t k, const uint16_t* w,
                     const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  linear_rows(x, n_rows_x, k, reinterpret_cast<const hwy::float16_t*>(w), bias, y, ldy, n_begin, n_end);
}

// Reads four quarters of p[0..n) side by side, two vectors each, into 8 independent accumulators:
// more streams in flight than one thread's sequential read, so the probe reports what a streaming
// read can reach.
double sum_floats(const float* HWY_RESTRICT p, size_t n) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  const size_t quarter = n / 4 / (2 * lanes) * (2 * lanes);  // floats per stream in the vector loop
  VF s[8];
  for (VF& v : s) v = hn::Zero(d);
  for (size_t i = 0; i < quarter; i += 2 * lanes)
    for (size_t q = 0; q < 4; ++q) {
      s[2 * q] = hn::Add(s[2 * q], hn::LoadU(d, p + q * quarter + i));
      s[2 * q + 1] = hn::Add(s[2 * q + 1], hn::LoadU(d, p + q * quarter + i + lanes));
    }
  for (int i = 1; i < 8; ++i) s[0] = hn::Add(s[0], s[i]);
  double total = hn::GetLane(hn::SumOfLanes(d, s[0]));
  for (size_t i = 4 * quarter; i < n; ++i) total += p[i];
  return total;
}

}  // namespace pad::kernels::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace pad::kernels::detail {

HWY_EXPORT(linear_rows_f32);
HWY_EXPORT(linear_rows_bf16);
HWY_EXPORT(linear_rows_f16);
HWY_EXPORT(sum_floats);

void linear_rows_f32(const float* x, int64_t n_rows_x, int64_t k, const float* w,
                     const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  HWY_DYNAMIC_DISPATCH(linear_rows_f32)(x, n_rows_x, k, w, bias, y, ldy, n_begin, n_end);
}

void linear_rows_bf16(const float* x, int64_t n_rows_x, int64_t k, const uint16_t* w,
                      const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  HWY_DYNAMIC_DISPATCH(linear_rows_bf16)(x, n_rows_x, k, w, bias, y, ldy, n_begin, n_end);
}

void linear_rows_f16(const float* x, int64_t n_rows_x, int64_t k, const uint16_t* w,
                     const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end) {
  HWY_DYNAMIC_DISPATCH(linear_rows_f16)(x, n_rows_x, k, w, bias, y, ldy, n_begin, n_end);
}

double sum_floats(const float* p, size_t n) { return HWY_DYNAMIC_DISPATCH(sum_floats)(p, n); }

}  // namespace pad::kernels::detail
#endif  // HWY_ONCE
