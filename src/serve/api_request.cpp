// Request bodies of /v1/chat/completions and /v1/completions → ApiRequest, every field checked for
// type and range with a 400 that names it (OpenAI's fields plus preference, preference_weights, pad).
#include <algorithm>
#include <cmath>
#include <limits>

#include "pad/serve/api.h"

namespace pad::serve {
namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

std::string num(double x) { return json(x).dump(); }

[[noreturn]] void wrong_type(const std::string& param, const json& v, const char* expected) {
  throw invalid_field(param, "'" + param + "' must be " + expected + ", not " + type_name(v));
}

double number(const json& v, const std::string& param) {
  if (!v.is_number()) wrong_type(param, v, "a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) throw invalid_field(param, "'" + param + "' must be a finite number");
  return x;
}

int64_t integer(const json& v, const std::string& param) {
  if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
    wrong_type(param, v, "an integer");
  const double x = v.get<double>();
  if (x > 1e15 || x < -1e15) throw invalid_field(param, "'" + param + "' is out of range");
  return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : static_cast<int64_t>(x);
}

bool boolean(const json& v, const std::string& param) {
  if (!v.is_boolean()) wrong_type(param, v, "a boolean");
  return v.get<bool>();
}

std::string string(const json& v, const std::string& param) {
  if (!v.is_string()) wrong_type(param, v, "a string");
  return v.get<std::string>();
}

// A field that may be absent or null (OpenAI's clients send null for unset fields).
const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::vector<std::string> string_or_list(const json& v, const std::string& param) {
  std::vector<std::string> out;
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) wrong_type(param, v, "a string or a list of strings");
  for (size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], param + "[" + std::to_string(i) + "]"));
  return out;
}

// Message content: a string, or OpenAI's list of {"type": "text", "text": …} parts.
std::string content_text(const json& v, const std::string& param) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) wrong_type(param, v, "a string or a list of text parts");
  std::string text;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!v[i].is_object()) wrong_type(p, v[i], "an object");
    const json* type = field(v[i], "type");
    if (!type || string(*type, p + ".type") != "text") throw invalid_field(p + ".type", "only text content parts are supported");
    const json* t = field(v[i], "text");
    if (!t) throw invalid_field(p + ".text", "missing '" + p + ".text'");
    text += string(*t, p + ".text");
  }
  return text;
}

std::vector<ChatMessage> parse_messages(const json& body) {
  const json* m = field(body, "messages");
  if (!m) throw invalid_field("messages", "missing required field 'messages'");
  if (!m->is_array()) wrong_type("messages", *m, "a list of messages");
  if (m->empty()) throw invalid_field("messages", "'messages' must not be empty");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < m->size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const json& msg = (*m)[i];
    if (!msg.is_object()) wrong_type(p, msg, "an object");
    const json* role = field(msg, "role");
    if (!role) throw invalid_field(p + ".role", "missing '" + p + ".role'");
    ChatMessage cm;
    cm.role = string(*role, p + ".role");
    if (cm.role == "developer") cm.role = "system";
    if (cm.role != "system" && cm.role != "user" && cm.role != "assistant")
      throw invalid_field(p + ".role", "'" + p + ".role' is '" + cm.role + "' (expected system, developer, user or assistant)");
    const json* content = field(msg, "content");
    cm.content = content ? content_text(*content, p + ".content") : "";
    out.push_back(std::move(cm));
  }
  if (out.back().role != "user") throw invalid_field("messages", "the last message must be from the user");
  return out;
}

Preference parse_preference(const json& body) {
  const json* joined = field(body, "preference");
  const json* weights = field(body, "preference_weights");
  if (joined && weights) throw invalid_field("preference_weights", "give 'preference' or 'preference_weights', not both");
  Preference p;
  if (joined) {
    std::vector<std::string> texts = string_or_list(*joined, "preference");
    for (const std::string& t : texts)
      if (t.find_first_not_of(" \t\n") == std::string::npos) throw invalid_field("preference", "a principle in 'preference' is empty");
    p = Preference::joined_from(texts);
  }
  if (weights) {
    if (!weights->is_object()) wrong_type("preference_weights", *weights, "an object (principle → weight)");
    if (weights->empty()) throw invalid_field("preference_weights", "'preference_weights' must not be empty");
    p.weighted = true;
    for (const auto& [name, w] : weights->items()) {
      if (name.find_first_not_of(" \t\n") == std::string::npos)
        throw invalid_field("preference_weights", "a principle in 'preference_weights' is empty");
      p.principles.push_back({name, number(w, "preference_weights." + name)});
    }
  }
  return p;
}

PadFields parse_pad(const json& body) {
  PadFields f;
  const json* pad = field(body, "pad");
  if (!pad) return f;
  if (!pad->is_object()) wrong_type("pad", *pad, "an object");
  static const std::vector<std::string> known = {"strategy", "w", "k", "rule", "persrm", "n_best"};
  for (const auto& [key, v] : pad->items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw invalid_field("pad." + key, "unknown field 'pad." + key + "' (expected strategy, w, k, rule, persrm, n_best)");
  if (const json* v = field(*pad, "strategy")) {
    const std::string s = string(*v, "pad.strategy");
    // Mapped here, not with parse_strategy (engine.cpp), so the parser builds alone (fuzz/).
    static const std::pair<const char*, Strategy> names[] = {
        {"base", Strategy::kBase}, {"prompt", Strategy::kPrompt}, {"pad", Strategy::kPad}, {"best-of-n", Strategy::kBestOfN}};
    for (const auto& [name, st] : names)
      if (s == name) f.strategy = st;
    if (!f.strategy) throw invalid_field("pad.strategy", "'pad.strategy' is '" + s + "' (expected base, prompt, pad or best-of-n)");
  }
  if (const json* v = field(*pad, "w")) f.w = number(*v, "pad.w");
  if (const json* v = field(*pad, "k")) {
    const int64_t k = integer(*v, "pad.k");
    if (k < 1 || k > 100000) throw invalid_field("pad.k", "'pad.k' is " + std::to_string(k) + " (expected ≥ 1)");
    f.k = static_cast<int>(k);
  }
  if (const json* v = field(*pad, "rule")) {
    const std::string r = string(*v, "pad.rule");
    if (r != "topk" && r != "full") throw invalid_field("pad.rule", "'pad.rule' is '" + r + "' (expected topk or full)");
    f.rule = r == "full" ? PadRule::kFull : PadRule::kTopK;
  }
  if (const json* v = field(*pad, "persrm")) f.persrm = string(*v, "pad.persrm");
  if (const json* v = field(*pad, "n_best")) {
    const int64_t n = integer(*v, "pad.n_best");
    if (n < 1 || n > 64) throw invalid_field("pad.n_best", "'pad.n_best' is " + std::to_string(n) + " (expected 1 to 64)");
    f.n_best = static_cast<int>(n);
  }
  return f;
}

void parse_sampling(const json& body, ApiRequest& r) {
  r.sampling.temperature = 1.0f;  // OpenAI's default
  if (const json* v = field(body, "temperature")) {
    const double t = number(*v, "temperature");
    if (t < 0 || t > 2) throw invalid_field("temperature", "'temperature' is " + num(t) + " (expected 0 to 2)");
    r.sampling.temperature = static_cast<float>(t);
  }
  if (const json* v = field(body, "top_p")) {
    const double p = number(*v, "top_p");
    if (!(p > 0 && p <= 1)) throw invalid_field("top_p", "'top_p' is " + num(p) + " (expected in (0, 1])");
    r.sampling.top_p = static_cast<float>(p);
  }
  if (const json* v = field(body, "seed")) {
    r.sampling.seed = static_cast<uint64_t>(integer(*v, "seed"));
    r.seeded = true;
  }
}

void parse_limits(const json& body, ApiRequest& r) {
  for (const char* name : {"max_tokens", "max_completion_tokens"})
    if (const json* v = field(body, name)) {
      const int64_t n = integer(*v, name);
      if (n < 1 || n > (1 << 24)) throw invalid_field(name, std::string("'") + name + "' is " + std::to_string(n) + " (expected ≥ 1)");
      r.max_tokens = static_cast<int>(n);
    }
  if (const json* v = field(body, "n")) {
    const int64_t n = integer(*v, "n");
    if (n < 1 || n > 16) throw invalid_field("n", "'n' is " + std::to_string(n) + " (expected 1 to 16)");
    r.n = static_cast<int>(n);
  }
  if (const json* v = field(body, "stop")) {
    r.stop = string_or_list(*v, "stop");
    if (r.stop.size() > 4) throw invalid_field("stop", "at most 4 stop strings");
    for (const std::string& s : r.stop)
      if (s.empty()) throw invalid_field("stop", "a stop string is empty");
  }
}

void parse_stream_and_logprobs(const json& body, ApiRequest& r) {
  if (const json* v = field(body, "stream")) r.stream = boolean(*v, "stream");
  if (const json* v = field(body, "stream_options")) {
    if (!v->is_object()) wrong_type("stream_options", *v, "an object");
    if (const json* u = field(*v, "include_usage")) r.include_usage = boolean(*u, "stream_options.include_usage");
  }
  if (r.endpoint == Endpoint::kChat) {
    if (const json* v = field(body, "logprobs")) r.logprobs = boolean(*v, "logprobs");
    if (const json* v = field(body, "top_logprobs")) {
      const int64_t n = integer(*v, "top_logprobs");
      if (n < 0 || n > 20) throw invalid_field("top_logprobs", "'top_logprobs' is " + std::to_string(n) + " (expected 0 to 20)");
      if (!r.logprobs) throw invalid_field("top_logprobs", "'top_logprobs' needs 'logprobs': true");
      r.top_logprobs = static_cast<int>(n);
    }
  } else if (const json* v = field(body, "logprobs")) {  // completions: an integer, the alternatives
    const int64_t n = integer(*v, "logprobs");
    if (n < 0 || n > 5) throw invalid_field("logprobs", "'logprobs' is " + std::to_string(n) + " (expected 0 to 5)");
    r.logprobs = true;
    r.top_logprobs = static_cast<int>(n);
  }
}

}  // namespace

ApiRequest parse_request(const std::string& body, Endpoint endpoint) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw invalid_field("", "the body is not valid JSON");
  if (!j.is_object()) throw invalid_field("", "the body must be a JSON object");
  ApiRequest r;
  r.endpoint = endpoint;
  if (const json* v = field(j, "model")) r.model = string(*v, "model");
  if (endpoint == Endpoint::kChat) {
    r.messages = parse_messages(j);
  } else {
    const json* p = field(j, "prompt");
    if (!p) throw invalid_field("prompt", "missing required field 'prompt'");
    if (p->is_array()) {
      if (p->size() != 1) throw invalid_field("prompt", "'prompt' as a list must hold exactly one string");
      r.prompt = string((*p)[0], "prompt[0]");
    } else {
      r.prompt = string(*p, "prompt");
    }
    if (r.prompt.empty()) throw invalid_field("prompt", "'prompt' must not be empty");
  }
  if (const json* v = field(j, "user")) string(*v, "user");  // accepted, ignored
  parse_sampling(j, r);
  parse_limits(j, r);
  parse_stream_and_logprobs(j, r);
  r.preference = parse_preference(j);
  r.pad = parse_pad(j);
  return r;
}

}  // namespace pad::serve
