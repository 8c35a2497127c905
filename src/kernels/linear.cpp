// pad::kernels::linear: argument checks, the at::linear fallback, the split of weight rows across
// ATen's threads, the scalar reference, and the read-bandwidth probe.
#include "pad/kernels/linear.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include <sys/mman.h>

#include <ATen/Parallel.h>

#include "linear_simd.h"
#include "pad/util/error.h"
#include "pad/util/thread_pool.h"

namespace pad::kernels {
namespace {

// Threads split N in blocks of this many weight rows: 16 f32 outputs are one 64-byte cache line
// of y, so two threads never write the same line of a row of y (given an aligned y).
constexpr int64_t kRowsPerBlock = 16;
// Smallest share of N given to one thread (in weight rows): below this the fork costs more than
// the rows take to stream.
constexpr int64_t kMinRowsPerThread = 64;
// Rows of x per pass over a thread's weight rows: 64 rows of K = 768..4096 f32 (0.2..1 MiB) stay
// in L2 while every weight group is multiplied into them; larger M makes another pass.
constexpr int64_t kRowsPerPass = 64;

void check_shapes(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias) {
  if (w.dim() != 2) throw_invalid("linear: weight must be [N, K], got ", w.sizes());
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    throw_invalid("linear: input ", x.sizes(), " does not end in K = ", w.size(1), " of weight ",
                  w.sizes());
  if (bias && bias->defined() && (bias->dim() != 1 || bias->size(0) != w.size(0)))
    throw_invalid("linear: bias must be [", w.size(0), "], got ", bias->sizes());
}

bool is_supported_float(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16;
}

// at::linear after bringing w and bias to x's dtype (the custom kernel allows mixed f32/bf16).
at::Tensor fallback_linear(const at::Tensor& x, const at::Tensor& w,
                           const c10::optional<at::Tensor>& bias) {
  const at::Tensor w_x = w.scalar_type() == x.scalar_type() ? w : w.to(x.scalar_type());
  c10::optional<at::Tensor> bias_x = bias;
  if (bias && bias->defined() && bias->scalar_type() != x.scalar_type())
    bias_x = bias->to(x.scalar_type());
  return at::linear(x, w_x, bias_x);
}

bool wants_fallback(const at::Tensor& x, const at::Tensor& w,
                    const c10::optional<at::Tensor>& bias, int64_t n_rows_x, int64_t max_rows) {
  const bool has_bias = bias && bias->defined();
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || w.requires_grad() || (has_bias && bias->requires_grad())))
    return true;  // autograd needs at::linear's graph
  if (!x.device().is_cpu() || !w.device().is_cpu() || (has_bias && !bias->device().is_cpu()))
    return true;
  if (!is_supported_float(x) || !is_supported_float(w) || (has_bias && !is_supported_float(*bias)))
    return true;
  if (!w.is_contiguous()) return true;  // copying W on every call would cost more than at::linear
  return n_rows_x == 0 || n_rows_x > max_rows || w.numel() == 0;
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias) {
  const int64_t max_rows = w.scalar_type() == at::kBFloat16 ? std::numeric_limits<int64_t>::max()
                                                           : kMaxCustomRows;  // see kMaxCustomRows
  return detail::linear_with_max_rows(x, w, bias, max_rows);
}

at::Tensor detail::linear_with_max_rows(const at::Tensor& x, const at::Tensor& w,
                                        const c10::optional<at::Tensor>& bias, int64_t max_rows) {
  check_shapes(x, w, bias);
  const int64_t k = w.size(1);
  const int64_t n = w.size(0);
  const int64_t n_rows_x = k == 0 ? 0 : x.numel() / k;
  if (wants_fallback(x, w, bias, n_rows_x, max_rows)) return fallback_linear(x, w, bias);

  const at::Tensor x_f32 = x.reshape({n_rows_x, k}).to(at::kFloat).contiguous();  // [M, K] f32
  at::Tensor bias_f32;  // [N] f32 or undefined
  if (bias && bias->defined()) bias_f32 = bias->to(at::kFloat).contiguous();
  at::Tensor y = at::empty({n_rows_x, n}, x_f32.options());  // [M, N] f32

  const float* x_ptr = x_f32.data_ptr<float>();
  const float* bias_ptr = bias_f32.defined() ? bias_f32.data_ptr<float>() : nullptr;
  float* y_ptr = y.data_ptr<float>();
  const bool w_is_bf16 = w.scalar_type() == at::kBFloat16;
  const void* w_ptr = w.data_ptr();
  const int64_t n_blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;
  at::parallel_for(0, n_blocks, kMinRowsPerThread / kRowsPerBlock, [&](int64_t b0, int64_t b1) {
    const int64_t n_begin = b0 * kRowsPerBlock;
    const int64_t n_end = std::min(n, b1 * kRowsPerBlock);
    for (int64_t m0 = 0; m0 < n_rows_x; m0 += kRowsPerPass) {
      const int64_t n_rows_pass = std::min(kRowsPerPass, n_rows_x - m0);
      const float* x_pass = x_ptr + m0 * k;
      float* y_pass = y_ptr + m0 * n;
      if (w_is_bf16)
        detail::linear_rows_bf16(x_pass, n_rows_pass, k, static_cast<const uint16_t*>(w_ptr),
                                 bias_ptr, y_pass, n, n_begin, n_end);
      else
        detail::linear_rows_f32(x_pass, n_rows_pass, k, static_cast<const float*>(w_ptr),
                                bias_ptr, y_pass, n, n_begin, n_end);
    }
  });

  std::vector<int64_t> y_sizes(x.sizes().begin(), x.sizes().end() - 1);  // x's leading dims + [N]
  y_sizes.push_back(n);
  return y.view(y_sizes).to(x.scalar_type());
}

at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w,
                            const c10::optional<at::Tensor>& bias) {
  check_shapes(x, w, bias);
  const int64_t k = w.size(1);
  const int64_t n = w.size(0);
  const int64_t n_rows_x = k == 0 ? 0 : x.numel() / k;
  const at::Tensor x_f32 = x.reshape({n_rows_x, k}).to(at::kFloat).contiguous();  // [M, K] f32
  const at::Tensor w_f32 = w.to(at::kFloat).contiguous();                          // [N, K] f32
  at::Tensor y = at::empty({n_rows_x, n}, x_f32.options());                        // [M, N] f32
  const float* xp = x_f32.data_ptr<float>();
  const float* wp = w_f32.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::Tensor bias_f32;  // [N] f32 or undefined
  if (bias && bias->defined()) bias_f32 = bias->to(at::kFloat).contiguous();
  for (int64_t i = 0; i < n_rows_x; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = bias_f32.defined() ? bias_f32.data_ptr<float>()[j] : 0.0;
      for (int64_t kk = 0; kk < k; ++kk) sum += double(xp[i * k + kk]) * double(wp[j * k + kk]);
      yp[i * n + j] = static_cast<float>(sum);
    }
  std::vector<int64_t> y_sizes(x.sizes().begin(), x.sizes().end() - 1);
  y_sizes.push_back(n);
  return y.view(y_sizes).to(x.scalar_type());
}

// Every thread of pad's pool sums its own contiguous slice (vector loads, 4 accumulators, two
// streams per thread: detail::sum_floats); the best of 5 timed passes after one warm-up pass.
void dot_rows_float(const float* x, const void* w, FloatBits type, int64_t n, int64_t k, float* y) {
  if (n <= 0) return;
  if (type == FloatBits::kF32)
    detail::linear_rows_f32(x, 1, k, static_cast<const float*>(w), nullptr, y, n, 0, n);
  else if (type == FloatBits::kBF16)
    detail::linear_rows_bf16(x, 1, k, static_cast<const uint16_t*>(w), nullptr, y, n, 0, n);
  else
    detail::linear_rows_f16(x, 1, k, static_cast<const uint16_t*>(w), nullptr, y, n, 0, n);
}

double measure_read_bandwidth_gbs(size_t bytes) {
  const int64_t n = static_cast<int64_t>(std::max<size_t>(bytes / sizeof(float), 1));
  // An anonymous map on transparent huge pages where the kernel allows them (madvise mode is
  // Debian's default): with 4 KiB pages a 1 GiB read also measures TLB misses.
  const size_t map_bytes = size_t(n) * sizeof(float);
  void* map = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  PAD_CHECK(map != MAP_FAILED, "bandwidth probe: cannot map ", map_bytes, " bytes");
  madvise(map, map_bytes, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { munmap(p, n); }
  } unmap{map, map_bytes};
  float* buffer = static_cast<float*>(map);
  ThreadPool& pool = global_pool();
  pool.run([&](int t, int n_threads) {  // written once so pages are mapped
    std::fill(buffer + n * t / n_threads, buffer + n * (t + 1) / n_threads, 1.0f);
  });
  double best_s = 1e30;
  for (int pass = 0; pass < 6; ++pass) {  // pass 0 warms up (first-touch, frequency)
    std::vector<double> sums(static_cast<size_t>(pool.n_threads()), 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int t, int n_threads) {
      const int64_t i0 = n * t / n_threads, i1 = n * (t + 1) / n_threads;
      sums[static_cast<size_t>(t)] = detail::sum_floats(buffer + i0, static_cast<size_t>(i1 - i0));
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0;  // every float is 1, so a wrong split or a skipped chunk shows up here
    for (double v : sums) total += v;
    PAD_CHECK(std::abs(total - double(n)) <= 1e-3 * double(n), "bandwidth probe summed ", total,
              " instead of ", n);
    if (pass > 0) best_s = std::min(best_s, s);
  }
  return double(n) * sizeof(float) / best_s / 1e9;
}

}  // namespace pad::kernels
