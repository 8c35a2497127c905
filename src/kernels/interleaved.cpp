// q8_0, q4_K and q6_K rows interleaved by 16 (interleaved.h): the layout conversions, the activation
// quantizers, the scalar references and the AVX-512 VNNI kernels for any number of activation rows.
#include "interleaved.h"

#include <algorithm>
#include <cstring>

#include "quant_dot.h"
#include "pad/util/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PAD_HAVE_INTERLEAVED_SIMD 1
#define PAD_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#else
#define PAD_HAVE_INTERLEAVED_SIMD 0
#endif

namespace pad::kernels::detail {
namespace {

[[noreturn]] void not_interleaved(WType type) {
  throw_invalid("interleaved kernels: ", wtype_name(type), " does not interleave (q8_0, q4_K and q6_K do)");
}

// Activation row i of a batch whose rows are `row_bytes` apart, as blocks of type Act.
template <typename Act>
const Act* act_row(const uint8_t* acts, size_t row_bytes, int64_t i) {
  return reinterpret_cast<const Act*>(acts + size_t(i) * row_bytes);
}

// --- q8_0 -------------------------------------------------------------------------------------

void interleave_q8_0(const uint8_t* rows, int64_t n, int64_t k, BlockQ8x16* out) {
  const int64_t nb = k / kQK;
  const auto* src = reinterpret_cast<const BlockQ8_0*>(rows);
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

void dequantize_q8x16_row(const BlockQ8x16* blk, int lane, int64_t nb, float* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(blk[b].d[lane]);
    for (int l = 0; l < kQK; ++l) dst[b * kQK + l] = float(int(blk[b].qs[l / 4][lane][l % 4]) - 128) * d;
  }
}

void quantize_act_q8x16(const float* x, int64_t k, ActQ8x32s* out) {
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

// --- q4_K -------------------------------------------------------------------------------------

void interleave_q4_K(const uint8_t* rows, int64_t n, int64_t k, BlockQ4Kx16* out) {
  const int64_t nb = k / kQKK;
  const auto* src = reinterpret_cast<const BlockQ4_K*>(rows);
  for (int64_t g = 0; g < n / kInterleave; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      BlockQ4Kx16& blk = out[g * nb + b];
      for (int r = 0; r < kInterleave; ++r) {
        const BlockQ4_K& in = src[(g * kInterleave + r) * nb + b];
        blk.d[r] = in.d;
        blk.dmin[r] = in.dmin;
        for (int s = 0; s < 8; ++s) k_scale_min(s, in.scales, &blk.sc[s][r], &blk.m[s][r]);
        for (int j = 0; j < 4; ++j)
          for (int q = 0; q < 8; ++q) std::memcpy(blk.qs[j][q][r], in.qs + 32 * j + 4 * q, 4);
      }
    }
}

// As dequant_k45 computes it (quant_ref.cpp; this file has no FMA contraction either).
void dequantize_q4kx16_row(const BlockQ4Kx16* blk, int lane, int64_t nb, float* y) {
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ4Kx16& w = blk[b];
    const float d = f16_to_f32(w.d[lane]), dmin = f16_to_f32(w.dmin[lane]);
    for (int j = 0; j < 4; ++j, y += 64) {
      const float d1 = d * float(w.sc[2 * j][lane]), m1 = dmin * float(w.m[2 * j][lane]);
      const float d2 = d * float(w.sc[2 * j + 1][lane]), m2 = dmin * float(w.m[2 * j + 1][lane]);
      for (int l = 0; l < 32; ++l) {
        const uint8_t byte = w.qs[j][l / 4][lane][l % 4];
        y[l] = d1 * float(byte & 0xF) - m1;
        y[32 + l] = d2 * float(byte >> 4) - m2;
      }
    }
  }
}

// The row reference's sums (ref_k45): Σ_s sc_s·(q_s · a_s) and Σ_s m_s·Σ a_s in integers.
float ref_q4kx16(const BlockQ4Kx16* w, int lane, const ActQ8x256* a, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sum_q = 0, sum_m = 0;
    for (int s = 0; s < 8; ++s) {
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) {
        const uint8_t byte = w[b].qs[s / 2][l / 4][lane][l % 4];
        dot += int32_t(s % 2 ? byte >> 4 : byte & 0xF) * a[b].qs[32 * s + l];
      }
      sum_q += int32_t(w[b].sc[s][lane]) * dot;
      sum_m += int32_t(w[b].m[s][lane]) * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
    }
    sum += a[b].d * (f16_to_f32(w[b].d[lane]) * float(sum_q) - f16_to_f32(w[b].dmin[lane]) * float(sum_m));
  }
  return sum;
}

// --- q6_K -------------------------------------------------------------------------------------

void interleave_q6_K(const uint8_t* rows, int64_t n, int64_t k, BlockQ6Kx16* out) {
  const int64_t nb = k / kQKK;
  const auto* src = reinterpret_cast<const BlockQ6_K*>(rows);
  for (int64_t g = 0; g < n / kInterleave; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      BlockQ6Kx16& blk = out[g * nb + b];
      for (int r = 0; r < kInterleave; ++r) {
        const BlockQ6_K& in = src[(g * kInterleave + r) * nb + b];
        blk.d[r] = in.d;
        for (int s = 0; s < 16; ++s) blk.sc[s][r] = in.scales[s];
        for (int h = 0; h < 2; ++h)
          for (int q = 0; q < 8; ++q) {
            for (int p = 0; p < 2; ++p) std::memcpy(blk.ql[h][p][q][r], in.ql + 64 * h + 32 * p + 4 * q, 4);
            std::memcpy(blk.qh[h][q][r], in.qh + 32 * h + 4 * q, 4);
          }
      }
    }
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

// R activation rows against one q4_K group. Per 64-byte load (four codes of sub-blocks 2j and
// 2j + 1 for each of 16 rows): the low and high nibbles, and per row one dpbusd into each sub-block's
// sum; each sum times its 16 rows' scales in integers (the reference's Σ_s sc_s·dot_s exactly), the
// mins in float through the activations' d·Σa per sub-block.
template <int R>
PAD_AVX512 void vnni_q4kx16(const BlockQ4Kx16* w, int64_t nb, const ActQ8x256* const* a, float* const* y,
                            bool prefetch) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ4Kx16& blk = w[b];
    if (prefetch) prefetch_ahead(blk);
    __m512i sum_q[R];
    for (int r = 0; r < R; ++r) sum_q[r] = _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      __m512i t_lo[R], t_hi[R];
      for (int r = 0; r < R; ++r) t_lo[r] = t_hi[r] = _mm512_setzero_si512();
      for (int q = 0; q < 8; ++q) {
        const __m512i codes = _mm512_loadu_si512(blk.qs[j][q]);
        const __m512i lo = _mm512_and_si512(codes, low4), hi = _mm512_and_si512(_mm512_srli_epi16(codes, 4), low4);
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
template <int R> struct KQ4K { static constexpr auto f = vnni_q4kx16<R>; };
template <int R> struct KQ6K { static constexpr auto f = vnni_q6kx16<R>; };

#endif  // PAD_HAVE_INTERLEAVED_SIMD

}  // namespace

bool interleaves(WType type) { return type == WType::kQ8_0 || type == WType::kQ4_K || type == WType::kQ6_K; }

size_t interleaved_group_bytes(WType type, int64_t k) {
  if (type == WType::kQ8_0) return size_t(k / kQK) * sizeof(BlockQ8x16);
  if (type == WType::kQ4_K) return size_t(k / kQKK) * sizeof(BlockQ4Kx16);
  if (type == WType::kQ6_K) return size_t(k / kQKK) * sizeof(BlockQ6Kx16);
  not_interleaved(type);
}

void interleave_rows(WType type, const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst) {
  PAD_CHECK(n % kInterleave == 0 && k % block_elems(type) == 0, "interleave_rows: [", n, ", ", k,
            "] is not 16·g rows of whole blocks");
  if (type == WType::kQ8_0) return interleave_q8_0(rows, n, k, reinterpret_cast<BlockQ8x16*>(dst));
  if (type == WType::kQ4_K) return interleave_q4_K(rows, n, k, reinterpret_cast<BlockQ4Kx16*>(dst));
  if (type == WType::kQ6_K) return interleave_q6_K(rows, n, k, reinterpret_cast<BlockQ6Kx16*>(dst));
  not_interleaved(type);
}

void dequantize_interleaved_row(WType type, const uint8_t* packed, int64_t r, int64_t k, float* dst) {
  const uint8_t* group = packed + size_t(r / kInterleave) * interleaved_group_bytes(type, k);
  const int lane = int(r % kInterleave);
  if (type == WType::kQ8_0)
    return dequantize_q8x16_row(reinterpret_cast<const BlockQ8x16*>(group), lane, k / kQK, dst);
  if (type == WType::kQ4_K)
    return dequantize_q4kx16_row(reinterpret_cast<const BlockQ4Kx16*>(group), lane, k / kQKK, dst);
  return dequantize_q6kx16_row(reinterpret_cast<const BlockQ6Kx16*>(group), lane, k / kQKK, dst);
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
  if (type == WType::kQ4_K || type == WType::kQ6_K) return act_row_bytes(type, k);
  not_interleaved(type);
}

void quantize_interleaved_act_row(WType type, const float* x, int64_t k, uint8_t* dst) {
  if (type == WType::kQ8_0) return quantize_act_q8x16(x, k, reinterpret_cast<ActQ8x32s*>(dst));
  if (type == WType::kQ4_K || type == WType::kQ6_K) return quantize_act_row(type, x, k, dst);
  not_interleaved(type);
}

void dot_groups_ref(WType type, const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                    int64_t k, float* y, int64_t ldy) {
  const size_t group_bytes = interleaved_group_bytes(type, k), act_bytes = interleaved_act_row_bytes(type, k);
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* group = packed + size_t(g) * group_bytes;
    for (int64_t i = 0; i < m; ++i)
      for (int r = 0; r < kInterleave; ++r)
        y[i * ldy + g * kInterleave + r] =
            type == WType::kQ8_0
                ? ref_q8x16(reinterpret_cast<const BlockQ8x16*>(group), r, act_row<ActQ8x32s>(acts, act_bytes, i), k / kQK)
            : type == WType::kQ4_K
                ? ref_q4kx16(reinterpret_cast<const BlockQ4Kx16*>(group), r, act_row<ActQ8x256>(acts, act_bytes, i), k / kQKK)
                : ref_q6kx16(reinterpret_cast<const BlockQ6Kx16*>(group), r, act_row<ActQ8x256>(acts, act_bytes, i), k / kQKK);
  }
}

bool interleaved_kernels_are_simd() {
#if PAD_HAVE_INTERLEAVED_SIMD
  return int_isa() == IntIsa::kAvx512Vnni;
#else
  return false;
#endif
}

void dot_groups(WType type, const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                int64_t k, float* y, int64_t ldy) {
  if (!interleaves(type)) not_interleaved(type);
#if PAD_HAVE_INTERLEAVED_SIMD
  if (interleaved_kernels_are_simd()) {
    const RowsFn* fns = type == WType::kQ8_0   ? kRowsFns<BlockQ8x16, ActQ8x32s, KQ8>
                        : type == WType::kQ4_K ? kRowsFns<BlockQ4Kx16, ActQ8x256, KQ4K>
                                               : kRowsFns<BlockQ6Kx16, ActQ8x256, KQ6K>;
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
