// Supervised fine-tuning: next-token cross-entropy on the scored (response) tokens, averaged over
// the tokens of each optimizer step; held-out loss and perplexity.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pad/train/data.h"
#include "pad/train/policy.h"
#include "pad/train/trainer.h"

namespace pad {

class SftTask : public TrainTask {
 public:
  SftTask(std::unique_ptr<Policy> policy, std::vector<SftExample> train, std::vector<SftExample> eval,
          int64_t eval_batch_size = 16);
  Policy& policy() override { return *policy_; }
  std::vector<int64_t> example_lengths() const override;
  double items_in(const std::vector<int64_t>& examples) const override;  // scored tokens
  StepStats accumulate(const std::vector<int64_t>& examples, double normalizer) override;
  std::map<std::string, double> evaluate() override { return evaluate_on(eval_); }  // eval_loss, eval_perplexity
  bool reports_accuracy() const override { return false; }
  void save_output(const std::string& dir) override { policy_->save(dir); }

  std::map<std::string, double> evaluate_on(const std::vector<SftExample>& examples);

 private:
  std::unique_ptr<Policy> policy_;
  std::vector<SftExample> train_, eval_;
  int64_t eval_batch_size_;
};

}  // namespace pad
