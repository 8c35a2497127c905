// The PAD engine: base, prompting, PAD and best-of-n in one batched, cached loop. Requests advance
// together; a request that ends frees its rows for the next (continuous batching).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
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
  PadOptions pad;
  SamplingOptions sampling;
  int n_predict = 128;
  int n_best = 4;                         // best-of-n samples
  std::vector<int> stop_ids;
  std::vector<std::string> stop_strings;  // needs EngineOptions::detokenize
};

struct PadResult {
  std::vector<int> tokens;
  std::string stop_reason;  // eos | stop | length
  double t_prefill_ms = 0;
  double t_decode_ms = 0;
  double sequence_reward = 0;  // best-of-n: Σ_t reward_t of the kept sample
};

struct EngineOptions {
  Strategy strategy = Strategy::kPad;
  int max_batch = 16;  // requests decoded together
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

  // Runs every request; results in request order. on_token(request, id) after each accepted token.
  std::vector<PadResult> run(const std::vector<PadRequest>& requests, const TokenCallback& on_token = {});

  // Σ_t Σ_j w_j [log π_persrm_j(y_t | ·) − log π_ref_j(y_t | ·)] (full-vocabulary log-probabilities)
  // for each response after the request's principle prompts: best-of-n's sequence reward.
  std::vector<double> sequence_rewards(const RequestPrompts& prompts, const std::vector<std::vector<int>>& responses);

 private:
  struct Active;
  void admit(Active& a, const PadRequest& req);
  void step(std::vector<Active*>& active, const TokenCallback& on_token);
  void release(Active& a);
  void finish_token(Active& a, int token, const TokenCallback& on_token);
  void retokenize_bridged(Active& a);
  void write_trace(const Active& a, int token) const;
  void candidate_logits(const Model& m, const at::Tensor& hidden, bool head, const std::vector<int>& ids,
                        std::vector<float>& dst) const;
  struct CandidateJob {
    int model;                     // which model's hidden states and lm_head
    int64_t row;                   // row in that model's forward output
    bool head;                     // through the value head
    const std::vector<int>* ids;   // candidate ids
    std::vector<float>* dst;       // [V] buffer filled at the ids
  };
  void run_candidate_jobs(const std::vector<CandidateJob>& jobs, const std::vector<ForwardOutput>& out) const;
  void bridged_logits(Active& a, int model, bool head, const at::Tensor& hidden, std::vector<float>& dst) const;
  PadResult run_best_of_n(const PadRequest& req, const TokenCallback& on_token, size_t index);
  std::vector<std::vector<float>> token_logprobs(int model_index, int adapter, bool with_head, const std::vector<int>& prompt,
                                                 const std::vector<std::vector<int>>& responses);

  std::vector<std::shared_ptr<Model>> models_;  // 0 = base, then the PersRM and reference models if separate
  int persrm_model_ = -1;
  int ref_model_ = 0;
  PersRm persrm_;
  EngineOptions options_;
};

}  // namespace pad
