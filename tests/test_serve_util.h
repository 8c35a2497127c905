// Helpers for the server tests: the embedded default models as ServeModels, requests over loopback
// with httplib's client, server-sent events, /metrics values, and a client that leaves mid-stream.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pad/model/adapters.h"
#include "pad/model/model.h"
#include "pad/serve/server.h"
#include "pad/tokenizer/tokenizer.h"

namespace pad::test {

inline std::string default_models_dir() { return std::string(PAD_SOURCE_DIR) + "/models"; }

// base + the value head ("head", the default PersRM) + the LoRA ("lora"), as `pad serve` loads them.
inline serve::ServeModels default_serve_models() {
  const std::string dir = default_models_dir();
  serve::ServeModels m;
  m.name = "base";
  m.base = Model::load(dir + "/base");
  m.tok = Tokenizer::load(dir + "/base");
  PersRm head;
  head.form = PersRm::Form::kHead;
  head.head = std::make_shared<ValueHead>(ValueHead::load(dir + "/persrm-head/value_head.safetensors", m.base->config().d_model));
  PersRm lora;
  lora.form = PersRm::Form::kLora;
  lora.adapter = m.base->add_adapter(LoraAdapter::load(dir + "/persrm-lora", m.base->config()));
  m.persrms = {{"head", head}, {"lora", lora}};
  return m;
}

struct HttpReply {
  int status = -1;
  std::string body;
  nlohmann::json json;  // parsed body (null when it is not JSON)
  httplib::Headers headers;
  std::string error;    // no reply: what the client saw
};

// The reply an httplib call got, or what went wrong when there was none.
inline HttpReply to_reply(const httplib::Result& res) {
  HttpReply r;
  if (!res) {
    r.error = httplib::to_string(res.error());
    return r;
  }
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  r.json = nlohmann::json::parse(r.body, nullptr, false);
  if (r.json.is_discarded()) r.json = nullptr;
  return r;
}

inline HttpReply http_post(int port, const std::string& path, const std::string& body,
                           const httplib::Headers& headers = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  return to_reply(c.Post(path.c_str(), headers, body, "application/json"));
}

inline HttpReply http_post(int port, const std::string& path, const nlohmann::json& body,
                           const httplib::Headers& headers = {}) {
  return http_post(port, path, body.dump(), headers);
}

inline HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client c("127.0.0.1", port);
  return to_reply(c.Get(path.c_str(), headers));
}

// The events of a text/event-stream body; `done` when it ends with data: [DONE].
struct SseEvents {
  std::vector<nlohmann::json> events;
  bool done = false;
  bool well_formed = true;  // every event is "data: " + JSON, nothing after [DONE]
};

inline SseEvents parse_sse(const std::string& body) {
  SseEvents s;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == ':') continue;  // blank lines and SSE comments
    if (line.rfind("data: ", 0) != 0 || s.done) {
      s.well_formed = false;
      continue;
    }
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded()) s.well_formed = false;
    else s.events.push_back(j);
  }
  return s;
}

// The concatenated text of choice `index` in a chat or completion stream, and its finish reason.
inline std::string stream_text(const SseEvents& s, int index, std::string* finish = nullptr) {
  std::string text;
  for (const auto& e : s.events) {
    if (!e.contains("choices")) continue;
    for (const auto& c : e["choices"]) {
      if (c["index"] != index) continue;
      if (c.contains("delta") && c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
      if (c.contains("text")) text += c["text"].get<std::string>();
      if (finish && !c["finish_reason"].is_null()) *finish = c["finish_reason"];
    }
  }
  return text;
}

// One value from /metrics ("pad_active_rows", or with labels: pad_requests_total{status="200"}).
inline double metric(int port, const std::string& name) {
  HttpReply r = http_get(port, "/metrics");
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return 0;
}

// Sends a POST over a raw socket, reads until `wait_for` appears in what came back (or the reply
// ends), then closes the connection: a client that leaves mid-stream. Returns what it read.
inline std::string post_and_leave(int port, const std::string& path, const std::string& body,
                                  const std::string& wait_for = "data: ") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      while (got.find(wait_for) == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return got;
}

}  // namespace pad::test
