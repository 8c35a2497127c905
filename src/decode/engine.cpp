// The PAD engine: per-request rows on the base, PersRM and reference models, one forward per model
// per step over every active request, the PAD step as the sampler chain's guidance.
#include "pad/decode/engine.h"

#include "engine_internal.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>

#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"

namespace pad {
namespace {


// The k best ids by base logit, best first, ties to the lower id (as keep_top_k), without building
// a vocabulary-sized candidate list.
// Positions as an index tensor on `like`'s device (device models keep hidden states there).
at::Tensor host_index(const std::vector<int64_t>& ids, const at::Tensor& like) {
  return at::tensor(ids, at::kLong).to(like.device());
}

Candidates base_top_k(const float* logits, int64_t n, int k) {
  std::vector<int> best;  // kept sorted, at most k
  auto better = [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  for (int id = 0; id < n; ++id) {
    if (static_cast<int>(best.size()) == k && !better(id, best.back())) continue;
    best.insert(std::upper_bound(best.begin(), best.end(), id, better), id);
    if (static_cast<int>(best.size()) > k) best.pop_back();
  }
  Candidates c;
  c.ids = best;
  for (int id : best) c.scores.push_back(logits[id]);
  return c;
}

}  // namespace

Strategy parse_strategy(const std::string& name) {
  if (name == "base") return Strategy::kBase;
  if (name == "prompt") return Strategy::kPrompt;
  if (name == "pad") return Strategy::kPad;
  if (name == "best-of-n") return Strategy::kBestOfN;
  throw_invalid("--strategy '", name, "' is not known (expected base, prompt, pad or best-of-n)");
}

const char* strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kBase: return "base";
    case Strategy::kPrompt: return "prompt";
    case Strategy::kPad: return "pad";
    case Strategy::kBestOfN: return "best-of-n";
  }
  return "?";
}

int VocabBridge::map(int base_id) {
  if (cache_.empty()) cache_.assign(base->n_vocab(), -2);
  int& slot = cache_.at(base_id);
  if (slot == -2) {
    std::vector<int> ids = persrm->encode(base->token_text(base_id), EncodeOptions{false, false});
    slot = ids.empty() ? -1 : ids[0];  // -1: the text has no PersRM token (scored as the least likely)
  }
  return slot;
}

void EngineOptions::validate() const {
  if (max_batch < 1) throw_invalid("--max-batch ", max_batch, " is out of range (expected ≥ 1)");
}


PadEngine::PadEngine(std::shared_ptr<Model> base, PersRm persrm, std::shared_ptr<Model> ref, EngineOptions options)
    : PadEngine(std::move(base), std::vector<PersRm>{std::move(persrm)}, std::move(ref), std::move(options)) {}

PadEngine::PadEngine(std::shared_ptr<Model> base, std::vector<PersRm> persrms, std::shared_ptr<Model> ref,
                     EngineOptions options)
    : persrms_(std::move(persrms)), options_(std::move(options)) {
  options_.validate();
  PAD_CHECK(base != nullptr, "engine without a base model");
  models_.push_back(base);
  for (const PersRm& rm : persrms_) {
    persrm_model_.push_back(-1);
    if (rm.form != PersRm::Form::kFull) continue;
    PAD_CHECK(rm.model != nullptr, "full PersRM without a model");
    persrm_model_.back() = static_cast<int>(models_.size());
    models_.push_back(rm.model);
  }
  if (ref) {
    ref_model_ = static_cast<int>(models_.size());
    models_.push_back(ref);
  }
  const bool guided = options_.strategy == Strategy::kPad || options_.strategy == Strategy::kBestOfN;
  if (guided && (persrms_.empty() || persrms_[0].form == PersRm::Form::kNone))
    throw_invalid("--strategy ", strategy_name(options_.strategy), " needs a PersRM (--persrm, --persrm-lora or --persrm-head)");
  for (const PersRm& rm : persrms_) {
    if (rm.form == PersRm::Form::kHead && !rm.head) throw_invalid("head PersRM without a value head");
    if (rm.form == PersRm::Form::kLora) base->adapter(rm.adapter);  // throws if unknown
    if (rm.bridge && (rm.form != PersRm::Form::kFull || !rm.bridge->base || !rm.bridge->persrm))
      throw_invalid("a vocabulary bridge needs a full PersRM and both tokenizers");
    if (rm.bridge && options_.strategy == Strategy::kBestOfN && &rm == &persrms_[0])
      throw_invalid("best-of-n with a PersRM of another vocabulary is not supported (--allow-vocab-mismatch works with PAD)");
  }
  auto bridged = [&](const std::shared_ptr<Model>& m) {
    for (const PersRm& rm : persrms_)
      if (rm.bridge && rm.model == m) return true;
    return false;
  };
  for (const auto& m : models_)
    if (m->config().n_vocab != base->config().n_vocab && !bridged(m))
      throw_invalid(m->name(), ": vocabulary size ", m->config().n_vocab, " differs from the base model's ",
                    base->config().n_vocab);
}

void PadEngine::admit(Active& a, const PadRequest& req) {
  const RequestPrompts& p = req.prompts;
  Model& base = *models_[0];
  req.sampling.validate();
  if (p.base.empty()) throw_invalid("request ", a.index, ": empty prompt");
  a.req = &req;
  a.rows.push_back({0, base.create_slot(), -1, nullptr, p.base});
  a.sampler = std::make_unique<Sampler>(req.sampling);
  a.sampler->keep_guided(req.n_logprobs >= 0);
  if (a.strategy == Strategy::kPad) {
    req.pad.validate(base.config().n_vocab);
    if (p.principles.empty()) throw_invalid("request ", a.index, ": PAD needs a preference");
    PAD_CHECK(p.weights.size() == p.principles.size(), "one weight per principle");
    const PersRm& rm = *a.rm;
    const int rm_model = persrm_model_.empty() ? -1 : persrm_model_[req.persrm];
    auto add_row = [&](int model, int adapter, const std::vector<int>& tokens) {
      a.rows.push_back({model, models_[model]->create_slot(), adapter, nullptr, tokens});
      return static_cast<int>(a.rows.size() - 1);
    };
    for (const std::vector<int>& prompt : p.principles) {
      if (prompt.empty()) throw_invalid("request ", a.index, ": empty principle prompt");
      const int ref = ref_model_ != 0 ? add_row(ref_model_, -1, prompt) : prompt == p.base ? 0 : add_row(0, -1, prompt);
      a.ref_row.push_back(ref);
      int row = -1;
      const ValueHead* via_head = nullptr;
      switch (rm.form) {
        case PersRm::Form::kFull:
          if (rm.bridge) {
            if (req.pad.rule != PadRule::kTopK) throw_invalid("--allow-vocab-mismatch works with --rule topk only");
            PAD_CHECK(p.persrm_principles.size() == p.principles.size(), "bridged prompts missing");
            const std::vector<int>& own = p.persrm_principles[&prompt - p.principles.data()];
            row = add_row(rm_model, -1, own);
            a.rows[row].bridged = true;
            a.rows[row].prompt = own;
          } else {
            row = add_row(rm_model, -1, prompt);
          }
          via_head = rm.head.get();
          break;
        case PersRm::Form::kLora:
          row = add_row(0, rm.adapter, prompt);
          break;
        case PersRm::Form::kHead:
          row = a.rows[ref].model == 0 ? ref : prompt == p.base ? 0 : add_row(0, -1, prompt);
          via_head = rm.head.get();
          break;
        case PersRm::Form::kNone: break;
      }
      if (via_head) a.rows[row].head = via_head;
      a.persrm_row.push_back(row);
      a.persrm_head.push_back(via_head);
    }
    a.pad = std::make_shared<PadStep>(req.pad);
    a.sampler->add_guidance(a.pad);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.n_rows += static_cast<int64_t>(a.rows.size());
}

void PadEngine::release(Active& a) {
  for (EngineRow& r : a.rows) models_[r.model]->free_slot(r.slot);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.n_rows -= static_cast<int64_t>(a.rows.size());
  a.rows.clear();
}

// Logits of `ids` only: lm_head rows · hidden (through the value head when `head`). For rule=topk the
// PersRM and reference are needed at the k candidates alone, which keeps their cost at k dot products.
void PadEngine::candidate_logits(const Model& m, const at::Tensor& hidden, const ValueHead* head,
                                 const std::vector<int>& ids, std::vector<float>& dst) const {
  at::Tensor h = head ? head->apply(hidden.unsqueeze(0))[0] : hidden;  // [d] f32
  std::vector<int64_t> idx(ids.begin(), ids.end());
  at::Tensor rows = m.lm_head_rows(idx);  // [k, d] f32
  at::Tensor v = at::mv(rows, h).to(at::kCPU).contiguous();  // [k] f32 on the host (one copy)
  for (size_t i = 0; i < ids.size(); ++i) dst[ids[i]] = v.data_ptr<float>()[i];
}

void PadEngine::step(std::vector<Active*>& active) {
  const auto t0 = Clock::now();
  const size_t n_models = models_.size();
  const int64_t n_vocab = models_[0]->config().n_vocab;
  std::vector<std::vector<Row>> rows(n_models);
  for (Active* a : active) {
    const bool full_rule = a->pad && a->req->pad.rule == PadRule::kFull;
    for (size_t i = 0; i < a->rows.size(); ++i) {
      EngineRow& r = a->rows[i];
      r.out = static_cast<int>(rows[r.model].size());
      r.full = i == 0 || full_rule;  // rule=topk: PersRM and reference rows need only the candidates
      r.full_head = full_rule && r.head != nullptr;
      rows[r.model].push_back({r.slot, r.pending, false, r.adapter});
    }
  }
  // One backbone pass per model; full-vocabulary logits only for the rows that need them.
  std::vector<ForwardOutput> out(n_models);
  std::vector<at::Tensor> full(n_models);  // [F, V] f32 per model
  std::vector<std::map<const ValueHead*, at::Tensor>> full_head(n_models);  // [H, V] f32 per model and head
  for (size_t m = 0; m < n_models; ++m) {
    if (rows[m].empty()) continue;
    out[m] = models_[m]->forward(rows[m], /*want_logits=*/false);
    for (Active* a : active)
      for (EngineRow& r : a->rows)
        if (r.bridged && r.model == static_cast<int>(m)) r.fed.insert(r.fed.end(), r.pending.begin(), r.pending.end());
    std::vector<int64_t> pick;
    std::map<const ValueHead*, std::vector<int64_t>> pick_head;
    for (Active* a : active)
      for (EngineRow& r : a->rows) {
        if (r.model != static_cast<int>(m)) continue;
        if (r.full) r.full_out = static_cast<int>(pick.size()), pick.push_back(r.out);
        if (r.full_head) r.head_out = static_cast<int>(pick_head[r.head].size()), pick_head[r.head].push_back(r.out);
      }
    if (!pick.empty())
      full[m] = models_[m]->logits_from_hidden(out[m].hidden.index_select(0, host_index(pick, out[m].hidden)));
    for (const auto& [head, picked] : pick_head) {
      at::Tensor h = out[m].hidden.index_select(0, host_index(picked, out[m].hidden));  // [H, d]
      full_head[m][head] = models_[m]->logits_from_hidden(head->apply(h)).to(at::kCPU).contiguous();
    }
  }
  if (options_.n_valid_tokens > 0 && options_.n_valid_tokens < n_vocab)
    full[0].narrow(1, options_.n_valid_tokens, n_vocab - options_.n_valid_tokens).fill_(-INFINITY);
  // Device models (the generic path): when every request is PAD with rule=topk, the base top-k is
  // taken where the logits are and only [rows, k] ids and values come to the host; otherwise each
  // model's full-vocabulary rows are copied once per step.
  const bool device_topk = models_[0]->generic_ops() && full[0].defined() &&
                           std::all_of(active.begin(), active.end(), [](const Active* a) {
                             return a->pad && a->req->pad.rule == PadRule::kTopK && a->req->n_logprobs < 0;
                           });
  at::Tensor top_ids, top_vals;  // [F, k_max] int64 / f32 on the host, best first
  if (device_topk) {
    int k_max = 1;
    for (const Active* a : active) k_max = std::max(k_max, a->req->pad.k);
    auto [vals, idx] = full[0].topk(k_max, 1);
    top_vals = vals.to(at::kCPU).contiguous(), top_ids = idx.to(at::kCPU).contiguous();
    full[0] = at::Tensor();  // nothing below may read the full base logits
  }
  for (auto& f : full)
    if (f.defined()) f = f.to(at::kCPU).contiguous();  // no-op on the CPU
  const auto t1 = Clock::now();
  // Pass 1: each request's candidates and inputs; candidate-only logits are queued, not computed.
  std::vector<CandidateJob> jobs;
  std::vector<PadInputs> inputs(active.size());
  for (size_t ai = 0; ai < active.size(); ++ai) {
    Active* a = active[ai];
    if (!a->pad) continue;
    const PadRequest& req = *a->req;
    PadInputs& in = inputs[ai];
    in.n_vocab = n_vocab;
    in.weights = req.prompts.weights;
    const bool full_rule = req.pad.rule == PadRule::kFull;
    if (device_topk) {
      // The base row as a [V] buffer filled at the candidates only (all that PadStep reads under topk).
      a->base_sparse.resize(static_cast<size_t>(n_vocab));
      a->cand.clear();
      const int64_t row = a->rows[0].full_out, k_max = top_ids.size(1);
      for (int i = 0; i < req.pad.k; ++i) {
        const int id = static_cast<int>(top_ids.data_ptr<int64_t>()[row * k_max + i]);
        a->cand.push_back(id);
        a->base_sparse[id] = top_vals.data_ptr<float>()[row * k_max + i];
      }
      in.base = a->base_sparse.data();
    } else {
      in.base = full[0][a->rows[0].full_out].data_ptr<float>();
    }
    if (!full_rule) {
      if (!device_topk) a->cand = base_top_k(in.base, n_vocab, req.pad.k).ids;
      in.candidates = &a->cand;
      a->sparse.resize(2 * a->persrm_row.size(), std::vector<float>(n_vocab, 0.0f));
    }
    for (size_t j = 0; j < a->persrm_row.size(); ++j) {
      const EngineRow& p = a->rows[a->persrm_row[j]];
      const EngineRow& r = a->rows[a->ref_row[j]];
      const ValueHead* head = a->persrm_head[j];
      if (full_rule) {
        in.persrm.push_back(head ? full_head[p.model][head][p.head_out].data_ptr<float>()
                                 : full[p.model][p.full_out].data_ptr<float>());
        in.ref.push_back(full[r.model][r.full_out].data_ptr<float>());
        continue;
      }
      if (p.bridged) bridged_logits(*a, p.model, head, out[p.model].hidden[p.out], a->sparse[2 * j]);
      else jobs.push_back({p.model, p.out, head, &a->cand, &a->sparse[2 * j]});
      in.persrm.push_back(a->sparse[2 * j].data());
      if (r.full) {  // the reference row is the base row (same prompt): its logits at the candidates
        in.ref.push_back(device_topk ? a->base_sparse.data() : full[r.model][r.full_out].data_ptr<float>());
      } else {
        jobs.push_back({r.model, r.out, nullptr, &a->cand, &a->sparse[2 * j + 1]});
        in.ref.push_back(a->sparse[2 * j + 1].data());
      }
    }
  }
  run_candidate_jobs(jobs, out);
  // Pass 2: choose, accept, trace.
  for (size_t ai = 0; ai < active.size(); ++ai) {
    Active* a = active[ai];
    const float* base = device_topk ? a->base_sparse.data() : full[0][a->rows[0].full_out].data_ptr<float>();
    if (a->pad) a->pad->set_inputs(std::move(inputs[ai]));
    const int token = a->sampler->choose(base, n_vocab);
    a->sampler->accept(token);
    if (a->pad && options_.trace) write_trace(*a, token);
    if (a->n_steps++ == 0) {
      a->result.t_prefill_ms = ms_between(t0, t1);
      a->t_first_done = Clock::now();
    }
    finish_token(*a, token);
  }
}

// PersRM / reference logits at the candidates for every queued row, batched per (model, head, k):
// one gather of hidden states, one value-head product, one gather of lm_head rows, one bmm.
void PadEngine::run_candidate_jobs(const std::vector<CandidateJob>& jobs, const std::vector<ForwardOutput>& out) const {
  std::map<std::tuple<int, const ValueHead*, size_t>, std::vector<const CandidateJob*>> groups;
  for (const CandidateJob& j : jobs) groups[{j.model, j.head, j.ids->size()}].push_back(&j);
  for (const auto& [key, group] : groups) {
    const auto [m, head, k] = key;
    std::vector<int64_t> rows, ids;
    for (const CandidateJob* j : group) {
      rows.push_back(j->row);
      ids.insert(ids.end(), j->ids->begin(), j->ids->end());
    }
    at::Tensor h = out[m].hidden.index_select(0, host_index(rows, out[m].hidden));  // [J, d] f32 on the model's device
    if (head) h = head->apply(h);
    const int64_t n = static_cast<int64_t>(group.size());
    at::Tensor w = models_[m]->lm_head_rows(ids);  // [J·k, d] f32
    at::Tensor v = at::bmm(w.view({n, static_cast<int64_t>(k), -1}), h.unsqueeze(2)).squeeze(2).to(at::kCPU).contiguous();  // [J, k] host
    const float* vp = v.data_ptr<float>();
    for (int64_t g = 0; g < n; ++g)
      for (size_t i = 0; i < k; ++i) (*group[g]->dst)[(*group[g]->ids)[i]] = vp[g * k + i];
  }
}

// A bridged PersRM row: candidates mapped to the PersRM's vocabulary by their text.
void PadEngine::bridged_logits(Active& a, int model, const ValueHead* head, const at::Tensor& hidden,
                               std::vector<float>& dst) const {
  std::vector<int> mapped, valid;
  for (int c : a.cand) mapped.push_back(a.rm->bridge->map(c));
  for (int id : mapped)
    if (id >= 0) valid.push_back(id);
  std::vector<float> own(models_[model]->config().n_vocab, 0.0f);
  if (!valid.empty()) candidate_logits(*models_[model], hidden, head, valid, own);
  float lowest = 0;
  for (int id : valid) lowest = std::min(lowest, own[id]);
  for (size_t i = 0; i < a.cand.size(); ++i) dst[a.cand[i]] = mapped[i] >= 0 ? own[mapped[i]] : lowest - 30.0f;
}

void PadEngine::write_trace(const Active& a, int token) const {
  const PadTrace& t = a.pad->trace();
  nlohmann::json j = {{"request", a.index}, {"step", a.n_steps}, {"candidates", t.ids}, {"base_logits", t.base_logits},
                      {"persrm_logp", t.persrm_logp}, {"ref_logp", t.ref_logp}, {"reward", t.reward},
                      {"score", t.score}, {"chosen", token}};
  if (options_.detokenize) {
    std::vector<std::string> texts;
    for (int id : t.ids) texts.push_back(options_.detokenize({id}));
    j["texts"] = texts;
  }
  *options_.trace << j.dump() << "\n";
}

// The chosen token's log-probability and the best alternatives under the guided scores.
TokenEvent PadEngine::token_event(const Active& a, int token) const {
  TokenEvent e;
  e.token = token;
  if (a.req->n_logprobs < 0) return e;
  const Candidates& c = a.sampler->guided();
  float max = -INFINITY;
  for (float x : c.scores) max = std::max(max, x);
  double sum = 0;
  for (float x : c.scores) sum += std::exp(static_cast<double>(x - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  e.logprob = -INFINITY;
  std::vector<size_t> order(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    order[i] = i;
    if (c.ids[i] == token) e.logprob = c.scores[i] - log_z;
  }
  const size_t n = std::min(order.size(), static_cast<size_t>(a.req->n_logprobs));
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](size_t x, size_t y) {
    return c.scores[x] > c.scores[y] || (c.scores[x] == c.scores[y] && c.ids[x] < c.ids[y]);
  });
  for (size_t i = 0; i < n; ++i) e.top.push_back({c.ids[order[i]], c.scores[order[i]] - log_z});
  return e;
}

void PadEngine::finish_token(Active& a, int token) {
  const PadRequest& req = *a.req;
  if (std::find(req.stop_ids.begin(), req.stop_ids.end(), token) != req.stop_ids.end()) {
    a.result.stop_reason = "eos";
    a.done = true;
    return;
  }
  a.result.tokens.push_back(token);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.tokens_by_strategy[strategy_name(a.strategy)];
  }
  if (a.cb.on_token) a.cb.on_token(token_event(a, token));
  if (!req.stop_strings.empty() && options_.detokenize) {
    const std::string text = options_.detokenize(a.result.tokens);
    for (const std::string& s : req.stop_strings)
      if (!s.empty() && text.find(s) != std::string::npos) {
        a.result.stop_reason = "stop";
        a.done = true;
      }
  }
  if (!a.done && static_cast<int>(a.result.tokens.size()) >= req.n_predict) {
    a.result.stop_reason = "length";
    a.done = true;
  }
  if (!a.done && req.max_wall_ms > 0 && ms_between(a.t_admit, Clock::now()) >= req.max_wall_ms) {
    a.result.stop_reason = "time";
    a.done = true;
  }
  for (EngineRow& r : a.rows) r.pending = {token};
  if (a.rm && a.rm->bridge && !a.done) retokenize_bridged(a);
}

// A bridged row's next input: its prompt plus the generated text in PersRM tokens. Re-tokenizing can
// change the last few tokens, so the cache is cut back to the common prefix and the rest fed again.
void PadEngine::retokenize_bridged(Active& a) {
  const VocabBridge& bridge = *a.rm->bridge;
  const std::string text = bridge.base->decode(a.result.tokens);
  for (EngineRow& r : a.rows) {
    if (!r.bridged) continue;
    std::vector<int> target = r.prompt;
    std::vector<int> gen = bridge.persrm->encode(text, EncodeOptions{false, false});
    target.insert(target.end(), gen.begin(), gen.end());
    size_t keep = 0;
    while (keep < r.fed.size() && keep < target.size() && r.fed[keep] == target[keep]) ++keep;
    if (keep == target.size()) --keep;  // nothing new: feed the last token again for its logits
    models_[r.model]->truncate_slot(r.slot, static_cast<int64_t>(keep));
    r.fed.resize(keep);
    r.pending.assign(target.begin() + static_cast<int64_t>(keep), target.end());
  }
}



std::vector<std::vector<float>> PadEngine::token_logprobs(int m, int adapter, const ValueHead* head,
                                                          const std::vector<int>& prompt,
                                                          const std::vector<std::vector<int>>& responses) {
  Model& model = *models_[m];
  auto logits_of = [&](const ForwardOutput& o) {
    return (head ? model.logits_from_hidden(head->apply(o.hidden)) : o.logits).to(at::kCPU);
  };
  const int slot = model.create_slot();
  at::Tensor first = logits_of(model.forward({Row{slot, prompt, false, adapter}}));  // [1, V]: predicts y_0
  std::vector<std::vector<float>> out;
  for (const std::vector<int>& y : responses) {
    std::vector<float> lp;
    if (!y.empty()) {
      at::Tensor logits = first;
      if (y.size() > 1) {
        const int s = model.fork_slot(slot);
        std::vector<int> body(y.begin(), y.end() - 1);
        logits = at::cat({first, logits_of(model.forward({Row{s, body, true, adapter}}))}, 0);  // [|y|, V]
        model.free_slot(s);
      }
      std::vector<int64_t> ids(y.begin(), y.end());
      at::Tensor picked = at::log_softmax(logits, 1).gather(1, at::tensor(ids, at::kLong).unsqueeze(1)).squeeze(1);
      lp.assign(picked.data_ptr<float>(), picked.data_ptr<float>() + picked.numel());
    }
    out.push_back(std::move(lp));
  }
  model.free_slot(slot);
  return out;
}

std::vector<double> PadEngine::sequence_rewards(const RequestPrompts& p, const std::vector<std::vector<int>>& responses,
                                                int persrm) {
  PadRequest which;
  which.persrm = persrm;
  const PersRm& rm = persrm_of(which);
  if (rm.form == PersRm::Form::kNone) throw_invalid("sequence rewards need a PersRM");
  std::vector<double> total(responses.size(), 0.0);
  for (size_t j = 0; j < p.principles.size(); ++j) {
    std::vector<std::vector<float>> lp;
    switch (rm.form) {
      case PersRm::Form::kFull: lp = token_logprobs(persrm_model_[persrm], -1, rm.head.get(), p.principles[j], responses); break;
      case PersRm::Form::kLora: lp = token_logprobs(0, rm.adapter, nullptr, p.principles[j], responses); break;
      default: lp = token_logprobs(0, -1, rm.head.get(), p.principles[j], responses); break;
    }
    std::vector<std::vector<float>> lr = token_logprobs(ref_model_, -1, nullptr, p.principles[j], responses);
    for (size_t i = 0; i < responses.size(); ++i)
      for (size_t t = 0; t < lp[i].size(); ++t) total[i] += p.weights[j] * (lp[i][t] - lr[i][t]);
  }
  return total;
}

}  // namespace pad
