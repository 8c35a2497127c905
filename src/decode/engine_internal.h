// The engine's private state shared by engine.cpp (the batched step) and engine_online.cpp (the
// queue, admission and finishing of requests).
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "pad/decode/engine.h"

namespace pad {
namespace engine_detail {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// One cached sequence a request owns on one of the engine's models.
struct EngineRow {
  int model = 0;
  int slot = -1;
  int adapter = -1;
  const ValueHead* head = nullptr;  // the PersRM value head applied to this row's hidden state, or null
  std::vector<int> pending;  // tokens to feed at the next step
  bool bridged = false;      // a PersRM row in its own vocabulary (VocabBridge)
  std::vector<int> prompt;   // bridged: the row's prompt in PersRM tokens
  std::vector<int> fed;      // bridged: the tokens in the row's cache
  int out = -1;              // this step: index into the model's forward output
  bool full = false;         // this step: full-vocabulary logits needed
  bool full_head = false;    // this step: full-vocabulary value-head logits needed
  int full_out = -1;         // index into the model's full logits
  int head_out = -1;         // index into the model's full head logits
};

}  // namespace engine_detail

using engine_detail::Clock;
using engine_detail::EngineRow;
using engine_detail::ms_between;

// A best-of-n request in the batch: its n samples decode as rows of their own (plain sampling, seeds
// seed + i, as generate() gives them), each reporting here; the last one to finish scores them all
// and reports the best as the request's result.
struct PadEngine::BestOfGroup {
  PadRequest req;  // the request as submitted
  RequestCallbacks cb;
  size_t index = 0;
  Clock::time_point t_admit;
  std::vector<PadResult> samples;  // by sample
  size_t remaining = 0;            // samples still decoding
};

struct PadEngine::Active {
  uint64_t id = 0;
  size_t index = 0;                  // the caller's label (run(): the request's position; trace)
  PadRequest own;                    // the request, owned
  const PadRequest* req = nullptr;   // = &own once admitted
  Strategy strategy = Strategy::kPad;
  RequestCallbacks cb;
  Clock::time_point t_admit;
  std::vector<EngineRow> rows;       // rows[0] is the base row
  std::vector<int> persrm_row;       // per principle: row giving PersRM logits
  std::vector<const ValueHead*> persrm_head;  // ... through this value head, or null
  const PersRm* rm = nullptr;        // the request's PersRM (one of the engine's)
  std::vector<int> ref_row;          // per principle: row giving reference logits
  std::unique_ptr<Sampler> sampler;
  std::shared_ptr<PadStep> pad;
  std::vector<int> cand;                   // rule=topk: this step's candidates (base top-k)
  std::vector<std::vector<float>> sparse;  // rule=topk: [V] buffers filled at the candidates (PersRM, ref per principle)
  std::vector<float> base_sparse;          // device top-k: [V] base logits filled at the candidates only
  PadResult result;
  std::shared_ptr<BestOfGroup> group;  // a best-of-n sample: reports to its group, not to cb
  size_t sample = 0;                   // ... as sample `sample`
  int n_steps = 0;
  bool done = false;
  Clock::time_point t_first_done;
};

}  // namespace pad
