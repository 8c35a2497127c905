// q8_0, q4_K, q5_K and q6_K rows interleaved by 16 (interleaved.h): the layout conversions, the activation
// quantizers, the scalar references, the AVX-512 VNNI kernels for any number of activation rows, and
// AVX2 kernels (CPUs without AVX-512, such as AMD Zen 3) for q8_0, q4_K and q5_K.
#include "interleaved.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "quant_dot.h"
#include "pad/util/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PAD_HAVE_INTERLEAVED_SIMD 1
#define PAD_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define PAD_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define PAD_HAVE_INTERLEAVED_SIMD 0
#endif

namespace pad::kernels::detail {
namespace {

[[noreturn]] void not_interleaved(WType type) {
  throw_invalid("interleaved kernels: ", wtype_name(type), " does not interleave (q8_0, q4_K, q5_K and q6_K do)");
}

// Activation row i of a batch whose rows are `row_bytes` apart, as blocks of type Act.
template <typename Act>
const Act* act_row(const uint8_t* acts, size_t row_bytes, int64_t i) {
  return reinterpret_cast<const Act*>(acts + size_t(i) * row_bytes);
}

// Every block of n GGUF rows (k elements, `In` blocks of kElems) into its group's column:
// copy(in, out, r) places row r's block `in` into the group's block column `out`.
template <typename In, int64_t kElems, typename Out, typename Copy>
void interleave_blocks(const uint8_t* rows, int64_t n, int64_t k, Out* out, Copy copy) {
  const int64_t nb = k / kElems;
  const auto* src = reinterpret_cast<const In*>(rows);
  for (int64_t g = 0; g < n / kInterleave; ++g)
    for (int64_t b = 0; b < nb; ++b)
      for (int r = 0; r < kInterleave; ++r) copy(src[(g * kInterleave + r) * nb + b], out[g * nb + b], r);
}

// --- q8_0 -------------------------------------------------------------------------------------

void interleave_q8_0(const uint8_t* rows, int64_t n, int64_t k, BlockQ8x16* out) {
  interleave_blocks<BlockQ8_0, kQK>(rows, n, k, out, [](const BlockQ8_0& in, BlockQ8x16& blk, int r) {
    blk.d[r] = in.d;
    for (int l = 0; l < kQK; ++l) blk.qs[l / 4][r][l % 4] = uint8_t(int(in.qs[l]) + 128);
  });
}

void dequantize_q8x16_row(const BlockQ8x16* blk, int lane, int64_t nb, float* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(blk[b].d[lane]);
    for (int l = 0; l < kQK; ++l) dst[b * kQK + l] = float(int(blk[b].qs[l / 4][lane][l % 4]) - 128) * d;
  }
}

void quantize_act_q8x16(const float* x, int64_t k, ActQ8x32s* out) {
  thread_local std::vector<ActQ8x32> row;  // the row kernels' quantizer: the same codes and scales
  row.resize(size_t(k / kQK));
  quantize_act_row(WType::kQ8_0, x, k, reinterpret_cast<uint8_t*>(row.data()));
  for (int64_t b = 0; b < k / kQK; ++b) {
    int32_t sum = 0;
    for (int l = 0; l < kQK; ++l) sum += row[size_t(b)].qs[l];
    std::memcpy(out[b].qs, row[size_t(b)].qs, kQK);
    out[b].d = row[size_t(b)].d;
    out[b].offset = -128 * sum;
  }
}

// The row reference's sum: Σ_b d·d_a·(Σ codes·a), the +128 undone by the block's offset.
float ref_q8x16(const BlockQ8x16* w, int lane, const ActQ8x32s* a, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t s = a[b].offset;
    for (int l = 0; l < kQK; ++l) s += int32_t(w[b].qs[l / 4][lane][l % 4]) * a[b].qs[l];
    sum += f16_to_f32(w[b].d[lane]) * a[b].d * float(s);
  }
  return sum;
}

// --- q4_K / q5_K ---------------------------------------------------------------------------

// The code of sub-block s, element l (0..31) of a row: its nibble, and for q5_K the fifth bit.
template <typename Out>
int k45_code(const Out& w, int lane, int s, int l) {
  const uint8_t byte = w.qs[s / 2][l / 4][lane][l % 4];
  int q = s % 2 ? byte >> 4 : byte & 0xF;
  if constexpr (std::is_same_v<Out, BlockQ5Kx16>) q += ((w.qh[l / 4][lane][l % 4] >> s) & 1) << 4;
  return q;
}

template <typename In, typename Out>
void interleave_k45(const uint8_t* rows, int64_t n, int64_t k, Out* out) {
  interleave_blocks<In, kQKK>(rows, n, k, out, [](const In& in, Out& blk, int r) {
    blk.d[r] = in.d;
    blk.dmin[r] = in.dmin;
    for (int s = 0; s < 8; ++s) k_scale_min(s, in.scales, &blk.sc[s][r], &blk.m[s][r]);
    for (int j = 0; j < 4; ++j)
      for (int q = 0; q < 8; ++q) std::memcpy(blk.qs[j][q][r], in.qs + 32 * j + 4 * q, 4);
    if constexpr (std::is_same_v<Out, BlockQ5Kx16>)
      for (int q = 0; q < 8; ++q) std::memcpy(blk.qh[q][r], in.qh + 4 * q, 4);
  });
}

// As dequant_k45 computes it (quant_ref.cpp; this file has no FMA contraction either).
template <typename Out>
void dequantize_k45x16_row(const Out* blk, int lane, int64_t nb, float* y) {
  for (int64_t b = 0; b < nb; ++b) {
    const Out& w = blk[b];
    const float d = f16_to_f32(w.d[lane]), dmin = f16_to_f32(w.dmin[lane]);
    for (int j = 0; j < 4; ++j, y += 64) {
      const float d1 = d * float(w.sc[2 * j][lane]), m1 = dmin * float(w.m[2 * j][lane]);
      const float d2 = d * float(w.sc[2 * j + 1][lane]), m2 = dmin * float(w.m[2 * j + 1][lane]);
      for (int l = 0; l < 32; ++l) {
        y[l] = d1 * float(k45_code(w, lane, 2 * j, l)) - m1;
        y[32 + l] = d2 * float(k45_code(w, lane, 2 * j + 1, l)) - m2;
      }
    }
  }
}

// The row reference's sums (ref_k45): Σ_s sc_s·(q_s · a_s) and Σ_s m_s·Σ a_s in integers.
template <typename Out>
float ref_k45x16(const Out* w, int lane, const ActQ8x256* a, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sum_q = 0, sum_m = 0;
    for (int s = 0; s < 8; ++s) {
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) dot += int32_t(k45_code(w[b], lane, s, l)) * a[b].qs[32 * s + l];
      sum_q += int32_t(w[b].sc[s][lane]) * dot;
      sum_m += int32_t(w[b].m[s][lane]) * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
    }
    sum += a[b].d * (f16_to_f32(w[b].d[lane]) * float(sum_q) - f16_to_f32(w[b].dmin[lane]) * float(sum_m));
  }
  return sum;
}

// --- q6_K -------------------------------------------------------------------------------------

void interleave_q6_K(const uint8_t* rows, int64_t n, int64_t k, BlockQ6Kx16* out) {
  interleave_blocks<BlockQ6_K, kQKK>(rows, n, k, out, [](const BlockQ6_K& in, BlockQ6Kx16& blk, int r) {
    blk.d[r] = in.d;
    for (int s = 0; s < 16; ++s) blk.sc[s][r] = in.scales[s];
    for (int h = 0; h < 2; ++h)
      for (int q = 0; q < 8; ++q) {
        for (int p = 0; p < 2; ++p) std::memcpy(blk.ql[h][p][q][r], in.ql + 64 * h + 32 * p + 4 * q, 4);
        std::memcpy(blk.qh[h][q][r], in.qh + 32 * h + 4 * q, 4);
      }
  });
}

// Row `lane`'s 256 codes (0..63, element order) of one super-block, as dequant_q6_K reads them.
void q6_codes(const BlockQ6Kx16& w, int lane, int* q) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int ql0 = w.ql[h][0][l / 4][lane][l % 4], ql1 = w.ql[h][1][l / 4][lane][l % 4];
      const int qh = w.qh[h][l / 4][lane][l % 4];
      int* y = q + 128 * h;
      y[l] = (ql0 & 0xF) | (((qh >> 0) & 3) << 4);
      y[l + 32] = (ql1 & 0xF) | (((qh >> 2) & 3) << 4);
      y[l + 64] = (ql0 >> 4) | (((qh >> 4) & 3) << 4);
      y[l + 96] = (ql1 >> 4) | (((qh >> 6) & 3) << 4);
    }
}

void dequantize_q6kx16_row(const BlockQ6Kx16* blk, int lane, int64_t nb, float* y) {
  for (int64_t b = 0; b < nb; ++b, y += kQKK) {
    const float d = f16_to_f32(blk[b].d[lane]);
    int q[kQKK];
    q6_codes(blk[b], lane, q);
    for (int e = 0; e < kQKK; ++e) y[e] = d * float(blk[b].sc[e / 16][lane]) * float(q[e] - 32);
  }
}

// The row reference's sum (ref_q6_K): Σ_s sc_s·Σ (q − 32)·a in integers.
float ref_q6kx16(const BlockQ6Kx16* w, int lane, const ActQ8x256* a, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    int q[kQKK];
    q6_codes(w[b], lane, q);
    int32_t s = 0;
    for (int g = 0; g < 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += (q[16 * g + l] - 32) * a[b].qs[16 * g + l];
      s += int32_t(w[b].sc[g][lane]) * dot;
    }
    sum += f16_to_f32(w[b].d[lane]) * a[b].d * float(s);
  }
  return sum;
}

// --- AVX-512 VNNI -----------------------------------------------------------------------------
#if PAD_HAVE_INTERLEAVED_SIMD

PAD_AVX512 inline __m512i bcast4(const int8_t* p) { return _mm512_broadcastd_epi32(_mm_loadu_si32(p)); }
PAD_AVX512 inline __m512i bytes_to_i32(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
PAD_AVX512 inline __m512 f16x16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// The first pass over a group streams it from memory: ask for the bytes kAheadBytes on. Swept on a
// 2-core Xeon (bench_kernels 2, weights from DRAM, M = 1, q8_0 / q4_K GB/s): 1 KB 17.5 / 15.0,
// 4 KB 19.7 / 15.6, 8 KB 16.9 / 12.3, 16 KB 17.3 / - (a noisy VM: only 4 KB stood out, a little).
constexpr int kAheadBytes = 4096;
template <typename Block>
PAD_AVX512 inline void prefetch_ahead(const Block& blk) {
  const char* ahead = reinterpret_cast<const char*>(&blk) + kAheadBytes;
  for (int l = 0; l < int(sizeof(Block)); l += 64) _mm_prefetch(ahead + l, _MM_HINT_T0);
}

// R activation rows against one q8_0 group: per block eight 64-byte weight loads shared by the R
// rows, and per row eight dpbusd with the activation dword broadcast, in two chains (the first
// starts at the block's offset), then one scale and multiply-add.
template <int R>
PAD_AVX512 void vnni_q8x16(const BlockQ8x16* w, int64_t nb, const ActQ8x32s* const* a, float* const* y,
                           bool prefetch) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ8x16& blk = w[b];
    if (prefetch) prefetch_ahead(blk);
    const __m512 dw = f16x16(blk.d);
    __m512i q[kQK / 4];
    for (int j = 0; j < kQK / 4; ++j) q[j] = _mm512_loadu_si512(blk.qs[j]);
    for (int r = 0; r < R; ++r) {
      const ActQ8x32s& ab = a[r][b];
      __m512i s0 = _mm512_set1_epi32(ab.offset), s1 = _mm512_setzero_si512();
      for (int j = 0; j < kQK / 4; j += 2) {
        s0 = _mm512_dpbusd_epi32(s0, q[j], bcast4(ab.qs + 4 * j));
        s1 = _mm512_dpbusd_epi32(s1, q[j + 1], bcast4(ab.qs + 4 * j + 4));
      }
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(ab.d));
      acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y[r], acc[r]);
}

// R activation rows against one q4_K or q5_K group. Per 64-byte load (four codes of sub-blocks 2j
// and 2j + 1 for each of 16 rows): the low and high nibbles (q5_K: + 16 where the fifth bit is set,
// a masked add from one more load), and per row one dpbusd into each sub-block's
// sum; each sum times its 16 rows' scales in integers (the reference's Σ_s sc_s·dot_s exactly), the
// mins in float through the activations' d·Σa per sub-block.
template <int R, typename Out>
PAD_AVX512 void vnni_k45x16(const Out* w, int64_t nb, const ActQ8x256* const* a, float* const* y, bool prefetch) {
  constexpr bool kFifthBit = std::is_same_v<Out, BlockQ5Kx16>;
  const __m512i low4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const Out& blk = w[b];
    if (prefetch) prefetch_ahead(blk);
    __m512i sum_q[R];
    for (int r = 0; r < R; ++r) sum_q[r] = _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      __m512i t_lo[R], t_hi[R];
      for (int r = 0; r < R; ++r) t_lo[r] = t_hi[r] = _mm512_setzero_si512();
      for (int q = 0; q < 8; ++q) {
        const __m512i codes = _mm512_loadu_si512(blk.qs[j][q]);
        __m512i lo = _mm512_and_si512(codes, low4), hi = _mm512_and_si512(_mm512_srli_epi16(codes, 4), low4);
        if constexpr (kFifthBit) {  // + 16 where the row's qh bit of the sub-block is set
          const __m512i qh = _mm512_loadu_si512(blk.qh[q]);
          lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(qh, _mm512_set1_epi8(char(1 << (2 * j)))), lo, sixteen);
          hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(qh, _mm512_set1_epi8(char(2 << (2 * j)))), hi, sixteen);
        }
        for (int r = 0; r < R; ++r) {
          const int8_t* act = a[r][b].qs + 64 * j + 4 * q;
          t_lo[r] = _mm512_dpbusd_epi32(t_lo[r], lo, bcast4(act));
          t_hi[r] = _mm512_dpbusd_epi32(t_hi[r], hi, bcast4(act + 32));
        }
      }
      const __m512i sc_lo = bytes_to_i32(blk.sc[2 * j]), sc_hi = bytes_to_i32(blk.sc[2 * j + 1]);
      for (int r = 0; r < R; ++r)
        sum_q[r] = _mm512_add_epi32(sum_q[r], _mm512_add_epi32(_mm512_mullo_epi32(t_lo[r], sc_lo),
                                                               _mm512_mullo_epi32(t_hi[r], sc_hi)));
    }
    const __m512 d = f16x16(blk.d), dmin = f16x16(blk.dmin);
    __m512 mins[R];
    for (int r = 0; r < R; ++r) mins[r] = _mm512_setzero_ps();
    for (int s = 0; s < 8; ++s) {
      const __m512 m = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(bytes_to_i32(blk.m[s])));
      for (int r = 0; r < R; ++r) mins[r] = _mm512_fmadd_ps(m, _mm512_set1_ps(a[r][b].dsums32[s]), mins[r]);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(a[r][b].d));
      acc[r] = _mm512_sub_ps(_mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sum_q[r]), acc[r]), mins[r]);
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y[r], acc[r]);
}

// R activation rows against one q6_K group. Per half h and 16-element sub-block column c of it, four
// loads of 64 bytes (ql low part, ql high part, qh) give four code vectors — sub-blocks 8h + 2j + c
// for quarters j = 0..3 — each summed per row by dpbusd from −32·Σa (the codes' offset, exact),
// then times its 16 rows' scales in integers: the reference's sum.
template <int R>
PAD_AVX512 void vnni_q6kx16(const BlockQ6Kx16* w, int64_t nb, const ActQ8x256* const* a, float* const* y,
                            bool prefetch) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ6Kx16& blk = w[b];
    if (prefetch) prefetch_ahead(blk);
    __m512i sum_q[R];
    for (int r = 0; r < R; ++r) sum_q[r] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h)
      for (int c = 0; c < 2; ++c) {
        __m512i t[R][4];
        for (int r = 0; r < R; ++r)
          for (int j = 0; j < 4; ++j) t[r][j] = _mm512_set1_epi32(-32 * int32_t(a[r][b].bsums[8 * h + 2 * j + c]));
        for (int q = 4 * c; q < 4 * c + 4; ++q) {
          const __m512i lo = _mm512_loadu_si512(blk.ql[h][0][q]), hi = _mm512_loadu_si512(blk.ql[h][1][q]);
          const __m512i qh = _mm512_loadu_si512(blk.qh[h][q]);
          __m512i codes[4];
          codes[0] = _mm512_or_si512(_mm512_and_si512(lo, low4), _mm512_and_si512(_mm512_slli_epi16(qh, 4), bits45));
          codes[1] = _mm512_or_si512(_mm512_and_si512(hi, low4), _mm512_and_si512(_mm512_slli_epi16(qh, 2), bits45));
          codes[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lo, 4), low4), _mm512_and_si512(qh, bits45));
          codes[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(hi, 4), low4),
                                     _mm512_and_si512(_mm512_srli_epi16(qh, 2), bits45));
          for (int r = 0; r < R; ++r)
            for (int j = 0; j < 4; ++j)
              t[r][j] = _mm512_dpbusd_epi32(t[r][j], codes[j], bcast4(a[r][b].qs + 128 * h + 32 * j + 4 * q));
        }
        for (int j = 0; j < 4; ++j) {
          const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.sc[8 * h + 2 * j + c])));
          for (int r = 0; r < R; ++r) sum_q[r] = _mm512_add_epi32(sum_q[r], _mm512_mullo_epi32(t[r][j], sc));
        }
      }
    const __m512 d = f16x16(blk.d);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(a[r][b].d)), _mm512_cvtepi32_ps(sum_q[r]), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y[r], acc[r]);
}


// --- AVX2 -------------------------------------------------------------------------------------
// No dpbusd: maddubs (unsigned 8-bit × signed 8-bit → saturating 16-bit pairs) and madd (16-bit
// pairs → 32-bit). A 32-byte register holds four codes of eight rows, so a group is two halves of
// eight rows each.

PAD_AVX2 inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
PAD_AVX2 inline __m256i bcast4_avx2(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
PAD_AVX2 inline __m256 f16x8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
PAD_AVX2 inline __m256i bytes_to_i32x8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
template <typename Block>
PAD_AVX2 inline void prefetch_ahead_avx2(const Block& blk) {
  const char* ahead = reinterpret_cast<const char*>(&blk) + kAheadBytes;
  for (int l = 0; l < int(sizeof(Block)); l += 64) _mm_prefetch(ahead + l, _MM_HINT_T0);
}

// One activation row (decode) takes both halves in one pass, so the group is read once; more rows
// take one half per pass, which keeps their sums in the 16 registers.
template <int R>
constexpr int kHalvesPerPass = R == 1 ? 2 : 1;

// q8_0: the stored code + 128 back to signed (xor 0x80), then the row kernels' sign trick — |w|
// against a with w's sign — so no pair can saturate (|w| ≤ 128, |a| ≤ 127: ≤ 32512); the block
// offset is not needed.
template <int R>
PAD_AVX2 void avx2_q8x16(const BlockQ8x16* w, int64_t nb, const ActQ8x32s* const* a, float* const* y, bool prefetch) {
  const __m256i flip = _mm256_set1_epi8(char(0x80)), ones = _mm256_set1_epi16(1);
  constexpr int kH = kHalvesPerPass<R>;
  for (int h0 = 0; h0 < 2; h0 += kH) {
    __m256 acc[kH][R];
    for (int h = 0; h < kH; ++h)
      for (int r = 0; r < R; ++r) acc[h][r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8x16& blk = w[b];
      if (prefetch && h0 == 0) prefetch_ahead_avx2(blk);
      for (int h = 0; h < kH; ++h) {
        __m256i s[R];
        for (int r = 0; r < R; ++r) s[r] = _mm256_setzero_si256();
        for (int j = 0; j < kQK / 4; ++j) {
          const __m256i q = _mm256_xor_si256(load256(blk.qs[j][8 * (h0 + h)]), flip);
          const __m256i qabs = _mm256_sign_epi8(q, q);
          for (int r = 0; r < R; ++r) {
            const __m256i p = _mm256_maddubs_epi16(qabs, _mm256_sign_epi8(bcast4_avx2(a[r][b].qs + 4 * j), q));
            s[r] = _mm256_add_epi32(s[r], _mm256_madd_epi16(p, ones));
          }
        }
        const __m256 dw = f16x8(blk.d + 8 * (h0 + h));
        for (int r = 0; r < R; ++r)
          acc[h][r] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(a[r][b].d)), _mm256_cvtepi32_ps(s[r]), acc[h][r]);
      }
    }
    for (int h = 0; h < kH; ++h)
      for (int r = 0; r < R; ++r) _mm256_storeu_ps(y[r] + 8 * (h0 + h), acc[h][r]);
  }
}

// q4_K / q5_K: codes are unsigned (0..15, q5_K 0..31), so maddubs takes them as they are; its 16-bit
// pairs are summed in 16 bits over up to eight loads (q4_K: 8 · 2 · 15 · 127 = 30480; q5_K four:
// 4 · 2 · 31 · 127 = 31496), then madd with the rows' sub-block scales (each in both 16-bit halves
// of its row's lane) gives Σ sc·dot in 32 bits — the reference's integers exactly.
template <int R, typename Out>
PAD_AVX2 void avx2_k45x16(const Out* w, int64_t nb, const ActQ8x256* const* a, float* const* y, bool prefetch) {
  constexpr bool kFifthBit = std::is_same_v<Out, BlockQ5Kx16>;
  constexpr int kRun = kFifthBit ? 4 : 8;  // loads summed in 16 bits before madd
  constexpr int kH = kHalvesPerPass<R>;
  const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  for (int h0 = 0; h0 < 2; h0 += kH) {
    __m256 acc[kH][R];
    for (int h = 0; h < kH; ++h)
      for (int r = 0; r < R; ++r) acc[h][r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const Out& blk = w[b];
      if (prefetch && h0 == 0) prefetch_ahead_avx2(blk);
      for (int hh = 0; hh < kH; ++hh) {
        const int h = h0 + hh;
        __m256i sum_q[R];
        for (int r = 0; r < R; ++r) sum_q[r] = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; ++sb) {  // sub-block sb: nibbles of qs[sb / 2], low for even sb
          const int j = sb / 2, shift = 4 * (sb % 2);
          __m256i sc = bytes_to_i32x8(blk.sc[sb] + 8 * h);
          sc = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
          const __m128i nibble = _mm_cvtsi32_si128(shift), fifth = _mm_cvtsi32_si128(sb);
          for (int q0 = 0; q0 < 8; q0 += kRun) {
            __m256i t[R];
            for (int r = 0; r < R; ++r) t[r] = _mm256_setzero_si256();
            for (int q = q0; q < q0 + kRun; ++q) {
              __m256i c = _mm256_and_si256(_mm256_srl_epi16(load256(blk.qs[j][q][8 * h]), nibble), low4);
              if constexpr (kFifthBit)  // bit sb of each qh byte, moved to bit 4
                c = _mm256_or_si256(
                    c, _mm256_and_si256(_mm256_slli_epi16(_mm256_srl_epi16(load256(blk.qh[q][8 * h]), fifth), 4), bit4));
              for (int r = 0; r < R; ++r)
                t[r] = _mm256_add_epi16(t[r], _mm256_maddubs_epi16(c, bcast4_avx2(a[r][b].qs + 32 * sb + 4 * q)));
            }
            for (int r = 0; r < R; ++r) sum_q[r] = _mm256_add_epi32(sum_q[r], _mm256_madd_epi16(t[r], sc));
          }
        }
        const __m256 d = f16x8(blk.d + 8 * h), dmin = f16x8(blk.dmin + 8 * h);
        __m256 mins[R];
        for (int r = 0; r < R; ++r) mins[r] = _mm256_setzero_ps();
        for (int sb = 0; sb < 8; ++sb) {
          const __m256 m = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(bytes_to_i32x8(blk.m[sb] + 8 * h)));
          for (int r = 0; r < R; ++r) mins[r] = _mm256_fmadd_ps(m, _mm256_set1_ps(a[r][b].dsums32[sb]), mins[r]);
        }
        for (int r = 0; r < R; ++r) {
          const __m256 scale = _mm256_mul_ps(d, _mm256_set1_ps(a[r][b].d));
          acc[hh][r] = _mm256_sub_ps(_mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sum_q[r]), acc[hh][r]), mins[r]);
        }
      }
    }
    for (int h = 0; h < kH; ++h)
      for (int r = 0; r < R; ++r) _mm256_storeu_ps(y[r] + 8 * (h0 + h), acc[h][r]);
  }
}

// Activation rows [i, i + R) of the batch against one group, writing y's rows i..i+R-1.
template <typename Block, typename Act, int R,
          void (*Kernel)(const Block*, int64_t, const Act* const*, float* const*, bool)>
void rows_of(const uint8_t* group, int64_t nb, const uint8_t* acts, size_t act_bytes, int64_t i, float* y,
             int64_t ldy, bool prefetch) {
  const Act* a[R];
  float* out[R];
  for (int r = 0; r < R; ++r) a[r] = act_row<Act>(acts, act_bytes, i + r), out[r] = y + (i + r) * ldy;
  Kernel(reinterpret_cast<const Block*>(group), nb, a, out, prefetch);
}

using RowsFn = void (*)(const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*, int64_t, bool);
template <typename Block, typename Act, template <int> class K>
constexpr RowsFn kRowsFns[4] = {rows_of<Block, Act, 1, K<1>::f>, rows_of<Block, Act, 2, K<2>::f>,
                                rows_of<Block, Act, 3, K<3>::f>, rows_of<Block, Act, 4, K<4>::f>};
template <int R> struct KQ8 { static constexpr auto f = vnni_q8x16<R>; };
template <int R> struct KQ4K { static constexpr auto f = vnni_k45x16<R, BlockQ4Kx16>; };
template <int R> struct KQ5K { static constexpr auto f = vnni_k45x16<R, BlockQ5Kx16>; };
template <int R> struct KQ6K { static constexpr auto f = vnni_q6kx16<R>; };
template <int R> struct A2Q8 { static constexpr auto f = avx2_q8x16<R>; };
template <int R> struct A2Q4K { static constexpr auto f = avx2_k45x16<R, BlockQ4Kx16>; };
template <int R> struct A2Q5K { static constexpr auto f = avx2_k45x16<R, BlockQ5Kx16>; };

#endif  // PAD_HAVE_INTERLEAVED_SIMD

// What each interleaved type brings: its block column, and its functions over a group's bytes.
struct TypeOps {
  size_t block_bytes;
  void (*interleave)(const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst);
  void (*dequantize_row)(const uint8_t* group, int lane, int64_t nb, float* dst);
  float (*ref)(const uint8_t* group, int lane, const uint8_t* act_row, int64_t nb);
#if PAD_HAVE_INTERLEAVED_SIMD
  const RowsFn* rows;       // AVX-512 VNNI
  const RowsFn* rows_avx2;  // AVX2, or null (then the type stays in rows on AVX2-only CPUs)
#endif
};

template <typename Out, typename Act, void (*Interleave)(const uint8_t*, int64_t, int64_t, Out*),
          void (*Dequantize)(const Out*, int, int64_t, float*), float (*Ref)(const Out*, int, const Act*, int64_t),
          template <int> class K, template <int> class K2 = K>
constexpr TypeOps type_ops([[maybe_unused]] bool has_avx2) {
  return {sizeof(Out),
          [](const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst) { Interleave(rows, n, k, reinterpret_cast<Out*>(dst)); },
          [](const uint8_t* g, int lane, int64_t nb, float* dst) { Dequantize(reinterpret_cast<const Out*>(g), lane, nb, dst); },
          [](const uint8_t* g, int lane, const uint8_t* a, int64_t nb) {
            return Ref(reinterpret_cast<const Out*>(g), lane, reinterpret_cast<const Act*>(a), nb);
          },
#if PAD_HAVE_INTERLEAVED_SIMD
          kRowsFns<Out, Act, K>, has_avx2 ? kRowsFns<Out, Act, K2> : nullptr
#endif
  };
}

#if !PAD_HAVE_INTERLEAVED_SIMD
template <int R> struct KQ8 {};
template <int R> struct KQ4K {};
template <int R> struct KQ5K {};
template <int R> struct KQ6K {};
template <int R> struct A2Q8 {};
template <int R> struct A2Q4K {};
template <int R> struct A2Q5K {};
#endif

constexpr TypeOps kQ8Ops = type_ops<BlockQ8x16, ActQ8x32s, interleave_q8_0, dequantize_q8x16_row, ref_q8x16, KQ8, A2Q8>(true);
constexpr TypeOps kQ4KOps = type_ops<BlockQ4Kx16, ActQ8x256, interleave_k45<BlockQ4_K, BlockQ4Kx16>,
                                     dequantize_k45x16_row<BlockQ4Kx16>, ref_k45x16<BlockQ4Kx16>, KQ4K, A2Q4K>(true);
constexpr TypeOps kQ5KOps = type_ops<BlockQ5Kx16, ActQ8x256, interleave_k45<BlockQ5_K, BlockQ5Kx16>,
                                     dequantize_k45x16_row<BlockQ5Kx16>, ref_k45x16<BlockQ5Kx16>, KQ5K, A2Q5K>(true);
constexpr TypeOps kQ6KOps = type_ops<BlockQ6Kx16, ActQ8x256, interleave_q6_K, dequantize_q6kx16_row, ref_q6kx16, KQ6K>(false);

const TypeOps& ops(WType type) {
  switch (type) {
    case WType::kQ8_0: return kQ8Ops;
    case WType::kQ4_K: return kQ4KOps;
    case WType::kQ5_K: return kQ5KOps;
    case WType::kQ6_K: return kQ6KOps;
    default: not_interleaved(type);
  }
}

}  // namespace

bool interleaves(WType type) {
  return type == WType::kQ8_0 || type == WType::kQ4_K || type == WType::kQ5_K || type == WType::kQ6_K;
}

size_t interleaved_group_bytes(WType type, int64_t k) { return size_t(k / block_elems(type)) * ops(type).block_bytes; }

void interleave_rows(WType type, const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst) {
  PAD_CHECK(n % kInterleave == 0 && k % block_elems(type) == 0, "interleave_rows: [", n, ", ", k,
            "] is not 16·g rows of whole blocks");
  ops(type).interleave(rows, n, k, dst);
}

void dequantize_interleaved_row(WType type, const uint8_t* packed, int64_t r, int64_t k, float* dst) {
  const uint8_t* group = packed + size_t(r / kInterleave) * interleaved_group_bytes(type, k);
  ops(type).dequantize_row(group, int(r % kInterleave), k / block_elems(type), dst);
}

void deinterleave_q8_0_row(const uint8_t* packed, int64_t r, int64_t k, uint8_t* dst) {
  const int64_t nb = k / kQK;
  const auto* blk = reinterpret_cast<const BlockQ8x16*>(packed + size_t(r / kInterleave) * interleaved_group_bytes(WType::kQ8_0, k));
  const int lane = int(r % kInterleave);
  auto* out = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < nb; ++b) {
    out[b].d = blk[b].d[lane];
    for (int l = 0; l < kQK; ++l) out[b].qs[l] = int8_t(int(blk[b].qs[l / 4][lane][l % 4]) - 128);
  }
}

size_t interleaved_act_row_bytes(WType type, int64_t k) {
  if (type == WType::kQ8_0) return size_t(k / kQK) * sizeof(ActQ8x32s);
  if (interleaves(type)) return act_row_bytes(type, k);
  not_interleaved(type);
}

void quantize_interleaved_act_row(WType type, const float* x, int64_t k, uint8_t* dst) {
  if (type == WType::kQ8_0) return quantize_act_q8x16(x, k, reinterpret_cast<ActQ8x32s*>(dst));
  if (interleaves(type)) return quantize_act_row(type, x, k, dst);
  not_interleaved(type);
}

void dot_groups_ref(WType type, const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                    int64_t k, float* y, int64_t ldy) {
  const TypeOps& op = ops(type);
  const int64_t nb = k / block_elems(type);
  const size_t group_bytes = interleaved_group_bytes(type, k), act_bytes = interleaved_act_row_bytes(type, k);
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* group = packed + size_t(g) * group_bytes;
    for (int64_t i = 0; i < m; ++i)
      for (int r = 0; r < kInterleave; ++r)
        y[i * ldy + g * kInterleave + r] = op.ref(group, r, acts + size_t(i) * act_bytes, nb);
  }
}

#if PAD_HAVE_INTERLEAVED_SIMD
namespace {
// The kernels dot_groups runs for `type` on this CPU (int_isa()), or null: the reference.
const RowsFn* simd_rows(WType type) {
  if (!interleaves(type)) return nullptr;
  switch (int_isa()) {
    case IntIsa::kAvx512Vnni: return ops(type).rows;
    case IntIsa::kAvx2: return ops(type).rows_avx2;
    default: return nullptr;
  }
}
}  // namespace
#endif

bool interleaved_kernels_are_simd(WType type) {
#if PAD_HAVE_INTERLEAVED_SIMD
  return simd_rows(type) != nullptr;
#else
  (void)type;
  return false;
#endif
}

void dot_groups(WType type, const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                int64_t k, float* y, int64_t ldy) {
#if PAD_HAVE_INTERLEAVED_SIMD
  if (const RowsFn* fns = simd_rows(type)) {
    const int64_t nb = k / block_elems(type);
    const size_t group_bytes = interleaved_group_bytes(type, k), act_bytes = interleaved_act_row_bytes(type, k);
    // Each group (16 rows · k codes: q8_0 13 KB at k = 768) stays in L1/L2 while every four
    // activation rows pass over it; the first pass prefetches as it streams.
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t i = 0; i < m; i += 4) {
        const int rows = int(std::min<int64_t>(4, m - i));
        fns[rows - 1](packed + size_t(g) * group_bytes, nb, acts, act_bytes, i, y + g * kInterleave, ldy, i == 0);
      }
    return;
  }
#endif
  dot_groups_ref(type, packed, g0, g1, acts, m, k, y, ldy);
}

}  // namespace pad::kernels::detail
