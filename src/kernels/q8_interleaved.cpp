// q8_0 rows interleaved by 16 (q8_interleaved.h): the layout conversions, the activation quantizer,
// the scalar reference and the AVX-512 VNNI kernel for any number of activation rows.
#include "q8_interleaved.h"

#include <algorithm>
#include <cstring>

#include "quant_dot.h"
#include "pad/util/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PAD_HAVE_Q8X16_SIMD 1
#define PAD_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#else
#define PAD_HAVE_Q8X16_SIMD 0
#endif

namespace pad::kernels::detail {
namespace {

const BlockQ8x16* group_blocks(const uint8_t* packed, int64_t g, int64_t nb) {
  return reinterpret_cast<const BlockQ8x16*>(packed) + g * nb;
}
const ActQ8x32s* act_blocks(const uint8_t* acts, int64_t i, int64_t k) {
  return reinterpret_cast<const ActQ8x32s*>(acts + size_t(i) * act_row_bytes_q8x16(k));
}

#if PAD_HAVE_Q8X16_SIMD
// R activation rows against the 16 rows of one group: per block, eight 64-byte weight loads shared
// by the R rows, and per row eight dpbusd with the activation dword broadcast, in two chains (the
// second starts at zero, the first at the block's offset), then one scale and multiply-add.
template <int R>
PAD_AVX512 void vnni_group(const BlockQ8x16* w, int64_t nb, const ActQ8x32s* const* a, float* const* y,
                           bool prefetch) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ8x16& blk = w[b];
    if (prefetch) {  // a block and a bit ahead: the first pass over the group streams it from memory
      const char* ahead = reinterpret_cast<const char*>(&blk) + 1024;
      for (int l = 0; l < int(sizeof(BlockQ8x16)); l += 64) _mm_prefetch(ahead + l, _MM_HINT_T0);
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.d)));
    __m512i q[kQK / 4];
    for (int j = 0; j < kQK / 4; ++j) q[j] = _mm512_loadu_si512(blk.qs[j]);
    for (int r = 0; r < R; ++r) {
      const ActQ8x32s& ab = a[r][b];
      __m512i s0 = _mm512_set1_epi32(ab.offset), s1 = _mm512_setzero_si512();
      for (int j = 0; j < kQK / 4; j += 2) {  // four codes broadcast from memory (no GPR round trip)
        s0 = _mm512_dpbusd_epi32(s0, q[j], _mm512_broadcastd_epi32(_mm_loadu_si32(ab.qs + 4 * j)));
        s1 = _mm512_dpbusd_epi32(s1, q[j + 1], _mm512_broadcastd_epi32(_mm_loadu_si32(ab.qs + 4 * j + 4)));
      }
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(ab.d));
      acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y[r], acc[r]);
}

template <int R>
void vnni_rows(const BlockQ8x16* w, int64_t nb, const uint8_t* acts, int64_t i, int64_t k, float* y, int64_t ldy,
               bool prefetch) {
  const ActQ8x32s* a[R];
  float* out[R];
  for (int r = 0; r < R; ++r) a[r] = act_blocks(acts, i + r, k), out[r] = y + (i + r) * ldy;
  vnni_group<R>(w, nb, a, out, prefetch);
}

using RowsFn = void (*)(const BlockQ8x16*, int64_t, const uint8_t*, int64_t, int64_t, float*, int64_t, bool);
constexpr RowsFn kVnniRows[4] = {vnni_rows<1>, vnni_rows<2>, vnni_rows<3>, vnni_rows<4>};
#endif

}  // namespace

void interleave_q8_0(const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst) {
  PAD_CHECK(n % kInterleave == 0 && k % kQK == 0, "interleave_q8_0: [", n, ", ", k, "] is not [16·g, 32·b]");
  const int64_t nb = k / kQK;
  const auto* src = reinterpret_cast<const BlockQ8_0*>(rows);
  auto* out = reinterpret_cast<BlockQ8x16*>(dst);
  for (int64_t g = 0; g < n / kInterleave; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      BlockQ8x16& blk = out[g * nb + b];
      for (int r = 0; r < kInterleave; ++r) {
        const BlockQ8_0& in = src[(g * kInterleave + r) * nb + b];
        blk.d[r] = in.d;
        for (int l = 0; l < kQK; ++l) blk.qs[l / 4][r][l % 4] = uint8_t(int(in.qs[l]) + 128);
      }
    }
}

void deinterleave_q8_0_row(const uint8_t* packed, int64_t r, int64_t k, uint8_t* dst) {
  const int64_t nb = k / kQK;
  const BlockQ8x16* blk = group_blocks(packed, r / kInterleave, nb);
  const int64_t lane = r % kInterleave;
  auto* out = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < nb; ++b) {
    out[b].d = blk[b].d[lane];
    for (int l = 0; l < kQK; ++l) out[b].qs[l] = int8_t(int(blk[b].qs[l / 4][lane][l % 4]) - 128);
  }
}

void dequantize_interleaved_row(const uint8_t* packed, int64_t r, int64_t k, float* dst) {
  const int64_t nb = k / kQK;
  const BlockQ8x16* blk = group_blocks(packed, r / kInterleave, nb);
  const int64_t lane = r % kInterleave;
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(blk[b].d[lane]);
    for (int l = 0; l < kQK; ++l) dst[b * kQK + l] = float(int(blk[b].qs[l / 4][lane][l % 4]) - 128) * d;
  }
}

size_t act_row_bytes_q8x16(int64_t k) { return size_t(k / kQK) * sizeof(ActQ8x32s); }

void quantize_act_row_q8x16(const float* x, int64_t k, uint8_t* dst) {
  auto* out = reinterpret_cast<ActQ8x32s*>(dst);
  for (int64_t b = 0; b < k / kQK; ++b) {
    ActQ8x32 row;  // the row kernels' quantizer, one block at a time: the same codes and scale
    quantize_act_row(WType::kQ8_0, x + b * kQK, kQK, reinterpret_cast<uint8_t*>(&row));
    int32_t sum = 0;
    for (int l = 0; l < kQK; ++l) sum += row.qs[l];
    std::memcpy(out[b].qs, row.qs, kQK);
    out[b].d = row.d;
    out[b].offset = -128 * sum;
  }
}

void dot_groups_q8x16_ref(const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                          int64_t k, float* y, int64_t ldy) {
  const int64_t nb = k / kQK;
  for (int64_t g = g0; g < g1; ++g) {
    const BlockQ8x16* w = group_blocks(packed, g, nb);
    for (int64_t i = 0; i < m; ++i) {
      const ActQ8x32s* a = act_blocks(acts, i, k);
      for (int r = 0; r < kInterleave; ++r) {
        float sum = 0;
        for (int64_t b = 0; b < nb; ++b) {
          int32_t s = a[b].offset;
          for (int l = 0; l < kQK; ++l) s += int32_t(w[b].qs[l / 4][r][l % 4]) * a[b].qs[l];
          sum += f16_to_f32(w[b].d[r]) * a[b].d * float(s);
        }
        y[i * ldy + g * kInterleave + r] = sum;
      }
    }
  }
}

bool q8x16_kernel_is_simd() {
#if PAD_HAVE_Q8X16_SIMD
  return int_isa() == IntIsa::kAvx512Vnni;
#else
  return false;
#endif
}

void dot_groups_q8x16(const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m, int64_t k,
                      float* y, int64_t ldy) {
#if PAD_HAVE_Q8X16_SIMD
  if (q8x16_kernel_is_simd()) {
    const int64_t nb = k / kQK;
    // Each group (16 rows · k codes, 13 KB at k = 768) stays in L1/L2 while every four activation
    // rows pass over it; the first pass prefetches as it streams.
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t i = 0; i < m; i += 4) {
        const int rows = int(std::min<int64_t>(4, m - i));
        kVnniRows[rows - 1](group_blocks(packed, g, nb), nb, acts, i, k, y + g * kInterleave, ldy, i == 0);
      }
    return;
  }
#endif
  dot_groups_q8x16_ref(packed, g0, g1, acts, m, k, y, ldy);
}

}  // namespace pad::kernels::detail
