// Small-batch CPU matrix products for decoding: y = x·wᵀ (+ bias) with few rows in x and a large
// weight matrix, read once per call for all rows (DESIGN §4). Inference only; autograd goes to at::linear.
#pragma once

#include <cstddef>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::GradMode, at::NoGradGuard (not pulled in by ATen.h in libtorch 2.x)

namespace pad::kernels {

// With f32 weights and more rows of x than this, linear() hands the product to at::linear
// (OpenBLAS GEMM): bench_kernels measured the kernel ahead up to M = 64..96 and OpenBLAS ahead from
// M = 128..256 on 2 Zen 5 cores. bf16 weights always use the kernel: the fallback must first widen
// W to f32, which cost more than the kernel's lower FMA rate at every M measured (up to 512).
inline constexpr int64_t kMaxCustomRows = 64;

// y[M,N] = x[M,K] · w[N,K]^T (+ bias[N]).
// x: [M,K] f32 or bf16 (M >= 1; made contiguous if it is not); w: contiguous [N,K] f32 or bf16;
// bias: optional [N] f32. Result: [M,N] in x's dtype. Threads: ATen's intra-op pool (at::parallel_for),
// so at::set_num_threads governs it. Falls back to at::linear when autograd needs a graph, when a
// tensor is not on CPU, for other dtypes, for a non-contiguous w, or for f32 w with M > kMaxCustomRows.
at::Tensor linear(const at::Tensor& x, const at::Tensor& w,
                  const c10::optional<at::Tensor>& bias = c10::nullopt);

// Same product as linear() by a plain scalar loop with double accumulation: the test oracle.
// x: [M,K] f32 or bf16; w: [N,K] f32 or bf16; bias: optional [N] f32. Result: [M,N] in x's dtype.
at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w,
                            const c10::optional<at::Tensor>& bias = c10::nullopt);

// y[j] = Σ_i x[i]·w[j·k + i] for the n rows of a row-major [n, k] matrix w of floats, f16 or bf16
// (raw bits): the products' one-row SIMD kernel on the calling thread (attention's scores: w is a
// head's key cache).
enum class FloatBits { kF32, kF16, kBF16 };
void dot_rows_float(const float* x, const void* w, FloatBits type, int64_t n, int64_t k, float* y);

// Sustained read bandwidth in GB/s (1e9 bytes/s): all intra-op threads sum a buffer of `bytes`
// (should be far larger than the caches); best of a few passes after one warm-up pass.
double measure_read_bandwidth_gbs(size_t bytes = size_t(1) << 30);

namespace detail {
// linear() with the row threshold as a parameter (for any weight dtype), so bench_kernels can
// measure where it belongs: M > max_rows goes to at::linear.
at::Tensor linear_with_max_rows(const at::Tensor& x, const at::Tensor& w,
                                const c10::optional<at::Tensor>& bias, int64_t max_rows);
}  // namespace detail

}  // namespace pad::kernels
