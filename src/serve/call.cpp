// An API request → engine requests (template, tokenize, context check) and the engine's events →
// OpenAI's response or stream chunks.
#include "call.h"

#include <algorithm>
#include <optional>
#include <random>

#include "pad/decode/prompts.h"
#include "pad/util/strings.h"

namespace pad::serve {
namespace {

using nlohmann::json;

ApiError model_not_found(const std::string& param, const std::string& name, const ServeModels& m) {
  std::vector<std::string> names = {m.name};
  for (const NamedPersRm& p : m.persrms) names.push_back(p.name);
  return ApiError(404, "invalid_request_error", "the model '" + name + "' does not exist (served: " + join(names, ", ") + ")",
                  param, "model_not_found");
}

int persrm_index(const ApiRequest& api, const ServeModels& m) {
  auto find = [&](const std::string& name) {
    for (size_t i = 0; i < m.persrms.size(); ++i)
      if (m.persrms[i].name == name) return static_cast<int>(i);
    return -1;
  };
  int index = 0;
  if (!api.model.empty() && api.model != m.name) {  // a PersRM's name as the model picks it
    index = find(api.model);
    if (index < 0) throw model_not_found("model", api.model, m);
  }
  if (!api.pad.persrm.empty()) {
    index = find(api.pad.persrm);
    if (index < 0) throw model_not_found("pad.persrm", api.pad.persrm, m);
  }
  return index;
}

PromptSpec prompt_spec(const ApiRequest& api, const ServerOptions& o) {
  PromptSpec s;
  s.preference = api.preference;
  if (!o.guideline_template.empty()) s.guideline_template = o.guideline_template;
  if (api.endpoint == Endpoint::kCompletion) {
    s.user = api.prompt;
    s.chat = ChatMode::kNever;
    return s;
  }
  s.chat = ChatMode::kAuto;
  std::vector<std::string> system;
  for (size_t i = 0; i + 1 < api.messages.size(); ++i) {
    const ChatMessage& m = api.messages[i];
    if (m.role == "system") system.push_back(m.content);
    else s.history.push_back(m);
  }
  s.system = join(system, "\n");
  s.user = api.messages.back().content;
  return s;
}

json pad_echo(const ApiRequest& api, Strategy s, const ServeModels& m, int rm) {
  json j = {{"strategy", strategy_name(s)}};
  if (!api.preference.principles.empty()) {
    if (api.preference.weighted) {
      json w = json::object();
      for (const Principle& p : api.preference.principles) w[p.text] = p.weight;
      j["preference_weights"] = w;
    } else {
      j["preference"] = api.preference.joined();
    }
  }
  if (s == Strategy::kPad || s == Strategy::kBestOfN) j["persrm"] = m.persrms[rm].name;
  if (s == Strategy::kPad) {
    j["w"] = api.pad.w;
    j["rule"] = api.pad.rule == PadRule::kFull ? "full" : "topk";
    if (api.pad.rule == PadRule::kTopK) j["k"] = api.pad.k;
  }
  if (s == Strategy::kBestOfN) j["n_best"] = api.pad.n_best;
  return j;
}

void check_strategy(const ApiRequest& api, Strategy s, const ServeModels& m, int rm) {
  const bool guided = s == Strategy::kPad || s == Strategy::kBestOfN;
  if (guided && m.persrms.empty())
    throw invalid_field("pad.strategy", std::string("strategy ") + strategy_name(s) + " needs a PersRM; this server has none");
  if ((guided || s == Strategy::kPrompt) && api.preference.principles.empty())
    throw invalid_field("preference", std::string("strategy ") + strategy_name(s) + " needs a 'preference' or 'preference_weights'");
  if (s == Strategy::kBestOfN && api.sampling.temperature <= 0 && api.pad.n_best > 1)
    throw invalid_field("pad.n_best", "best-of-n with n_best > 1 needs temperature > 0 (greedy samples are identical)");
  if (guided && m.persrms[rm].rm.bridge && (s == Strategy::kBestOfN || api.pad.rule != PadRule::kTopK))
    throw invalid_field("pad.rule", "a PersRM of another vocabulary works with strategy pad and rule topk only");
  if (s == Strategy::kPad && api.pad.k > m.base->config().n_vocab)
    throw invalid_field("pad.k", "'pad.k' is " + std::to_string(api.pad.k) + " (the vocabulary has " +
                                     std::to_string(m.base->config().n_vocab) + " tokens)");
}

uint64_t fresh_seed() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return rng();
}

}  // namespace

Prepared prepare(const ApiRequest& api, const ServeModels& m, const ServerOptions& o, int64_t n_ctx) {
  const int rm = persrm_index(api, m);
  const bool has_pref = !api.preference.principles.empty();
  const Strategy s = api.pad.strategy.value_or(default_strategy(has_pref, !m.persrms.empty()));
  check_strategy(api, s, m, rm);
  const PromptSpec spec = prompt_spec(api, o);
  const char* prompt_param = api.endpoint == Endpoint::kChat ? "messages" : "prompt";
  PadRequest r;
  try {
    r.prompts = build_prompts(*m.tok, spec, s);
    if ((s == Strategy::kPad) && m.persrms[rm].rm.bridge)
      r.prompts.persrm_principles = build_prompts(*m.persrms[rm].rm.bridge->persrm, spec, s).principles;
  } catch (const std::invalid_argument& e) {
    throw invalid_field(has_pref ? "preference" : prompt_param, e.what());
  }
  Prepared p;
  p.n_prompt = static_cast<int64_t>(r.prompts.base.size());
  int64_t longest = p.n_prompt;
  for (const auto& pr : r.prompts.principles) longest = std::max<int64_t>(longest, pr.size());
  for (const auto& pr : r.prompts.persrm_principles) longest = std::max<int64_t>(longest, pr.size());
  if (longest >= n_ctx)
    throw invalid_field(prompt_param, "the prompt is " + std::to_string(longest) + " tokens; the context holds " +
                                          std::to_string(n_ctx));
  const int64_t room = n_ctx - longest;
  if (api.max_tokens && *api.max_tokens > room)
    throw invalid_field("max_tokens", "the prompt (" + std::to_string(longest) + " tokens) plus max_tokens (" +
                                          std::to_string(*api.max_tokens) + ") exceeds the context of " +
                                          std::to_string(n_ctx) + " tokens");
  r.strategy = s;
  r.persrm = m.persrms.empty() ? 0 : rm;
  r.n_logprobs = api.logprobs ? api.top_logprobs : -1;
  r.max_wall_ms = o.max_wall_ms;
  r.pad.rule = api.pad.rule;
  r.pad.w = api.pad.w;
  r.pad.k = api.pad.k;
  r.sampling = api.sampling;
  r.n_predict = api.max_tokens.value_or(static_cast<int>(std::min<int64_t>(o.default_max_tokens, room)));
  r.n_best = api.pad.n_best;
  r.stop_ids = stop_ids(m.base->config(), m.tok.get());
  r.stop_strings = api.stop;
  for (int i = 0; i < api.n; ++i) {
    PadRequest c = r;
    c.sampling.seed = api.seeded ? api.sampling.seed + static_cast<uint64_t>(i) : fresh_seed();
    p.requests.push_back(std::move(c));
  }
  p.pad = pad_echo(api, s, m, rm);
  return p;
}

Call::Call(std::shared_ptr<const Tokenizer> tok, ApiRequest api, ResponseMeta meta, int64_t n_prompt)
    : tok_(std::move(tok)), api_(std::move(api)), meta_(std::move(meta)), n_prompt_(n_prompt),
      slots_(api_.n), stream_(api_.n) {
  for (StreamState& s : stream_) {
    s.decoder = std::make_unique<StreamDecoder>(*tok_, /*skip_special=*/true);
    s.filter = std::make_unique<StopFilter>(api_.stop);
  }
}

RequestCallbacks Call::callbacks(size_t i) {
  std::shared_ptr<Call> self = shared_from_this();
  RequestCallbacks cb;
  cb.on_token = [self, i](const TokenEvent& e) {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->slots_[i].events.push_back(e);
    self->cv_.notify_all();
  };
  cb.on_done = [self, i](const PadResult& r) {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->slots_[i].done = true;
    self->slots_[i].result = r;
    self->cv_.notify_all();
  };
  return cb;
}

bool Call::all_done() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.done; });
}

TokenLogprob Call::token_logprob(const TokenEvent& e) const {
  TokenLogprob t;
  t.token = tok_->token_text(e.token);
  t.logprob = e.logprob;
  for (const auto& [id, lp] : e.top) t.top.push_back({tok_->token_text(id), lp});
  return t;
}

Usage Call::usage() const {
  Usage u;
  u.prompt_tokens = n_prompt_;
  for (const Slot& s : slots_) u.completion_tokens += static_cast<int64_t>(s.result.tokens.size());
  return u;
}

std::optional<json> Call::wait_response(const std::function<bool()>& client_gone) {
  std::unique_lock<std::mutex> lock(mu_);
  auto done = [&] { return std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.done; }); };
  while (!cv_.wait_for(lock, std::chrono::milliseconds(100), done)) {
    if (!client_gone) continue;
    lock.unlock();  // the probe makes system calls; the scheduler's callbacks need the lock
    const bool gone = client_gone();
    lock.lock();
    if (gone && !done()) return std::nullopt;
  }
  std::vector<Choice> choices;
  for (Slot& s : slots_) {
    if (s.result.stop_reason == "error") throw ApiError(500, "server_error", "internal error: " + s.result.error);
    Choice c;
    c.text = cut_at_stop(tok_->decode(s.result.tokens, /*skip_special=*/true), api_.stop);
    c.finish_reason = finish_reason(s.result.stop_reason);
    if (api_.logprobs)
      for (const TokenEvent& e : s.events) c.logprobs.push_back(token_logprob(e));
    choices.push_back(std::move(c));
  }
  return response_json(api_.endpoint, meta_, choices, usage());
}

// The chunks of one choice's new events (and its last chunk once it is done).
std::string Call::stream_choice(size_t i, std::deque<TokenEvent>& events, const PadResult* done) {
  StreamState& st = stream_[i];
  std::string out;
  const int index = static_cast<int>(i);
  for (const TokenEvent& e : events) {
    if (st.filter->stopped()) break;
    const std::string text = st.filter->feed(st.decoder->feed(e.token));
    std::vector<TokenLogprob> lps;
    if (api_.logprobs) lps.push_back(token_logprob(e));
    if (!text.empty() || !lps.empty()) out += sse_event(chunk_json(api_.endpoint, meta_, index, text, false, "", lps));
  }
  if (done && !st.finished) {
    st.finished = true;
    if (done->stop_reason == "error") {
      const ApiError err(500, "server_error", "internal error: " + done->error);
      return out + sse_event(error_body(err));
    }
    std::string tail = st.filter->stopped() ? "" : st.filter->feed(st.decoder->flush());
    tail += st.filter->flush();
    out += sse_event(chunk_json(api_.endpoint, meta_, index, tail, false, finish_reason(done->stop_reason), {}));
  }
  return out;
}

std::string Call::next_events(std::chrono::milliseconds timeout, bool& finished) {
  std::vector<std::deque<TokenEvent>> events(slots_.size());
  std::vector<std::optional<PadResult>> done(slots_.size());
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [&] {
      for (size_t i = 0; i < slots_.size(); ++i)
        if (!slots_[i].events.empty() || (slots_[i].done && !stream_[i].finished)) return true;
      return false;
    };
    if (started_) cv_.wait_for(lock, timeout, ready);
    for (size_t i = 0; i < slots_.size(); ++i) {
      events[i].swap(slots_[i].events);
      if (slots_[i].done) done[i] = slots_[i].result;
    }
  }
  std::string out;
  if (!started_ && api_.endpoint == Endpoint::kChat)  // the assistant role opens every chat choice
    for (size_t i = 0; i < slots_.size(); ++i)
      out += sse_event(chunk_json(api_.endpoint, meta_, static_cast<int>(i), "", true, "", {}));
  started_ = true;
  for (size_t i = 0; i < slots_.size(); ++i) out += stream_choice(i, events[i], done[i] ? &*done[i] : nullptr);
  const bool all = std::all_of(stream_.begin(), stream_.end(), [](const StreamState& s) { return s.finished; });
  if (all && !usage_sent_) {
    usage_sent_ = true;
    if (api_.include_usage) {
      std::lock_guard<std::mutex> lock(mu_);
      out += sse_event(usage_chunk_json(api_.endpoint, meta_, usage()));
    }
    out += kSseDone;
    finished = true;
  }
  return out;
}

}  // namespace pad::serve
