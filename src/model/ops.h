// The small per-position operations of the decoder forward, as plain loops over f32 rows
// (RMSNorm, RoPE, SiLU·gate, residual add, cache append): at decode they are a few hundred
// floats each, where ATen's per-op dispatch would cost more than the arithmetic.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

// Compile the hot loops for AVX2+FMA as well as the baseline, picked at load time (x86-64 only).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PAD_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PAD_SIMD_CLONES
#endif

namespace pad::ops {

// y[t, :] = x[t, :] · rsqrt(mean(x[t, :]²) + eps) · weight, for t < n_rows. Rows of `d` floats at
// the given strides; y may equal x.
void rms_norm(const float* x, int64_t x_stride, const float* weight, int64_t n_rows, int64_t d, double eps,
              float* y, int64_t y_stride);

// In place, Hugging Face's rotate-half convention: for each of n_rows positions and n_heads heads
// of hd floats (head h of row t starts at x + t·stride + h·hd), pairs (i, i + hd/2) are rotated by
// the angle whose cos/sin are cos[t·hd/2 + i], sin[t·hd/2 + i].
void rope(float* x, int64_t stride, int64_t n_rows, int64_t n_heads, int64_t hd, const float* cos, const float* sin);

// cos/sin tables [n, hd/2] for positions pos[0..n) and inverse frequencies inv_freq[hd/2].
void rope_tables(const int64_t* pos, int64_t n, const float* inv_freq, int64_t half, float* cos, float* sin);

// out[t, j] = silu(gu[t, j]) · gu[t, d_ff + j] for rows of 2·d_ff floats; out rows of d_ff.
void silu_mul(const float* gu, int64_t n_rows, int64_t d_ff, float* out);

// x[i] += y[i] for i < n.
void add_inplace(float* x, const float* y, int64_t n);

// Copies n rows of `width` f32 into a cache of element type `type` (f32, f16 or bf16):
// dst row t at dst + t·dst_stride elements.
void store_rows(const float* src, int64_t src_stride, int64_t n, int64_t width, at::ScalarType type, void* dst,
                int64_t dst_stride);

}  // namespace pad::ops
