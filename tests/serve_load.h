// The load client shared by the load test (test_serve_load.cpp) and scripts/soak (serve_load):
// concurrent clients sending a mix of endpoints, strategies, preferences, streamed and not, and
// clients that leave mid-stream; every finished response is checked for completeness and shape.
#pragma once

#include <atomic>
#include <cstdio>
#include <fstream>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_serve_util.h"

namespace pad::test {

struct LoadOptions {
  int port = 0;
  int clients = 64;
  int requests_per_client = 8;  // or, with seconds > 0, until that many seconds have passed
  double seconds = 0;
  int max_tokens = 8;
};

struct LoadReport {
  std::atomic<int64_t> sent{0}, ok{0}, left{0}, refused{0}, client_errors{0}, server_errors{0}, malformed{0}, no_reply{0};
  std::mutex mu;
  std::vector<std::string> problems;  // the first few bad replies
  void problem(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (problems.size() < 10) problems.push_back(what.substr(0, 600));
  }
};

// One request of the mix, chosen by `rng`.
inline nlohmann::json load_request(std::mt19937& rng, int max_tokens, bool& chat, bool& stream, bool& leave, int& n) {
  using nlohmann::json;
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  chat = pick(2) == 0;
  stream = pick(2) == 0;
  leave = stream && pick(5) == 0;
  n = pick(6) == 0 ? 2 : 1;
  const char* prompts[] = {"Share a few facts about the animal Fenzor, please.", "Tell me about caves.",
                           "What do purple animals eat?"};
  json b = {{"max_tokens", 1 + pick(max_tokens)}, {"temperature", pick(3) == 0 ? 0.0 : 0.8}, {"n", n},
            {"seed", static_cast<int>(rng() % 1000)}};
  const std::string prompt = prompts[pick(3)];
  if (chat) b["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
  else b["prompt"] = prompt;
  switch (pick(6)) {
    case 0: b["pad"] = {{"strategy", "base"}}; break;
    case 1: b["preference"] = "humor"; b["pad"] = {{"strategy", "prompt"}}; break;
    case 2: b["preference"] = json::array({"humor", "harmless"}); break;  // PAD, the default PersRM
    case 3: b["preference"] = "helpful"; b["pad"] = {{"persrm", "lora"}, {"w", 0.5}}; break;
    case 4: b["preference_weights"] = {{"humor", 1.0}, {"helpful", 0.5}}; b["pad"] = {{"rule", "full"}}; break;
    default: b["preference"] = "humor"; b["temperature"] = 1.0; b["pad"] = {{"strategy", "best-of-n"}, {"n_best", 2}}; break;
  }
  if (stream) b["stream"] = true;
  if (stream && pick(2) == 0) b["stream_options"] = {{"include_usage", true}};
  return b;
}

// Checks one finished reply; returns "" when it is complete and well-formed.
inline std::string check_reply(const HttpReply& r, bool chat, bool stream, int n, int max_tokens) {
  if (stream) {
    SseEvents ev = parse_sse(r.body);
    if (!ev.done || !ev.well_formed) return "stream not complete or not well-formed";
    for (int i = 0; i < n; ++i) {
      std::string finish;
      stream_text(ev, i, &finish);
      if (finish != "stop" && finish != "length") return "choice " + std::to_string(i) + " without a finish_reason";
    }
    for (const auto& e : ev.events)
      if (e.contains("error")) return "error event in the stream";
    return "";
  }
  const nlohmann::json& j = r.json;
  if (!j.is_object() || !j.contains("choices") || j["choices"].size() != static_cast<size_t>(n)) return "wrong choices";
  for (const auto& c : j["choices"]) {
    if (c["finish_reason"] != "stop" && c["finish_reason"] != "length") return "bad finish_reason";
    const nlohmann::json& text = chat ? c["message"]["content"] : c["text"];
    if (!text.is_string()) return "no text";
  }
  const int64_t completion = j["usage"]["completion_tokens"].get<int64_t>();
  if (completion > static_cast<int64_t>(n) * max_tokens) return "more tokens than max_tokens";
  return "";
}

inline void load_client(const LoadOptions& o, int index, LoadReport& rep) {
  std::mt19937 rng(static_cast<unsigned>(1000 + index));
  const auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.seconds);
  for (int i = 0; o.seconds > 0 ? std::chrono::steady_clock::now() < t_end : i < o.requests_per_client; ++i) {
    bool chat, stream, leave;
    int n;
    nlohmann::json b = load_request(rng, o.max_tokens, chat, stream, leave, n);
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    ++rep.sent;
    if (leave) {
      post_and_leave(o.port, path, b.dump());
      ++rep.left;
      continue;
    }
    const auto t_sent = std::chrono::steady_clock::now();
    HttpReply r = http_post(o.port, path, b);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_sent).count();
    if (r.status < 0)
      ++rep.no_reply, rep.problem("no reply (" + r.error + " after " + std::to_string(waited) + " s) for " + b.dump());
    else if (r.status >= 500) ++rep.server_errors, rep.problem(std::to_string(r.status) + " " + r.body);
    else if (r.status == 429) {  // as a client should: back off before the next try
      ++rep.refused;
      std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 100));
    }
    else if (r.status != 200) ++rep.client_errors, rep.problem(std::to_string(r.status) + " " + r.body + " for " + b.dump());
    else if (std::string why = check_reply(r, chat, stream, n, b["max_tokens"]); !why.empty())
      ++rep.malformed, rep.problem(why + ": " + r.body);
    else ++rep.ok;
  }
}

inline void run_load(const LoadOptions& o, LoadReport& rep) {
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) threads.emplace_back([&, c] { load_client(o, c, rep); });
  for (auto& t : threads) t.join();
}

// Resident memory of this process (or `pid`) in KiB, from /proc.
inline int64_t rss_kib(const std::string& pid = "self") {
  std::ifstream in("/proc/" + pid + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

}  // namespace pad::test
