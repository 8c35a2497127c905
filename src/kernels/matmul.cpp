// matmul / linear over a WeightMatrix: the split of weight rows across pad's pool, the float
// kernels (f32/bf16 streamed as stored), panels of dequantized rows for the other types, OpenBLAS
// sgemm per thread for many rows, and the double-accumulated reference.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "linear_simd.h"
#include "interleaved.h"
#include "quant_dot.h"
#include "pad/kernels/weight.h"
#include "pad/util/error.h"
#include "pad/util/thread_pool.h"

namespace pad::kernels {
namespace {

std::atomic<bool> g_int8_activations{true};

constexpr int64_t kRowsPerBlock = 16;   // weight rows per unit of the thread split (one y line)
constexpr int64_t kMaxKernelRows = 64;  // more rows of x than this: sgemm
constexpr int64_t kPanelRows = 64;      // weight rows dequantized at a time into thread scratch
// Up to this many rows of x, quantized rows are dequantized one at a time (row_at_a_time); above,
// in panels for the tiled kernel. Measured on the ~98M model: batch 1 q8_0 60 → 66 tok/s, q4_K_M
// 29 → 32; at batch 4 panels stay faster (154 vs 119 q8_0).
constexpr int64_t kRowAtATimeRows = 1;

// OpenBLAS single-threaded while pad's pool drives it, restored afterwards (it is process-wide).
struct BlasThreadsGuard {
  int before = openblas_get_num_threads();
  BlasThreadsGuard() { if (before != 1) openblas_set_num_threads(1); }
  ~BlasThreadsGuard() { if (before != 1) openblas_set_num_threads(before); }
};

void add_bias(const float* bias, float* y, int64_t ldy, int64_t m, int64_t n0, int64_t n1) {
  if (bias == nullptr) return;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n0; j < n1; ++j) y[i * ldy + j] += bias[j];
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PAD_MATMUL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PAD_MATMUL_CLONES
#endif

// dot(a, b) over k floats with eight independent sums (vectorized per target).
PAD_MATMUL_CLONES
float dot_f32(const float* a, const float* b, int64_t k) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= k; i += 16)
    for (int u = 0; u < 16; ++u) acc[u] += a[i + u] * b[i + u];
  float s = 0;
  for (int u = 0; u < 16; ++u) s += acc[u];
  for (; i < k; ++i) s += a[i] * b[i];
  return s;
}

// Few rows of x (decode): each weight row is dequantized into an L1-sized buffer and multiplied
// into every row of x at once, so the dequantized floats never travel through L2 as panels do.
void row_at_a_time(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                   int64_t n0, int64_t n1, std::vector<float>& scratch) {
  const int64_t k = w.k;
  scratch.resize(size_t(k));
  for (int64_t j = n0; j < n1; ++j) {
    w.dequantize_row(j, scratch.data());
    for (int64_t i = 0; i < m; ++i) y[i * ldy + j] = dot_f32(scratch.data(), x + i * k, k) + (bias ? bias[j] : 0.0f);
  }
}

// Weight rows [n0, n1) of w as f32: panels dequantized into `scratch`, then either the small-M
// kernel or sgemm over the panel.
void panel_rows(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y,
                int64_t ldy, int64_t n0, int64_t n1, std::vector<float>& scratch) {
  const int64_t k = w.k;
  scratch.resize(size_t(kPanelRows * k));
  for (int64_t p = n0; p < n1; p += kPanelRows) {
    const int64_t rows = std::min(kPanelRows, n1 - p);
    for (int64_t r = 0; r < rows; ++r) w.dequantize_row(p + r, scratch.data() + r * k);
    if (m <= kMaxKernelRows) {
      detail::linear_rows_f32(x, m, k, scratch.data() - p * k, bias, y, ldy, p, p + rows);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(rows), int(k), 1.0f, x, int(k),
                  scratch.data(), int(k), 0.0f, y + p, int(ldy));
      add_bias(bias, y, ldy, m, p, p + rows);
    }
  }
}

void thread_rows(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y,
                 int64_t ldy, int64_t n0, int64_t n1, std::vector<float>& scratch) {
  const int64_t k = w.k;
  if (w.type == WType::kF32 && m > kMaxKernelRows) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n1 - n0), int(k), 1.0f, x, int(k),
                reinterpret_cast<const float*>(w.data) + n0 * k, int(k), 0.0f, y + n0, int(ldy));
    add_bias(bias, y, ldy, m, n0, n1);
  } else if (w.type == WType::kF32 || (w.is_float() && m <= kMaxKernelRows)) {
    for (int64_t m0 = 0; m0 < m; m0 += kMaxKernelRows) {
      const int64_t rows = std::min(kMaxKernelRows, m - m0);
      if (w.type == WType::kF32)
        detail::linear_rows_f32(x + m0 * k, rows, k, reinterpret_cast<const float*>(w.data), bias,
                                y + m0 * ldy, ldy, n0, n1);
      else if (w.type == WType::kBF16)
        detail::linear_rows_bf16(x + m0 * k, rows, k, reinterpret_cast<const uint16_t*>(w.data), bias,
                                 y + m0 * ldy, ldy, n0, n1);
      else
        detail::linear_rows_f16(x + m0 * k, rows, k, reinterpret_cast<const uint16_t*>(w.data), bias,
                                y + m0 * ldy, ldy, n0, n1);
    }
  } else if (m <= kRowAtATimeRows) {
    row_at_a_time(x, m, w, bias, y, ldy, n0, n1, scratch);
  } else {
    panel_rows(x, m, w, bias, y, ldy, n0, n1, scratch);
  }
}

// Most rows of x for which the 8-bit integer products beat dequantizing to f32 (0: never). q8_0 and
// q4_0 dequantize in two or three operations per eight elements, after which the f32 register
// tile does more multiply-adds per instruction than maddubs with its per-block scaling: measured on
// the ~98M model, 2 threads, q8_0 decode at batch 4 ran 276 (int8) vs 226 tok/s (f32), at batch 16
// 297 vs 479. The k-quants' unpacking costs more, so int8 wins up to 64 rows (q4_K_M batch 16: 385
// vs 309).
int64_t int8_max_rows(WType type) {
  if (!detail::has_int_kernel(type)) return 0;
  return type == WType::kQ8_0 || type == WType::kQ4_0 ? 8 : kMaxKernelRows;
}

// Rows of x quantized to 8 bits per block into the caller thread's buffer (split over the pool by
// rows when there are several).
template <typename Quantize>
const uint8_t* quantize_rows(const float* x, int64_t m, int64_t k, size_t act_stride, Quantize quantize) {
  thread_local std::vector<uint8_t> acts;  // [m] activation rows, the caller's thread
  acts.resize(act_stride * size_t(m));
  uint8_t* a = acts.data();
  if (m == 1) {
    quantize(x, a);
  } else {
    global_pool().run([&](int thread, int n_threads) {
      for (int64_t i = m * thread / n_threads; i < m * (thread + 1) / n_threads; ++i)
        quantize(x + i * k, a + size_t(i) * act_stride);
    });
  }
  return a;
}

// Up to int8_max_rows rows of x against a quantized matrix: x quantized to 8 bits per block once,
// then integer products, each thread streaming its own weight rows.
void int_matmul(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                int64_t n_blocks) {
  const int64_t k = w.k;
  const size_t act_stride = detail::act_row_bytes(w.type, k);
  const uint8_t* a = quantize_rows(x, m, k, act_stride, [&](const float* row, uint8_t* dst) {
    detail::quantize_act_row(w.type, row, k, dst);
  });
  const size_t stride = w.row_stride();
  global_pool().run([&](int thread, int n_threads) {
    const int64_t b0 = n_blocks * thread / n_threads, b1 = n_blocks * (thread + 1) / n_threads;
    const int64_t n0 = std::min(w.n, b0 * kRowsPerBlock), n1 = std::min(w.n, b1 * kRowsPerBlock);
    if (n0 >= n1) return;
    detail::dot_rows(w.type, w.data + size_t(n0) * stride, stride, n1 - n0, a, act_stride, m, k, y + n0, ldy);
    add_bias(bias, y, ldy, m, n0, n1);
  });
}

// Rows of x per pass over an interleaved matrix: their 8-bit activations (k = 768: 240 KB) stay in L2
// while every group of 16 weight rows goes past them.
constexpr int64_t kInterleavedPanelRows = 256;

// Any number of rows of x against a matrix interleaved by 16 rows (q8_0, q4_K, q5_K, q6_K): integer products for
// decode and prefill alike (kRowsPerBlock is the group size, so each thread's share is whole groups).
void interleaved_matmul(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                        int64_t n_groups) {
  static_assert(kRowsPerBlock == detail::kInterleave, "the thread split must not cut a group");
  const int64_t k = w.k;
  const size_t act_stride = detail::interleaved_act_row_bytes(w.type, k);
  for (int64_t p = 0; p < m; p += kInterleavedPanelRows) {
    const int64_t rows = std::min(kInterleavedPanelRows, m - p);
    const uint8_t* a = quantize_rows(x + p * k, rows, k, act_stride, [&](const float* row, uint8_t* dst) {
      detail::quantize_interleaved_act_row(w.type, row, k, dst);
    });
    float* yp = y + p * ldy;
    global_pool().run([&](int thread, int n_threads) {
      const int64_t g0 = n_groups * thread / n_threads, g1 = n_groups * (thread + 1) / n_threads;
      if (g0 >= g1) return;
      detail::dot_groups(w.type, w.data, g0, g1, a, rows, k, yp, ldy);
      add_bias(bias, yp, ldy, rows, g0 * kRowsPerBlock, g1 * kRowsPerBlock);
    });
  }
}

void check_matrix(const WeightMatrix& w) {
  if (!w.defined() && w.n * w.k != 0) throw_invalid("matmul: weight matrix has no data");
  (void)row_bytes(w.type, w.k, "matmul");
}

}  // namespace

void set_int8_activations(bool on) { g_int8_activations = on; }
bool int8_activations() { return g_int8_activations; }

void matmul(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy) {
  check_matrix(w);
  if (ldy < w.n) throw_invalid("matmul: ldy ", ldy, " < n ", w.n);
  if (m <= 0 || w.n == 0) return;
  if (w.k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < w.n; ++j) y[i * ldy + j] = bias ? bias[j] : 0.0f;
    return;
  }
  const int64_t n_blocks = (w.n + kRowsPerBlock - 1) / kRowsPerBlock;
  if (w.layout == Layout::kInterleaved16 && g_int8_activations) return interleaved_matmul(x, m, w, bias, y, ldy, n_blocks);
  if (m <= int8_max_rows(w.type) && g_int8_activations) return int_matmul(x, m, w, bias, y, ldy, n_blocks);
  const BlasThreadsGuard blas_guard;
  global_pool().run([&](int thread, int n_threads) {
    const int64_t b0 = n_blocks * thread / n_threads, b1 = n_blocks * (thread + 1) / n_threads;
    const int64_t n0 = std::min(w.n, b0 * kRowsPerBlock), n1 = std::min(w.n, b1 * kRowsPerBlock);
    if (n0 >= n1) return;
    thread_local std::vector<float> scratch;  // [kPanelRows, k] f32 dequantized rows
    thread_rows(x, m, w, bias, y, ldy, n0, n1, scratch);
  });
}

namespace {
void check_linear(const at::Tensor& x, const WeightMatrix& w, const at::Tensor& bias) {
  if (x.dim() < 1 || x.size(-1) != w.k)
    throw_invalid("linear: input ", x.sizes(), " does not end in k = ", w.k, " of the ", wtype_name(w.type),
                  " weight [", w.n, ", ", w.k, "]");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != w.n))
    throw_invalid("linear: bias must be [", w.n, "], got ", bias.sizes());
}
std::vector<int64_t> out_sizes(const at::Tensor& x, int64_t n) {
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end() - 1);  // x's leading dims + [n]
  sizes.push_back(n);
  return sizes;
}
}  // namespace

at::Tensor linear(const at::Tensor& x, const WeightMatrix& w, const at::Tensor& bias) {
  check_linear(x, w, bias);
  const int64_t m = w.k == 0 ? 0 : x.numel() / w.k;
  const at::Tensor x_f32 = x.reshape({m, w.k}).to(at::kFloat).contiguous();  // [m, k] f32
  at::Tensor bias_f32;  // [n] f32 or undefined
  if (bias.defined()) bias_f32 = bias.to(at::kFloat).contiguous();
  at::Tensor y = at::empty({m, w.n}, at::kFloat);  // [m, n] f32
  matmul(x_f32.data_ptr<float>(), m, w, bias_f32.defined() ? bias_f32.data_ptr<float>() : nullptr,
         y.data_ptr<float>(), w.n);
  return y.view(out_sizes(x, w.n));
}

at::Tensor linear_reference(const at::Tensor& x, const WeightMatrix& w, const at::Tensor& bias) {
  check_linear(x, w, bias);
  check_matrix(w);
  const int64_t m = w.k == 0 ? 0 : x.numel() / w.k, k = w.k;
  const at::Tensor xd = x.reshape({m, k}).to(at::kDouble).contiguous();  // [m, k] f64
  at::Tensor y = at::empty({m, w.n}, at::kFloat);                         // [m, n] f32
  std::vector<float> row(static_cast<size_t>(k));
  const double* xp = xd.data_ptr<double>();
  float* yp = y.data_ptr<float>();
  const at::Tensor bias_f32 = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
  for (int64_t j = 0; j < w.n; ++j) {
    w.dequantize_row(j, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double sum = bias_f32.defined() ? bias_f32.data_ptr<float>()[j] : 0.0;
      for (int64_t kk = 0; kk < k; ++kk) sum += xp[i * k + kk] * double(row[size_t(kk)]);
      yp[i * w.n + j] = float(sum);
    }
  }
  return y.view(out_sizes(x, w.n));
}

}  // namespace pad::kernels
