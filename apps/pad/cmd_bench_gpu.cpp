// `pad bench gpu`: issue 14's device benchmark. A Llama-3-8B-shaped model with random weights built
// on the device (bf16 by default on CUDA), plain decoding at batch 1/8/64 and prefill, PAD with the
// head, LoRA and full PersRM forms as ratios to plain decoding, and the authors' loop (no cache,
// both models recomputed every step). bench/gpu_hf.py adds Hugging Face `generate` from the JSONL.
// `--preset tiny` on the CPU runs the same code path (the generic ATen ops) in seconds: CI's smoke test.
#include <chrono>
#include <cmath>
#include <map>
#include <cstdio>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "pad/decode/engine.h"
#include "pad/model/model.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad::cli {
namespace {

struct GpuBenchFlags {
  ModelFlags model;                  // --device, --dtype (default bf16 on cuda, f32 on the CPU), --kv-type
  std::string preset = "llama-3-8b";  // llama-3-8b | tiny
  std::vector<int> batches = {1, 8, 64};
  std::vector<int> pad_batches = {1, 64};  // PAD forms are measured at these batches (issue: 1 and 64)
  int n_prompt = 32;
  int n_new = 128;
  int n_prefill = 512;
  int lora_rank = 16;
  bool skip_authors = false;
  std::string out;  // PREFIX: writes PREFIX.md and PREFIX.jsonl (atomically)
};

ModelConfig gpu_preset(const std::string& name) {
  ModelConfig c;
  if (name == "llama-3-8b") {
    c.n_vocab = 128256, c.d_model = 4096, c.n_layer = 32, c.n_head = 32, c.n_kv_head = 8, c.head_dim = 128;
    c.d_ff = 14336, c.rope_theta = 500000, c.max_position = 8192;
  } else if (name == "tiny") {
    c.n_vocab = 512, c.d_model = 64, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2, c.head_dim = 16, c.d_ff = 172;
  } else {
    throw_invalid("--preset '", name, "' is not known (expected llama-3-8b or tiny)");
  }
  return c;
}

// Random weights created directly on the device (an 8B model would take minutes through the CPU).
ModelWeights device_random_weights(const ModelConfig& c, at::Device dev, at::ScalarType t, uint64_t seed) {
  at::manual_seed(seed);
  const at::TensorOptions o = at::TensorOptions().device(dev).dtype(t);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d_model));
  auto mat = [&](int64_t r, int64_t k) { return at::randn({r, k}, o) * scale; };
  auto norm = [&](int64_t n) { return at::ones({n}, o.dtype(at::kFloat)) + 0.1 * at::randn({n}, o.dtype(at::kFloat)); };
  const int64_t d = c.d_model, q_dim = c.n_head * c.head_dim, kv_dim = c.n_kv_head * c.head_dim;
  ModelWeights w;
  w.embed = mat(c.n_vocab, d);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    LayerWeights l;
    l.attn_norm = norm(d), l.ffn_norm = norm(d);
    l.wq = mat(q_dim, d), l.wk = mat(kv_dim, d), l.wv = mat(kv_dim, d), l.wo = mat(d, q_dim);
    l.w_gate = mat(c.d_ff, d), l.w_up = mat(c.d_ff, d), l.w_down = mat(d, c.d_ff);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = norm(d);
  w.lm_head = c.tie_embeddings ? w.embed : mat(c.n_vocab, d);
  return w;
}

std::shared_ptr<Model> bench_model_on(const ModelConfig& c, const DeviceOptions& place, uint64_t seed, const std::string& name) {
  const at::ScalarType t = place.resolved_dtype();
  if (!place.device.is_cpu()) return std::make_shared<Model>(c, device_random_weights(c, place.device, t, seed), name);
  auto m = std::make_shared<Model>(c, random_weights(c, t, seed), name);
  m->to_device(place);  // the CPU runs the generic path: the code the device runs
  return m;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<PadRequest> requests(int batch, const GpuBenchFlags& f, int64_t V, int n_new) {
  std::vector<PadRequest> reqs;
  for (int b = 0; b < batch; ++b) {
    PadRequest r;
    for (int i = 0; i < f.n_prompt; ++i) r.prompts.base.push_back(static_cast<int>((i * 131 + b * 17 + 3) % V));
    r.prompts.principles = {r.prompts.base};
    r.prompts.weights = {1.0};
    r.n_predict = n_new;  // no stop ids: every request runs the full length
    reqs.push_back(std::move(r));
  }
  return reqs;
}

// Generated tokens per second through the engine (each step ends in a copy to the host: synchronous).
double engine_tps(const std::shared_ptr<Model>& base, const PersRm& rm, Strategy s, int batch, const GpuBenchFlags& f) {
  EngineOptions opt;
  opt.strategy = s;
  opt.max_batch = std::max(batch, 1);
  PadEngine engine(base, rm, nullptr, opt);
  engine.run(requests(batch, f, base->config().n_vocab, 2));  // warm-up: kernels chosen, caches allocated
  auto t0 = std::chrono::steady_clock::now();
  size_t n = 0;
  for (const PadResult& r : engine.run(requests(batch, f, base->config().n_vocab, f.n_new))) n += r.tokens.size();
  return n / seconds_since(t0);
}

double prefill_tps(Model& m, const GpuBenchFlags& f) {
  std::vector<int> prompt;
  for (int i = 0; i < f.n_prefill; ++i) prompt.push_back(static_cast<int>((i * 131) % m.config().n_vocab));
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const int slot = m.create_slot();
    auto t0 = std::chrono::steady_clock::now();
    (void)m.forward({Row{slot, prompt, false}}).logits.to(at::kCPU);  // the copy waits for the device
    best = std::max(best, f.n_prefill / seconds_since(t0));
    m.free_slot(slot);
  }
  return best;
}

// The authors' loop (their released decoding): no cache, batch 1, both models over the whole sequence.
double authors_tps(const Model& base, const Model& persrm, const GpuBenchFlags& f, int n_new) {
  std::vector<int64_t> seq;
  for (int i = 0; i < f.n_prompt; ++i) seq.push_back((i * 131 + 3) % base.config().n_vocab);
  auto t0 = std::chrono::steady_clock::now();
  for (int step = 0; step < n_new; ++step) {
    at::Tensor ids = at::tensor(seq, at::kLong).unsqueeze(0);
    // In the weights' own type (bf16 on the GPU), as the authors run it.
    at::Tensor lb = base.forward_sequence(ids, base.dtype())[0][-1].to(at::kFloat);  // [V] f32
    at::Tensor lp = persrm.forward_sequence(ids, persrm.dtype())[0][-1].to(at::kFloat);
    auto [top, cand] = lb.topk(10);
    at::Tensor score = top + (at::log_softmax(lp.index_select(0, cand), 0) - at::log_softmax(top, 0));
    seq.push_back(cand[score.argmax()].item<int64_t>());
  }
  return n_new / seconds_since(t0);
}

void run_gpu_bench(const GpuBenchFlags& f) {
  apply_threads(f.model, /*inference=*/true);
  const DeviceOptions place = device_options(f.model);
  const ModelConfig c = gpu_preset(f.preset);
  at::NoGradGuard no_grad;
  std::shared_ptr<Model> base = bench_model_on(c, place, 1, "base");
  const std::string kv = !f.model.kv_type.empty() ? f.model.kv_type
                        : place.device.is_cpu()    ? "f32"
                                                   : float_type_name(place.resolved_dtype());
  base->set_kv_type(kv == "f16" ? at::kHalf : kv == "bf16" ? at::kBFloat16 : at::kFloat);
  std::shared_ptr<Model> full = bench_model_on(c, place, 2, "persrm");
  full->set_kv_type(base->kv_type());
  const auto [adapter, head] = bench_persrms(*base, f.lora_rank);

  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream md;
  char line[256];
  std::snprintf(line, sizeof line, "# pad bench gpu: %s preset, %.2fB parameters, %s, kv %s, prompt %d, %d new tokens, PAD topk k=10 greedy\n\n",
                f.preset.c_str(), c.n_params() / 1e9, base->placement().c_str(), float_type_name(base->kv_type()), f.n_prompt, f.n_new);
  md << line << "| method | batch | tokens/s | × plain (same batch) |\n|---|---:|---:|---:|\n";
  auto emit = [&](const std::string& method, int batch, double tps, double plain) {
    std::snprintf(line, sizeof line, "| %s | %d | %.1f | %s |\n", method.c_str(), batch, tps,
                  plain > 0 ? std::to_string(tps / plain).substr(0, 4).c_str() : "");
    md << line;
    std::fputs(line, stdout);
    std::fflush(stdout);
    rows.push_back({{"method", method}, {"batch", batch}, {"tokens_per_s", tps}, {"x_plain", plain > 0 ? tps / plain : 1.0}});
  };
  std::fputs(md.str().c_str(), stdout);
  std::map<int, double> plain;
  for (int b : f.batches) emit("plain", b, plain[b] = engine_tps(base, PersRm{}, Strategy::kBase, b, f), 0);
  const double pf = prefill_tps(*base, f);
  std::snprintf(line, sizeof line, "| prefill (%d-token prompt, best of 3) | 1 | %.0f | |\n", f.n_prefill, pf);
  md << line;
  std::fputs(line, stdout);
  rows.push_back({{"method", "prefill"}, {"batch", 1}, {"tokens_per_s", pf}, {"n_prompt", f.n_prefill}});
  const std::vector<std::pair<std::string, PersRm>> forms = {
      {"PAD head", {PersRm::Form::kHead, nullptr, -1, head}},
      {"PAD LoRA", {PersRm::Form::kLora, nullptr, adapter, nullptr}},
      {"PAD full", {PersRm::Form::kFull, full, -1, nullptr}}};
  double pad_full_b1 = 0;
  for (int b : f.pad_batches) {
    if (!plain.count(b)) plain[b] = engine_tps(base, PersRm{}, Strategy::kBase, b, f);
    for (const auto& [name, rm] : forms) {
      const double tps = engine_tps(base, rm, Strategy::kPad, b, f);
      if (name == "PAD full" && b == 1) pad_full_b1 = tps;
      emit(name, b, tps, plain[b]);
    }
  }
  if (!f.skip_authors) {
    const double a = authors_tps(*base, *full, f, f.n_new);
    std::snprintf(line, sizeof line, "| authors' loop (no cache, full PersRM) | 1 | %.2f | PAD full b1 = %.1f× it |\n", a,
                  pad_full_b1 > 0 ? pad_full_b1 / a : 0.0);
    md << line;
    std::fputs(line, stdout);
    rows.push_back({{"method", "authors"}, {"batch", 1}, {"tokens_per_s", a}, {"pad_full_x_authors", pad_full_b1 / a}});
  }
  if (!f.out.empty()) {
    std::string jsonl;
    for (const auto& r : rows) jsonl += r.dump() + "\n";
    write_file_atomic(f.out + ".md", md.str());
    write_file_atomic(f.out + ".jsonl", jsonl);
  }
}

}  // namespace

void add_bench_gpu_command(CLI::App& bench) {
  auto f = std::make_shared<GpuBenchFlags>();
  CLI::App* g = bench.add_subcommand("gpu", "Device benchmark (issue 14): Llama-3-8B shapes, random weights on --device");
  add_runtime_flags(*g, f->model);
  g->add_option("--preset", f->preset, "llama-3-8b (default) or tiny (seconds on the CPU: the smoke test)");
  g->add_option("--batch", f->batches, "plain-decoding batch sizes (default 1 8 64)");
  g->add_option("--pad-batch", f->pad_batches, "PAD batch sizes (default 1 64)");
  g->add_option("--tokens", f->n_new, "new tokens per request")->check(CLI::PositiveNumber);
  g->add_option("--prompt", f->n_prompt, "prompt length")->check(CLI::PositiveNumber);
  g->add_option("--prefill", f->n_prefill, "prompt length of the prefill measurement")->check(CLI::PositiveNumber);
  g->add_flag("--skip-authors", f->skip_authors, "skip the authors' no-cache loop");
  g->add_option("--out", f->out, "PREFIX: also write PREFIX.md and PREFIX.jsonl");
  g->callback([f] { run_gpu_bench(*f); });
}

}  // namespace pad::cli
