// OpenAI's response objects and stream chunks, the error object, finish reasons and stop strings.
#include "pad/serve/api.h"

namespace pad::serve {

using nlohmann::json;

ApiError::ApiError(int status_, std::string type_, const std::string& message, std::string param_, std::string code_)
    : std::runtime_error(message), status(status_), type(std::move(type_)), param(std::move(param_)), code(std::move(code_)) {}

ApiError invalid_field(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", message, param);
}

json error_body(const ApiError& e) {
  json err = {{"message", e.what()}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return {{"error", err}};
}

std::string finish_reason(const std::string& stop_reason) {
  if (stop_reason == "length" || stop_reason == "time") return "length";
  return "stop";  // eos, a stop string
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

namespace {

// The bytes of a token's text, as OpenAI's chat logprobs give them.
json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

json chat_logprobs(const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const TokenLogprob& t : lps) {
    json top = json::array();
    for (const auto& [tok, lp] : t.top) top.push_back({{"token", tok}, {"logprob", lp}, {"bytes", bytes_of(tok)}});
    content.push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", bytes_of(t.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json completion_logprobs(const std::vector<TokenLogprob>& lps, size_t offset) {
  json tokens = json::array(), lp = json::array(), top = json::array(), offsets = json::array();
  for (const TokenLogprob& t : lps) {
    tokens.push_back(t.token);
    lp.push_back(t.logprob);
    json alt = json::object();
    for (const auto& [tok, l] : t.top) alt[tok] = l;
    top.push_back(alt);
    offsets.push_back(offset);
    offset += t.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lp}, {"top_logprobs", top}, {"text_offset", offsets}};
}

json logprobs_json(Endpoint e, const ResponseMeta& meta, const std::vector<TokenLogprob>& lps) {
  if (!meta.logprobs) return nullptr;
  return e == Endpoint::kChat ? chat_logprobs(lps) : completion_logprobs(lps, 0);
}

json null_if_empty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json envelope(Endpoint e, const ResponseMeta& meta, const char* chat_object) {
  json j = {{"id", meta.id}, {"object", e == Endpoint::kChat ? chat_object : "text_completion"},
            {"created", meta.created}, {"model", meta.model}, {"system_fingerprint", nullptr}};
  if (!meta.pad.is_null()) j["pad"] = meta.pad;
  return j;
}

}  // namespace

json response_json(Endpoint e, const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& u) {
  json j = envelope(e, meta, "chat.completion");
  json cs = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    json choice = {{"index", i}, {"finish_reason", c.finish_reason}, {"logprobs", logprobs_json(e, meta, c.logprobs)}};
    if (e == Endpoint::kChat)
      choice["message"] = {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}};
    else
      choice["text"] = c.text;
    cs.push_back(choice);
  }
  j["choices"] = cs;
  j["usage"] = usage_json(u);
  return j;
}

json chunk_json(Endpoint e, const ResponseMeta& meta, int index, const std::string& text, bool role,
                const std::string& finish, const std::vector<TokenLogprob>& logprobs) {
  json j = envelope(e, meta, "chat.completion.chunk");
  json choice = {{"index", index}, {"finish_reason", null_if_empty(finish)},
                 {"logprobs", logprobs.empty() ? json(nullptr) : logprobs_json(e, meta, logprobs)}};
  if (e == Endpoint::kChat) {
    json delta = json::object();
    if (role) delta["role"] = "assistant";
    if (!text.empty() || role) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  j["choices"] = json::array({choice});
  return j;
}

json usage_chunk_json(Endpoint e, const ResponseMeta& meta, const Usage& u) {
  json j = envelope(e, meta, "chat.completion.chunk");
  j["choices"] = json::array();
  j["usage"] = usage_json(u);
  return j;
}

std::string sse_event(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const std::string& s : stops) {
    const size_t at = s.empty() ? std::string::npos : text.find(s);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  return text.substr(0, cut);
}

std::string StopFilter::feed(const std::string& text) {
  if (stopped_) return "";
  held_ += text;
  const std::string before = cut_at_stop(held_, stops_);
  if (before.size() < held_.size()) {
    stopped_ = true;
    held_.clear();
    return before;
  }
  // Hold the longest tail that could still grow into a stop string.
  size_t keep = 0;
  for (const std::string& s : stops_)
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n)
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopFilter::flush() {
  std::string out = stopped_ ? "" : held_;
  held_.clear();
  return out;
}

}  // namespace pad::serve
