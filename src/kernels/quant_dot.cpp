// Integer dot products of GGUF weight blocks with 8-bit activation blocks: scalar references, AVX2
// kernels (maddubs: unsigned 8-bit × signed 8-bit → 16-bit pairs; madd → 32-bit) and AVX-512 VNNI
// kernels (dpbusd: four 8-bit products into each 32-bit lane; dpwssd: 16-bit pairs, scaled, into
// 32-bit), chosen once at run time from the CPU's features.
#include "quant_dot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "blocks.h"
#include "pad/util/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PAD_HAVE_AVX2_KERNELS 1
#define PAD_AVX2 __attribute__((target("avx2,fma,f16c")))
#define PAD_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#else
#define PAD_HAVE_AVX2_KERNELS 0
#endif

namespace pad::kernels::detail {
namespace {

// --- activation quantization ----------------------------------------------------------------

void quantize_act_32(const float* x, int64_t k, ActQ8x32* out) {
  for (int64_t b = 0; b < k / kQK; ++b, x += kQK) {
    float amax = 0;
    for (int l = 0; l < kQK; ++l) amax = std::max(amax, std::fabs(x[l]));
    const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int l = 0; l < kQK; ++l) out[b].qs[l] = int8_t(std::clamp(nearest_int(x[l] * id), -127, 127));
    out[b].d = d;
  }
}

void quantize_act_256(const float* x, int64_t k, ActQ8x256* out) {
  for (int64_t b = 0; b < k / kQKK; ++b, x += kQKK) {
    float amax = 0;
    for (int l = 0; l < kQKK; ++l) amax = std::max(amax, std::fabs(x[l]));
    const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int l = 0; l < kQKK; ++l) out[b].qs[l] = int8_t(std::clamp(nearest_int(x[l] * id), -127, 127));
    for (int s = 0; s < kQKK / 16; ++s) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += out[b].qs[16 * s + l];
      out[b].bsums[s] = int16_t(sum);
    }
    for (int s = 0; s < kQKK / 32; ++s) out[b].dsums32[s] = d * float(out[b].bsums[2 * s] + out[b].bsums[2 * s + 1]);
    out[b].d = d;
  }
}

// --- scalar references: the integer sums of each (sub-)block, scaled in float ---------------

float ref_q8_0(const uint8_t* wp, const uint8_t* ap, int64_t k) {
  const auto* w = reinterpret_cast<const BlockQ8_0*>(wp);
  const auto* a = reinterpret_cast<const ActQ8x32*>(ap);
  float sum = 0;
  for (int64_t b = 0; b < k / kQK; ++b) {
    int32_t s = 0;
    for (int l = 0; l < kQK; ++l) s += int32_t(w[b].qs[l]) * a[b].qs[l];
    sum += f16_to_f32(w[b].d) * a[b].d * float(s);
  }
  return sum;
}

float ref_q4_0(const uint8_t* wp, const uint8_t* ap, int64_t k) {
  const auto* w = reinterpret_cast<const BlockQ4_0*>(wp);
  const auto* a = reinterpret_cast<const ActQ8x32*>(ap);
  float sum = 0;
  for (int64_t b = 0; b < k / kQK; ++b) {
    int32_t s = 0;
    for (int l = 0; l < kQK / 2; ++l) {
      s += ((w[b].qs[l] & 0xF) - 8) * a[b].qs[l];
      s += ((w[b].qs[l] >> 4) - 8) * a[b].qs[l + kQK / 2];
    }
    sum += f16_to_f32(w[b].d) * a[b].d * float(s);
  }
  return sum;
}

// q4_K / q5_K: Σ_s d·sc_s·Σ(q·a) − dmin·m_s·Σ a, per super-block.
template <typename Block, bool kFifthBit>
float ref_k45(const uint8_t* wp, const uint8_t* ap, int64_t k) {
  const auto* w = reinterpret_cast<const Block*>(wp);
  const auto* a = reinterpret_cast<const ActQ8x256*>(ap);
  float sum = 0;
  for (int64_t b = 0; b < k / kQKK; ++b) {
    const Block& wb = w[b];
    int32_t sum_q = 0, sum_m = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const int s = 2 * j + half;
        uint8_t sc, m;
        k_scale_min(s, wb.scales, &sc, &m);
        int32_t dot = 0;
        for (int l = 0; l < 32; ++l) {
          int q = half == 0 ? (wb.qs[32 * j + l] & 0xF) : (wb.qs[32 * j + l] >> 4);
          if constexpr (kFifthBit) q += ((wb.qh[l] >> s) & 1) << 4;
          dot += q * a[b].qs[32 * s + l];
        }
        sum_q += int32_t(sc) * dot;
        sum_m += int32_t(m) * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
      }
    }
    sum += a[b].d * (f16_to_f32(wb.d) * float(sum_q) - f16_to_f32(wb.dmin) * float(sum_m));
  }
  return sum;
}

float ref_q6_K(const uint8_t* wp, const uint8_t* ap, int64_t k) {
  const auto* w = reinterpret_cast<const BlockQ6_K*>(wp);
  const auto* a = reinterpret_cast<const ActQ8x256*>(ap);
  float sum = 0;
  for (int64_t b = 0; b < k / kQKK; ++b) {
    const BlockQ6_K& wb = w[b];
    int q[kQKK];  // 0..63, element order
    for (int n = 0; n < 2; ++n) {
      const uint8_t* ql = wb.ql + 64 * n;
      const uint8_t* qh = wb.qh + 32 * n;
      int* y = q + 128 * n;
      for (int l = 0; l < 32; ++l) {
        y[l] = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
        y[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
        y[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
        y[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
      }
    }
    int32_t s = 0;
    for (int g = 0; g < 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += (q[16 * g + l] - 32) * a[b].qs[16 * g + l];
      s += int32_t(wb.scales[g]) * dot;
    }
    sum += f16_to_f32(wb.d) * a[b].d * float(s);
  }
  return sum;
}

// --- AVX2 -----------------------------------------------------------------------------------
// Each kernel multiplies one weight row with R ≤ 4 activation rows (a + r·as): the weight blocks
// are loaded and unpacked once for all R, which is what makes batched decode (and PAD's base and
// PersRM rows of one step) cheaper than R separate products.
#if PAD_HAVE_AVX2_KERNELS

PAD_AVX2 inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
PAD_AVX2 inline int32_t hsum_epi32_128(__m128i s) {
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}
PAD_AVX2 inline float f16(uint16_t h) { return _cvtsh_ss(h); }
PAD_AVX2 inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

template <typename Act>
inline const Act* act_row(const uint8_t* a, size_t as, int r) {
  return reinterpret_cast<const Act*>(a + size_t(r) * as);
}

// 16 bytes of nibbles → 32 bytes: elements 0..15 from the low nibbles, 16..31 from the high.
PAD_AVX2 inline __m256i unpack_nibbles_32(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// q8_0 and q4_0: 32-element blocks of signed codes (q4_0's nibbles minus 8), one f16 scale. The
// signed × signed product through maddubs (unsigned × signed): |w| against a with w's sign.
template <int R, bool kNibbles>
PAD_AVX2 void avx2_q32(const uint8_t* wp, const uint8_t* ap, size_t as, int64_t k, float* out) {
  const int64_t nb = k / kQK;
  const size_t wbytes = kNibbles ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const __m256i ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
  __m256 acc[2][R];
  for (int r = 0; r < R; ++r) acc[0][r] = acc[1][r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = wp + size_t(b) * wbytes;
    uint16_t dbits;
    std::memcpy(&dbits, blk, 2);
    const float dw = f16(dbits);
    const __m256i q = kNibbles ? _mm256_sub_epi8(unpack_nibbles_32(blk + 2), eight) : load256(blk + 2);
    const __m256i qabs = _mm256_sign_epi8(q, q);
    const int u = int(b & 1);
    for (int r = 0; r < R; ++r) {
      const ActQ8x32& a = act_row<ActQ8x32>(ap, as, r)[b];
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(qabs, _mm256_sign_epi8(load256(a.qs), q)), ones);
      acc[u][r] = _mm256_fmadd_ps(_mm256_set1_ps(dw * a.d), _mm256_cvtepi32_ps(p), acc[u][r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum_ps(_mm256_add_ps(acc[0][r], acc[1][r]));
}

// The eight 6-bit scales and mins of a q4_K/q5_K block (ggml's get_scale_min_k4, four at a time),
// each as eight 16-bit lanes.
PAD_AVX2 inline void k_scales_mins(const uint8_t* scales, __m128i* sc, __m128i* m) {
  uint32_t u[3];
  std::memcpy(u, scales, 12);
  const uint32_t kMask1 = 0x3f3f3f3f, kMask2 = 0x0f0f0f0f, kMask3 = 0x03030303;
  const uint64_t sc_lo = u[0] & kMask1, m_lo = u[1] & kMask1;
  const uint64_t sc_hi = (u[2] & kMask2) | (((u[0] >> 6) & kMask3) << 4);
  const uint64_t m_hi = ((u[2] >> 4) & kMask2) | (((u[1] >> 6) & kMask3) << 4);
  *sc = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(sc_lo | (sc_hi << 32))));
  *m = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(m_lo | (m_hi << 32))));
}

// q4_K / q5_K: per super-block Σ_s d·sc_s·(q_s · a_s) − dmin·Σ_s m_s·(a's sum over s).
template <int R, typename Block, bool kFifthBit>
PAD_AVX2 void avx2_k45(const uint8_t* wp, const uint8_t* ap, size_t as, int64_t k, float* out) {
  const auto* w = reinterpret_cast<const Block*>(wp);
  const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  __m256 acc[R], acc_m[R];
  for (int r = 0; r < R; ++r) acc[r] = acc_m[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < k / kQKK; ++b) {
    const Block& wb = w[b];
    alignas(16) int16_t sc[8];
    __m128i scales, mins;
    k_scales_mins(wb.scales, &scales, &mins);
    _mm_store_si128(reinterpret_cast<__m128i*>(sc), scales);
    const float dw = f16(wb.d), dmin = f16(wb.dmin);
    const __m256 mins_f = _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(mins)));
    __m256i qh;
    if constexpr (kFifthBit) qh = load256(wb.qh);
    __m256i sumi[R];
    for (int r = 0; r < R; ++r) sumi[r] = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load256(wb.qs + 32 * j);
      __m256i q_lo = _mm256_and_si256(q, low4);
      __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (kFifthBit) {
        q_lo = _mm256_or_si256(q_lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
        q_hi = _mm256_or_si256(q_hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
      }
      const __m256i s_lo = _mm256_set1_epi16(sc[2 * j]), s_hi = _mm256_set1_epi16(sc[2 * j + 1]);
      for (int r = 0; r < R; ++r) {
        const int8_t* aq = act_row<ActQ8x256>(ap, as, r)[b].qs + 64 * j;
        const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, load256(aq)), s_lo);
        const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, load256(aq + 32)), s_hi);
        sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(p_lo, p_hi));
      }
    }
    for (int r = 0; r < R; ++r) {
      const ActQ8x256& a = act_row<ActQ8x256>(ap, as, r)[b];
      acc_m[r] = _mm256_fmadd_ps(mins_f, _mm256_loadu_ps(a.dsums32), acc_m[r]);  // Σ_s dmin·m_s · d·Σa_s
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dw * a.d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum_ps(_mm256_sub_ps(acc[r], acc_m[r]));
}

// q6_K: codes 0..63 (4 bits in ql, 2 in qh) with the −32 taken out through the block sums,
// sixteen 8-bit scales of 16 elements each.
template <int R>
PAD_AVX2 void avx2_q6_K(const uint8_t* wp, const uint8_t* ap, size_t as, int64_t k, float* out) {
  const auto* w = reinterpret_cast<const BlockQ6_K*>(wp);
  const __m256i low4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < k / kQKK; ++b) {
    const BlockQ6_K& wb = w[b];
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.scales)));
    alignas(32) int16_t sc[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc), sc16);
    __m256i sumi[R];
    for (int r = 0; r < R; ++r)  // −32 · Σ_g scale_g · bsums_g
      sumi[r] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_slli_epi32(_mm256_madd_epi16(load256(act_row<ActQ8x256>(ap, as, r)[b].bsums), sc16), 5));
    for (int n = 0; n < 2; ++n) {
      const __m256i ql0 = load256(wb.ql + 64 * n), ql1 = load256(wb.ql + 64 * n + 32), qh = load256(wb.qh + 32 * n);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)),
          _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, m2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)),
      };
      for (int t = 0; t < 4; ++t) {
        const int g = 8 * n + 2 * t;  // the two 16-element scale groups of these 32 elements
        const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
        for (int r = 0; r < R; ++r) {
          const int8_t* aq = act_row<ActQ8x256>(ap, as, r)[b].qs + 128 * n + 32 * t;
          sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q[t], load256(aq)), scv));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const float d = f16(wb.d) * act_row<ActQ8x256>(ap, as, r)[b].d;
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum_ps(acc[r]);
}

using MultiFn = void (*)(const uint8_t* w, const uint8_t* a, size_t as, int64_t k, float* out);

template <template <int> class K>
constexpr MultiFn kRows[4] = {K<1>::f, K<2>::f, K<3>::f, K<4>::f};
template <int R> struct KQ8 { static constexpr MultiFn f = avx2_q32<R, false>; };
template <int R> struct KQ4 { static constexpr MultiFn f = avx2_q32<R, true>; };
template <int R> struct KQ4K { static constexpr MultiFn f = avx2_k45<R, BlockQ4_K, false>; };
template <int R> struct KQ5K { static constexpr MultiFn f = avx2_k45<R, BlockQ5_K, true>; };
template <int R> struct KQ6K { static constexpr MultiFn f = avx2_q6_K<R>; };

const MultiFn* avx2_kernels(WType type) {
  switch (type) {
    case WType::kQ8_0: return kRows<KQ8>;
    case WType::kQ4_0: return kRows<KQ4>;
    case WType::kQ4_K: return kRows<KQ4K>;
    case WType::kQ5_K: return kRows<KQ5K>;
    case WType::kQ6_K: return kRows<KQ6K>;
    default: return nullptr;
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return has;
}

// --- AVX-512 VNNI -----------------------------------------------------------------------------
// 64 weight codes per register. A register holds two whole sub-blocks (q4_K/q5_K: 2j and 2j + 1,
// built from the same 32 bytes of nibbles, low then high) in element order, so the activations are
// plain 64-byte loads. dpbusd gives four-product sums per 32-bit lane; two such registers are packed
// to 16 bits (they fit: |sum| ≤ 4·63·127) and dpwssd multiplies each 16-bit lane by its sub-block's
// scale while adding pairs into the 32-bit accumulator: three instructions per 64 codes and row.

PAD_AVX512 inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }
PAD_AVX512 inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
// The same 32 bytes in both halves.
PAD_AVX512 inline __m512i load256x2(const void* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}
// A 16-bit lane vector that is a in the low half and b in the high half.
PAD_AVX512 inline __m512i halves16(short a, short b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(a)), _mm256_set1_epi16(b), 1);
}
// The index vector for permutexvar_epi16 that gives each 16-bit lane of packs_epi32(t0, t1) its
// scale. packs works per 128-bit chunk c: four lanes from t0's chunk c, then four from t1's; they
// take scale first_t0 + c / per_chunk and first_t1 + c / per_chunk.
struct ScaleIndex {
  alignas(64) int16_t lanes[32];
};
constexpr ScaleIndex pack_scale_index(int first_t0, int first_t1, int per_chunk) {
  ScaleIndex idx{};
  for (int l = 0; l < 32; ++l) idx.lanes[l] = int16_t((l % 8 < 4 ? first_t0 : first_t1) + (l / 8) / per_chunk);
  return idx;
}
// Built at compile time: the kernels run once per weight row, so nothing per call.
constexpr ScaleIndex kK45Index01 = pack_scale_index(0, 2, 2), kK45Index23 = pack_scale_index(4, 6, 2);
constexpr ScaleIndex kQ6Index[2] = {pack_scale_index(0, 4, 1), pack_scale_index(8, 12, 1)};
PAD_AVX512 inline __m512i load_index(const ScaleIndex& idx) { return _mm512_load_si512(idx.lanes); }

// The 32 signed codes and the scale of a q8_0 or q4_0 block.
template <bool kNibbles>
PAD_AVX512 inline __m256i q32_codes(const uint8_t* blk) {
  return kNibbles ? _mm256_sub_epi8(unpack_nibbles_32(blk + 2), _mm256_set1_epi8(8)) : load256(blk + 2);
}
PAD_AVX512 inline float q32_scale(const uint8_t* blk) {
  uint16_t dbits;
  std::memcpy(&dbits, blk, 2);
  return f16(dbits);
}

// q8_0 and q4_0: two 32-element blocks per register, signed codes as |w| (unsigned) against a with
// w's sign (a mask, AVX-512 has no sign_epi8), each block's 32-bit lanes scaled by its own d·d_a.
template <int R, bool kNibbles>
PAD_AVX512 void vnni_q32(const uint8_t* wp, const uint8_t* ap, size_t as, int64_t k, float* out) {
  const int64_t nb = k / kQK;
  const size_t wbytes = kNibbles ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i halves_index = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* b0 = wp + size_t(b) * wbytes;
    const uint8_t* b1 = b0 + wbytes;
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q32_codes<kNibbles>(b0)), q32_codes<kNibbles>(b1), 1);
    const __mmask64 negative = _mm512_movepi8_mask(q);
    const __m512i qabs = _mm512_abs_epi8(q);
    // [d_w0, d_w1] in one register: both f16 scales converted at once, multiplied by the
    // activations' [d_a0, d_a1] and spread to the blocks' halves by one permute (a third of the
    // vector instructions of broadcasting and inserting each scale).
    uint16_t h0, h1;
    std::memcpy(&h0, b0, 2);
    std::memcpy(&h1, b1, 2);
    const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128(int(uint32_t(h0) | uint32_t(h1) << 16)));
    for (int r = 0; r < R; ++r) {
      const ActQ8x32* a = act_row<ActQ8x32>(ap, as, r) + b;
      __m512i av = _mm512_inserti64x4(_mm512_castsi256_si512(load256(a[0].qs)), load256(a[1].qs), 1);
      av = _mm512_mask_sub_epi8(av, negative, zero, av);
      const __m128 da = _mm_insert_ps(_mm_load_ss(&a[0].d), _mm_load_ss(&a[1].d), 0x10);
      const __m512 scale = _mm512_permutexvar_ps(halves_index, _mm512_castps128_ps512(_mm_mul_ps(dw, da)));
      acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, qabs, av)), acc[r]);
    }
  }
  float tail[R] = {};
  if (b < nb) {  // an odd block count: the last block through the 256-bit products
    const uint8_t* blk = wp + size_t(b) * wbytes;
    const __m256i q = q32_codes<kNibbles>(blk), qabs = _mm256_sign_epi8(q, q);
    for (int r = 0; r < R; ++r) {
      const ActQ8x32& a = act_row<ActQ8x32>(ap, as, r)[b];
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(qabs, _mm256_sign_epi8(load256(a.qs), q)), _mm256_set1_epi16(1));
      tail[r] = q32_scale(blk) * a.d * hsum_ps(_mm256_cvtepi32_ps(p));
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum512(acc[r]) + tail[r];
}

// q4_K / q5_K.
template <int R, typename Block, bool kFifthBit>
PAD_AVX512 void vnni_k45(const uint8_t* wp, const uint8_t* ap, size_t as, int64_t k, float* out) {
  const auto* w = reinterpret_cast<const Block*>(wp);
  const __m512i low4 = _mm512_set1_epi8(0x0F), one = _mm512_set1_epi8(1), zero = _mm512_setzero_si512();
  const __m512i nibble_shift = halves16(0, 4);
  // t_j = [sub-block 2j | 2j + 1]: chunk c of packs(t0, t1) is sub-block c/2 then 2 + c/2.
  const __m512i idx01 = load_index(kK45Index01), idx23 = load_index(kK45Index23);
  __m512 acc[R];
  __m256 acc_m[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps(), acc_m[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < k / kQKK; ++b) {
    const Block& wb = w[b];
    __m128i sc, mins;
    k_scales_mins(wb.scales, &sc, &mins);
    const __m512i scales = _mm512_castsi128_si512(sc);
    const __m512i s01 = _mm512_permutexvar_epi16(idx01, scales), s23 = _mm512_permutexvar_epi16(idx23, scales);
    const float dw = f16(wb.d), dmin = f16(wb.dmin);
    const __m256 mins_f = _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(mins)));
    __m512i q[4];
    __m512i qh;
    if constexpr (kFifthBit) qh = load256x2(wb.qh);
    for (int j = 0; j < 4; ++j) {
      q[j] = _mm512_and_si512(_mm512_srlv_epi16(load256x2(wb.qs + 32 * j), nibble_shift), low4);
      if constexpr (kFifthBit)
        q[j] = _mm512_or_si512(
            q[j], _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, halves16(short(2 * j), short(2 * j + 1))), one), 4));
    }
    for (int r = 0; r < R; ++r) {
      const ActQ8x256& a = act_row<ActQ8x256>(ap, as, r)[b];
      __m512i t[4];
      for (int j = 0; j < 4; ++j) t[j] = _mm512_dpbusd_epi32(zero, q[j], load512(a.qs + 64 * j));
      __m512i sumi = _mm512_dpwssd_epi32(zero, _mm512_packs_epi32(t[0], t[1]), s01);
      sumi = _mm512_dpwssd_epi32(sumi, _mm512_packs_epi32(t[2], t[3]), s23);
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(dw * a.d), _mm512_cvtepi32_ps(sumi), acc[r]);
      acc_m[r] = _mm256_fmadd_ps(mins_f, _mm256_loadu_ps(a.dsums32), acc_m[r]);  // Σ_s dmin·m_s · d·Σa_s
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum512(acc[r]) - hsum_ps(acc_m[r]);
}

// q6_K: per 128 codes, [elements 0..63] from ql's 64 bytes' low nibbles and qh's bits 0-1 / 2-3, and
// [64..127] from the high nibbles and bits 4-5 / 6-7; scale groups of 16 (four lanes each).
template <int R>
PAD_AVX512 void vnni_q6_K(const uint8_t* wp, const uint8_t* ap, size_t as, int64_t k, float* out) {
  const auto* w = reinterpret_cast<const BlockQ6_K*>(wp);
  const __m512i low4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
  const __m512i shl_lo = halves16(4, 2), shr_hi = halves16(0, 2);
  // Chunk c of packs(t_a, t_b) for half n: group 8n + c (t_a), then 8n + 4 + c (t_b).
  const __m512i idx[2] = {load_index(kQ6Index[0]), load_index(kQ6Index[1])};
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < k / kQKK; ++b) {
    const BlockQ6_K& wb = w[b];
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.scales)));
    const __m512i scales = _mm512_castsi256_si512(sc16);
    __m512i q[4], s[2];
    for (int n = 0; n < 2; ++n) {
      const __m512i ql = load512(wb.ql + 64 * n), qh = load256x2(wb.qh + 32 * n);
      q[2 * n] = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl_lo), m2));
      q[2 * n + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                     _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), m2));
      s[n] = _mm512_permutexvar_epi16(idx[n], scales);
    }
    const float dw = f16(wb.d);
    for (int r = 0; r < R; ++r) {
      const ActQ8x256& a = act_row<ActQ8x256>(ap, as, r)[b];
      // −32 · Σ_g scale_g · bsums_g, then Σ_g scale_g · (codes · a) over the four registers.
      const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(load256(a.bsums), sc16), 5);
      __m512i sumi = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), off));
      for (int n = 0; n < 2; ++n) {
        const __m512i ta = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2 * n], load512(a.qs + 128 * n));
        const __m512i tb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2 * n + 1], load512(a.qs + 128 * n + 64));
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_packs_epi32(ta, tb), s[n]);
      }
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(dw * a.d), _mm512_cvtepi32_ps(sumi), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum512(acc[r]);
}

template <int R> struct VQ8 { static constexpr MultiFn f = vnni_q32<R, false>; };
template <int R> struct VQ4 { static constexpr MultiFn f = vnni_q32<R, true>; };
template <int R> struct VQ4K { static constexpr MultiFn f = vnni_k45<R, BlockQ4_K, false>; };
template <int R> struct VQ5K { static constexpr MultiFn f = vnni_k45<R, BlockQ5_K, true>; };
template <int R> struct VQ6K { static constexpr MultiFn f = vnni_q6_K<R>; };

const MultiFn* vnni_kernels(WType type) {
  switch (type) {
    case WType::kQ8_0: return kRows<VQ8>;
    case WType::kQ4_0: return kRows<VQ4>;
    case WType::kQ4_K: return kRows<VQ4K>;
    case WType::kQ5_K: return kRows<VQ5K>;
    case WType::kQ6_K: return kRows<VQ6K>;
    default: return avx2_kernels(type);
  }
}

bool cpu_has_avx512_vnni() {
  static const bool has = cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}
#endif  // PAD_HAVE_AVX2_KERNELS

[[noreturn]] void no_kernel(WType type) {
  throw_invalid("integer kernels: no 8-bit product for ", wtype_name(type));
}

}  // namespace

bool has_int_kernel(WType type) {
  switch (type) {
    case WType::kQ8_0: case WType::kQ4_0: case WType::kQ4_K: case WType::kQ5_K: case WType::kQ6_K:
      return true;
    default:
      return false;
  }
}

size_t act_row_bytes(WType type, int64_t k) {
  if (type == WType::kQ8_0 || type == WType::kQ4_0) return size_t(k / kQK) * sizeof(ActQ8x32);
  if (has_int_kernel(type)) return size_t(k / kQKK) * sizeof(ActQ8x256);
  no_kernel(type);
}

void quantize_act_row(WType type, const float* x, int64_t k, uint8_t* dst) {
  if (type == WType::kQ8_0 || type == WType::kQ4_0)
    quantize_act_32(x, k, reinterpret_cast<ActQ8x32*>(dst));
  else if (has_int_kernel(type))
    quantize_act_256(x, k, reinterpret_cast<ActQ8x256*>(dst));
  else
    no_kernel(type);
}

DotFn dot_reference(WType type) {
  switch (type) {
    case WType::kQ8_0: return ref_q8_0;
    case WType::kQ4_0: return ref_q4_0;
    case WType::kQ4_K: return ref_k45<BlockQ4_K, false>;
    case WType::kQ5_K: return ref_k45<BlockQ5_K, true>;
    case WType::kQ6_K: return ref_q6_K;
    default: no_kernel(type);
  }
}

namespace {

IntIsa best_isa() {
#if PAD_HAVE_AVX2_KERNELS
  if (cpu_has_avx512_vnni()) return IntIsa::kAvx512Vnni;
  if (cpu_has_avx2()) return IntIsa::kAvx2;
#endif
  return IntIsa::kReference;
}

IntIsa isa_from_env() {
  const IntIsa best = best_isa();
  const char* env = std::getenv("PAD_INT_ISA");
  if (env == nullptr || *env == '\0') return best;
  for (IntIsa isa : {IntIsa::kReference, IntIsa::kAvx2, IntIsa::kAvx512Vnni})
    if (std::strcmp(env, int_isa_name(isa)) == 0) return int_isa_supported(isa) ? isa : best;
  // Read before main, so a bad value is reported, not thrown.
  std::fprintf(stderr, "pad: PAD_INT_ISA='%s' is not known (expected reference, avx2 or avx512_vnni); using %s\n",
               env, int_isa_name(best));
  return best;
}

IntIsa g_isa = isa_from_env();

#if PAD_HAVE_AVX2_KERNELS
const MultiFn* kernels_of(IntIsa isa, WType type) {
  if (isa == IntIsa::kAvx512Vnni) return vnni_kernels(type);
  if (isa == IntIsa::kAvx2) return avx2_kernels(type);
  return nullptr;
}

template <IntIsa kIsa, WType kType>
float one_row(const uint8_t* w, const uint8_t* a, int64_t k) {
  float y;
  kernels_of(kIsa, kType)[0](w, a, 0, k, &y);
  return y;
}

template <IntIsa kIsa>
DotFn one_row_kernel(WType type) {
  switch (type) {
    case WType::kQ8_0: return one_row<kIsa, WType::kQ8_0>;
    case WType::kQ4_0: return one_row<kIsa, WType::kQ4_0>;
    case WType::kQ4_K: return one_row<kIsa, WType::kQ4_K>;
    case WType::kQ5_K: return one_row<kIsa, WType::kQ5_K>;
    case WType::kQ6_K: return one_row<kIsa, WType::kQ6_K>;
    default: no_kernel(type);
  }
}
#endif

}  // namespace

const char* int_isa_name(IntIsa isa) {
  switch (isa) {
    case IntIsa::kReference: return "reference";
    case IntIsa::kAvx2: return "avx2";
    case IntIsa::kAvx512Vnni: return "avx512_vnni";
  }
  return "?";
}

bool int_isa_supported(IntIsa isa) { return static_cast<int>(isa) <= static_cast<int>(best_isa()); }

IntIsa int_isa() { return g_isa; }

void set_int_isa(IntIsa isa) {
  if (!int_isa_supported(isa)) throw_invalid("integer kernels: this CPU has no ", int_isa_name(isa));
  g_isa = isa;
}

DotFn dot_kernel(WType type) {
  (void)dot_reference(type);  // throws for types without an integer product
#if PAD_HAVE_AVX2_KERNELS
  if (g_isa == IntIsa::kAvx512Vnni) return one_row_kernel<IntIsa::kAvx512Vnni>(type);
  if (g_isa == IntIsa::kAvx2) return one_row_kernel<IntIsa::kAvx2>(type);
#endif
  return dot_reference(type);
}

bool dot_kernel_is_simd(WType type) { return dot_kernel(type) != dot_reference(type); }

namespace {
// How far ahead the first pass over the weight rows prefetches. Measured on a 2-core Xeon with
// AVX-512 VNNI (bench_kernels 1, weights rotated through 2 GiB so they come from DRAM; q8_0 / q4_K
// at M = 1): no software prefetch 7.8 / 11.2 GB/s; the next row (0-1 KB ahead) 13.1 / 12.2; 4 KB
// 9.8 / 12.4; 16 KB 8.2 / 10.4. Close ahead is best: the L2 streamer covers the rest.
constexpr size_t kPrefetchBytes = 1024;
inline void prefetch_row(const uint8_t* p, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}
}  // namespace

void dot_rows(WType type, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* acts,
              size_t act_stride, int64_t m, int64_t k, float* y, int64_t ldy) {
#if PAD_HAVE_AVX2_KERNELS
  if (const MultiFn* kernels = kernels_of(g_isa, type)) {
    // Tiles of weight rows that stay in L1/L2 while every group of four activation rows passes
    // over them, so neither the weights nor the activations are read from memory more than once.
    constexpr size_t kTileBytes = 16 << 10;
    const int64_t tile = m <= 4 ? n_rows : std::max<int64_t>(1, int64_t(kTileBytes / w_stride));
    // The hardware prefetchers alone keep too few lines in flight for one thread to stream its
    // rows at the memory's rate: the first pass over each row also asks for the row kPrefetchBytes
    // further on (at least the next one).
    const int64_t ahead = std::max<int64_t>(1, int64_t(kPrefetchBytes / w_stride));
    float out[4];
    for (int64_t r0 = 0; r0 < n_rows; r0 += tile) {
      const int64_t r1 = std::min(n_rows, r0 + tile);
      for (int64_t i = 0; i < m; i += 4) {
        const int rows = int(std::min<int64_t>(4, m - i));
        const uint8_t* a = acts + size_t(i) * act_stride;
        for (int64_t r = r0; r < r1; ++r) {
          if (i == 0 && r + ahead < n_rows) prefetch_row(w + size_t(r + ahead) * w_stride, w_stride);
          kernels[rows - 1](w + size_t(r) * w_stride, a, act_stride, k, out);
          for (int t = 0; t < rows; ++t) y[(i + t) * ldy + r] = out[t];
        }
      }
    }
    return;
  }
#endif
  const DotFn dot = dot_reference(type);
  for (int64_t r = 0; r < n_rows; ++r, w += w_stride)
    for (int64_t i = 0; i < m; ++i) y[i * ldy + r] = dot(w, acts + size_t(i) * act_stride, k);
}

}  // namespace pad::kernels::detail
