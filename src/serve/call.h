// One API request in flight: the engine requests it becomes (one per choice), the token events the
// scheduler thread pushes back, and the text, chunks and response built from them on the HTTP thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pad/decode/engine.h"
#include "pad/serve/api.h"
#include "pad/serve/server.h"
#include "pad/tokenizer/tokenizer.h"

namespace pad::serve {

// An API request templated, tokenized and checked against the context, ready to submit.
struct Prepared {
  std::vector<PadRequest> requests;  // one per choice (n)
  int64_t n_prompt = 0;              // the base prompt's tokens (usage)
  nlohmann::json pad;                // the response's `pad` echo
};

// Throws ApiError: 404 model_not_found for an unknown model or PersRM, 400 naming the field otherwise.
Prepared prepare(const ApiRequest& api, const ServeModels& models, const ServerOptions& options, int64_t n_ctx);

// The /metrics body (metrics.cpp).
std::string metrics_text(const EngineStats& stats, ServerCounters& counters, int in_flight);

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(std::shared_ptr<const Tokenizer> tok, ApiRequest api, ResponseMeta meta, int64_t n_prompt);

  RequestCallbacks callbacks(size_t choice);  // for PadEngine::submit; keep the Call alive
  void set_ids(std::vector<uint64_t> ids) { ids_ = std::move(ids); }
  const std::vector<uint64_t>& ids() const { return ids_; }

  // Non-streamed: blocks until every choice is done, then the response (throws ApiError 500 when
  // the engine failed a choice). `client_gone`, asked every 100 ms while waiting, ends the wait
  // early: then nullopt (the caller cancels the engine requests).
  std::optional<nlohmann::json> wait_response(const std::function<bool()>& client_gone = {});
  // Streamed: waits up to `timeout` for events and returns the SSE text they make (maybe empty);
  // `finished` turns true once [DONE] is in the text.
  std::string next_events(std::chrono::milliseconds timeout, bool& finished);
  bool all_done();

 private:
  struct Slot {  // one choice, filled on the scheduler thread
    std::deque<TokenEvent> events;
    bool done = false;
    PadResult result;
  };
  struct StreamState {  // one choice, on the HTTP thread
    std::unique_ptr<StreamDecoder> decoder;
    std::unique_ptr<StopFilter> filter;
    bool finished = false;
  };
  TokenLogprob token_logprob(const TokenEvent& e) const;
  std::string stream_choice(size_t i, std::deque<TokenEvent>& events, const PadResult* done);
  Usage usage() const;

  std::shared_ptr<const Tokenizer> tok_;
  ApiRequest api_;
  ResponseMeta meta_;
  int64_t n_prompt_;
  std::vector<uint64_t> ids_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  std::vector<StreamState> stream_;
  bool started_ = false;
  bool usage_sent_ = false;
};

}  // namespace pad::serve
