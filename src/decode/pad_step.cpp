// The PAD step's two rules; see pad_step.h for the formulas.
#include "pad/decode/pad_step.h"

#include <algorithm>
#include <cmath>

#include "pad/util/error.h"

namespace pad {
namespace {

std::vector<float> log_softmax_all(const float* logits, int64_t n) {
  float max = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  std::vector<float> out(logits, logits + n);
  for (float& x : out) x -= log_z;
  return out;
}

}  // namespace

void PadOptions::validate(int64_t n_vocab) const {
  if (!std::isfinite(w)) throw_invalid("--w ", w, " is not a finite number");
  if (k < 1 || (n_vocab > 0 && k > n_vocab))
    throw_invalid("--k ", k, " is out of range (expected 1..", n_vocab, ", the vocabulary size)");
}

std::vector<float> log_softmax_over(const float* logits, const std::vector<int>& ids) {
  float max = -INFINITY;
  for (int id : ids) max = std::max(max, logits[id]);
  double sum = 0;
  for (int id : ids) sum += std::exp(static_cast<double>(logits[id] - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  std::vector<float> out;
  for (int id : ids) out.push_back(logits[id] - log_z);
  return out;
}

void PadStep::apply(Candidates& c) {
  PAD_CHECK(inputs_.base != nullptr, "PadStep used without inputs");
  PAD_CHECK(inputs_.persrm.size() == inputs_.ref.size() && inputs_.persrm.size() == inputs_.weights.size(),
            "PadStep inputs disagree in principle count");
  if (options_.rule == PadRule::kTopK) apply_topk(c);
  else apply_full(c);
}

void PadStep::apply_topk(Candidates& c) {
  Candidates top;
  if (inputs_.candidates != nullptr) {
    top.ids = *inputs_.candidates;
    for (int id : top.ids) top.scores.push_back(inputs_.base[id]);
  } else {
    top = Candidates::from_logits(inputs_.base, inputs_.n_vocab);
    keep_top_k(top, options_.k);  // sorted by base logit, ties to the lower id
  }
  trace_ = PadTrace{};
  trace_.ids = top.ids;
  trace_.base_logits = top.scores;
  trace_.reward.assign(top.size(), 0.0f);
  for (size_t j = 0; j < inputs_.persrm.size(); ++j) {
    std::vector<float> p = log_softmax_over(inputs_.persrm[j], top.ids);
    std::vector<float> r = log_softmax_over(inputs_.ref[j], top.ids);
    for (size_t i = 0; i < top.size(); ++i) trace_.reward[i] += static_cast<float>(inputs_.weights[j]) * (p[i] - r[i]);
    trace_.persrm_logp.push_back(std::move(p));
    trace_.ref_logp.push_back(std::move(r));
  }
  for (size_t i = 0; i < top.size(); ++i)
    top.scores[i] = trace_.base_logits[i] + static_cast<float>(options_.w) * trace_.reward[i];
  trace_.score = top.scores;
  c = std::move(top);
}

void PadStep::apply_full(Candidates& c) {
  const int64_t n = inputs_.n_vocab;
  std::vector<float> score = log_softmax_all(inputs_.base, n);
  std::vector<float> reward(n, 0.0f);
  std::vector<std::vector<float>> lp, lr;
  for (size_t j = 0; j < inputs_.persrm.size(); ++j) {
    lp.push_back(log_softmax_all(inputs_.persrm[j], n));
    lr.push_back(log_softmax_all(inputs_.ref[j], n));
    for (int64_t i = 0; i < n; ++i) reward[i] += static_cast<float>(inputs_.weights[j]) * (lp[j][i] - lr[j][i]);
  }
  for (int64_t i = 0; i < n; ++i) score[i] += static_cast<float>(options_.w) * reward[i];
  c = Candidates::from_logits(score.data(), n);
  // Trace the k best by score.
  Candidates best = c;
  keep_top_k(best, options_.k);
  trace_ = PadTrace{};
  trace_.ids = best.ids;
  trace_.score = best.scores;
  for (int id : best.ids) {
    trace_.base_logits.push_back(inputs_.base[id]);
    trace_.reward.push_back(reward[id]);
  }
  for (size_t j = 0; j < lp.size(); ++j) {
    std::vector<float> p, r;
    for (int id : best.ids) {
      p.push_back(lp[j][id]);
      r.push_back(lr[j][id]);
    }
    trace_.persrm_logp.push_back(std::move(p));
    trace_.ref_logp.push_back(std::move(r));
  }
}

}  // namespace pad
