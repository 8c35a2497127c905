// Scalar reference dequantization (bit-exact to ggml's dequantize_row_*: same float operations in
// the same order; this file is compiled with -ffp-contract=off so no FMA changes a rounding) and
// the reference quantizers that write valid GGUF blocks.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "quant_search.h"
#include "pad/kernels/weight.h"
#include "pad/util/error.h"

// The dequantizers run at every product over a quantized matrix: compiled for AVX2 as well as the
// baseline, chosen at load time (x86-64 with GCC; elsewhere the plain build).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PAD_DEQUANT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PAD_DEQUANT_CLONES
#endif

namespace pad::kernels {
namespace {
using namespace detail;

PAD_DEQUANT_CLONES
void dequant_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < kQK; ++l) y[l] = float(b[i].qs[l]) * d;
  }
}

PAD_DEQUANT_CLONES
void dequant_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < kQK / 2; ++l) {
      y[l] = float((b[i].qs[l] & 0xF) - 8) * d;
      y[l + kQK / 2] = float((b[i].qs[l] >> 4) - 8) * d;
    }
  }
}

// q4_K and q5_K: eight sub-blocks of 32 with their own scale and min; q5_K adds a fifth bit from
// qh. Branch-free inner loops (the bit as a shift) so the compiler vectorizes them; the float
// operations and their order are the reference's, so the result is the same bit for bit.
template <typename Block, bool kFifthBit>
inline void dequant_k45(const Block* blocks, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const Block& b = blocks[i];
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    const uint8_t* qs = b.qs;
    for (int j = 0; j < 4; ++j, qs += 32, y += 64) {
      uint8_t sc, m;
      k_scale_min(2 * j, b.scales, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k_scale_min(2 * j + 1, b.scales, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) {
        int q = qs[l] & 0xF;
        if constexpr (kFifthBit) q += ((b.qh[l] >> (2 * j)) & 1) << 4;
        y[l] = d1 * float(q) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        int q = qs[l] >> 4;
        if constexpr (kFifthBit) q += ((b.qh[l] >> (2 * j + 1)) & 1) << 4;
        y[32 + l] = d2 * float(q) - m2;
      }
    }
  }
}

PAD_DEQUANT_CLONES
void dequant_q4_K(const BlockQ4_K* b, float* y, int64_t nb) { dequant_k45<BlockQ4_K, false>(b, y, nb); }
PAD_DEQUANT_CLONES
void dequant_q5_K(const BlockQ5_K* b, float* y, int64_t nb) { dequant_k45<BlockQ5_K, true>(b, y, nb); }

PAD_DEQUANT_CLONES
void dequant_q6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int n = 0; n < kQKK; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * float(sc[is]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
  }
}

void quant_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0;
    for (int l = 0; l < kQK; ++l) amax = std::max(amax, std::fabs(x[l]));
    const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int l = 0; l < kQK; ++l) b[i].qs[l] = int8_t(std::clamp(nearest_int(x[l] * id), -127, 127));
  }
}

// The value of largest magnitude maps to −8 (q = 0), so the grid's asymmetric end is used.
void quant_q4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float vmax = 0;
    for (int l = 0; l < kQK; ++l)
      if (std::fabs(x[l]) > std::fabs(vmax)) vmax = x[l];
    const float d = vmax / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int l = 0; l < kQK / 2; ++l) {
      const int q0 = std::clamp(nearest_int(x[l] * id) + 8, 0, 15);
      const int q1 = std::clamp(nearest_int(x[l + kQK / 2] * id) + 8, 0, 15);
      b[i].qs[l] = uint8_t(q0 | (q1 << 4));
    }
  }
}

// Packs 8 six-bit scales and mins the way k_scale_min unpacks them.
void pack_k_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* out) {
  std::memset(out, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] = ls[j];
      out[j + 4] = lm[j];
    } else {
      out[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      out[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      out[j] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

// One q4_K (n_max 15) or q5_K (n_max 31) super-block: L gets the levels 0..n_max.
void quant_k45_block(const float* x, int n_max, uint16_t* dd, uint8_t* scales, uint8_t* L) {
  float sub_scale[8], sub_min[8];  // value ≈ sub_scale · L − sub_min
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    fit_scale_min(x + 32 * j, 32, n_max, &sub_scale[j], &sub_min[j]);
    max_scale = std::max(max_scale, sub_scale[j]);
    max_min = std::max(max_min, sub_min[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = uint8_t(std::min(63, nearest_int(inv_scale * sub_scale[j])));
    lm[j] = uint8_t(std::min(63, nearest_int(inv_min * sub_min[j])));
  }
  pack_k_scales(ls, lm, scales);
  dd[0] = f32_to_f16(max_scale / 63.0f);
  dd[1] = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(dd[0]), dmin = f16_to_f32(dd[1]);
  for (int j = 0; j < 8; ++j) {  // levels for the scales as stored (rounded to 6 bits and f16)
    const float ds = d * float(ls[j]), dm = dmin * float(lm[j]);
    const float ids = ds > 0 ? 1.0f / ds : 0.0f;
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = uint8_t(std::clamp(nearest_int((x[32 * j + l] + dm) * ids), 0, n_max));
  }
}

void quant_q4_K(const float* x, BlockQ4_K* b, int64_t nb) {
  uint8_t L[kQKK];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    quant_k45_block(x, 15, &b[i].d, b[i].scales, L);
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) b[i].qs[32 * j + l] = uint8_t(L[64 * j + l] | (L[64 * j + 32 + l] << 4));
  }
}

void quant_q5_K(const float* x, BlockQ5_K* b, int64_t nb) {
  uint8_t L[kQKK];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    quant_k45_block(x, 31, &b[i].d, b[i].scales, L);
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * j + l], hi = L[64 * j + 32 + l];
        b[i].qs[32 * j + l] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
        b[i].qh[l] |= uint8_t(((lo >> 4) << (2 * j)) | ((hi >> 4) << (2 * j + 1)));
      }
  }
}

void quant_q6_K(const float* x, BlockQ6_K* b, int64_t nb) {
  uint8_t L[kQKK];  // levels 0..63 (q + 32)
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float sub_scale[16];  // value ≈ sub_scale · q, q in −32..31
    float max_scale = 0;  // the signed scale of largest magnitude
    for (int s = 0; s < 16; ++s) {
      sub_scale[s] = fit_symmetric_scale(x + 16 * s, 16, 32);
      if (std::fabs(sub_scale[s]) > std::fabs(max_scale)) max_scale = sub_scale[s];
    }
    std::memset(&b[i], 0, sizeof(BlockQ6_K));
    const float iscale = max_scale != 0 ? -128.0f / max_scale : 0.0f;
    b[i].d = f32_to_f16(iscale != 0 ? 1.0f / iscale : 0.0f);
    for (int s = 0; s < 16; ++s) b[i].scales[s] = int8_t(std::clamp(nearest_int(iscale * sub_scale[s]), -128, 127));
    const float d = f16_to_f32(b[i].d);
    for (int s = 0; s < 16; ++s) {
      const float ds = d * float(b[i].scales[s]), ids = ds != 0 ? 1.0f / ds : 0.0f;
      for (int l = 0; l < 16; ++l) L[16 * s + l] = uint8_t(std::clamp(nearest_int(x[16 * s + l] * ids), -32, 31) + 32);
    }
    for (int h = 0; h < 2; ++h) {  // halves of 128: ql 64 bytes, qh 32 bytes each
      const uint8_t* Lh = L + 128 * h;
      uint8_t* ql = b[i].ql + 64 * h;
      uint8_t* qh = b[i].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = uint8_t((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = uint8_t((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = uint8_t((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

void check_row(WType type, int64_t n) {
  if (n % block_elems(type) != 0)
    throw_invalid("row of ", n, " elements is not a multiple of the ", wtype_name(type), " block (",
                  block_elems(type), ")");
}

}  // namespace

void dequantize_row_ref(WType type, const uint8_t* src, float* dst, int64_t n) {
  check_row(type, n);
  const int64_t nb = n / block_elems(type);
  switch (type) {
    case WType::kF32: std::memcpy(dst, src, size_t(n) * 4); return;
    case WType::kF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(h[i]);
      return;
    }
    case WType::kBF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return;
    }
    case WType::kQ8_0: return dequant_q8_0(reinterpret_cast<const BlockQ8_0*>(src), dst, nb);
    case WType::kQ4_0: return dequant_q4_0(reinterpret_cast<const BlockQ4_0*>(src), dst, nb);
    case WType::kQ4_K: return dequant_q4_K(reinterpret_cast<const BlockQ4_K*>(src), dst, nb);
    case WType::kQ5_K: return dequant_q5_K(reinterpret_cast<const BlockQ5_K*>(src), dst, nb);
    case WType::kQ6_K: return dequant_q6_K(reinterpret_cast<const BlockQ6_K*>(src), dst, nb);
  }
  throw_invalid("dequantize_row_ref: unknown weight type ", uint32_t(type));
}

void quantize_row_ref(WType type, const float* src, uint8_t* dst, int64_t n) {
  check_row(type, n);
  const int64_t nb = n / block_elems(type);
  switch (type) {
    case WType::kF32: std::memcpy(dst, src, size_t(n) * 4); return;
    case WType::kF16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(src[i]);
      return;
    }
    case WType::kBF16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      return;
    }
    case WType::kQ8_0: return quant_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), nb);
    case WType::kQ4_0: return quant_q4_0(src, reinterpret_cast<BlockQ4_0*>(dst), nb);
    case WType::kQ4_K: return quant_q4_K(src, reinterpret_cast<BlockQ4_K*>(dst), nb);
    case WType::kQ5_K: return quant_q5_K(src, reinterpret_cast<BlockQ5_K*>(dst), nb);
    case WType::kQ6_K: return quant_q6_K(src, reinterpret_cast<BlockQ6_K*>(dst), nb);
  }
  throw_invalid("quantize_row_ref: unknown weight type ", uint32_t(type));
}

}  // namespace pad::kernels
