// The PAD engine, online: requests are submitted at any time (any thread) and every active one
// advances by one token per step (continuous batching); a request that finishes or is cancelled
// frees its rows at once. run() is a thin loop over the same engine for fixed request lists.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pad/decode/generate.h"
#include "pad/decode/pad_step.h"
#include "pad/model/model.h"

namespace pad {

enum class Strategy { kBase, kPrompt, kPad, kBestOfN };
Strategy parse_strategy(const std::string& name);  // base | prompt | pad | best-of-n
const char* strategy_name(Strategy s);

class Tokenizer;

// A full PersRM with a vocabulary of its own (--allow-vocab-mismatch), bridged the way the authors do
// for other base models: its rows are re-tokenized from the text generated so far at every step, and
// each base candidate is scored by the first PersRM token of the candidate's text. rule=topk only.
struct VocabBridge {
  std::shared_ptr<const Tokenizer> base;
  std::shared_ptr<const Tokenizer> persrm;
  int map(int base_id);  // first PersRM token of the base token's text (cached)

 private:
  std::vector<int> cache_;
};

// The personalized reward model in one of its forms (DESIGN §1).
struct PersRm {
  enum class Form { kNone, kFull, kLora, kHead };
  Form form = Form::kNone;
  std::shared_ptr<Model> model;      // kFull: a separate model (may carry `head` too)
  int adapter = -1;                  // kLora: adapter id registered on the base model
  std::shared_ptr<ValueHead> head;   // kHead: on the base backbone; kFull: the model's value_head.safetensors
  std::shared_ptr<VocabBridge> bridge;  // kFull with a different vocabulary, else null
};

// Token ids of one request's prompts, already templated.
struct RequestPrompts {
  std::vector<int> base;                     // what the base model sees
  std::vector<std::vector<int>> principles;  // one PersRM row per principle (PAD, best-of-n)
  std::vector<double> weights;               // w_p, one per principle
  std::vector<std::vector<int>> persrm_principles;  // with a VocabBridge: the principles in the PersRM's tokens
};

struct PadRequest {
  RequestPrompts prompts;
  std::optional<Strategy> strategy;       // unset: EngineOptions::strategy
  int persrm = 0;                         // which of the engine's PersRMs guides it (index)
  int n_logprobs = -1;                    // ≥ 0: report each token's log-probability and this many alternatives
  double max_wall_ms = 0;                 // > 0: stop ("time") after this long since admission
  PadOptions pad;
  SamplingOptions sampling;
  int n_predict = 128;
  int n_best = 4;                         // best-of-n samples
  std::vector<int> stop_ids;
  std::vector<std::string> stop_strings;  // needs EngineOptions::detokenize
};

struct PadResult {
  std::vector<int> tokens;
  std::string stop_reason;  // eos | stop | length | time | cancelled | error
  std::string error;        // stop_reason "error": what went wrong
  double t_prefill_ms = 0;
  double t_decode_ms = 0;
  double sequence_reward = 0;  // best-of-n: Σ_t reward_t of the kept sample
};

// One accepted token as the request's consumer sees it. Log-probabilities are of the final, guided
// distribution (PAD scores after the PAD step; base logits without it), before truncation/temperature.
struct TokenEvent {
  int token = -1;
  float logprob = 0;                        // valid when the request asked for n_logprobs ≥ 0
  std::vector<std::pair<int, float>> top;   // the n_logprobs most likely ids, best first
};

// Called on the engine's (scheduler) thread. on_done is called exactly once per submitted request.
struct RequestCallbacks {
  std::function<void(const TokenEvent&)> on_token;
  std::function<void(const PadResult&)> on_done;
};

// submit() with a full queue.
struct EngineBusy : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A snapshot for metrics.
struct EngineStats {
  size_t n_queued = 0;
  size_t n_active = 0;        // requests being decoded
  int64_t n_rows = 0;         // cache slots held on all models
  uint64_t n_steps = 0;
  uint64_t n_cancelled = 0;   // requests ended by cancel()
  double step_ms_total = 0;   // wall time of all steps
  std::map<std::string, uint64_t> tokens_by_strategy;
  std::map<std::string, double> decode_ms_by_strategy;  // Σ per-request decode time
};

struct EngineOptions {
  Strategy strategy = Strategy::kPad;
  int max_batch = 16;  // requests decoded together
  size_t max_queue = 0;  // submitted but not yet admitted; 0 = unbounded (submit throws EngineBusy past it)
  std::function<std::string(const std::vector<int>&)> detokenize;  // stop strings, trace texts
  std::ostream* trace = nullptr;  // JSONL, one line per request per step (PAD)
  // Ids at or above this are never chosen (0: no limit). Set to the tokenizer's size: embedding
  // tables are often padded past it, and PAD's reward must not promote an id that decodes to nothing.
  int64_t n_valid_tokens = 0;
  void validate() const;
};

class PadEngine {
 public:
  // `ref` may be null: the base model is the reference.
  PadEngine(std::shared_ptr<Model> base, PersRm persrm, std::shared_ptr<Model> ref, EngineOptions options);
  // Several PersRMs (LoRA adapters registered on `base`, heads on its backbone, full models); each
  // request picks one with PadRequest::persrm. An empty list (or Form::kNone entries) guides nothing.
  PadEngine(std::shared_ptr<Model> base, std::vector<PersRm> persrms, std::shared_ptr<Model> ref,
            EngineOptions options);
  ~PadEngine();  // frees the slots of requests still active

  // Runs every request; results in request order. on_token(request, id) after each accepted token.
  // A thin loop over submit()/step(); throws std::invalid_argument for a bad request before any compute.
  std::vector<PadResult> run(const std::vector<PadRequest>& requests, const TokenCallback& on_token = {});

  // --- online use ---
  // Validates (std::invalid_argument naming the field) and queues a request; thread-safe. Throws
  // EngineBusy when EngineOptions::max_queue requests are waiting already.
  uint64_t submit(PadRequest request, RequestCallbacks callbacks);
  // Ends a queued or active request ("cancelled") at the next step; thread-safe; unknown ids are ignored.
  void cancel(uint64_t id);
  // Scheduler thread only: admits queued requests up to max_batch, advances every active one by one
  // token, finishes and frees those that are done. Returns false when there was nothing to do.
  bool step();
  // Blocks until a request is submitted or cancelled, or `timeout` passes.
  void wait_for_work(std::chrono::milliseconds timeout);
  EngineStats stats() const;
  int64_t n_ctx() const;  // the base model's context length (positions)

  // Σ_t Σ_j w_j [log π_persrm_j(y_t | ·) − log π_ref_j(y_t | ·)] (full-vocabulary log-probabilities)
  // for each response after the request's principle prompts: best-of-n's sequence reward.
  std::vector<double> sequence_rewards(const RequestPrompts& prompts, const std::vector<std::vector<int>>& responses,
                                       int persrm = 0);

 private:
  struct Active;
  struct BestOfGroup;
  struct Queued {
    uint64_t id;
    PadRequest req;
    RequestCallbacks cb;
    size_t label;  // run(): the request's position; else the id
  };
  void validate_request(const PadRequest& req, Strategy s, size_t label) const;
  void admit_queued();
  void finish(Active& a);
  void join_batch(std::unique_ptr<Active> a);
  void admit_best_of_n(Queued& q);
  void finish_best_of_n(BestOfGroup& g);
  void admit(Active& a, const PadRequest& req);
  void step(std::vector<Active*>& active);
  void release(Active& a);
  void finish_token(Active& a, int token);
  TokenEvent token_event(const Active& a, int token) const;
  void retokenize_bridged(Active& a);
  void write_trace(const Active& a, int token) const;
  void candidate_logits(const Model& m, const at::Tensor& hidden, const ValueHead* head, const std::vector<int>& ids,
                        std::vector<float>& dst) const;
  struct CandidateJob {
    int model;                     // which model's hidden states and lm_head
    int64_t row;                   // row in that model's forward output
    const ValueHead* head;         // through this value head, or null
    const std::vector<int>* ids;   // candidate ids
    std::vector<float>* dst;       // [V] buffer filled at the ids
  };
  void run_candidate_jobs(const std::vector<CandidateJob>& jobs, const std::vector<ForwardOutput>& out) const;
  void bridged_logits(Active& a, int model, const ValueHead* head, const at::Tensor& hidden, std::vector<float>& dst) const;
  std::vector<std::vector<float>> token_logprobs(int model_index, int adapter, const ValueHead* head, const std::vector<int>& prompt,
                                                 const std::vector<std::vector<int>>& responses);

  std::vector<std::shared_ptr<Model>> models_;  // 0 = base, then the PersRM and reference models if separate
  std::vector<PersRm> persrms_;
  std::vector<int> persrm_model_;  // per PersRM: its index in models_ (kFull), else -1
  int ref_model_ = 0;
  const PersRm& persrm_of(const PadRequest& req) const;  // throws std::invalid_argument when out of range
  EngineOptions options_;

  mutable std::mutex mu_;            // guards queue_, cancelled_, next_id_, stats_
  std::condition_variable work_cv_;
  std::deque<Queued> queue_;
  std::set<uint64_t> cancelled_;
  uint64_t next_id_ = 0;
  EngineStats stats_;
  std::vector<std::unique_ptr<Active>> active_;  // scheduler thread only
};

}  // namespace pad
