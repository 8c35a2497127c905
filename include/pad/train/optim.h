// AdamW with decoupled weight decay (Loshchilov & Hutter), the learning-rate schedule (linear warmup,
// then cosine decay) and global-norm gradient clipping, on plain at::Tensor leaves.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pad {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: p ← p − lr·wd·p, applied to matrices only (not norms/biases)
  void validate() const;
};

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // a leaf with requires_grad (f32, or f64 in gradient checks)
};

class AdamW {
 public:
  AdamW(std::vector<NamedTensor> params, AdamWOptions options);
  // One update with learning rate `lr` from the gradients in each leaf's .grad(); increments step().
  void step(double lr);
  void zero_grad();
  int64_t step_count() const { return t_; }
  const std::vector<NamedTensor>& params() const { return params_; }
  // State for checkpoints: "adam_m/NAME", "adam_v/NAME" tensors; restore checks names and shapes.
  std::vector<NamedTensor> state() const;
  void restore(const std::vector<NamedTensor>& state, int64_t step);

 private:
  std::vector<NamedTensor> params_;
  std::vector<at::Tensor> m_, v_;  // same shapes/dtypes as the params
  AdamWOptions opt_;
  int64_t t_ = 0;
};

struct ScheduleOptions {
  double lr = 1e-4;             // peak learning rate
  int64_t warmup_steps = 0;     // linear from lr/warmup to lr
  double min_lr_ratio = 0.1;    // cosine decays to lr·min_lr_ratio at the last step
  void validate() const;
};

// Learning rate for optimizer step `step` (0-based) of `total_steps`.
double scheduled_lr(const ScheduleOptions& s, int64_t step, int64_t total_steps);

// Scales all gradients so that their global L2 norm is at most max_norm (≤ 0: no clipping).
// Returns the norm before clipping.
double clip_grad_norm(const std::vector<NamedTensor>& params, double max_norm);

}  // namespace pad
