// Reference (scalar) GGUF block layouts: dequantization bit for bit as ggml defines the formats, and
// simple quantizers that produce valid blocks (TEMPORARY until the kernels branch lands).
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "pad/kernels/weight.h"
#include "pad/util/error.h"

namespace pad::kernels {
namespace {

float half_at(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}
void put_half(uint8_t* p, float v) {
  const uint16_t bits = c10::Half(v).x;
  std::memcpy(p, &bits, 2);
}

// q4_K / q5_K: the 6-bit scale and min of sub-block j from the 12 packed bytes.
void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63, m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = ls[j] | ((ls[j + 4] >> 4) << 6);
    q[j + 4] = lm[j] | ((lm[j + 4] >> 4) << 6);
    q[j + 8] = (ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4);
  }
}

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<int8_t>(b[2 + i]);
}
void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  for (int j = 0; j < 16; ++j) {
    y[j] = ((b[2 + j] & 0xF) - 8) * d;
    y[j + 16] = ((b[2 + j] >> 4) - 8) * d;
  }
}
void dequant_q4_K(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
    uint8_t sc, m;
    scale_min_k4(is, scales, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[j + l] = d1 * (q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) y[j + 32 + l] = d2 * (q[l] >> 4) - m2;
  }
}
void dequant_q5_K(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, m;
    scale_min_k4(is, scales, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[j + l] = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) y[j + 32 + l] = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
  }
}
void dequant_q6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_at(b + 208);
  for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[n + l] = d * sc[is] * q1;
      y[n + l + 32] = d * sc[is + 2] * q2;
      y[n + l + 64] = d * sc[is + 4] * q3;
      y[n + l + 96] = d * sc[is + 6] * q4;
    }
  }
}

void quant_q8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
  put_half(b, d);
  for (int i = 0; i < 32; ++i) b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * id)));
}
void quant_q4_0(const float* x, uint8_t* b) {
  float amax = 0, max = 0;  // the value of largest magnitude, with its sign
  for (int i = 0; i < 32; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
  put_half(b, d);
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
    const int q1 = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
    b[2 + j] = static_cast<uint8_t>(std::max(0, q0) | (std::max(0, q1) << 4));
  }
}

// q4_K / q5_K: per sub-block of 32, x ≈ scale·q − min with q in [0, nmax]; the scales and mins are
// then stored in 6 bits relative to the block's d and dmin. Fills levels L[256] and the header.
void quant_kx(const float* x, int nmax, uint8_t* header, uint8_t* levels) {
  float scale[8], min[8];
  for (int s = 0; s < 8; ++s) {
    float lo = 0, hi = 0;
    for (int i = 0; i < 32; ++i) lo = std::min(lo, x[s * 32 + i]), hi = std::max(hi, x[s * 32 + i]);
    scale[s] = (hi - lo) / nmax;
    min[s] = -lo;
  }
  const float max_scale = *std::max_element(scale, scale + 8), max_min = *std::max_element(min, min + 8);
  const float d = max_scale / 63, dmin = max_min / 63;
  uint8_t ls[8], lm[8];
  for (int s = 0; s < 8; ++s) {
    ls[s] = static_cast<uint8_t>(d > 0 ? std::min(63L, std::lround(scale[s] / d)) : 0);
    lm[s] = static_cast<uint8_t>(dmin > 0 ? std::min(63L, std::lround(min[s] / dmin)) : 0);
  }
  put_half(header, d);
  put_half(header + 2, dmin);
  pack_scale_min_k4(ls, lm, header + 4);
  const float dq = half_at(header), mq = half_at(header + 2);
  for (int s = 0; s < 8; ++s) {
    const float sc = dq * ls[s], m = mq * lm[s];
    for (int i = 0; i < 32; ++i) {
      const long q = sc > 0 ? std::lround((x[s * 32 + i] + m) / sc) : 0;
      levels[s * 32 + i] = static_cast<uint8_t>(std::clamp(q, 0L, static_cast<long>(nmax)));
    }
  }
}
void quant_q4_K(const float* x, uint8_t* b) {
  uint8_t L[256];
  quant_kx(x, 15, b, L);
  uint8_t* q = b + 16;
  for (int j = 0; j < 256; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = L[j + l] | (L[j + 32 + l] << 4);
}
void quant_q5_K(const float* x, uint8_t* b) {
  uint8_t L[256];
  quant_kx(x, 31, b, L);
  uint8_t* qh = b + 16;
  uint8_t* ql = b + 48;
  std::memset(qh, 0, 32);
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 256; j += 64, ql += 32, u1 <<= 2, u2 <<= 2)
    for (int l = 0; l < 32; ++l) {
      int a = L[j + l], c = L[j + 32 + l];
      if (a > 15) a -= 16, qh[l] |= u1;
      if (c > 15) c -= 16, qh[l] |= u2;
      ql[l] = static_cast<uint8_t>(a | (c << 4));
    }
}
void quant_q6_K(const float* x, uint8_t* b) {
  float scale[16];
  float max_abs_scale = 0, max_scale = 0;
  for (int s = 0; s < 16; ++s) {
    float amax = 0, max = 0;
    for (int i = 0; i < 16; ++i)
      if (std::fabs(x[s * 16 + i]) > amax) amax = std::fabs(x[s * 16 + i]), max = x[s * 16 + i];
    scale[s] = max / -32;
    if (std::fabs(scale[s]) > max_abs_scale) max_abs_scale = std::fabs(scale[s]), max_scale = scale[s];
  }
  const float d = max_scale / -128, id = d != 0 ? 1.0f / d : 0.0f;
  auto* sc = reinterpret_cast<int8_t*>(b + 192);
  put_half(b + 208, d);
  const float dq = half_at(b + 208);
  uint8_t L[256];
  for (int s = 0; s < 16; ++s) {
    sc[s] = static_cast<int8_t>(std::clamp(std::lround(id * scale[s]), -128L, 127L));
    const float ds = dq * sc[s];
    for (int i = 0; i < 16; ++i) {
      const long q = ds != 0 ? std::lround(x[s * 16 + i] / ds) : 0;
      L[s * 16 + i] = static_cast<uint8_t>(std::clamp(q, -32L, 31L) + 32);
    }
  }
  uint8_t* ql = b;
  uint8_t* qh = b + 128;
  for (int n = 0; n < 256; n += 128, ql += 64, qh += 32)
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[n + l], q2 = L[n + l + 32], q3 = L[n + l + 64], q4 = L[n + l + 96];
      ql[l] = (q1 & 0xF) | ((q3 & 0xF) << 4);
      ql[l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4);
      qh[l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
    }
}

}  // namespace

void dequantize_row_ref(WType type, const uint8_t* src, float* dst, int64_t n) {
  const int64_t be = block_elems(type);
  const size_t bb = block_bytes(type);
  if (n % be != 0) throw_invalid(wtype_name(type), ": ", n, " elements are not whole blocks of ", be);
  for (int64_t i = 0; i < n / be; ++i) {
    const uint8_t* b = src + i * bb;
    float* y = dst + i * be;
    switch (type) {
      case WType::kF32: std::memcpy(y, b, 4); break;
      case WType::kF16: *y = half_at(b); break;
      case WType::kBF16: {
        uint16_t bits;
        std::memcpy(&bits, b, 2);
        *y = static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
        break;
      }
      case WType::kQ8_0: dequant_q8_0(b, y); break;
      case WType::kQ4_0: dequant_q4_0(b, y); break;
      case WType::kQ4_K: dequant_q4_K(b, y); break;
      case WType::kQ5_K: dequant_q5_K(b, y); break;
      case WType::kQ6_K: dequant_q6_K(b, y); break;
    }
  }
}

void quantize_row_ref(WType type, const float* src, uint8_t* dst, int64_t n) {
  const int64_t be = block_elems(type);
  const size_t bb = block_bytes(type);
  if (n % be != 0) throw_invalid(wtype_name(type), ": ", n, " elements are not whole blocks of ", be);
  for (int64_t i = 0; i < n / be; ++i) {
    const float* x = src + i * be;
    uint8_t* b = dst + i * bb;
    switch (type) {
      case WType::kF32: std::memcpy(b, x, 4); break;
      case WType::kF16: put_half(b, *x); break;
      case WType::kBF16: {
        const uint16_t bits = c10::BFloat16(*x).x;
        std::memcpy(b, &bits, 2);
        break;
      }
      case WType::kQ8_0: quant_q8_0(x, b); break;
      case WType::kQ4_0: quant_q4_0(x, b); break;
      case WType::kQ4_K: quant_q4_K(x, b); break;
      case WType::kQ5_K: quant_q5_K(x, b); break;
      case WType::kQ6_K: quant_q6_K(x, b); break;
    }
  }
}

}  // namespace pad::kernels
