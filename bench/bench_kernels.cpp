// bench_kernels [threads]: weight bytes read per second by pad::kernels::linear, at::linear and
// at::matmul variants on decode shapes, against this machine's streaming read bandwidth (same run).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "pad/kernels/linear.h"
#include "pad/kernels/weight.h"
#include "pad/util/thread_pool.h"

namespace {

using Clock = std::chrono::steady_clock;

// Weights are rotated through this many bytes of copies so each call reads them from DRAM, as a
// decode step does when the whole model is far larger than the last-level cache.
// PAD_BENCH_ROTATION_MB overrides it: 0 keeps one copy (weights stay in cache: the kernels'
// arithmetic rate); more than the last-level cache (some servers have hundreds of MB) for DRAM.
const size_t kRotationBytes = [] {
  const char* e = std::getenv("PAD_BENCH_ROTATION_MB");
  return (e ? size_t(std::strtoull(e, nullptr, 10)) : size_t(256)) << 20;
}();
constexpr double kBudgetS = 0.25;  // timing budget per variant

using Call = std::function<void(int64_t)>;  // one product; the argument picks a weight copy

// Best mean seconds per call of each function. Rounds visit the functions in turn, each round
// running each for ~kBudgetS/kRounds (at least 2 calls), so a burst of load from other processes
// on this shared machine hits one round of every variant rather than all rounds of one.
std::vector<double> seconds_per_call(const std::vector<Call>& fns) {
  constexpr int kRounds = 4;
  std::vector<double> best(fns.size(), 1e30);
  int64_t i = 0;
  for (const Call& f : fns) f(i++);  // warm-up: thread pool, allocator, first touch of outputs
  for (int round = 0; round < kRounds; ++round)
    for (size_t v = 0; v < fns.size(); ++v) {
      const auto t0 = Clock::now();
      int64_t calls = 0;
      double elapsed = 0;
      do {
        fns[v](i++);
        ++calls;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
      } while (calls < 2 || elapsed < kBudgetS / kRounds);
      best[v] = std::min(best[v], elapsed / double(calls));
    }
  return best;
}

// n_copies copies of one random [N, K] matrix in dtype, totalling at least kRotationBytes.
std::vector<at::Tensor> weight_copies(const at::Tensor& w, at::ScalarType dtype) {
  std::vector<at::Tensor> copies = {w.to(dtype).clone()};  // each [N, K] dtype
  const size_t bytes = copies[0].nbytes();
  const size_t n_copies = std::max<size_t>(1, (kRotationBytes + bytes - 1) / bytes);
  while (copies.size() < n_copies) copies.push_back(copies[0].clone());
  return copies;
}

// The first line of /proc/loadavg: other processes on a shared machine skew every number here.
std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "n/a";
  char line[128] = {};
  const bool ok = std::fgets(line, sizeof(line), f) != nullptr;
  std::fclose(f);
  std::string text = ok ? line : "n/a";
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

double gbs(size_t bytes, double seconds) { return double(bytes) / seconds / 1e9; }

void bench_decode_shapes(double stream_gbs) {
  std::printf(
      "\nGB/s of weight bytes per call (weights rotated through %zu MiB, so read from DRAM)\n",
      kRotationBytes >> 20);
  std::printf("%3s %6s %5s | %8s %8s %8s %8s | %8s %6s | %9s %9s %6s\n", "M", "N", "K",
              "linear", "matmul", "mm(W_kn)", "mv", "pad f32", "/strm", "pad bf16", "linr bf16",
              "/strm");
  const std::pair<int64_t, int64_t> shapes[] = {{768, 768}, {2048, 768}, {32000, 768}, {768, 2048}};
  for (auto [n, k] : shapes) {
    const at::Tensor w = at::randn({n, k});  // [N, K] f32
    const std::vector<at::Tensor> w_f32 = weight_copies(w, at::kFloat);      // [N, K] f32 each
    const std::vector<at::Tensor> w_bf16 = weight_copies(w, at::kBFloat16);  // [N, K] bf16 each
    std::vector<at::Tensor> w_kn;  // [K, N] f32 each: the pre-transposed layout at::mm likes
    for (const at::Tensor& c : w_f32) w_kn.push_back(c.t().contiguous());
    const size_t bytes_f32 = size_t(n * k) * 4, bytes_bf16 = size_t(n * k) * 2;
    auto f32_at = [&](int64_t i) { return w_f32[size_t(i) % w_f32.size()]; };
    auto bf16_at = [&](int64_t i) { return w_bf16[size_t(i) % w_bf16.size()]; };
    for (int64_t m : {1, 4, 8, 16}) {
      const at::Tensor x = at::randn({m, k});              // [M, K] f32
      const at::Tensor x_bf16 = x.to(at::kBFloat16);        // [M, K] bf16
      std::vector<Call> calls = {
          [&](int64_t i) { at::linear(x, f32_at(i)); },
          [&](int64_t i) { at::matmul(x, f32_at(i).t()); },
          [&](int64_t i) { at::mm(x, w_kn[size_t(i) % w_kn.size()]); },
          [&](int64_t i) { pad::kernels::linear(x, f32_at(i)); },
          [&](int64_t i) { pad::kernels::linear(x, bf16_at(i)); },
          [&](int64_t i) { at::linear(x_bf16, bf16_at(i)); },
      };
      if (m == 1) calls.push_back([&](int64_t i) { at::mv(f32_at(i), x[0]); });
      const std::vector<double> t = seconds_per_call(calls);
      const double t_linear = t[0], t_matmul = t[1], t_mm = t[2], t_pad = t[3], t_pad_bf16 = t[4],
                   t_linear_bf16 = t[5], t_mv = m == 1 ? t[6] : 0.0;
      char mv_col[16] = "       -";
      if (m == 1) std::snprintf(mv_col, sizeof(mv_col), "%8.1f", gbs(bytes_f32, t_mv));
      std::printf("%3lld %6lld %5lld | %8.1f %8.1f %8.1f %s | %8.1f %6.2f | %9.1f %9.1f %6.2f\n",
                  (long long)m, (long long)n, (long long)k, gbs(bytes_f32, t_linear),
                  gbs(bytes_f32, t_matmul), gbs(bytes_f32, t_mm), mv_col, gbs(bytes_f32, t_pad),
                  gbs(bytes_f32, t_pad) / stream_gbs, gbs(bytes_bf16, t_pad_bf16),
                  gbs(bytes_bf16, t_linear_bf16), gbs(bytes_bf16, t_pad_bf16) / stream_gbs);
      std::fflush(stdout);
    }
  }
}

// Where at::linear (OpenBLAS GEMM) overtakes the custom kernel as M grows: the fallback threshold.
void bench_row_threshold() {
  const int64_t n = 2048, k = 768;
  std::printf("\nus per call, N=%lld K=%lld: custom kernel vs the fallback (at::linear; bf16 "
              "weights: widen to f32 + at::linear)\n",
              (long long)n, (long long)k);
  std::printf("%4s | %9s %9s %6s | %9s %9s %6s\n", "M", "pad f32", "at f32", "at/pad", "pad bf16",
              "at bf16", "at/pad");
  const at::Tensor w = at::randn({n, k});  // [N, K] f32
  const std::vector<at::Tensor> w_f32 = weight_copies(w, at::kFloat);      // [N, K] f32 each
  const std::vector<at::Tensor> w_bf16 = weight_copies(w, at::kBFloat16);  // [N, K] bf16 each
  for (int64_t m : {16, 32, 48, 64, 96, 128, 256, 512}) {
    const at::Tensor x = at::randn({m, k});  // [M, K] f32
    auto f32_at = [&](int64_t i) { return w_f32[size_t(i) % w_f32.size()]; };
    auto bf16_at = [&](int64_t i) { return w_bf16[size_t(i) % w_bf16.size()]; };
    using pad::kernels::detail::linear_with_max_rows;
    const std::vector<double> t = seconds_per_call({
        [&](int64_t i) { linear_with_max_rows(x, f32_at(i), c10::nullopt, m); },
        [&](int64_t i) { linear_with_max_rows(x, f32_at(i), c10::nullopt, 0); },
        [&](int64_t i) { linear_with_max_rows(x, bf16_at(i), c10::nullopt, m); },
        [&](int64_t i) { linear_with_max_rows(x, bf16_at(i), c10::nullopt, 0); },
    });
    const double t_pad = t[0], t_at = t[1], t_pad_bf16 = t[2], t_at_bf16 = t[3];
    std::printf("%4lld | %9.1f %9.1f %6.2f | %9.1f %9.1f %6.2f\n", (long long)m, t_pad * 1e6,
                t_at * 1e6, t_at / t_pad, t_pad_bf16 * 1e6, t_at_bf16 * 1e6, t_at_bf16 / t_pad_bf16);
    std::fflush(stdout);
  }
}

// GB/s of stored weight bytes per matmul call for every WeightMatrix type (rotated copies, so
// read from DRAM), beside the probe; GFLOP/s of the many-row path.
void bench_weight_types(double stream_gbs) {
  using pad::kernels::WType;
  const int64_t n = 2048, k = 768;
  std::printf("\nWeightMatrix matmul, N=%lld K=%lld: GB/s of stored bytes (ratio to probe); GFLOP/s at M=128/512\n",
              (long long)n, (long long)k);
  std::printf("%11s | %13s %13s %13s %13s | %8s %8s\n", "type (f32a: f32 activations; i16: interleaved by 16 rows)", "M=1", "M=4", "M=16", "M=64", "M=128", "M=512");
  const at::Tensor w = at::randn({n, k});  // [N, K] f32
  for (WType type : {WType::kF32, WType::kF16, WType::kBF16, WType::kQ8_0, WType::kQ4_0, WType::kQ4_K,
                     WType::kQ5_K, WType::kQ6_K}) {
    std::vector<pad::kernels::WeightMatrix> copies = {pad::kernels::WeightMatrix::quantize(w, type)};
    const size_t bytes = copies[0].nbytes();
    while (copies.size() * bytes < kRotationBytes) copies.push_back(pad::kernels::WeightMatrix::quantize(w, type));
    // One line of the table: `label` over `mats` (the rotated copies), int8 activations or f32.
    auto line = [&](const char* label, const std::vector<pad::kernels::WeightMatrix>& mats, bool int8) {
      pad::kernels::set_int8_activations(int8);
      std::printf("%6s%s |", pad::kernels::wtype_name(type), label);
      for (int64_t m : {1, 4, 16, 64, 128, 512}) {
        if (!int8 && m > 64) break;
        const at::Tensor x = at::randn({m, k});  // [M, K] f32
        std::vector<float> y(size_t(m * n));
        const double t = seconds_per_call({[&](int64_t i) {
          pad::kernels::matmul(x.data_ptr<float>(), m, mats[size_t(i) % mats.size()], nullptr, y.data(), n);
        }})[0];
        if (m <= 64) std::printf(" %6.1f (%4.2f)", gbs(bytes, t), gbs(bytes, t) / stream_gbs);
        else std::printf(" %8.1f", 2.0 * double(m * n * k) / t / 1e9);
        std::fflush(stdout);
      }
      std::printf("\n");
    };
    line("     ", copies, true);
    if (!copies[0].is_float()) line(" f32a", copies, false);
    // The layout model loaders give this type on this CPU (q8_0 and the k-quants: interleaved by 16
    // rows), when it differs.
    if (copies[0].for_kernels().layout != copies[0].layout) {
      std::vector<pad::kernels::WeightMatrix> packed;
      for (const auto& c : copies) packed.push_back(c.for_kernels());
      copies.clear();
      line(" i16 ", packed, true);
    }
    pad::kernels::set_int8_activations(true);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (threads < 1 || threads > 1024) {
    std::fprintf(stderr, "usage: bench_kernels [THREADS (1..1024, default 2)] [--types-only]; got '%s'\n", argv[1]);
    return 2;
  }
  at::set_num_threads(threads);
  pad::set_num_threads(threads);
  at::NoGradGuard no_grad;
  at::manual_seed(0);
  std::printf("threads: %d (at::get_num_threads() = %d); load average at start: %s\n", threads,
              at::get_num_threads(), load_average().c_str());
  const double stream_gbs = pad::kernels::measure_read_bandwidth_gbs();
  std::printf("streaming read bandwidth (sum of 1 GiB, all threads): %.1f GB/s\n", stream_gbs);
  bench_weight_types(stream_gbs);
  if (argc > 2 && std::string(argv[2]) == "--types-only") return 0;
  bench_decode_shapes(stream_gbs);
  bench_row_threshold();
  std::printf("\nkernel fallback threshold in this build: f32 weights with M > %lld go to at::linear\n",
              (long long)pad::kernels::kMaxCustomRows);
  std::printf("load average at end: %s\n", load_average().c_str());
  return 0;
}
