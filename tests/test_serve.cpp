// `pad serve` in-process on a free loopback port with the embedded default models: every error
// status with OpenAI's error object; chat and text completions equal to the engine's (and `pad
// generate`'s) output for the same request; streams reassembling to the non-streamed text; n = 2,
// stop strings, weighted preferences, named PersRMs; slots freed after a client leaves mid-stream.
#include <gtest/gtest.h>

#include <thread>

#include "pad/decode/prompts.h"
#include "test_serve_util.h"
#include "test_util.h"

namespace pad {
namespace {

using nlohmann::json;
using test::http_get;
using test::http_post;

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    serve::ServerOptions o;
    o.port = 0;
    o.max_body = 64 * 1024;
    server_ = new serve::Server(test::default_serve_models(), o);
    server_->start();
    port_ = server_->port();
    ref_ = new serve::ServeModels(test::default_serve_models());  // the oracle's own models (not shared across threads)
  }
  static void TearDownTestSuite() {
    server_->stop(std::chrono::milliseconds(2000));
    delete server_;
    delete ref_;
  }

  // What the engine itself decodes for one request (greedy), the text as the server returns it.
  static std::string engine_text(const PromptSpec& spec, Strategy s, int persrm, int n, PadRule rule = PadRule::kTopK) {
    std::vector<PersRm> rms;
    for (const auto& p : ref_->persrms) rms.push_back(p.rm);
    EngineOptions eo;
    eo.n_valid_tokens = ref_->tok->n_vocab();
    PadEngine engine(ref_->base, rms, nullptr, eo);
    PadRequest r;
    r.prompts = build_prompts(*ref_->tok, spec, s);
    r.strategy = s;
    r.persrm = persrm;
    r.n_predict = n;
    r.pad.rule = rule;
    r.stop_ids = stop_ids(ref_->base->config(), ref_->tok.get());
    return ref_->tok->decode(engine.run({r})[0].tokens, /*skip_special=*/true);
  }

  static PromptSpec chat_spec(const std::string& user, Preference pref) {
    PromptSpec s;
    s.user = user;
    s.preference = std::move(pref);
    return s;
  }

  static void expect_error(const test::HttpReply& r, int status, const std::string& param, const std::string& code = "") {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.json.is_object()) << r.body;
    ASSERT_TRUE(r.json.contains("error")) << r.body;
    const json& e = r.json["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << r.body;
    EXPECT_TRUE(e["type"].is_string()) << r.body;
    ASSERT_TRUE(e.contains("param") && e.contains("code")) << r.body;
    if (param.empty()) {
      EXPECT_TRUE(e["param"].is_null()) << r.body;
    } else {
      EXPECT_EQ(e["param"], param) << r.body;
    }
    if (!code.empty()) {
      EXPECT_EQ(e["code"], code) << r.body;
    }
  }

  static json chat(const std::string& user, int max_tokens = 16) {
    return {{"model", "base"}, {"messages", {{{"role", "user"}, {"content", user}}}}, {"max_tokens", max_tokens},
            {"temperature", 0}};
  }

  static inline serve::Server* server_ = nullptr;
  static inline serve::ServeModels* ref_ = nullptr;
  static inline int port_ = 0;
};

const char* kPrompt = "Share a few facts about the animal Fenzor, please.";

TEST_F(Serve, BadRequestsGet400NamingTheField) {
  const std::string path = "/v1/chat/completions";
  expect_error(http_post(port_, path, std::string("{not json")), 400, "");
  expect_error(http_post(port_, path, std::string("[1,2]")), 400, "");
  expect_error(http_post(port_, path, json{{"model", "base"}}), 400, "messages");
  auto with = [&](const char* key, json v) {
    json b = chat(kPrompt);
    b[key] = v;
    return http_post(port_, path, b);
  };
  expect_error(with("temperature", -0.5), 400, "temperature");
  expect_error(with("temperature", "hot"), 400, "temperature");
  expect_error(with("top_p", 0), 400, "top_p");
  expect_error(with("top_p", 1.5), 400, "top_p");
  expect_error(with("n", 0), 400, "n");
  expect_error(with("max_tokens", 0), 400, "max_tokens");
  expect_error(with("max_tokens", 100000), 400, "max_tokens");  // past the context, before any compute
  expect_error(with("max_completion_tokens", -3), 400, "max_completion_tokens");
  expect_error(with("stop", 5), 400, "stop");
  expect_error(with("stream", "yes"), 400, "stream");
  expect_error(with("preference_weights", json{{"humor", "a lot"}}), 400, "preference_weights.humor");
  expect_error(with("preference_weights", json::array({1})), 400, "preference_weights");
  expect_error(with("pad", json{{"k", 0}}), 400, "pad.k");
  expect_error(with("pad", json{{"w", "strong"}}), 400, "pad.w");
  expect_error(with("pad", json{{"strategy", "magic"}}), 400, "pad.strategy");
  expect_error(with("pad", json{{"rule", "some"}}), 400, "pad.rule");
  expect_error(with("pad", json{{"strategy", "pad"}}), 400, "preference");  // PAD without a preference
  expect_error(with("messages", json::array({{{"role", "robot"}, {"content", "hi"}}})), 400, "messages[0].role");
  json long_prompt = chat(std::string(20000, 'x'));
  expect_error(http_post(port_, path, long_prompt), 400, "messages");  // the prompt alone fills the context
  expect_error(http_post(port_, "/v1/completions", json{{"prompt", 3}}), 400, "prompt");
}

TEST_F(Serve, UnknownRoutesModelsAndBodiesTooLarge) {
  expect_error(http_get(port_, "/v1/nothing"), 404, "");
  expect_error(http_post(port_, "/v2/chat", std::string("{}")), 404, "");
  json b = chat(kPrompt);
  b["model"] = "gpt-9";
  expect_error(http_post(port_, "/v1/chat/completions", b), 404, "model", "model_not_found");
  b = chat(kPrompt);
  b["preference"] = "humor";
  b["pad"] = {{"persrm", "nope"}};
  expect_error(http_post(port_, "/v1/chat/completions", b), 404, "pad.persrm", "model_not_found");
  b = chat(std::string(100 * 1024, 'y'));  // over the 64 KiB limit
  expect_error(http_post(port_, "/v1/chat/completions", b), 413, "");
}

TEST_F(Serve, ApiKeyAndFullQueue) {
  serve::ServerOptions o;
  o.port = 0;
  o.api_key = "sekret";
  o.max_batch = 1;
  o.max_queue = 1;
  serve::Server s(test::default_serve_models(), o);
  s.start();
  expect_error(http_get(s.port(), "/v1/models"), 401, "", "invalid_api_key");
  expect_error(http_get(s.port(), "/v1/models", {{"Authorization", "Bearer wrong"}}), 401, "", "invalid_api_key");
  EXPECT_EQ(http_get(s.port(), "/v1/models", {{"Authorization", "Bearer sekret"}}).status, 200);
  EXPECT_EQ(http_get(s.port(), "/health").status, 200);  // no key needed
  // One request decoding and one waiting fill the queue: the next gets 429 with Retry-After.
  PadRequest busy;
  busy.prompts.base = {1, 2, 3};
  busy.strategy = Strategy::kBase;
  busy.n_predict = 400;  // no stop ids: runs to length
  const uint64_t a = s.engine().submit(busy, {});
  while (s.engine().stats().n_active == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const uint64_t b = s.engine().submit(busy, {});
  test::HttpReply r = http_post(s.port(), "/v1/chat/completions", chat(kPrompt), {{"Authorization", "Bearer sekret"}});
  expect_error(r, 429, "", "rate_limit_exceeded");
  EXPECT_FALSE(r.headers.find("Retry-After") == r.headers.end());
  s.engine().cancel(a);
  s.engine().cancel(b);
  s.stop(std::chrono::milliseconds(2000));
}

TEST_F(Serve, GreedyPadChatEqualsTheEngineAndPadGenerate) {
  json b = chat(kPrompt, 24);
  b["preference"] = "humor";
  test::HttpReply r = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  const json& j = r.json;
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "base");
  EXPECT_EQ(j["pad"]["strategy"], "pad");  // a preference and a PersRM: PAD by default
  EXPECT_EQ(j["pad"]["persrm"], "head");
  EXPECT_EQ(j["pad"]["preference"], "humor");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  const std::string text = j["choices"][0]["message"]["content"];
  EXPECT_TRUE(j["choices"][0]["finish_reason"] == "stop" || j["choices"][0]["finish_reason"] == "length");
  EXPECT_EQ(j["usage"]["total_tokens"].get<int>(), j["usage"]["prompt_tokens"].get<int>() + j["usage"]["completion_tokens"].get<int>());
  EXPECT_EQ(text, engine_text(chat_spec(kPrompt, Preference::joined_from({"humor"})), Strategy::kPad, 0, 24));
  const std::string dir = test::default_models_dir();
  test::CmdResult g = test::pad_cmd("generate -m " + dir + "/base --persrm-head " + dir +
                                    "/persrm-head/value_head.safetensors --preference humor -n 24 -p '" + kPrompt + "'");
  ASSERT_EQ(g.code, 0) << g.out;
  EXPECT_EQ(g.out, text + "\n");
}

TEST_F(Serve, NamedPersRmAndWeightedPreference) {
  json b = chat(kPrompt, 20);
  b["preference"] = "humor";
  b["pad"] = {{"persrm", "lora"}, {"w", 1.0}};
  test::HttpReply r = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["pad"]["persrm"], "lora");
  const std::string lora = r.json["choices"][0]["message"]["content"];
  EXPECT_EQ(lora, engine_text(chat_spec(kPrompt, Preference::joined_from({"humor"})), Strategy::kPad, 1, 20));
  b["model"] = "lora";  // the PersRM's name as the model picks it too
  b.erase("pad");
  r = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], lora);

  json w = chat(kPrompt, 20);
  w["preference_weights"] = {{"humor", 1.0}, {"harmless", 0.5}};
  r = http_post(port_, "/v1/chat/completions", w);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["pad"]["preference_weights"]["harmless"], 0.5);
  Preference pref;
  pref.weighted = true;
  pref.principles = {{"harmless", 0.5}, {"humor", 1.0}};  // JSON objects arrive in key order
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], engine_text(chat_spec(kPrompt, pref), Strategy::kPad, 0, 20));
}

TEST_F(Serve, TextCompletionEqualsTheEngineOnTheRawPrompt) {
  // The raw prompt carries the chat markers itself (special tokens are parsed), so the model answers.
  const std::string raw = std::string("<|im_start|>user\n") + kPrompt + "<|im_end|>\n<|im_start|>assistant\n";
  json b = {{"prompt", raw}, {"max_tokens", 16}, {"temperature", 0}, {"pad", {{"strategy", "base"}}}};
  test::HttpReply r = http_post(port_, "/v1/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["object"], "text_completion");
  PromptSpec spec;
  spec.user = raw;
  spec.chat = ChatMode::kNever;
  const std::string text = r.json["choices"][0]["text"];
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text, engine_text(spec, Strategy::kBase, 0, 16));
}

TEST_F(Serve, StreamReassemblesToTheNonStreamedText) {
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    json b = std::string(path) == "/v1/completions" ? json{{"prompt", kPrompt}, {"max_tokens", 20}, {"temperature", 0}}
                                                    : chat(kPrompt, 20);
    b["preference"] = "humor";
    test::HttpReply plain = http_post(port_, path, b);
    ASSERT_EQ(plain.status, 200) << plain.body;
    b["stream"] = true;
    b["stream_options"] = {{"include_usage", true}};
    test::HttpReply s = http_post(port_, path, b);
    ASSERT_EQ(s.status, 200) << s.body;
    test::SseEvents ev = test::parse_sse(s.body);
    EXPECT_TRUE(ev.done && ev.well_formed) << s.body;
    std::string finish;
    const std::string text = test::stream_text(ev, 0, &finish);
    const json& c0 = plain.json["choices"][0];
    EXPECT_EQ(text, c0.contains("message") ? c0["message"]["content"] : c0["text"]);
    EXPECT_EQ(finish, c0["finish_reason"]);
    ASSERT_FALSE(ev.events.empty());
    EXPECT_EQ(ev.events.back()["usage"], plain.json["usage"]);  // the usage chunk comes last
    EXPECT_TRUE(ev.events.back()["choices"].empty());
    if (c0.contains("message")) {
      EXPECT_EQ(ev.events.front()["object"], "chat.completion.chunk");
    }
  }
}

TEST_F(Serve, TwoChoicesSeededAndReproducible) {
  json b = chat(kPrompt, 12);
  b["n"] = 2;
  b["temperature"] = 1.0;
  b["seed"] = 7;
  b["preference"] = "humor";
  test::HttpReply r1 = http_post(port_, "/v1/chat/completions", b);
  test::HttpReply r2 = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(r1.status, 200) << r1.body;
  ASSERT_EQ(r1.json["choices"].size(), 2u);
  EXPECT_EQ(r1.json["choices"][1]["index"], 1);
  EXPECT_EQ(r1.json["choices"], r2.json["choices"]);  // seeded: the same draws
  b["stream"] = true;
  test::SseEvents ev = test::parse_sse(http_post(port_, "/v1/chat/completions", b).body);
  EXPECT_EQ(test::stream_text(ev, 0), r1.json["choices"][0]["message"]["content"]);
  EXPECT_EQ(test::stream_text(ev, 1), r1.json["choices"][1]["message"]["content"]);
}

TEST_F(Serve, StopStringsCutTheTextStreamedOrNot) {
  json b = chat(kPrompt, 32);
  test::HttpReply full = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(full.status, 200);
  const std::string text = full.json["choices"][0]["message"]["content"];
  ASSERT_GT(text.size(), 12u) << text;
  const std::string stop = text.substr(6, 3);
  const std::string before = text.substr(0, text.find(stop));
  b["stop"] = {stop, "@@never@@"};
  test::HttpReply cut = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(cut.json["choices"][0]["message"]["content"], before);
  EXPECT_EQ(cut.json["choices"][0]["finish_reason"], "stop");
  b["stream"] = true;
  std::string finish;
  EXPECT_EQ(test::stream_text(test::parse_sse(http_post(port_, "/v1/chat/completions", b).body), 0, &finish), before);
  EXPECT_EQ(finish, "stop");
}

TEST_F(Serve, LogprobsOfTheGuidedDistribution) {
  json b = chat(kPrompt, 6);
  b["preference"] = "humor";
  b["logprobs"] = true;
  b["top_logprobs"] = 3;
  test::HttpReply r = http_post(port_, "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  const json& content = r.json["choices"][0]["logprobs"]["content"];
  ASSERT_GE(content.size(), 1u);
  for (const json& t : content) {
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);  // greedy: the chosen token is the best
  }
}

TEST_F(Serve, ModelsHealthAndMetrics) {
  test::HttpReply m = http_get(port_, "/v1/models");
  ASSERT_EQ(m.status, 200);
  ASSERT_EQ(m.json["data"].size(), 3u);
  EXPECT_EQ(m.json["data"][0]["id"], "base");
  EXPECT_EQ(m.json["data"][2]["id"], "lora");
  EXPECT_EQ(http_get(port_, "/health").json["status"], "ok");
  ASSERT_EQ(http_post(port_, "/v1/chat/completions", chat(kPrompt, 4)).status, 200);
  test::HttpReply metrics = http_get(port_, "/metrics");
  EXPECT_NE(metrics.body.find("pad_requests_total{status=\"200\"}"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("pad_tokens_total{strategy=\"base\"}"), std::string::npos) << metrics.body;
  EXPECT_GT(test::metric(port_, "pad_steps_total"), 0);
  EXPECT_EQ(test::metric(port_, "pad_active_rows"), 0);
  EXPECT_EQ(test::metric(port_, "pad_queue_depth"), 0);
}

TEST_F(Serve, AClientLeavingMidStreamFreesItsSlot) {
  // A seed whose sample runs to max_tokens (no end-of-sequence), so only the disconnect can end it.
  json b = {{"prompt", kPrompt}, {"max_tokens", 400}, {"temperature", 1.0}, {"preference", "humor"}};
  int seed = -1;
  for (int s = 1; s <= 20 && seed < 0; ++s) {
    b["seed"] = s;
    b["max_tokens"] = 60;
    test::HttpReply r = http_post(port_, "/v1/completions", b);
    if (r.status == 200 && r.json["choices"][0]["finish_reason"] == "length") seed = s;
  }
  ASSERT_GE(seed, 0) << "no seed runs to length";
  b["seed"] = seed;
  b["max_tokens"] = 400;  // the same draws: at least 60 tokens before an end, at most 400
  b["stream"] = true;
  const double cancelled = test::metric(port_, "pad_cancelled_total");
  const std::string got = test::post_and_leave(port_, "/v1/completions", b.dump());
  EXPECT_NE(got.find("data: "), std::string::npos) << got;
  bool freed = false;
  for (int i = 0; i < 300 && !freed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    freed = test::metric(port_, "pad_cancelled_total") > cancelled && test::metric(port_, "pad_active_rows") == 0;
  }
  EXPECT_TRUE(freed) << "cancelled " << test::metric(port_, "pad_cancelled_total") << ", rows "
                     << test::metric(port_, "pad_active_rows");
}

}  // namespace
}  // namespace pad
