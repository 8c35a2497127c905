// OpenAI's HTTP API as pad reads and writes it (DESIGN §6): request bodies parsed and validated into
// one struct, errors as OpenAI's error object, and the response and stream-chunk objects.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pad/decode/engine.h"
#include "pad/decode/pad_step.h"
#include "pad/decode/preference.h"
#include "pad/decode/sampler.h"
#include "pad/tokenizer/chat_template.h"

namespace pad::serve {

// An error the client sees: HTTP status and OpenAI's {"error": {message, type, param, code}}.
struct ApiError : std::runtime_error {
  int status;
  std::string type;   // invalid_request_error | authentication_error | not_found_error | ...
  std::string param;  // the offending field ("" → null)
  std::string code;   // e.g. model_not_found, invalid_api_key ("" → null)
  ApiError(int status, std::string type, const std::string& message, std::string param = "", std::string code = "");
};

ApiError invalid_field(const std::string& param, const std::string& message);  // 400 naming the field
nlohmann::json error_body(const ApiError& e);

enum class Endpoint { kChat, kCompletion };  // /v1/chat/completions, /v1/completions

// The `pad` extension object; unset fields take the server's defaults.
struct PadFields {
  std::optional<Strategy> strategy;  // base | prompt | pad | best-of-n
  double w = 1.0;
  int k = 10;
  PadRule rule = PadRule::kTopK;
  std::string persrm;  // a PersRM name ("" = the server's default)
  int n_best = 4;
};

struct ApiRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::string model;                  // "" = the served base model
  std::vector<ChatMessage> messages;  // chat
  std::string prompt;                 // completions
  std::optional<int> max_tokens;      // max_tokens or max_completion_tokens
  SamplingOptions sampling;           // temperature (default 1, as OpenAI), top_p, seed
  bool seeded = false;                // the body gave a seed
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;
  Preference preference;       // preference / preference_weights
  PadFields pad;
};

// Parses and validates a body (throws ApiError: 400 naming the field for malformed JSON, wrong
// types and out-of-range values).
ApiRequest parse_request(const std::string& body, Endpoint endpoint);

// One token with its log-probability and the best alternatives, as text.
struct TokenLogprob {
  std::string token;
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;
};

struct Choice {
  std::string text;
  std::string finish_reason;  // stop | length
  std::vector<TokenLogprob> logprobs;
};

struct ResponseMeta {
  std::string id;        // chatcmpl-… / cmpl-…
  int64_t created = 0;   // unix seconds
  std::string model;
  nlohmann::json pad;    // what was applied (echo)
  bool logprobs = false;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

nlohmann::json usage_json(const Usage& u);
// chat.completion or text_completion
nlohmann::json response_json(Endpoint e, const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& u);
// chat.completion.chunk or text_completion (streamed): one choice's delta. `role` adds the assistant
// role (the first chunk of a chat choice); finish_reason "" → null.
nlohmann::json chunk_json(Endpoint e, const ResponseMeta& meta, int index, const std::string& text, bool role,
                          const std::string& finish_reason, const std::vector<TokenLogprob>& logprobs);
// The last chunk with stream_options.include_usage: no choices, the usage.
nlohmann::json usage_chunk_json(Endpoint e, const ResponseMeta& meta, const Usage& u);
std::string sse_event(const nlohmann::json& j);  // "data: {...}\n\n"
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

// OpenAI's finish_reason for the engine's stop reason.
std::string finish_reason(const std::string& stop_reason);

// Text held back while it may still begin a stop string; the text before the first stop string.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  std::string feed(const std::string& text);  // what can be sent now
  std::string flush();                        // the rest, at the end (nothing after a stop)
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

// The text before the first stop string (all of it when none occurs).
std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops);

}  // namespace pad::serve
