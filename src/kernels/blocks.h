// GGUF block layouts (bit for bit as ggml's ggml-common.h defines them), the 8-bit activation
// blocks the integer kernels multiply them with, and scalar f16/bf16 conversions. Internal to
// src/kernels.
#pragma once

#include <cstdint>
#include <cstring>

namespace pad::kernels::detail {

constexpr int kQK = 32;    // elements per q8_0 / q4_0 block
constexpr int kQKK = 256;  // elements per k-quant super-block
constexpr int kKScaleBytes = 12;

// value = d · qs[i]
struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQK];
};
// value = d · (q − 8); byte j holds element j (low nibble) and element j + 16 (high nibble)
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQK / 2];
};
// 8 sub-blocks of 32: value = d·sc[s]·q − dmin·m[s], sc/m 6-bit packed in `scales`. Each 32 bytes
// of qs hold sub-block 2j (low nibbles) and 2j + 1 (high nibbles).
struct BlockQ4_K {
  uint16_t d, dmin;  // f16
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQKK / 2];
};
// As q4_K plus a fifth bit: bit 2j of qh[l] for element l of sub-block 2j, bit 2j + 1 for 2j + 1.
struct BlockQ5_K {
  uint16_t d, dmin;  // f16
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
// 16 sub-blocks of 16: value = d · scales[s] · (q − 32), q 6 bits: 4 in ql, 2 in qh.
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;  // f16
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "ggml q8_0/q4_0 layout");
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210,
              "ggml k-quant layout");

// Activations quantized per 32 (for q8_0/q4_0 weights): x ≈ d · qs. (q4_0's −8 offset is taken
// out of the weight codes before the product, so no block sum is kept.)
struct ActQ8x32 {
  float d;
  int8_t qs[kQK];
};
// Activations quantized per 256 (for k-quant weights): x ≈ d · qs; bsums[s] = Σ of qs[16s..16s+16)
// (q6_K's scale groups); dsums32[s] = d · Σ of qs[32s..32s+32) (q4_K/q5_K's sub-blocks, for their
// mins: one multiply-add per block and row).
struct ActQ8x256 {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
  float dsums32[kQKK / 32];
};

// The 6-bit scale and min of sub-block j (0..7) of a q4_K/q5_K block (ggml's get_scale_min_k4).
inline void k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// IEEE half → float, exact for every input (subnormals, inf, NaN).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0x1F) return bits_to_f32(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
  // zero or subnormal: mant · 2^-24 is exact in float
  const float v = float(mant) * bits_to_f32(0x33800000u);  // 2^-24
  return sign ? -v : v;
}

// float → IEEE half, round to nearest even, overflow to inf, NaN kept NaN.
inline uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_to_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00;        // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00;       // rounds to ≥ 65536: inf
  if (abs < 0x38800000u) {                            // below 2^-14: subnormal half or zero
    const float v = bits_to_f32(abs) * bits_to_f32(0x4B800000u);  // · 2^24, exact
    return sign | uint16_t(static_cast<uint32_t>(__builtin_nearbyintf(v)));  // ≤ 1024
  }
  const uint32_t mant_round = abs + 0xFFFu + ((abs >> 13) & 1u);  // round half to even at bit 13
  return sign | uint16_t((mant_round - (112u << 23)) >> 13);
}

inline float bf16_to_f32(uint16_t b) { return bits_to_f32(uint32_t(b) << 16); }
inline uint16_t f32_to_bf16(float f) {  // round to nearest even, NaN kept NaN
  const uint32_t u = f32_to_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x40);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Round to nearest (ties away handled as the FPU's nearest-even) for |v| < 2^22, without a libm
// call so quantizer loops vectorize (ggml's nearest_int trick).
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;  // 1.5 · 2^23: the integer lands in the low mantissa bits
  return int(f32_to_bits(shifted) & 0x007FFFFF) - 0x00400000;
}

}  // namespace pad::kernels::detail
