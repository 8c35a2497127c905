// Integer products for quantized weights (q8_0, q4_0, q4_K, q5_K, q6_K): the activation rows are
// quantized to 8 bits per block (32 elements for q8_0/q4_0, 256 for the k-quants, as ggml's q8_0
// and q8_K), and each weight block is multiplied with its activation block in integers, scaled
// once per (sub-)block. An AVX-512 VNNI and an AVX2 kernel per type (the best this CPU has, chosen at
// run time) and a plain scalar reference that computes the same integer sums. Internal to src/kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pad/kernels/weight.h"

namespace pad::kernels::detail {

bool has_int_kernel(WType type);  // q8_0 q4_0 q4_K q5_K q6_K

// The instruction sets the integer kernels come in. int_isa() is the best this CPU runs, unless
// PAD_INT_ISA=avx2|reference asks for less (to measure one against the other) or set_int_isa does.
enum class IntIsa { kReference, kAvx2, kAvx512Vnni };
const char* int_isa_name(IntIsa isa);
bool int_isa_supported(IntIsa isa);
IntIsa int_isa();
void set_int_isa(IntIsa isa);  // must be supported

// Bytes of one activation row of k elements quantized for `type`'s kernel.
size_t act_row_bytes(WType type, int64_t k);
// x[0..k) → the activation blocks `type`'s kernel reads (k a multiple of block_elems(type)).
void quantize_act_row(WType type, const float* x, int64_t k, uint8_t* dst);

// Σ over k elements of weight row `w` (GGUF blocks of `type`) times activation row `a`
// (quantize_act_row's output). The kernel of int_isa() (the scalar reference where it has none).
using DotFn = float (*)(const uint8_t* w, const uint8_t* a, int64_t k);
DotFn dot_kernel(WType type);
DotFn dot_reference(WType type);
bool dot_kernel_is_simd(WType type);  // int_isa()'s kernel is not just the reference

// y[i·ldy + r] = dot(w_r, a_i) for n_rows weight rows w_r = w + r·w_stride and m activation rows
// a_i = acts + i·act_stride, through int_isa()'s kernels, which unpack each weight row once for up to
// four a_i.
void dot_rows(WType type, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* acts,
              size_t act_stride, int64_t m, int64_t k, float* y, int64_t ldy);

}  // namespace pad::kernels::detail
