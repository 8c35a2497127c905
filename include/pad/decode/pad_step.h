// The PAD step (DESIGN §1): the guidance position of the sampling chain (sampler.h). It turns base
// logits into scores with token-level rewards from the PersRM against the reference.
//   rule=topk (default, the authors' released rule): candidates = base top-k;
//     reward_i = Σ_j w_j [log_softmax_k(persrm_j)_i − log_softmax_k(ref_j)_i];
//     score_i = base_logit_i + w · reward_i. Nothing outside the top-k survives.
//   rule=full: score = log π_base + w · Σ_j w_j (log π_persrm_j − log π_ref_j) over the vocabulary.
#pragma once

#include <vector>

#include "pad/decode/sampler.h"

namespace pad {

enum class PadRule { kTopK, kFull };

struct PadOptions {
  PadRule rule = PadRule::kTopK;
  double w = 1.0;  // guidance weight ("rm_weight")
  int k = 10;      // candidates for rule=topk
  void validate(int64_t n_vocab) const;  // throws std::invalid_argument naming the flag
};

// One request's model outputs for the current step. Pointers to [V] f32 rows, valid during apply().
// With rule=topk only the entries at the base model's top-k ids of `persrm` and `ref` are read, so
// callers may fill just those.
struct PadInputs {
  const float* base = nullptr;
  std::vector<const float*> persrm;  // one per principle row
  std::vector<const float*> ref;     // one per principle row
  std::vector<double> weights;       // w_p, one per principle row
  int64_t n_vocab = 0;
  const std::vector<int>* candidates = nullptr;  // rule=topk: the base top-k if the caller has it, best first
};

// What the step saw and decided, for --trace.
struct PadTrace {
  std::vector<int> ids;                         // candidates (rule=full: the k best by score)
  std::vector<float> base_logits;
  std::vector<std::vector<float>> persrm_logp;  // [J][k], normalized as the rule does
  std::vector<std::vector<float>> ref_logp;     // [J][k]
  std::vector<float> reward;                    // Σ_j w_j (persrm − ref)
  std::vector<float> score;
};

class PadStep : public CandidateStep {
 public:
  explicit PadStep(const PadOptions& options) : options_(options) {}
  void set_inputs(PadInputs inputs) { inputs_ = std::move(inputs); }
  void apply(Candidates& c) override;
  bool reads_candidates() const override { return false; }
  const PadTrace& trace() const { return trace_; }
  const PadOptions& options() const { return options_; }

 private:
  void apply_topk(Candidates& c);
  void apply_full(Candidates& c);

  PadOptions options_;
  PadInputs inputs_;
  PadTrace trace_;
};

// log_softmax of `logits` restricted to `ids`.
std::vector<float> log_softmax_over(const float* logits, const std::vector<int>& ids);

}  // namespace pad
