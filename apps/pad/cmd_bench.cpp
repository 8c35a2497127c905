// `pad bench runtime`: decode and prefill speed of a ~100M-parameter Llama with random weights,
// next to the read bandwidth this machine sustains, with at::linear as the in-process baseline.
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "commands.h"
#include "common.h"
#include "pad/decode/engine.h"
#include "pad/kernels/linear.h"
#include "pad/model/model.h"
#include "pad/util/thread_pool.h"

namespace pad::cli {
namespace {

struct RuntimeBenchFlags {
  ModelFlags model;      // -m (optional: else the random preset), --dtype, --kv-type, --threads
  int n_decode = 32;     // decode steps timed per batch size
  int n_prompt = 32;     // prompt length before decoding
  int n_prefill = 128;   // prompt length of the prefill measurement (llama-bench's pp128)
  int64_t n_layer = 12;  // the ~100M preset: d 768, 12 layers, 12 heads, d_ff 2048, vocab 32000 (tied)
  bool baseline = true;  // also time at::linear products (float weights only)
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

// Resident set size of this process in MB (/proc/self/status), or -1 where unavailable.
double resident_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

// Mean seconds per decode step for `batch` rows after a prompt of n_prompt tokens each.
double decode_step_seconds(Model& m, int batch, const RuntimeBenchFlags& f, bool profile = false) {
  const int64_t V = m.config().n_vocab;
  std::vector<int> slots;
  std::vector<Row> rows;
  for (int b = 0; b < batch; ++b) {
    slots.push_back(m.create_slot());
    std::vector<int> prompt;
    for (int i = 0; i < f.n_prompt; ++i) prompt.push_back(static_cast<int>((i * 131 + b * 17) % V));
    rows.push_back({slots.back(), prompt, false});
  }
  m.forward(rows, false);
  for (auto& r : rows) r.tokens = {7};
  m.forward(rows);  // warm-up step
  if (profile) set_product_profiling(true);  // only the timed steps count
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
  for (int i = 0; i < f.n_prefill; ++i) prompt.push_back(static_cast<int>((i * 131) % m.config().n_vocab));
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {  // best of three: the first pass also faults the weights in
    int slot = m.create_slot();
    auto t0 = std::chrono::steady_clock::now();
    m.forward({Row{slot, prompt, false}});
    best = std::max(best, f.n_prefill / seconds_since(t0));
    m.free_slot(slot);
  }
  return best;
}

// Share of a batch-1 decode step spent in the weight products (the rest: attention, norms, RoPE,
// the embedding lookup, ATen calls).
double product_share(Model& m, const RuntimeBenchFlags& f) {
  const double step = decode_step_seconds(m, 1, f, true);
  const double products = product_seconds() / f.n_decode;
  set_product_profiling(false);
  return products / step;
}

std::shared_ptr<Model> bench_model(const RuntimeBenchFlags& f) {
  if (!f.model.model.empty()) return load_model(f.model);
  ModelConfig c = bench_config(f);
  const at::ScalarType dtype = f.model.dtype.empty() ? at::kFloat : parse_dtype(f.model.dtype);
  auto m = std::make_shared<Model>(c, random_weights(c, dtype, 1), "bench-100m");
  const DeviceOptions place = device_options(f.model);
  if (!place.device.is_cpu() || generic_ops_requested()) m->to_device(place);  // --device / PAD_GENERIC_OPS
  return m;
}

void run_runtime_bench(const RuntimeBenchFlags& f) {
  apply_threads(f.model, /*inference=*/true);
  const double rss_before = resident_mb();
  std::shared_ptr<Model> model = bench_model(f);
  Model& m = *model;
  const double rss_loaded = resident_mb();
  const ModelConfig& c = m.config();
  const double bytes = static_cast<double>(m.weight_bytes());
  const double stream_gbs = kernels::measure_read_bandwidth_gbs();
  std::printf("# pad bench runtime: %s, %.1fM parameters, %s weights (%.0f MB read per decode step), %d threads\n",
              m.name().c_str(), c.n_params() / 1e6, m.weight_types().c_str(), bytes / 1e6, num_threads());
  std::printf("# streaming read bandwidth measured here: %.1f GB/s; resident after load: %.0f MB (%.0f MB before)\n\n",
              stream_gbs, rss_loaded, rss_before);
  std::printf("| products | batch | ms/step | tokens/s | × batch 1 | weight GB/s | %% of stream |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  // Baselines in the same process: at::linear for float weights; for quantized ones pad's own
  // dequantize-to-f32 path (what pad did before its 8-bit integer kernels).
  const bool float_weights = m.weight_types().find('q') == std::string::npos;
  enum class Variant { kAtLinear, kF32Activations, kPad };
  for (Variant v : {Variant::kAtLinear, Variant::kF32Activations, Variant::kPad}) {
    if (v != Variant::kPad && (!f.baseline || float_weights != (v == Variant::kAtLinear))) continue;
    set_small_batch_kernels(v != Variant::kAtLinear);
    kernels::set_int8_activations(v == Variant::kPad);
    const char* name = v == Variant::kAtLinear ? "at::linear" : v == Variant::kPad ? "pad kernels" : "pad, f32 activations";
    double base_tps = 0;
    for (int batch : {1, 4, 16}) {
      const double step = decode_step_seconds(m, batch, f);
      const double tps = batch / step;
      if (batch == 1) base_tps = tps;
      const double gbs = bytes / step / 1e9;
      std::printf("| %s | %d | %.2f | %.1f | %.2f | %.1f | %.0f%% |\n", name, batch, step * 1e3, tps, tps / base_tps,
                  gbs, 100 * gbs / stream_gbs);
      std::fflush(stdout);
    }
  }
  kernels::set_int8_activations(true);
  set_small_batch_kernels(true);
  std::printf("\nprefill: %.0f tokens/s (one prompt of %d tokens, best of 3)\n", prefill_tokens_per_second(m, f), f.n_prefill);
  std::printf("profile: weight products take %.0f%% of a batch-1 decode step\n", 100 * product_share(m, f));
  std::printf("resident at the end: %.0f MB (weights as stored: %.0f MB)\n", resident_mb(), bytes / 1e6);
}

struct PadBenchFlags {
  ModelFlags model;
  int n_new = 128;       // tokens generated per prompt
  int n_prompt = 32;     // prompt length
  int64_t n_layer = 12;
  int lora_rank = 16;
  bool skip_authors = false;
  int rounds = 3;  // best of
  std::vector<int> batches = {1, 8};
  std::string only;  // run only methods whose name contains this
};

// The authors' released decoding loop: no cache, one prompt at a time, both models recompute the
// whole sequence every step; rule=topk, greedy.
std::vector<int> authors_pad(const Model& base, const Model& persrm, std::vector<int> seq, int n_new, int k, double w) {
  std::vector<int> out;
  for (int step = 0; step < n_new; ++step) {
    std::vector<int64_t> v(seq.begin(), seq.end());
    at::Tensor ids = at::tensor(v, at::kLong).unsqueeze(0);
    at::Tensor lb = base.forward_sequence(ids)[0][-1], lp = persrm.forward_sequence(ids)[0][-1];  // [V]
    auto [top, cand] = lb.topk(k);
    at::Tensor score = top + w * (at::log_softmax(lp.index_select(0, cand), 0) - at::log_softmax(top, 0));
    const int token = static_cast<int>(cand[score.argmax()].item<int64_t>());
    out.push_back(token);
    seq.push_back(token);
  }
  return out;
}

std::vector<PadRequest> bench_requests(int batch, const PadBenchFlags& f, int64_t n_vocab) {
  std::vector<PadRequest> reqs;
  for (int b = 0; b < batch; ++b) {
    PadRequest r;
    for (int i = 0; i < f.n_prompt; ++i) r.prompts.base.push_back(int((i * 131 + b * 17 + 3) % n_vocab));
    r.prompts.principles = {r.prompts.base};
    r.prompts.weights = {1.0};
    r.n_predict = f.n_new;  // no stop ids: every request runs the full length
    reqs.push_back(std::move(r));
  }
  return reqs;
}

double engine_tokens_per_second(std::shared_ptr<Model> base, const PersRm& rm, Strategy s, int batch, const PadBenchFlags& f) {
  EngineOptions opt;
  opt.strategy = s;
  PadEngine engine(base, rm, nullptr, opt);
  std::vector<PadRequest> reqs = bench_requests(batch, f, base->config().n_vocab);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<PadResult> res = engine.run(reqs);
  const double secs = seconds_since(t0);
  size_t n = 0;
  for (const auto& r : res) n += r.tokens.size();
  return n / secs;
}

void run_pad_bench(const PadBenchFlags& f) {
  apply_threads(f.model, /*inference=*/true);
  const at::ScalarType dtype = f.model.dtype.empty() ? at::kFloat : parse_dtype(f.model.dtype);
  RuntimeBenchFlags rf;
  rf.n_layer = f.n_layer;
  rf.model = f.model;
  // -m MODEL: that file is the base, a second copy of it the full PersRM; else random weights.
  std::shared_ptr<Model> base = bench_model(rf);
  const ModelConfig c = base->config();
  auto full = f.model.model.empty() ? std::make_shared<Model>(c, random_weights(c, dtype, 2), "persrm") : bench_model(rf);
  if (base->generic_ops() && !full->generic_ops()) full->to_device(device_options(f.model));
  const auto [adapter, head] = bench_persrms(*base, f.lora_rank);
  std::printf("# pad bench pad: %.1fM-parameter Llama (%s, %s), prompt %d tokens, %d new tokens, "
              "rule=topk k=10, greedy, %d threads\n\n",
              c.n_params() / 1e6, f.model.model.empty() ? "random weights" : f.model.model.c_str(), base->weight_types().c_str(), f.n_prompt, f.n_new, num_threads());
  struct Method {
    const char* name;
    PersRm rm;
    Strategy s;
  };
  std::vector<Method> methods = {{"plain greedy", PersRm{}, Strategy::kBase},
                                 {"PAD, head PersRM", {PersRm::Form::kHead, nullptr, -1, head}, Strategy::kPad},
                                 {"PAD, LoRA PersRM (r=16, q/k/v/o)", {PersRm::Form::kLora, nullptr, adapter, nullptr}, Strategy::kPad},
                                 {"PAD, full PersRM (separate model)", {PersRm::Form::kFull, full, -1, nullptr}, Strategy::kPad}};
  double authors = 0;
  if (!f.skip_authors) {
    std::vector<int> prompt = bench_requests(1, f, c.n_vocab)[0].prompts.base;
    auto t0 = std::chrono::steady_clock::now();
    authors_pad(*base, *full, prompt, f.n_new, 10, 1.0);
    authors = f.n_new / seconds_since(t0);
  }
  std::printf("| method | batch | tokens/s | × plain | × authors' loop |\n|---|---:|---:|---:|---:|\n");
  if (!f.only.empty())
    std::erase_if(methods, [&](const Method& m) { return m.s != Strategy::kBase && std::string(m.name).find(f.only) == std::string::npos; });
  for (int batch : f.batches) {
    // Rounds over all methods, best of each: a burst of load from other processes on a shared
    // machine then hits one round of every method rather than every round of one.
    std::vector<double> best(methods.size(), 0.0);
    for (int round = 0; round < f.rounds; ++round)
      for (size_t i = 0; i < methods.size(); ++i)
        best[i] = std::max(best[i], engine_tokens_per_second(base, methods[i].rm, methods[i].s, batch, f));
    const double plain = best[0];
    for (size_t i = 0; i < methods.size(); ++i) {
      const Method& m = methods[i];
      const double tps = best[i];
      std::printf("| %s | %d | %.1f | %.2f | %s |\n", m.name, batch, tps, tps / plain,
                  authors > 0 && m.s == Strategy::kPad ? std::to_string(tps / authors).substr(0, 5).c_str() : "");
      std::fflush(stdout);
    }
  }
  if (authors > 0)
    std::printf("| authors' loop (no cache, one prompt at a time, full PersRM) | any | %.2f | | 1.00 |\n", authors);
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure pad's speed on this machine");
  bench->require_subcommand(1);
  auto f = std::make_shared<RuntimeBenchFlags>();
  CLI::App* runtime = bench->add_subcommand("runtime", "Decode/prefill speed of a model (-m) or of a ~100M Llama with random weights");
  add_runtime_flags(*runtime, f->model);
  runtime->add_option("-m,--model", f->model.model, "Hugging Face directory or .gguf file (default: the random preset)");
  runtime->add_option("--prefill", f->n_prefill, "prompt length of the prefill measurement");
  runtime->add_flag("!--no-baseline", f->baseline, "skip the at::linear baseline rows");
  runtime->add_option("--steps", f->n_decode, "decode steps timed per batch size");
  runtime->add_option("--layers", f->n_layer, "layers of the benchmark model (12 ≈ 110M parameters)");
  runtime->callback([f] { run_runtime_bench(*f); });

  auto p = std::make_shared<PadBenchFlags>();
  CLI::App* pad = bench->add_subcommand("pad", "PAD's tokens/s per PersRM form against plain decoding and the authors' loop");
  add_runtime_flags(*pad, p->model);
  pad->add_option("-m,--model", p->model.model, "Hugging Face directory or .gguf file (default: random weights)");
  pad->add_option("--tokens", p->n_new, "new tokens per prompt");
  pad->add_option("--layers", p->n_layer, "layers of the benchmark model (12 ≈ 110M parameters)");
  pad->add_flag("--skip-authors", p->skip_authors, "skip the slow no-cache baseline");
  pad->add_option("--batch", p->batches, "batch sizes (default 1 8)");
  pad->add_option("--only", p->only, "only the PAD methods whose name contains this (e.g. LoRA)");
  pad->add_option("--rounds", p->rounds, "rounds over all methods; each method's best is reported")->check(CLI::PositiveNumber);
  pad->callback([p] { run_pad_bench(*p); });
  add_bench_gpu_command(*bench);
}

}  // namespace pad::cli
