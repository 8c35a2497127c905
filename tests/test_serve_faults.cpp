// `pad serve` under hostile and broken clients (issue 15): half requests that stall, a stream read
// slowly, a reader that stops reading, a client that leaves during a non-streamed request, and
// 10,000 generated malformed requests. Every one is answered with a 4xx or cut off within the
// limits, the server answers others meanwhile, no slot leaks and /health stays OK.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "test_serve_util.h"

namespace pad {
namespace {

using nlohmann::json;
using test::http_get;
using test::http_post;
using Clock = std::chrono::steady_clock;

constexpr int kReadTimeoutMs = 2000;
constexpr int kWriteTimeoutMs = 2000;
constexpr int kKeepAliveS = 5;  // httplib's wait for a connection's first (or next) request
const char* kPrompt = "Share a few facts about the animal Fenzor, please.";

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A connected loopback socket (receive buffer shrunk first when rcvbuf > 0), or -1.
int connect_to(int port, int rcvbuf = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string post_head(const std::string& path, size_t length, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(length) + "\r\n" + extra + "\r\n";
}

// Whether the server still holds the connection open (nothing to read and no end of stream yet).
bool still_open(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

// Reads until the server closes the connection or `limit_ms` passes; returns the milliseconds it
// took (or -1 on the limit) and what came back.
double wait_closed(int fd, double limit_ms, std::string* got = nullptr) {
  const auto t0 = Clock::now();
  char buf[4096];
  while (ms_since(t0) < limit_ms) {
    pollfd p{fd, POLLIN, 50};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return ms_since(t0);
    if (got) got->append(buf, static_cast<size_t>(n));
  }
  return -1;
}

// The body of a chunked HTTP/1.1 response (headers cut off); `complete` when the last chunk came.
std::string dechunk(const std::string& raw, bool& complete) {
  complete = false;
  std::string out;
  size_t pos = raw.find("\r\n\r\n");
  if (pos == std::string::npos) return out;
  pos += 4;
  while (pos < raw.size()) {
    const size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) break;
    const size_t n = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    if (n == 0) {
      complete = true;
      break;
    }
    if (eol + 2 + n > raw.size()) break;
    out += raw.substr(eol + 2, n);
    pos = eol + 2 + n + 2;
  }
  return out;
}

bool wait_until(const std::function<bool()>& ok, double limit_ms) {
  const auto t0 = Clock::now();
  while (ms_since(t0) < limit_ms) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ok();
}

class ServeFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    serve::ServerOptions o;
    o.port = 0;
    o.max_batch = 8;
    o.http_threads = 16;
    o.read_timeout_ms = kReadTimeoutMs;
    o.write_timeout_ms = kWriteTimeoutMs;
    o.send_buffer_bytes = 16 * 1024;  // so that a reader that stops fills the buffers within a stream
    server_ = new serve::Server(test::default_serve_models(), o);
    server_->start();
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    server_->stop(std::chrono::milliseconds(2000));
    delete server_;
  }
  // The server is idle again: no active rows, nothing queued, no request in flight, /health OK.
  static void expect_idle() {
    const bool idle = wait_until(
        [] {
          return test::metric(port_, "pad_active_rows") == 0 && test::metric(port_, "pad_queue_depth") == 0 &&
                 test::metric(port_, "pad_in_flight") == 0;
        },
        10000);
    EXPECT_TRUE(idle) << "rows " << test::metric(port_, "pad_active_rows") << ", queue "
                      << test::metric(port_, "pad_queue_depth") << ", in flight " << test::metric(port_, "pad_in_flight");
    test::HttpReply h = http_get(port_, "/health");
    EXPECT_EQ(h.status, 200) << h.body << h.error;
  }
  // A sampled request (seeded) asking for max_tokens whose first choice runs at least must_reach
  // tokens without stopping, checked by running it that far. The cancellation test checks the
  // whole length: a seed that merely lasts 60 tokens can still stop early, and on a fast machine a
  // request that stops early ends before the test's client has left.
  static json long_request(json b, const std::string& path, int max_tokens, int must_reach) {
    b["temperature"] = 1.0;
    b["max_tokens"] = must_reach;
    for (int s = 1; s <= 30; ++s) {
      b["seed"] = s;
      test::HttpReply r = http_post(port_, path, b);
      if (r.status == 200 && r.json["choices"][0]["finish_reason"] == "length") {
        b["max_tokens"] = max_tokens;
        return b;
      }
    }
    ADD_FAILURE() << "no seed runs to length";
    return b;
  }
  static serve::Server* server_;
  static int port_;
};

serve::Server* ServeFaults::server_ = nullptr;
int ServeFaults::port_ = 0;

TEST_F(ServeFaults, HalfRequestsThatStallAreCutOffWhileOthersAreServed) {
  const std::string body = json{{"prompt", kPrompt}, {"max_tokens", 4}}.dump();
  struct Staller {
    const char* what;
    std::string sent;
    int fd = -1;
    double limit_ms;  // by when the server must have closed it
  };
  const double slack = 8000;  // a loaded 2-core machine (and ASan) delays everything
  std::vector<Staller> st = {
      {"nothing sent", "", -1, kKeepAliveS * 1000.0 + slack},
      {"half a request line", "POST /v1/compl", -1, kReadTimeoutMs + slack},
      {"headers without their end", "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le", -1, kReadTimeoutMs + slack},
      {"half the body", post_head("/v1/completions", body.size()) + body.substr(0, body.size() / 2), -1, kReadTimeoutMs + slack},
      {"headers of a GET without the blank line", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n", -1, kReadTimeoutMs + slack},
  };
  const auto t0 = Clock::now();
  for (Staller& s : st) {
    s.fd = connect_to(port_);
    ASSERT_GE(s.fd, 0);
    ASSERT_TRUE(s.sent.empty() || send_all(s.fd, s.sent)) << s.what;
  }
  // Meanwhile the server answers everyone else.
  test::HttpReply ok = http_post(port_, "/v1/completions", json::parse(body));
  EXPECT_EQ(ok.status, 200) << ok.body << ok.error;
  EXPECT_EQ(http_get(port_, "/health").status, 200);
  const double served_ms = ms_since(t0);
  int open_after = 0;
  for (Staller& s : st) open_after += still_open(s.fd);
  // Then each staller is cut off: not before the read timeout, and within its limit.
  for (Staller& s : st) {
    std::string got;
    const double closed = wait_closed(s.fd, s.limit_ms, &got);
    const double at = ms_since(t0);
    EXPECT_GE(closed, 0) << s.what << ": still open after " << s.limit_ms << " ms";
    if (served_ms < kReadTimeoutMs * 0.9) {
      EXPECT_GE(at, kReadTimeoutMs * 0.9) << s.what << ": closed before the read timeout (" << got << ")";
    }
    EXPECT_EQ(got.find("HTTP/1.1 5"), std::string::npos) << s.what << ": " << got;
    std::printf("stalled client (%s): closed after %.0f ms%s\n", s.what, at,
                got.empty() ? "" : (", answered " + got.substr(0, got.find("\r\n"))).c_str());
    ::close(s.fd);
  }
  std::printf("other requests served in %.0f ms while %d stalled connections were open\n", served_ms, open_after);
  if (served_ms < kReadTimeoutMs * 0.9) {
    EXPECT_EQ(open_after, static_cast<int>(st.size()));
  }
  expect_idle();
}

TEST_F(ServeFaults, ASlowStreamReaderGetsTheWholeStream) {
  json b = {{"prompt", kPrompt}, {"max_tokens", 40}, {"temperature", 0.0}, {"preference", "humor"}};
  test::HttpReply whole = http_post(port_, "/v1/completions", b);
  ASSERT_EQ(whole.status, 200) << whole.body;
  b["stream"] = true;
  const std::string s = b.dump();
  const int fd = connect_to(port_, 2048);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, post_head("/v1/completions", s.size(), "Connection: close\r\n") + s));
  std::string raw;
  int reads = 0;
  const auto t0 = Clock::now();
  std::thread other([&] {  // the scheduler does not wait for the slow reader
    json o = {{"prompt", "Tell me about caves."}, {"max_tokens", 8}, {"temperature", 0.0}};
    test::HttpReply r = http_post(port_, "/v1/completions", o);
    EXPECT_EQ(r.status, 200) << r.body << r.error;
  });
  for (;;) {
    char buf[128];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    ++reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(15));  // well under the write timeout
  }
  other.join();
  ::close(fd);
  bool complete = false;
  const test::SseEvents ev = test::parse_sse(dechunk(raw, complete));
  std::printf("slow reader: %zu bytes in %d reads over %.0f ms\n", raw.size(), reads, ms_since(t0));
  EXPECT_TRUE(complete);
  EXPECT_TRUE(ev.done);
  EXPECT_TRUE(ev.well_formed);
  EXPECT_EQ(test::stream_text(ev, 0), whole.json["choices"][0]["text"].get<std::string>());
  expect_idle();
}

TEST_F(ServeFaults, AReaderThatStopsReadingIsCutOffByTheWriteTimeout) {
  // 16 choices with 20 log probabilities per token: far more than the socket buffers hold.
  json b = {{"model", "base"}, {"messages", {{{"role", "user"}, {"content", kPrompt}}}}, {"logprobs", true},
            {"top_logprobs", 20}};
  b = long_request(b, "/v1/chat/completions", 400, 60);  // the buffers fill long before 60 tokens
  b["stream"] = true;
  b["n"] = 16;
  const double gone = test::metric(port_, "pad_client_disconnects_total");
  const std::string s = b.dump();
  const int fd = connect_to(port_, 1024);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, post_head("/v1/chat/completions", s.size()) + s));
  const auto t0 = Clock::now();
  // Never reads. The request either ends on its own (all it produced fit in the buffers) or the
  // server's write blocks and the write timeout ends it.
  const bool cut = wait_until([&] { return test::metric(port_, "pad_client_disconnects_total") > gone; },
                              kWriteTimeoutMs + 20000);
  std::printf("a reader that stopped reading: cut off %s after %.0f ms\n", cut ? "yes" : "no", ms_since(t0));
  EXPECT_TRUE(cut) << "the stream was never cut off; rows " << test::metric(port_, "pad_active_rows") << ", in flight "
                   << test::metric(port_, "pad_in_flight") << ", tokens " << test::metric(port_, "pad_tokens_total{strategy=\"base\"}");
  ::close(fd);
  expect_idle();
}

TEST_F(ServeFaults, AClientLeavingANonStreamedRequestCancelsIt) {
  const json b = long_request({{"prompt", kPrompt}, {"preference", "humor"}}, "/v1/completions", 440, 440);
  const double cancelled = test::metric(port_, "pad_cancelled_total");
  const double gone = test::metric(port_, "pad_client_disconnects_total");
  const std::string s = b.dump();
  const int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, post_head("/v1/completions", s.size()) + s));
  ASSERT_TRUE(wait_until([] { return test::metric(port_, "pad_active_rows") > 0; }, 10000)) << "never started";
  const auto t0 = Clock::now();
  ::close(fd);
  const bool freed = wait_until(
      [&] {
        return test::metric(port_, "pad_cancelled_total") > cancelled &&
               test::metric(port_, "pad_client_disconnects_total") > gone && test::metric(port_, "pad_active_rows") == 0;
      },
      10000);
  std::printf("non-streamed request whose client left: cancelled and freed after %.0f ms\n", ms_since(t0));
  EXPECT_TRUE(freed) << "cancelled " << test::metric(port_, "pad_cancelled_total") << ", disconnects "
                     << test::metric(port_, "pad_client_disconnects_total") << ", rows "
                     << test::metric(port_, "pad_active_rows");
  EXPECT_GT(test::metric(port_, "pad_requests_total{status=\"499\"}"), 0);
  expect_idle();
}

// The 404 message quotes the path; httplib decodes %ff to a byte that is not UTF-8, and a strict
// json::dump threw inside httplib's error handler, which std::terminate'd the whole server.
TEST_F(ServeFaults, NonUtf8PathsGet404NotACrash) {
  for (const char* path : {"/%ff", "/v1/%c0%af", "/v1/\xff\xfe", "/%ed%a0%80"}) {
    test::HttpReply r = http_get(port_, path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.body << r.error;
    EXPECT_TRUE(r.json.is_object() && r.json.contains("error")) << path << ": " << r.body;
  }
  EXPECT_EQ(http_get(port_, "/health").status, 200);
}

// One generated malformed request: what to send, where, and the status it must get.
struct Bad {
  std::string path = "/v1/chat/completions";
  std::string method = "POST";
  std::string body;
  int expect = 400;
  int or_expect = 0;  // another status that is right too
  std::string kind;
};

std::string valid_chat(int max_tokens = 4) {
  return json{{"model", "base"}, {"messages", {{{"role", "user"}, {"content", kPrompt}}}}, {"max_tokens", max_tokens}}.dump();
}

// Deterministic malformed requests, case `i` of many.
Bad malformed(std::mt19937& rng, int i) {
  auto pick = [&](size_t k) { return static_cast<size_t>(rng() % k); };
  Bad b;
  const json base = json::parse(valid_chat());
  switch (i % 9) {
    case 0: {  // valid JSON cut short (an object cut anywhere is never valid)
      const std::string v = valid_chat();
      b.body = v.substr(0, pick(v.size()));
      b.kind = "truncated JSON";
      break;
    }
    case 1: {  // random bytes, printable or not
      const size_t n = 1 + pick(300);
      for (size_t k = 0; k < n; ++k) b.body += static_cast<char>(pick(2) ? 32 + pick(95) : pick(256));
      if (b.body[0] == '{' || b.body[0] == '[') b.body[0] = '#';
      b.kind = "random bytes";
      break;
    }
    case 2: {  // a field of the wrong type or out of range
      static const std::vector<std::pair<std::string, json>> wrong = {
          {"messages", 5}, {"messages", "hi"}, {"messages", json::array()}, {"messages", json::array({1})},
          {"messages", json::array({{{"role", 1}, {"content", "x"}}})},
          {"messages", json::array({{{"role", "robot"}, {"content", "x"}}})},
          {"messages", json::array({{{"role", "user"}, {"content", 7}}})},
          {"messages", json::array({{{"role", "user"}, {"content", json::array({{{"type", "image"}}})}}})},
          {"messages", json::array({{{"role", "assistant"}, {"content", "x"}}})},
          {"model", 5}, {"max_tokens", "10"}, {"max_tokens", 0}, {"max_tokens", -3}, {"max_tokens", 1.5},
          {"max_completion_tokens", true}, {"temperature", -1}, {"temperature", "hot"}, {"temperature", 2.5},
          {"top_p", 0}, {"top_p", 1.5}, {"top_p", json::array()}, {"n", 0}, {"n", "2"}, {"n", 17}, {"stream", "yes"},
          {"stream", 1}, {"stream_options", 3}, {"stop", 5}, {"stop", json::array({1})}, {"stop", json::array({""})},
          {"stop", json::array({"a", "b", "c", "d", "e"})}, {"seed", "x"}, {"seed", 0.5}, {"logprobs", "x"},
          {"top_logprobs", 3}, {"user", 9}, {"preference", 5}, {"preference", json::array({1})}, {"preference", ""},
          {"preference", json::object()}, {"preference_weights", json::array()}, {"preference_weights", json::object()},
          {"preference_weights", {{"humor", "x"}}}, {"preference_weights", {{" ", 1}}}, {"pad", 5},
          {"pad", {{"strategy", "nope"}}}, {"pad", {{"strategy", 3}}}, {"pad", {{"w", "x"}}}, {"pad", {{"k", 0}}},
          {"pad", {{"k", 2.5}}}, {"pad", {{"rule", "most"}}}, {"pad", {{"n_best", 0}}}, {"pad", {{"n_best", 65}}},
          {"pad", {{"unknown", 1}}}, {"pad", {{"persrm", 5}}}};
      const auto& [field, value] = wrong[pick(wrong.size())];
      json j = base;
      j[field] = value;
      b.body = j.dump();
      b.kind = "wrong type or range: " + field;
      break;
    }
    case 3: {  // numbers too large for their field (or for JSON)
      static const std::vector<std::pair<std::string, std::string>> huge = {
          {"max_tokens", "1e308"}, {"max_tokens", "1e400"}, {"max_tokens", "18446744073709551616"},
          {"max_tokens", "-9223372036854775809"}, {"max_tokens", "99999999999999999999999999999"},
          {"temperature", "1e308"}, {"temperature", "-1e400"}, {"n", "1e18"}, {"seed", "1e30"},
          {"seed", "-1e300"}, {"top_p", "1e-400"}, {"max_completion_tokens", "4294967297"}};
      const auto& [field, text] = huge[pick(huge.size())];
      json j = base;
      j[field] = "@@";
      b.body = j.dump();
      b.body.replace(b.body.find("\"@@\""), 4, text);
      b.kind = "huge number: " + field;
      break;
    }
    case 4: {  // invalid UTF-8 (raw bytes or escapes) in a string
      static const std::vector<std::string> bad = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf8\x88\x80\x80\x80",
                                                   "\\ud800", "\\udc00x", "\x80", "\xf4\x90\x80\x80"};
      static const std::vector<std::string> where = {"content", "model", "preference", "stop"};
      const std::string w = where[pick(where.size())];
      json j = base;
      if (w == "content") j["messages"][0]["content"] = "@@";
      else j[w] = "@@";
      b.body = j.dump();
      b.body.replace(b.body.find("@@"), 2, "ab" + bad[pick(bad.size())] + "cd");
      b.kind = "invalid UTF-8 in " + w;
      break;
    }
    case 5: {  // deep nesting, inside a field or as the body
      const size_t depth = pick(3) == 0 ? 100000 + pick(200000) : 100 + pick(5000);
      const char* open = pick(2) ? "[" : "{\"a\":";
      std::string nest;
      for (size_t k = 0; k < depth; ++k) nest += open;
      if (pick(2)) {
        b.body = "{\"model\":\"base\",\"messages\":" + nest;  // unterminated
      } else {
        std::string close;
        for (size_t k = 0; k < depth; ++k) close += open[0] == '[' ? "]" : "}";
        json j = base;
        j["pad"] = "@@";
        b.body = j.dump();
        b.body.replace(b.body.find("\"@@\""), 4, nest + "1" + close);  // well-formed, wrong type
      }
      b.kind = "deep nesting";
      break;
    }
    case 6: {  // JSON that is not an object, or an object missing what is required
      static const std::vector<std::string> bodies = {"[]", "5", "\"str\"", "null", "true", "{}", "", " ",
                                                      "{\"model\":\"base\"}", "{\"messages\":null}", "\xef\xbb\xbf{}"};
      b.body = bodies[pick(bodies.size())];
      if (pick(2)) {
        b.path = "/v1/completions";
        if (b.body == "{\"messages\":null}") b.body = "{\"prompt\":\"\"}";
      }
      b.kind = "not a request object";
      break;
    }
    case 7: {  // routes and methods that do not exist
      static const std::vector<std::pair<std::string, std::string>> routes = {
          {"POST", "/v1/chat"}, {"POST", "/v2/chat/completions"}, {"GET", "/v1/chat/completions"},
          {"PUT", "/v1/completions"}, {"DELETE", "/v1/models"}, {"POST", "/v1/models/../completions"},
          {"POST", "/%00"}, {"POST", "/v1/completions/extra"}, {"POST", "/v1/%ff%fe"}, {"GET", "/%c0%af"},
          {"GET", "/v1/\xff\xfe"}};
      const auto& [m, p] = routes[pick(routes.size())];
      b.method = m;
      b.path = p;
      b.body = valid_chat();
      b.expect = 404;
      b.or_expect = 400;  // httplib refuses some paths before routing
      b.kind = "unknown route";
      break;
    }
    default: {  // a model or PersRM that is not served
      json j = base;
      if (pick(2)) j["model"] = "gpt-" + std::to_string(pick(100));
      else {
        j["preference"] = "humor";
        j["pad"] = {{"persrm", "rm" + std::to_string(pick(100))}};
      }
      b.body = j.dump();
      b.expect = 404;
      b.kind = "unknown model";
      break;
    }
  }
  if (b.body.empty()) b.or_expect = 411;      // when the client sends no Content-Length for it
  if (b.body.size() > (1u << 20)) b.expect = 413;  // the server's default body limit
  return b;
}

TEST_F(ServeFaults, TenThousandMalformedRequestsAllGetTheir4xx) {
  constexpr int kRequests = 10000, kClients = 8;
  std::mutex mu;
  std::map<int, int> by_status;
  std::map<std::string, int> wrong;  // kind → count of replies with an unexpected status
  std::vector<std::string> examples;
  int no_reply = 0, not_error_object = 0;
  const auto t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      std::mt19937 rng(1234 + c);
      httplib::Client cl("127.0.0.1", port_);
      cl.set_read_timeout(60, 0);
      for (int i = c; i < kRequests; i += kClients) {
        const Bad bad = malformed(rng, i);
        httplib::Result res = bad.method == "GET"      ? cl.Get(bad.path.c_str())
                              : bad.method == "PUT"    ? cl.Put(bad.path.c_str(), bad.body, "application/json")
                              : bad.method == "DELETE" ? cl.Delete(bad.path.c_str(), bad.body, "application/json")
                                                       : cl.Post(bad.path.c_str(), bad.body, "application/json");
        test::HttpReply r = test::to_reply(res);
        std::lock_guard<std::mutex> lock(mu);
        ++by_status[r.status];
        const bool error_object = r.json.is_object() && r.json.contains("error") && r.json["error"].contains("message");
        if (r.status < 0) ++no_reply;
        else if (!error_object) ++not_error_object;
        if ((r.status != bad.expect && r.status != bad.or_expect) || !error_object) {
          ++wrong[bad.kind];
          if (examples.size() < 12)
            examples.push_back(bad.kind + " → " + std::to_string(r.status) + " " + r.error + " " + r.body.substr(0, 200) +
                               " | sent " + bad.body.substr(0, 120));
        }
      }
    });
  for (auto& t : clients) t.join();
  const double secs = ms_since(t0) / 1000;
  std::string statuses, problems;
  for (const auto& [s, n] : by_status) statuses += " " + std::to_string(s) + ":" + std::to_string(n);
  for (const auto& e : examples) problems += "\n  " + e;
  std::printf("%d malformed requests from %d clients in %.1f s (%.0f/s); statuses%s\n", kRequests, kClients, secs,
              kRequests / secs, statuses.c_str());
  for (const auto& [s, n] : by_status) EXPECT_LT(s, 500) << n << " replies with status " << s << problems;
  EXPECT_EQ(no_reply, 0) << problems;
  EXPECT_EQ(not_error_object, 0) << problems;
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " kinds got an unexpected status:" << problems;
  expect_idle();
}

// Bodies of 100 MB: a declared length over the limit is read and dropped (then 413); a chunked body
// or one without a length is refused before it is read (411), the connection closed.
TEST_F(ServeFaults, HundredMegabyteBodiesAreRefusedWithinTheLimits) {
  const size_t big = 100u << 20;
  const std::string block(1 << 16, 'x');
  struct Case {
    const char* what;
    std::string head;
    bool chunked;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"Content-Length 100 MB", post_head("/v1/chat/completions", big), false, "HTTP/1.1 413"},
      {"chunked 100 MB", "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n", true,
       "HTTP/1.1 411"},
      {"no length, 100 MB until close", "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", false, "HTTP/1.1 411"},
  };
  for (const Case& c : cases) {
    const int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    const auto t0 = Clock::now();
    bool sent_all = send_all(fd, c.head);
    size_t sent = 0;
    while (sent_all && sent < big) {  // the server may answer and close before all of it is sent
      const std::string part = c.chunked ? ([&] {
        char h[16];
        std::snprintf(h, sizeof h, "%zx\r\n", block.size());
        return std::string(h) + block + "\r\n";
      })()
                                         : block;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) break;  // an answer (or a close) came
      sent_all = send_all(fd, part);
      sent += block.size();
    }
    std::string got;
    const double closed = wait_closed(fd, 30000, &got);
    ::close(fd);
    std::printf("%s: %zu MB sent, answer '%s', closed after %.0f ms\n", c.what, sent >> 20,
                got.substr(0, got.find("\r\n")).c_str(), ms_since(t0));
    EXPECT_EQ(got.find("HTTP/1.1 5"), std::string::npos) << c.what << ": " << got.substr(0, 300);
    // Either the answer came, or the server cut the connection (a reset can lose an answer sent
    // while the client was still writing); never a hang.
    if (!got.empty()) {
      EXPECT_EQ(got.rfind(c.expect, 0), 0u) << c.what << ": " << got.substr(0, 300);
    }
    EXPECT_GE(closed, 0) << c.what << ": the connection stayed open";
  }
  expect_idle();
}

}  // namespace
}  // namespace pad
