// Choosing a token: an ordered chain of small steps over a candidate set (STYLE.md "Decoding pipeline").
//
// The chain's order is fixed here and nowhere else:
//   1. guidance   — optional steps that rewrite scores (the PAD step lives here, see pad_step.h);
//                   they are not argmax-invariant, so they run before anything that truncates.
//   2. top-k      — keep the k best (k = 0: off)
//   3. top-p      — keep the smallest prefix with cumulative probability ≥ p (p = 1: off)
//   4. min-p      — drop candidates with probability < min_p · p_max (0: off)
//   5. temperature— divide scores by T
//   6. pick       — argmax when T = 0, else a draw from softmax(scores) with the chain's RNG
// Steps 2–5 are argmax-invariant, so greedy decoding (T = 0) skips them.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace pad {

// The tokens still in play and their scores (logits, or PAD scores after guidance).
struct Candidates {
  std::vector<int> ids;
  std::vector<float> scores;
  size_t size() const { return ids.size(); }
  static Candidates from_logits(const float* logits, int64_t n_vocab);  // every token
};

class CandidateStep {
 public:
  virtual ~CandidateStep() = default;
  virtual void apply(Candidates& c) = 0;
  // False when apply() builds its candidates from its own inputs and ignores those it is given
  // (the PAD step): the sampler then skips building a vocabulary-sized list for it.
  virtual bool reads_candidates() const { return true; }
  virtual void accept(int token) {}
  virtual void reset() {}
};

struct SamplingOptions {
  float temperature = 0.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off
  uint64_t seed = 0;         // sampling RNG seed
  void validate() const;     // throws std::invalid_argument naming the option
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  // Appends a guidance step (chain position 1). Steps run in the order they were added.
  void add_guidance(std::shared_ptr<CandidateStep> step);
  // Runs the chain on `c` and returns the chosen token id.
  int choose(Candidates& c);
  int choose(const float* logits, int64_t n_vocab);
  void accept(int token);
  void reset();
  bool greedy() const { return options_.temperature <= 0.0f; }
  // Keep a copy of the candidates after guidance (the final, guided distribution's scores) at each
  // choose(), for log-probabilities; off by default since it copies up to a vocabulary per token.
  void keep_guided(bool on) { keep_guided_ = on; }
  const Candidates& guided() const { return guided_; }

 private:
  SamplingOptions options_;
  std::vector<std::shared_ptr<CandidateStep>> guidance_;
  std::mt19937_64 rng_;
  bool keep_guided_ = false;
  Candidates guided_;
};

// Individual steps, exposed for tests and for strategies that build their own chain.
void keep_top_k(Candidates& c, int k);          // sorted by score, descending, afterwards
void keep_top_p(Candidates& c, float p);
void keep_min_p(Candidates& c, float min_p);
int argmax(const Candidates& c);                // ties → the lowest id
std::vector<float> softmax(const std::vector<float>& scores);

}  // namespace pad
