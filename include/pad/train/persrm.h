// The PersRM loss of DESIGN §1: −log σ(Σ_p w_p · β · [log π_θ/π_ref(y_w | x, p) − log π_θ/π_ref(y_l | x, p)]),
// sequence log-ratios summed over response tokens, the reference scored without gradient once per batch.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pad/train/data.h"
#include "pad/train/policy.h"
#include "pad/train/trainer.h"

namespace pad {

// Pairs flattened into sequences: for each pair i and principle k, prompt_k + chosen and prompt_k + rejected.
struct PersRmBatch {
  std::vector<Sequence> sequences;
  TokenBatch tokens;
  at::Tensor chosen;    // [K] int64: sequence index of (pair, principle) k's chosen response
  at::Tensor rejected;  // [K] int64
  at::Tensor weight;    // [K] f64: w_p entry of that principle
  at::Tensor pair;      // [K] int64: which pair k belongs to
  int64_t n_pairs = 0;
  // The anchor: a response that a group (PreferencePair::group, e.g. contrastive twins) shows under
  // several principles has, at each of its tokens, one slot shared by those sequences. anchor_tokens
  // [Q] indexes the scored tokens (TokenBatch order) that have a slot, anchor_slot [Q] names it, and
  // anchor_share [S] is 1 / the number of sequences in it; slots exist only where a response is seen
  // under two principles or more.
  at::Tensor anchor_tokens, anchor_slot, anchor_share;
  int64_t n_anchor_slots = 0;
};
PersRmBatch make_persrm_batch(const std::vector<const PreferencePair*>& pairs);

struct PersRmOutput {
  at::Tensor loss;    // scalar in `precision`: Σ over pairs of −log σ(margin), plus the anchor term
                      // when `anchor` > 0 (a sum: the caller normalizes; metrics.jsonl's "loss" is it)
  at::Tensor margin;  // [n_pairs] detached: β Σ_k w_k (Δ chosen − Δ rejected), the implicit reward margin
};
// `anchor` > 0 adds anchor · Σ over slots of (the slot's mean token log-ratio)²: the part of the
// token reward that no principle explains is held at zero, so the decoding-time reward at each token
// (DESIGN §1) is what the principles disagree on, not a drift they share (docs/results/diagnosis §6).
PersRmOutput persrm_loss(Policy& policy, const PersRmBatch& batch, double beta,
                         at::ScalarType precision = at::kFloat, double anchor = 0);

struct PersRmOptions {
  double beta = 0.1;          // --beta
  double anchor = 0;          // --anchor: weight of the shared-drift penalty (persrm_loss)
  int64_t eval_batch_size = 16;
  void validate() const;
};

class PersRmTask : public TrainTask {
 public:
  PersRmTask(std::unique_ptr<Policy> policy, std::vector<PreferencePair> train, std::vector<PreferencePair> eval,
             PersRmOptions options);
  Policy& policy() override { return *policy_; }
  // Examples are groups of pairs (PreferencePair::group; --batch-size counts groups); items are pairs.
  std::vector<int64_t> example_lengths() const override;
  double items_in(const std::vector<int64_t>& examples) const override;
  StepStats accumulate(const std::vector<int64_t>& examples, double normalizer) override;
  std::map<std::string, double> evaluate() override;  // eval_accuracy, eval_margin, eval_loss
  bool reports_accuracy() const override { return true; }
  void save_output(const std::string& dir) override { policy_->save(dir); }

  // Accuracy and mean margin over any pairs (tests, `evaluate`).
  std::map<std::string, double> evaluate_on(const std::vector<PreferencePair>& pairs);

 private:
  std::unique_ptr<Policy> policy_;
  std::vector<PreferencePair> train_, eval_;
  PersRmOptions opt_;
  // The training examples the loop batches: groups of pairs (indices into train_), a pair without a
  // group alone. Twins under opposite labels share a step, so what does not depend on the principle
  // cancels in their gradient instead of swinging from one step to the next.
  std::vector<std::vector<int64_t>> groups_;
};

}  // namespace pad
