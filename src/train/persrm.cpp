// The PersRM loss and the preference-training task.
#include "pad/train/persrm.h"

#include "pad/util/error.h"

namespace pad {

PersRmBatch make_persrm_batch(const std::vector<const PreferencePair*>& pairs) {
  PersRmBatch b;
  b.n_pairs = static_cast<int64_t>(pairs.size());
  std::vector<int64_t> chosen, rejected, pair;
  std::vector<double> weight;
  for (size_t i = 0; i < pairs.size(); ++i)
    for (const PreferencePair::Prompt& p : pairs[i]->prompts) {
      for (const std::vector<int>* response : {&pairs[i]->chosen, &pairs[i]->rejected}) {
        Sequence s;
        s.ids = p.ids;
        s.ids.insert(s.ids.end(), response->begin(), response->end());
        s.n_prompt = static_cast<int64_t>(p.ids.size());
        b.sequences.push_back(std::move(s));
      }
      const int64_t at = static_cast<int64_t>(b.sequences.size());
      chosen.push_back(at - 2);
      rejected.push_back(at - 1);
      weight.push_back(p.weight);
      pair.push_back(static_cast<int64_t>(i));
    }
  std::vector<const Sequence*> ptrs;
  for (const Sequence& s : b.sequences) ptrs.push_back(&s);
  b.tokens = make_token_batch(ptrs);
  b.chosen = at::tensor(chosen, at::kLong);
  b.rejected = at::tensor(rejected, at::kLong);
  b.weight = at::tensor(weight, at::kDouble);
  b.pair = at::tensor(pair, at::kLong);
  return b;
}

PersRmOutput persrm_loss(Policy& policy, const PersRmBatch& b, double beta, at::ScalarType ct) {
  auto [pi, ref] = policy.score(b.tokens, ct, /*want_ref=*/true);  // [N] each, ct
  at::Tensor ratio = pi - ref;                                       // [N] log π_θ/π_ref per sequence
  at::Tensor delta = ratio.index_select(0, b.chosen) - ratio.index_select(0, b.rejected);  // [K]
  at::Tensor margin = at::zeros({b.n_pairs}, delta.options())
                          .index_add(0, b.pair, delta * b.weight.to(ct) * beta);  // [n_pairs] ct
  return {-at::log_sigmoid(margin).sum(), margin.detach()};
}

void PersRmOptions::validate() const {
  if (!(beta > 0) || !std::isfinite(beta)) throw_invalid("--beta ", beta, " must be a positive number");
  if (eval_batch_size <= 0) throw_invalid("eval batch size ", eval_batch_size, " must be > 0");
}

PersRmTask::PersRmTask(std::unique_ptr<Policy> policy, std::vector<PreferencePair> train,
                       std::vector<PreferencePair> eval, PersRmOptions options)
    : policy_(std::move(policy)), train_(std::move(train)), eval_(std::move(eval)), opt_(options) {
  opt_.validate();
  if (train_.empty()) throw_invalid("no training pairs");
  std::map<std::string, size_t> group_of;
  for (size_t i = 0; i < train_.size(); ++i) {
    const std::string& g = train_[i].group;
    auto it = g.empty() ? group_of.end() : group_of.find(g);
    if (it == group_of.end()) {
      if (!g.empty()) group_of[g] = groups_.size();
      groups_.push_back({static_cast<int64_t>(i)});
    } else {
      groups_[it->second].push_back(static_cast<int64_t>(i));
    }
  }
}

std::vector<int64_t> PersRmTask::example_lengths() const {
  std::vector<int64_t> out;
  for (const std::vector<int64_t>& g : groups_) {
    int64_t n = 0;
    for (int64_t i : g) n += train_[i].n_tokens();
    out.push_back(n);
  }
  return out;
}

double PersRmTask::items_in(const std::vector<int64_t>& examples) const {
  double n = 0;
  for (int64_t e : examples) n += static_cast<double>(groups_[e].size());
  return n;
}

StepStats PersRmTask::accumulate(const std::vector<int64_t>& examples, double normalizer) {
  std::vector<const PreferencePair*> pairs;
  for (int64_t e : examples)
    for (int64_t i : groups_[e]) pairs.push_back(&train_[i]);
  PersRmBatch b = make_persrm_batch(pairs);
  PersRmOutput out = persrm_loss(*policy_, b, opt_.beta);
  (out.loss / normalizer).backward();
  StepStats s;
  s.loss_sum = out.loss.item<double>();
  s.n_correct = out.margin.gt(0).sum().item<double>();
  s.n_items = static_cast<double>(pairs.size());
  s.n_tokens = static_cast<double>(b.tokens.n_tokens);
  return s;
}

std::map<std::string, double> PersRmTask::evaluate_on(const std::vector<PreferencePair>& pairs) {
  if (pairs.empty()) return {};
  at::NoGradGuard no_grad;
  double correct = 0, margin_sum = 0, loss_sum = 0;
  for (size_t begin = 0; begin < pairs.size(); begin += opt_.eval_batch_size) {
    std::vector<const PreferencePair*> chunk;
    for (size_t i = begin; i < std::min(pairs.size(), begin + opt_.eval_batch_size); ++i) chunk.push_back(&pairs[i]);
    PersRmOutput out = persrm_loss(*policy_, make_persrm_batch(chunk), opt_.beta);
    correct += out.margin.gt(0).sum().item<double>();
    margin_sum += out.margin.sum().item<double>();
    loss_sum += out.loss.item<double>();
  }
  const double n = static_cast<double>(pairs.size());
  return {{"eval_accuracy", correct / n}, {"eval_margin", margin_sum / n}, {"eval_loss", loss_sum / n}};
}

std::map<std::string, double> PersRmTask::evaluate() { return evaluate_on(eval_); }

}  // namespace pad
