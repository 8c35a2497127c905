// The engine's online side: validation, the thread-safe queue, admission between steps, cancellation
// and finishing (continuous batching). run() is a thin loop over the same calls.
#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "engine_internal.h"
#include "pad/util/error.h"

namespace pad {

PadEngine::~PadEngine() {
  for (auto& a : active_) release(*a);
}

int64_t PadEngine::n_ctx() const { return models_[0]->config().max_position; }

const PersRm& PadEngine::persrm_of(const PadRequest& req) const {
  static const PersRm none;
  if (persrms_.empty() && req.persrm == 0) return none;
  if (req.persrm < 0 || req.persrm >= static_cast<int>(persrms_.size()))
    throw_invalid("persrm ", req.persrm, " is out of range (the engine has ", persrms_.size(), ")");
  return persrms_[req.persrm];
}

// Every check admit() and best-of-n's scoring would make, without touching a cache: a bad request is
// refused on the submitting thread, before any compute.
void PadEngine::validate_request(const PadRequest& req, Strategy s, size_t label) const {
  if (req.n_predict <= 0) return;  // nothing to decode: finishes at once ("length")
  req.sampling.validate();
  const RequestPrompts& p = req.prompts;
  if (p.base.empty()) throw_invalid("request ", label, ": empty prompt");
  const bool guided = s == Strategy::kPad || s == Strategy::kBestOfN;
  const PersRm& rm = persrm_of(req);
  if (guided && rm.form == PersRm::Form::kNone)
    throw_invalid("strategy ", strategy_name(s), " needs a PersRM (--persrm, --persrm-lora or --persrm-head)");
  if (!guided) return;
  if (p.principles.empty()) throw_invalid("request ", label, ": ", s == Strategy::kPad ? "PAD" : "best-of-n", " needs a preference");
  if (p.weights.size() != p.principles.size()) throw_invalid("request ", label, ": one weight per principle expected");
  for (const auto& w : p.weights)
    if (!std::isfinite(w)) throw_invalid("request ", label, ": principle weight ", w, " is not a finite number");
  for (const auto& prompt : p.principles)
    if (prompt.empty()) throw_invalid("request ", label, ": empty principle prompt");
  if (s == Strategy::kPad) {
    req.pad.validate(models_[0]->config().n_vocab);
    if (rm.bridge && req.pad.rule != PadRule::kTopK) throw_invalid("--allow-vocab-mismatch works with --rule topk only");
    if (rm.bridge && p.persrm_principles.size() != p.principles.size())
      throw_invalid("request ", label, ": the principles in the PersRM's tokens are missing");
    return;
  }
  if (req.n_best < 1) throw_invalid("--n-best ", req.n_best, " is out of range (expected ≥ 1)");
  if (req.sampling.temperature <= 0 && req.n_best > 1)
    throw_invalid("best-of-n with --n-best ", req.n_best, " needs sampling (--temp > 0); greedy samples are identical");
  if (rm.bridge) throw_invalid("best-of-n with a PersRM of another vocabulary is not supported");
}

uint64_t PadEngine::submit(PadRequest request, RequestCallbacks callbacks) {
  const Strategy s = request.strategy.value_or(options_.strategy);
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t id = next_id_;
  lock.unlock();
  validate_request(request, s, id);
  lock.lock();
  if (options_.max_queue > 0 && queue_.size() >= options_.max_queue)
    throw EngineBusy("the queue is full (" + std::to_string(queue_.size()) + " requests waiting)");
  request.strategy = s;
  queue_.push_back({next_id_, std::move(request), std::move(callbacks), static_cast<size_t>(next_id_)});
  const uint64_t got = next_id_++;
  lock.unlock();
  work_cv_.notify_all();
  return got;
}

void PadEngine::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.insert(id);
  }
  work_cv_.notify_all();
}

void PadEngine::wait_for_work(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  work_cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || !cancelled_.empty(); });
}

EngineStats PadEngine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.n_queued = queue_.size();
  return s;
}

// Reports the result and frees the rows (at once: the next admission can use them).
void PadEngine::finish(Active& a) {
  if (a.n_steps > 0) a.result.t_decode_ms = ms_between(a.t_first_done, Clock::now());
  release(a);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.decode_ms_by_strategy[strategy_name(a.strategy)] += a.result.t_prefill_ms + a.result.t_decode_ms;
    if (a.result.stop_reason == "cancelled" && !a.group) ++stats_.n_cancelled;
  }
  if (a.group) {
    BestOfGroup& g = *a.group;
    g.samples[a.sample] = std::move(a.result);
    if (--g.remaining == 0) finish_best_of_n(g);
    return;
  }
  if (a.cb.on_done) a.cb.on_done(a.result);
}

// Gives the request its rows and adds it to the batch, or finishes it with the error admit() raised.
void PadEngine::join_batch(std::unique_ptr<Active> a) {
  try {
    admit(*a, a->own);
  } catch (const std::exception& e) {
    a->result.stop_reason = "error";
    a->result.error = e.what();
    finish(*a);
    return;
  }
  active_.push_back(std::move(a));
}

// Best-of-n joins the batch as n rows of plain sampling (the same id, so a cancel reaches them all),
// where it used to decode whole at admission and hold up every other request meanwhile.
void PadEngine::admit_best_of_n(Queued& q) {
  auto g = std::make_shared<BestOfGroup>();
  g->req = std::move(q.req);
  g->cb = std::move(q.cb);
  g->index = q.label;
  g->t_admit = Clock::now();
  g->samples.resize(static_cast<size_t>(g->req.n_best));
  g->remaining = g->samples.size();
  for (size_t i = 0; i < g->samples.size(); ++i) {
    auto a = std::make_unique<Active>();
    a->id = q.id;
    a->index = q.label;
    a->own = g->req;
    a->own.sampling.seed += i;
    a->req = &a->own;
    a->strategy = Strategy::kBestOfN;  // admit() gives it the base row only; metrics count it here
    a->rm = &persrm_of(a->own);
    a->group = g;
    a->sample = i;
    a->t_admit = g->t_admit;
    join_batch(std::move(a));
  }
}

// Every sample is in: the highest sequence reward wins (a cancel or error of any sample ends it so).
void PadEngine::finish_best_of_n(BestOfGroup& g) {
  PadResult r;
  auto ended = std::find_if(g.samples.begin(), g.samples.end(), [](const PadResult& s) {
    return s.stop_reason == "cancelled" || s.stop_reason == "error";
  });
  if (ended != g.samples.end()) {
    r.stop_reason = ended->stop_reason;
    r.error = ended->error;
  } else {
    try {
      std::vector<std::vector<int>> responses;
      for (const PadResult& s : g.samples) responses.push_back(s.tokens);
      const std::vector<double> rewards = sequence_rewards(g.req.prompts, responses, g.req.persrm);
      const size_t best = std::max_element(rewards.begin(), rewards.end()) - rewards.begin();
      r = g.samples[best];
      r.sequence_reward = rewards[best];
      r.t_decode_ms = ms_between(g.t_admit, Clock::now()) - r.t_prefill_ms;
    } catch (const std::exception& e) {
      r = PadResult{};
      r.stop_reason = "error";
      r.error = e.what();
    }
  }
  if (r.stop_reason == "cancelled") {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.n_cancelled;
  }
  if (g.cb.on_token && r.stop_reason != "error" && r.stop_reason != "cancelled")
    for (int t : r.tokens) g.cb.on_token(TokenEvent{t, 0, {}});
  if (g.cb.on_done) g.cb.on_done(r);
}

// Between steps: applies cancellations, then moves queued requests into the batch up to max_batch.
void PadEngine::admit_queued() {
  std::vector<Queued> taken, dropped;
  std::set<uint64_t> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels.swap(cancelled_);
    for (auto it = queue_.begin(); it != queue_.end();)
      if (cancels.count(it->id)) dropped.push_back(std::move(*it)), it = queue_.erase(it);
      else ++it;
    // A best-of-n request takes n_best rows of the batch (at least one request joins per step).
    size_t rows = active_.size();
    while (rows < static_cast<size_t>(options_.max_batch) && !queue_.empty()) {
      const PadRequest& r = queue_.front().req;
      rows += *r.strategy == Strategy::kBestOfN && r.n_predict > 0 ? static_cast<size_t>(r.n_best) : 1;
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  if (!dropped.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.n_cancelled += dropped.size();
  }
  for (Queued& q : dropped) {
    PadResult r;
    r.stop_reason = "cancelled";
    if (q.cb.on_done) q.cb.on_done(r);
  }
  for (auto& a : active_)
    if (!a->done && cancels.count(a->id)) a->done = true, a->result.stop_reason = "cancelled";
  for (Queued& q : taken) {
    if (*q.req.strategy == Strategy::kBestOfN && q.req.n_predict > 0) {
      admit_best_of_n(q);
      continue;
    }
    auto a = std::make_unique<Active>();
    a->id = q.id;
    a->index = q.label;
    a->own = std::move(q.req);
    a->req = &a->own;
    a->strategy = *a->own.strategy;
    a->rm = &persrm_of(a->own);
    a->cb = std::move(q.cb);
    a->t_admit = Clock::now();
    if (a->own.n_predict <= 0) {
      a->result.stop_reason = "length";
      finish(*a);
      continue;
    }
    join_batch(std::move(a));
  }
}

bool PadEngine::step() {
  admit_queued();
  for (auto& a : active_)
    if (a->done) finish(*a);
  active_.erase(std::remove_if(active_.begin(), active_.end(), [](const auto& a) { return a->done; }), active_.end());
  if (active_.empty()) return false;
  std::vector<Active*> view;
  for (auto& a : active_) view.push_back(a.get());
  const auto t0 = Clock::now();
  try {
    step(view);
  } catch (const std::exception& e) {  // an internal fault fails this batch, never the engine
    for (Active* a : view)
      if (!a->done) a->done = true, a->result.stop_reason = "error", a->result.error = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.n_steps;
    stats_.step_ms_total += ms_between(t0, Clock::now());
  }
  for (auto& a : active_)
    if (a->done) finish(*a);
  active_.erase(std::remove_if(active_.begin(), active_.end(), [](const auto& a) { return a->done; }), active_.end());
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.n_active = active_.size();
  }
  return true;
}

std::vector<PadResult> PadEngine::run(const std::vector<PadRequest>& requests, const TokenCallback& on_token) {
  for (size_t i = 0; i < requests.size(); ++i)
    validate_request(requests[i], requests[i].strategy.value_or(options_.strategy), i);
  std::vector<PadResult> results(requests.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < requests.size(); ++i) {
      RequestCallbacks cb;
      if (on_token) cb.on_token = [&on_token, i](const TokenEvent& e) { on_token(i, e.token); };
      cb.on_done = [&results, i](const PadResult& r) { results[i] = r; };
      PadRequest r = requests[i];
      r.strategy = r.strategy.value_or(options_.strategy);
      queue_.push_back({next_id_++, std::move(r), std::move(cb), i});
    }
  }
  while (step()) {
  }
  for (const PadResult& r : results)
    if (r.stop_reason == "error") throw std::runtime_error(r.error);
  return results;
}

}  // namespace pad
