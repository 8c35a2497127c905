// Internal entry points of the Highway kernels in linear_simd.cpp (runtime-dispatched per CPU);
// linear.cpp validates shapes and splits work across threads before calling them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pad::kernels::detail {

// y[m, n] = dot(x[m, :], w[n, :]) (+ bias[n]) for all m < n_rows_x and n in [n_begin, n_end).
// x: [n_rows_x, k] f32 row-major; w: [>= n_end, k] row-major; bias: [>= n_end] f32 or null;
// y: [n_rows_x, ldy] f32 row-major (ldy = N of the whole product).
void linear_rows_f32(const float* x, int64_t n_rows_x, int64_t k, const float* w, const float* bias,
                     float* y, int64_t ldy, int64_t n_begin, int64_t n_end);
// Same with w in bf16 (raw bits, as at::BFloat16 stores them), widened to f32 in registers.
void linear_rows_bf16(const float* x, int64_t n_rows_x, int64_t k, const uint16_t* w,
                      const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end);
// Same with w in IEEE f16 (raw bits).
void linear_rows_f16(const float* x, int64_t n_rows_x, int64_t k, const uint16_t* w,
                     const float* bias, float* y, int64_t ldy, int64_t n_begin, int64_t n_end);

// Sum of p[0..n), vectorized with several accumulators (for the bandwidth probe).
double sum_floats(const float* p, size_t n);

}  // namespace pad::kernels::detail
