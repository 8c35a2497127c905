// q8_0 weights interleaved by 16 rows, and their integer products. In GGUF's row layout a q8_0 block
// is 34 bytes of one row, so a 64-byte register holds two blocks of one row and every pair of blocks
// costs its own scale conversion, sign handling and horizontal work. Interleaved, one 64-byte load
// holds four codes of each of 16 rows, an activation dword is broadcast straight into dpbusd, the 16
// rows' scales convert with one instruction and the 16 sums leave as one vector: per block a sixth
// of the instructions. Same bytes, same size as the rows it holds. Internal to src/kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "blocks.h"

namespace pad::kernels::detail {

constexpr int64_t kInterleave = 16;  // rows per interleaved group

// Block column b of one group of 16 rows: the rows' f16 scales, then the codes four at a time —
// qs[j][r] is row r's codes 4j..4j+3 — each stored as code + 128 (unsigned, dpbusd's first operand).
struct BlockQ8x16 {
  uint16_t d[kInterleave];
  uint8_t qs[kQK / 4][kInterleave][4];
};
static_assert(sizeof(BlockQ8x16) == kInterleave * sizeof(BlockQ8_0), "interleaving keeps the size");

// Activations for them: 32 int8 codes, the scale, and −128 · Σ codes (undoes the weights' offset, so
// the integer sum is exact).
struct ActQ8x32s {
  int8_t qs[kQK];
  float d;
  int32_t offset;
};

// An [n, k] q8_0 matrix in GGUF rows (n a multiple of 16) → n/16 groups of k/32 BlockQ8x16.
void interleave_q8_0(const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst);
// Row r of an interleaved matrix as floats: bit for bit what dequantizing its GGUF row gives.
void dequantize_interleaved_row(const uint8_t* packed, int64_t r, int64_t k, float* dst);
// Row r of an interleaved matrix back in GGUF bytes (k/32 BlockQ8_0).
void deinterleave_q8_0_row(const uint8_t* packed, int64_t r, int64_t k, uint8_t* dst);

// Activation rows for the interleaved kernels: the same codes and scales as the row kernels' q8_0
// activations (quantize_act_row), plus each block's offset.
size_t act_row_bytes_q8x16(int64_t k);
void quantize_act_row_q8x16(const float* x, int64_t k, uint8_t* dst);

// y[i·ldy + 16g + r] = (row 16g + r) · (activation row i) for groups g in [g0, g1) and i < m; the
// activation rows are act_row_bytes_q8x16(k) apart. AVX-512 VNNI where the integer kernels use it
// (int_isa()), else the scalar reference below.
void dot_groups_q8x16(const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m, int64_t k,
                      float* y, int64_t ldy);
void dot_groups_q8x16_ref(const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                          int64_t k, float* y, int64_t ldy);
bool q8x16_kernel_is_simd();  // dot_groups_q8x16 is not just the reference

}  // namespace pad::kernels::detail
