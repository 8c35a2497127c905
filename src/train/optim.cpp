// AdamW, the warmup + cosine schedule and gradient clipping.
#include "pad/train/optim.h"

#include <cmath>

#include "pad/util/error.h"

namespace pad {

void AdamWOptions::validate() const {
  if (!(beta1 >= 0 && beta1 < 1)) throw_invalid("--adam-beta1 ", beta1, " is out of range [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) throw_invalid("--adam-beta2 ", beta2, " is out of range [0, 1)");
  if (!(eps > 0)) throw_invalid("--adam-eps ", eps, " must be > 0");
  if (!(weight_decay >= 0)) throw_invalid("--weight-decay ", weight_decay, " must be ≥ 0");
}

AdamW::AdamW(std::vector<NamedTensor> params, AdamWOptions options) : params_(std::move(params)), opt_(options) {
  opt_.validate();
  for (const NamedTensor& p : params_) {
    m_.push_back(at::zeros_like(p.tensor).detach());
    v_.push_back(at::zeros_like(p.tensor).detach());
  }
}

void AdamW::zero_grad() {
  for (NamedTensor& p : params_)
    if (p.tensor.grad().defined()) p.tensor.mutable_grad() = at::Tensor();
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++t_;
  const double bc1 = 1 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bc2 = 1 - std::pow(opt_.beta2, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor p = params_[i].tensor;  // shares storage with the leaf
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (opt_.weight_decay > 0 && p.dim() >= 2) p.mul_(1 - lr * opt_.weight_decay);
    m_[i].mul_(opt_.beta1).add_(g, 1 - opt_.beta1);
    v_[i].mul_(opt_.beta2).addcmul_(g, g, 1 - opt_.beta2);
    at::Tensor denom = (v_[i] / bc2).sqrt_().add_(opt_.eps);  // same shape as p
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

std::vector<NamedTensor> AdamW::state() const {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.push_back({"adam_m/" + params_[i].name, m_[i]});
    out.push_back({"adam_v/" + params_[i].name, v_[i]});
  }
  return out;
}

void AdamW::restore(const std::vector<NamedTensor>& state, int64_t step) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    for (int which = 0; which < 2; ++which) {
      const std::string name = (which == 0 ? "adam_m/" : "adam_v/") + params_[i].name;
      const NamedTensor* found = nullptr;
      for (const NamedTensor& s : state)
        if (s.name == name) found = &s;
      if (found == nullptr) throw_invalid("checkpoint has no optimizer state '", name, "'");
      at::Tensor& dst = which == 0 ? m_[i] : v_[i];
      if (found->tensor.sizes() != dst.sizes())
        throw_invalid("checkpoint optimizer state '", name, "' is ", found->tensor.sizes(), ", expected ", dst.sizes());
      dst.copy_(found->tensor);
    }
  t_ = step;
}

void ScheduleOptions::validate() const {
  if (!(lr > 0) || !std::isfinite(lr)) throw_invalid("--lr ", lr, " must be a positive number");
  if (warmup_steps < 0) throw_invalid("--warmup ", warmup_steps, " must be ≥ 0");
  if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1)) throw_invalid("--min-lr-ratio ", min_lr_ratio, " is out of range [0, 1]");
}

double scheduled_lr(const ScheduleOptions& s, int64_t step, int64_t total) {
  if (step < s.warmup_steps) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  const int64_t decay = total - s.warmup_steps;
  if (decay <= 1) return s.lr;
  const double progress = static_cast<double>(step - s.warmup_steps) / static_cast<double>(decay - 1);
  const double cosine = 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * cosine);
}

double clip_grad_norm(const std::vector<NamedTensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  double sq = 0;
  for (const NamedTensor& p : params)
    if (p.tensor.grad().defined()) sq += p.tensor.grad().to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const NamedTensor& p : params)
      if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(scale);
  }
  return norm;
}

}  // namespace pad
