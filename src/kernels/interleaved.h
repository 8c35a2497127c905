// q8_0, q4_K, q5_K and q6_K weights interleaved by 16 rows, and their integer products. In GGUF's row layout a
// block belongs to one row, so a 64-byte register holds codes of one row and every block costs its
// own scale handling and horizontal work. Interleaved, one 64-byte load holds four codes of each of
// 16 rows (k-quants: four of two sub-blocks, as nibbles), an activation dword is broadcast straight into
// dpbusd, the 16 rows' scales are vectors and the 16 sums leave as one vector: per block of 16 rows
// about a fifth of the instructions, and nothing to reduce at the end. Internal to src/kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "blocks.h"
#include "pad/kernels/weight.h"

namespace pad::kernels::detail {

constexpr int64_t kInterleave = 16;  // rows per interleaved group

// q8_0, block column b of one group: the rows' f16 scales, then the codes four at a time — qs[j][r]
// is row r's codes 4j..4j+3 — each stored as code + 128 (unsigned, dpbusd's first operand). 16 · 34
// bytes, as the rows it holds.
struct BlockQ8x16 {
  uint16_t d[kInterleave];
  uint8_t qs[kQK / 4][kInterleave][4];
};
static_assert(sizeof(BlockQ8x16) == kInterleave * sizeof(BlockQ8_0), "interleaving keeps the size");

// q4_K, super-block column b of one group: the rows' f16 d and dmin, their eight 6-bit sub-block
// scales and mins unpacked to bytes (sc[s][r]), and qs[j][g][r] = row r's qs bytes 32j + 4g..+3: low
// nibbles are sub-block 2j's codes 4g..4g+3, high nibbles sub-block 2j + 1's. 16 · 144 + 64 bytes.
struct BlockQ4Kx16 {
  uint16_t d[kInterleave], dmin[kInterleave];
  uint8_t sc[8][kInterleave], m[8][kInterleave];
  uint8_t qs[4][8][kInterleave][4];
};
// q5_K: q4_K's fields plus each row's fifth bits, qh[q][r] = row r's qh bytes 4q..4q+3 (bit s of
// byte l is sub-block s's element l). 16 · 176 + 64 bytes.
struct BlockQ5Kx16 {
  uint16_t d[kInterleave], dmin[kInterleave];
  uint8_t sc[8][kInterleave], m[8][kInterleave];
  uint8_t qs[4][8][kInterleave][4];
  uint8_t qh[8][kInterleave][4];
};

// q6_K, super-block column b of one group: the rows' f16 d and int8 sub-block scales (sc[s][r]),
// then the 6-bit codes as stored, four elements per row at a time: ql[n][p][q][r] = row r's ql bytes
// 64n + 32p + 4q..+3 and qh[n][q][r] = its qh bytes 32n + 4q..+3 (one load each for 16 rows gives
// the codes of four 4-element groups). 16 · 210 bytes, as the rows it holds.
struct BlockQ6Kx16 {
  uint16_t d[kInterleave];
  int8_t sc[16][kInterleave];
  uint8_t ql[2][2][8][kInterleave][4];
  uint8_t qh[2][8][kInterleave][4];
};
static_assert(sizeof(BlockQ6Kx16) == kInterleave * sizeof(BlockQ6_K), "interleaving keeps the size");

// q8_0's activations for them: 32 int8 codes, the scale, and −128 · Σ codes (undoes the weights'
// offset, so the integer sum is exact). the k-quants' are the row kernels' ActQ8x256.
struct ActQ8x32s {
  int8_t qs[kQK];
  float d;
  int32_t offset;
};

// The types that interleave (q8_0, q4_K, q5_K, q6_K), and for them: bytes of a group of 16 rows of k elements;
// an [n, k] matrix in GGUF rows (n a multiple of 16) → n/16 groups; row r back as floats, bit for bit
// what dequantizing its GGUF row gives.
bool interleaves(WType type);
size_t interleaved_group_bytes(WType type, int64_t k);
void interleave_rows(WType type, const uint8_t* rows, int64_t n, int64_t k, uint8_t* dst);
void dequantize_interleaved_row(WType type, const uint8_t* packed, int64_t r, int64_t k, float* dst);
// q8_0's row r back in GGUF bytes (k/32 BlockQ8_0).
void deinterleave_q8_0_row(const uint8_t* packed, int64_t r, int64_t k, uint8_t* dst);

// Activation rows for the interleaved kernels: for q8_0 the row kernels' codes and scales plus each
// block's offset, for the k-quants exactly the row kernels' activations.
size_t interleaved_act_row_bytes(WType type, int64_t k);
void quantize_interleaved_act_row(WType type, const float* x, int64_t k, uint8_t* dst);

// y[i·ldy + 16g + r] = (row 16g + r) · (activation row i) for groups g in [g0, g1) and i < m; the
// activation rows are interleaved_act_row_bytes(type, k) apart. AVX-512 VNNI or AVX2 as the integer
// kernels use them (int_isa(); AVX2 has q8_0, q4_K and q5_K), else the scalar reference below.
void dot_groups(WType type, const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                int64_t k, float* y, int64_t ldy);
void dot_groups_ref(WType type, const uint8_t* packed, int64_t g0, int64_t g1, const uint8_t* acts, int64_t m,
                    int64_t k, float* y, int64_t ldy);
bool interleaved_kernels_are_simd(WType type);  // dot_groups is not just the reference for `type`

}  // namespace pad::kernels::detail
