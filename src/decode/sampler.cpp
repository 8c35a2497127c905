// The sampling chain; see sampler.h for the order of the steps.
#include "pad/decode/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "pad/util/error.h"

namespace pad {

Candidates Candidates::from_logits(const float* logits, int64_t n_vocab) {
  Candidates c;
  c.ids.resize(n_vocab);
  std::iota(c.ids.begin(), c.ids.end(), 0);
  c.scores.assign(logits, logits + n_vocab);
  return c;
}

void SamplingOptions::validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    throw_invalid("--temp ", temperature, " is out of range (expected a finite value ≥ 0)");
  if (top_k < 0) throw_invalid("--top-k ", top_k, " is out of range (expected ≥ 0; 0 turns it off)");
  if (!(top_p > 0.0f && top_p <= 1.0f)) throw_invalid("--top-p ", top_p, " is out of range (expected (0, 1])");
  if (!(min_p >= 0.0f && min_p < 1.0f)) throw_invalid("--min-p ", min_p, " is out of range (expected [0, 1))");
}

namespace {

void sort_descending(Candidates& c) {
  std::vector<size_t> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return c.scores[a] > c.scores[b] || (c.scores[a] == c.scores[b] && c.ids[a] < c.ids[b]);
  });
  Candidates sorted;
  for (size_t i : order) {
    sorted.ids.push_back(c.ids[i]);
    sorted.scores.push_back(c.scores[i]);
  }
  c = std::move(sorted);
}

}  // namespace

std::vector<float> softmax(const std::vector<float>& scores) {
  std::vector<float> p(scores.size());
  if (scores.empty()) return p;
  const float max = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (size_t i = 0; i < scores.size(); ++i) sum += (p[i] = std::exp(scores[i] - max));
  for (float& x : p) x = static_cast<float>(x / sum);
  return p;
}

void keep_top_k(Candidates& c, int k) {
  if (k > 0 && static_cast<size_t>(k) < c.size()) {
    std::vector<size_t> order(c.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](size_t a, size_t b) {
      return c.scores[a] > c.scores[b] || (c.scores[a] == c.scores[b] && c.ids[a] < c.ids[b]);
    });
    Candidates top;
    for (int i = 0; i < k; ++i) {
      top.ids.push_back(c.ids[order[i]]);
      top.scores.push_back(c.scores[order[i]]);
    }
    c = std::move(top);
    return;
  }
  sort_descending(c);
}

void keep_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.size() <= 1) return;
  sort_descending(c);
  std::vector<float> probs = softmax(c.scores);
  double cum = 0;
  size_t keep = c.size();
  for (size_t i = 0; i < probs.size(); ++i) {
    cum += probs[i];
    if (cum >= p) {
      keep = i + 1;
      break;
    }
  }
  c.ids.resize(keep);
  c.scores.resize(keep);
}

void keep_min_p(Candidates& c, float min_p) {
  if (min_p <= 0.0f || c.size() <= 1) return;
  const float max = *std::max_element(c.scores.begin(), c.scores.end());
  const float threshold = max + std::log(min_p);  // p_i ≥ min_p · p_max ⇔ s_i ≥ s_max + log(min_p)
  Candidates kept;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c.scores[i] >= threshold) {
      kept.ids.push_back(c.ids[i]);
      kept.scores.push_back(c.scores[i]);
    }
  }
  c = std::move(kept);
}

int argmax(const Candidates& c) {
  PAD_CHECK(c.size() > 0, "argmax over no candidates");
  size_t best = 0;
  for (size_t i = 1; i < c.size(); ++i)
    if (c.scores[i] > c.scores[best] || (c.scores[i] == c.scores[best] && c.ids[i] < c.ids[best])) best = i;
  return c.ids[best];
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), rng_(options.seed) { options_.validate(); }

void Sampler::add_guidance(std::shared_ptr<CandidateStep> step) { guidance_.push_back(std::move(step)); }

int Sampler::choose(Candidates& c) {
  for (auto& step : guidance_) step->apply(c);
  if (keep_guided_) guided_ = c;
  if (greedy()) return argmax(c);
  keep_top_k(c, options_.top_k);
  keep_top_p(c, options_.top_p);
  keep_min_p(c, options_.min_p);
  for (float& s : c.scores) s /= options_.temperature;
  std::vector<float> probs = softmax(c.scores);
  std::discrete_distribution<size_t> dist(probs.begin(), probs.end());
  return c.ids[dist(rng_)];
}

int Sampler::choose(const float* logits, int64_t n_vocab) {
  if (greedy() && guidance_.empty() && !keep_guided_) {
    // Fast path: no candidate vector for a plain argmax over the vocabulary.
    int64_t best = 0;
    for (int64_t i = 1; i < n_vocab; ++i)
      if (logits[i] > logits[best]) best = i;
    return static_cast<int>(best);
  }
  Candidates c;
  if (guidance_.empty() || guidance_.front()->reads_candidates()) c = Candidates::from_logits(logits, n_vocab);
  return choose(c);
}

void Sampler::accept(int token) {
  for (auto& step : guidance_) step->accept(token);
}

void Sampler::reset() {
  for (auto& step : guidance_) step->reset();
  rng_.seed(options_.seed);
}

}  // namespace pad
