// `pad bench runtime`: decode and prefill speed of a ~100M-parameter Llama with random weights,
// next to the read bandwidth this machine sustains, with at::linear as the in-process baseline.
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "pad/kernels/linear.h"
#include "pad/model/model.h"

namespace pad::cli {
namespace {

struct RuntimeBenchFlags {
  ModelFlags model;      // only --threads and --dtype are used
  int n_decode = 32;     // decode steps timed per batch size
  int n_prompt = 32;     // prompt length before decoding
  int n_prefill = 256;   // prompt length of the prefill measurement
  int64_t n_layer = 12;  // the ~100M preset: d 768, 12 layers, 12 heads, d_ff 2048, vocab 32000 (tied)
};

ModelConfig bench_config(const RuntimeBenchFlags& f) {
  ModelConfig c;
  c.n_vocab = 32000;
  c.d_model = 768;
  c.n_layer = f.n_layer;
  c.n_head = 12;
  c.n_kv_head = 12;
  c.head_dim = 64;
  c.d_ff = 2048;
  c.tie_embeddings = true;
  c.max_position = 4096;
  return c;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Bytes of weights a decode step reads: every matrix once (embedding rows are negligible).
double weight_bytes(const Model& m) {
  double bytes = 0;
  for (const LayerWeights& l : m.weights().layers)
    for (const at::Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      bytes += static_cast<double>(t->numel() * t->element_size());
  return bytes + static_cast<double>(m.weights().lm_head.numel() * m.weights().lm_head.element_size());
}

// Mean seconds per decode step for `batch` rows after a prompt of n_prompt tokens each.
double decode_step_seconds(Model& m, int batch, const RuntimeBenchFlags& f) {
  std::vector<int> slots;
  std::vector<Row> rows;
  for (int b = 0; b < batch; ++b) {
    slots.push_back(m.create_slot());
    std::vector<int> prompt;
    for (int i = 0; i < f.n_prompt; ++i) prompt.push_back((i * 131 + b * 17) % 32000);
    rows.push_back({slots.back(), prompt, false});
  }
  m.forward(rows, false);
  for (auto& r : rows) r.tokens = {7};
  m.forward(rows);  // warm-up step
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < f.n_decode; ++s) {
    at::Tensor logits = m.forward(rows).logits;
    for (size_t b = 0; b < rows.size(); ++b) rows[b].tokens = {static_cast<int>(logits[b].argmax().item<int64_t>())};
  }
  const double per_step = seconds_since(t0) / f.n_decode;
  for (int s : slots) m.free_slot(s);
  return per_step;
}

double prefill_tokens_per_second(Model& m, const RuntimeBenchFlags& f) {
  std::vector<int> prompt;
  for (int i = 0; i < f.n_prefill; ++i) prompt.push_back((i * 131) % 32000);
  int slot = m.create_slot();
  auto t0 = std::chrono::steady_clock::now();
  m.forward({Row{slot, prompt, false}});
  const double s = seconds_since(t0);
  m.free_slot(slot);
  return f.n_prefill / s;
}

void run_runtime_bench(const RuntimeBenchFlags& f) {
  apply_threads(f.model);
  const at::ScalarType dtype = parse_dtype(f.model.dtype);
  ModelConfig c = bench_config(f);
  Model m(c, random_weights(c, dtype, 1), "bench-100m");
  const double bytes = weight_bytes(m);
  const double stream_gbs = kernels::measure_read_bandwidth_gbs();
  std::printf("# pad bench runtime: %.1fM parameters, %s weights (%.0f MB read per decode step), %d threads\n",
              c.n_params() / 1e6, f.model.dtype.c_str(), bytes / 1e6, at::get_num_threads());
  std::printf("# streaming read bandwidth measured here: %.1f GB/s\n\n", stream_gbs);
  std::printf("| products | batch | ms/step | tokens/s | × batch 1 | weight GB/s | %% of stream |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (bool fast : {false, true}) {
    set_small_batch_kernels(fast);
    double base_tps = 0;
    for (int batch : {1, 4, 16}) {
      const double step = decode_step_seconds(m, batch, f);
      const double tps = batch / step;
      if (batch == 1) base_tps = tps;
      const double gbs = bytes / step / 1e9;
      std::printf("| %s | %d | %.2f | %.1f | %.2f | %.1f | %.0f%% |\n", fast ? "pad kernels" : "at::linear", batch,
                  step * 1e3, tps, tps / base_tps, gbs, 100 * gbs / stream_gbs);
      std::fflush(stdout);
    }
  }
  set_small_batch_kernels(true);
  std::printf("\nprefill: %.0f tokens/s (one prompt of %d tokens)\n", prefill_tokens_per_second(m, f), f.n_prefill);
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure pad's speed on this machine");
  bench->require_subcommand(1);
  auto f = std::make_shared<RuntimeBenchFlags>();
  CLI::App* runtime = bench->add_subcommand("runtime", "Decode/prefill speed of a ~100M Llama with random weights");
  add_runtime_flags(*runtime, f->model);
  runtime->add_option("--steps", f->n_decode, "decode steps timed per batch size");
  runtime->add_option("--layers", f->n_layer, "layers of the benchmark model (12 ≈ 110M parameters)");
  runtime->callback([f] { run_runtime_bench(*f); });
}

}  // namespace pad::cli
