// The PersRM loss and the preference-training task.
#include "pad/train/persrm.h"

#include <map>
#include <utility>

#include "pad/util/error.h"

namespace pad {

PersRmBatch make_persrm_batch(const std::vector<const PreferencePair*>& pairs) {
  PersRmBatch b;
  b.n_pairs = static_cast<int64_t>(pairs.size());
  std::vector<int64_t> chosen, rejected, pair;
  std::vector<double> weight;
  // Which (group, response) each sequence scores, and how many sequences score each one.
  std::map<std::pair<std::string, std::vector<int>>, int64_t> class_of;
  std::vector<int64_t> class_size, seq_class;
  for (size_t i = 0; i < pairs.size(); ++i)
    for (const PreferencePair::Prompt& p : pairs[i]->prompts) {
      for (const std::vector<int>* response : {&pairs[i]->chosen, &pairs[i]->rejected}) {
        Sequence s;
        s.ids = p.ids;
        s.ids.insert(s.ids.end(), response->begin(), response->end());
        s.n_prompt = static_cast<int64_t>(p.ids.size());
        b.sequences.push_back(std::move(s));
        int64_t c = -1;
        if (!pairs[i]->group.empty()) {
          auto [it, fresh] = class_of.try_emplace({pairs[i]->group, *response}, static_cast<int64_t>(class_size.size()));
          if (fresh) class_size.push_back(0);
          c = it->second;
          ++class_size[c];
        }
        seq_class.push_back(c);
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
  // Slots: token j of a response seen by two sequences or more; scored tokens come sequence by sequence.
  std::vector<int64_t> slot_base(class_size.size(), -1), anchor_tokens, anchor_slot;
  std::vector<double> share;
  int64_t scored = 0;
  for (size_t n = 0; n < b.sequences.size(); ++n) {
    const Sequence& s = b.sequences[n];
    const int64_t len = static_cast<int64_t>(s.ids.size()) - s.n_prompt;
    const int64_t c = seq_class[n];
    if (c >= 0 && class_size[c] >= 2) {
      if (slot_base[c] < 0) {
        slot_base[c] = static_cast<int64_t>(share.size());
        share.insert(share.end(), len, 1.0 / static_cast<double>(class_size[c]));
      }
      for (int64_t j = 0; j < len; ++j) {
        anchor_tokens.push_back(scored + j);
        anchor_slot.push_back(slot_base[c] + j);
      }
    }
    scored += len;
  }
  b.anchor_tokens = at::tensor(anchor_tokens, at::kLong);
  b.anchor_slot = at::tensor(anchor_slot, at::kLong);
  b.anchor_share = at::tensor(share, at::kDouble);
  b.n_anchor_slots = static_cast<int64_t>(share.size());
  return b;
}

PersRmOutput persrm_loss(Policy& policy, const PersRmBatch& b, double beta, at::ScalarType ct, double anchor) {
  auto [pi, ref] = policy.score(b.tokens, ct, /*want_ref=*/true);  // [P] each, ct
  at::Tensor token_ratio = pi - ref;                                 // [P] log π_θ/π_ref per scored token
  at::Tensor ratio = per_sequence(token_ratio, b.tokens);            // [N]
  at::Tensor delta = ratio.index_select(0, b.chosen) - ratio.index_select(0, b.rejected);  // [K]
  at::Tensor margin = at::zeros({b.n_pairs}, delta.options())
                          .index_add(0, b.pair, delta * b.weight.to(ct) * beta);  // [n_pairs] ct
  at::Tensor loss = -at::log_sigmoid(margin).sum();
  if (anchor > 0 && b.n_anchor_slots > 0) {
    at::Tensor shared = at::zeros({b.n_anchor_slots}, token_ratio.options())
                            .index_add(0, b.anchor_slot, token_ratio.index_select(0, b.anchor_tokens)) *
                        b.anchor_share.to(ct);  // [S] the slot's mean log-ratio
    loss = loss + anchor * shared.pow(2).sum();
  }
  return {loss, margin.detach()};
}

void PersRmOptions::validate() const {
  if (!(beta > 0) || !std::isfinite(beta)) throw_invalid("--beta ", beta, " must be a positive number");
  if (!(anchor >= 0) || !std::isfinite(anchor)) throw_invalid("--anchor ", anchor, " must be a number >= 0");
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
  PersRmOutput out = persrm_loss(*policy_, b, opt_.beta, at::kFloat, opt_.anchor);
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
