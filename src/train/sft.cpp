// Next-token cross-entropy on response tokens.
#include "pad/train/sft.h"

#include <cmath>

#include "pad/util/error.h"

namespace pad {
namespace {

int64_t scored(const SftExample& e) { return static_cast<int64_t>(e.sequence.ids.size()) - e.sequence.n_prompt; }

TokenBatch batch_of(const std::vector<SftExample>& data, const std::vector<int64_t>& idx) {
  std::vector<const Sequence*> seqs;
  for (int64_t i : idx) seqs.push_back(&data[i].sequence);
  return make_token_batch(seqs);
}

}  // namespace

SftTask::SftTask(std::unique_ptr<Policy> policy, std::vector<SftExample> train, std::vector<SftExample> eval,
                 int64_t eval_batch_size)
    : policy_(std::move(policy)), train_(std::move(train)), eval_(std::move(eval)), eval_batch_size_(eval_batch_size) {
  if (train_.empty()) throw_invalid("no training examples");
  if (eval_batch_size_ <= 0) throw_invalid("eval batch size must be > 0");
}

std::vector<int64_t> SftTask::example_lengths() const {
  std::vector<int64_t> out;
  for (const SftExample& e : train_) out.push_back(static_cast<int64_t>(e.sequence.ids.size()));
  return out;
}

double SftTask::items_in(const std::vector<int64_t>& examples) const {
  double n = 0;
  for (int64_t i : examples) n += static_cast<double>(scored(train_[i]));
  return n;
}

StepStats SftTask::accumulate(const std::vector<int64_t>& examples, double normalizer) {
  TokenBatch b = batch_of(train_, examples);
  at::Tensor nll = -policy_->score(b, at::kFloat, false).first.sum();  // f32 −Σ log p(response tokens)
  (nll / normalizer).backward();
  StepStats s;
  s.loss_sum = nll.item<double>();
  s.n_items = items_in(examples);
  s.n_tokens = static_cast<double>(b.n_tokens);
  return s;
}

std::map<std::string, double> SftTask::evaluate_on(const std::vector<SftExample>& data) {
  if (data.empty()) return {};
  at::NoGradGuard no_grad;
  double nll = 0, tokens = 0;
  for (size_t begin = 0; begin < data.size(); begin += eval_batch_size_) {
    std::vector<int64_t> idx;
    for (size_t i = begin; i < std::min(data.size(), begin + eval_batch_size_); ++i) {
      idx.push_back(static_cast<int64_t>(i));
      tokens += static_cast<double>(scored(data[i]));
    }
    nll -= policy_->score(batch_of(data, idx), at::kFloat, false).first.sum().item<double>();
  }
  const double loss = nll / tokens;
  return {{"eval_loss", loss}, {"eval_perplexity", std::exp(loss)}};
}

}  // namespace pad
