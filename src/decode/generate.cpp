// Plain batched generation over the model's slots, and the no-cache reference.
#include "pad/decode/generate.h"

#include <algorithm>
#include <chrono>

#include "pad/util/error.h"

namespace pad {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool is_stop(const GenerateOptions& o, int token) {
  return std::find(o.stop_ids.begin(), o.stop_ids.end(), token) != o.stop_ids.end();
}

}  // namespace

void GenerateOptions::validate() const {
  if (n_predict < 0) throw_invalid("-n ", n_predict, " is out of range (expected ≥ 0)");
  sampling.validate();
}

std::vector<GenerateResult> generate(Model& model, const std::vector<std::vector<int>>& prompts,
                                     const GenerateOptions& options, const TokenCallback& on_token) {
  options.validate();
  const size_t n = prompts.size();
  std::vector<GenerateResult> results(n);
  std::vector<int> slots(n);
  std::vector<Sampler> samplers;
  std::vector<Row> rows;
  for (size_t i = 0; i < n; ++i) {
    if (prompts[i].empty()) throw_invalid("prompt ", i, " has no tokens");
    SamplingOptions s = options.sampling;
    s.seed += i;
    samplers.emplace_back(s);
    slots[i] = model.create_slot();
    rows.push_back({slots[i], prompts[i], false});
  }
  std::vector<size_t> active(n);
  for (size_t i = 0; i < n; ++i) active[i] = i;
  auto t0 = std::chrono::steady_clock::now();
  bool first = true;
  while (!active.empty() && options.n_predict > 0) {
    ForwardOutput out = model.forward(rows);
    at::Tensor logits = out.logits.to(at::kCPU).contiguous();  // [R, V] f32 on the host
    if (options.n_valid_tokens > 0 && options.n_valid_tokens < logits.size(1))
      logits.narrow(1, options.n_valid_tokens, logits.size(1) - options.n_valid_tokens).fill_(-INFINITY);
    if (first) {
      for (auto& r : results) r.t_prefill_ms = ms_since(t0);
      t0 = std::chrono::steady_clock::now();
      first = false;
    }
    std::vector<size_t> still;
    std::vector<Row> next;
    for (size_t r = 0; r < active.size(); ++r) {
      const size_t i = active[r];
      const int token = samplers[i].choose(logits[r].data_ptr<float>(), logits.size(1));
      samplers[i].accept(token);
      if (is_stop(options, token)) {
        results[i].stop_reason = "eos";
        continue;
      }
      results[i].tokens.push_back(token);
      if (on_token) on_token(i, token);
      if (static_cast<int>(results[i].tokens.size()) >= options.n_predict) {
        results[i].stop_reason = "length";
        continue;
      }
      still.push_back(i);
      next.push_back({slots[i], {token}, false});
    }
    active = std::move(still);
    rows = std::move(next);
  }
  const double t_decode = ms_since(t0);
  for (size_t i = 0; i < n; ++i) {
    if (results[i].stop_reason.empty()) results[i].stop_reason = "length";
    results[i].t_decode_ms = t_decode;
    model.free_slot(slots[i]);
  }
  return results;
}

std::vector<int> generate_simple(const Model& model, const std::vector<int>& prompt, const GenerateOptions& options) {
  options.validate();
  Sampler sampler(options.sampling);
  std::vector<int> tokens = prompt;
  std::vector<int> out;
  for (int step = 0; step < options.n_predict; ++step) {
    std::vector<int64_t> ids(tokens.begin(), tokens.end());
    at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);         // [1, T]
    at::Tensor last = model.forward_sequence(input)[0][-1].to(at::kCPU).contiguous(); // [V] f32
    const int token = sampler.choose(last.data_ptr<float>(), last.size(0));
    sampler.accept(token);
    if (is_stop(options, token)) break;
    out.push_back(token);
    tokens.push_back(token);
  }
  return out;
}

}  // namespace pad
