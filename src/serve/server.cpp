// The HTTP side of `pad serve`: routes, the API key, limits, streaming with cancellation on
// disconnect, /metrics, and a shutdown that lets in-flight requests finish.
#include "pad/serve/server.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>

#include "call.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/log.h"

namespace pad::serve {

using nlohmann::json;

void ServeModels::validate() const {
  if (!base) throw_invalid("serve: no base model");
  if (!tok) throw_invalid("serve: the base model has no tokenizer (the server needs text)");
  if (name.empty()) throw_invalid("serve: the base model needs a name");
  std::set<std::string> seen = {name};
  for (const NamedPersRm& p : persrms) {
    if (p.name.empty()) throw_invalid("serve: a PersRM needs a name (NAME=PATH)");
    if (!seen.insert(p.name).second) throw_invalid("serve: the name '", p.name, "' is given twice (names must be unique)");
    if (p.rm.form == PersRm::Form::kNone) throw_invalid("serve: PersRM '", p.name, "' has no form");
  }
}

void ServerOptions::validate() const {
  if (port < 0 || port > 65535) throw_invalid("--port ", port, " is out of range (expected 0 to 65535)");
  if (max_batch < 1) throw_invalid("--max-batch ", max_batch, " is out of range (expected ≥ 1)");
  if (max_queue < 1) throw_invalid("--max-queue ", max_queue, " is out of range (expected ≥ 1)");
  if (n_ctx < 0) throw_invalid("--ctx ", n_ctx, " is out of range (expected ≥ 0)");
  if (http_threads < 2) throw_invalid("http threads ", http_threads, " is out of range (expected ≥ 2)");
  if (read_timeout_ms < 1) throw_invalid("read timeout ", read_timeout_ms, " ms is out of range (expected ≥ 1)");
  if (write_timeout_ms < 1) throw_invalid("write timeout ", write_timeout_ms, " ms is out of range (expected ≥ 1)");
  if (send_buffer_bytes < 0) throw_invalid("send buffer ", send_buffer_bytes, " bytes is out of range (expected ≥ 0)");
  if (default_max_tokens < 1) throw_invalid("default max tokens ", default_max_tokens, " is out of range");
  if (!(max_wall_ms > 0)) throw_invalid("max wall time ", max_wall_ms, " ms is out of range (expected > 0)");
  if (!guideline_template.empty()) apply_guideline(guideline_template, "p", "q");  // throws without {prompt}
}

struct Server::Impl {
  ServerCounters counters;
  std::atomic<int> in_flight{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex live_mu;
  std::set<std::shared_ptr<Call>> live;  // calls with engine requests (cancelled at a forced shutdown)
  int64_t n_ctx = 0;
};

namespace {

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  // replace: a message can quote the request's path or a header, which may not be UTF-8 (dump()
  // would throw inside httplib's handlers).
  res.set_content(error_body(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

struct InFlight {  // counts a request from its start to its end
  std::atomic<int>& n;
  explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
  ~InFlight() { --n; }
};

json model_entry(const std::string& id, const char* kind) {
  return {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "pad"}, {"pad", {{"kind", kind}}}};
}

const char* form_name(PersRm::Form f) {
  switch (f) {
    case PersRm::Form::kFull: return "persrm-full";
    case PersRm::Form::kLora: return "persrm-lora";
    case PersRm::Form::kHead: return "persrm-head";
    default: return "none";
  }
}

}  // namespace

Server::Server(ServeModels models, ServerOptions options)
    : models_(std::move(models)), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  models_.validate();
  options_.validate();
  EngineOptions eo;
  eo.strategy = Strategy::kBase;  // every request names its own
  eo.max_batch = options_.max_batch;
  eo.max_queue = options_.max_queue;
  std::shared_ptr<const Tokenizer> tok = models_.tok;
  eo.detokenize = [tok](const std::vector<int>& ids) { return tok->decode(ids, /*skip_special=*/true); };
  eo.n_valid_tokens = tok->n_vocab();
  std::vector<PersRm> rms;
  for (const NamedPersRm& p : models_.persrms) rms.push_back(p.rm);
  engine_ = std::make_unique<PadEngine>(models_.base, rms, nullptr, eo);
  impl_->n_ctx = options_.n_ctx > 0 ? std::min<int64_t>(options_.n_ctx, engine_->n_ctx()) : engine_->n_ctx();
  http_ = std::make_unique<httplib::Server>();
  const size_t threads = static_cast<size_t>(options_.http_threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.max_body);
  http_->set_keep_alive_timeout(5);
  // A loaded machine can leave a client's first bytes unread for seconds; 5 s (httplib's default)
  // dropped ~1 request in 7000 under the soak's 64 clients on 2 shared cores.
  http_->set_read_timeout(options_.read_timeout_ms / 1000, (options_.read_timeout_ms % 1000) * 1000);
  http_->set_write_timeout(options_.write_timeout_ms / 1000, (options_.write_timeout_ms % 1000) * 1000);
  routes();
}

Server::~Server() {
  if (!stopped_) stop(std::chrono::milliseconds(0));
  if (background_.joinable()) background_.join();
  scheduling_ = false;
  if (scheduler_.joinable()) scheduler_.join();
}

namespace {

// Debian's libcpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into the
// library). Under 64 clients on a loaded machine the accept queue then overflows, and a connection
// whose handshake the kernel gave up on fails on the client's first read. A second listen() on the
// same socket raises the backlog; the socket is found by its port.
// Accepted connections inherit the socket's SO_SNDBUF (ServerOptions::send_buffer_bytes).
void tune_listening_socket(int port, int send_buffer_bytes) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (...) {
      continue;
    }
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    const int p = addr.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                  : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port) : -1;
    if (p != port) continue;
    ::listen(fd, SOMAXCONN);
    if (send_buffer_bytes > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof send_buffer_bytes);
  }
}

// "address:port" of a socket address (IPv4 or IPv6), "" for anything else.
std::string endpoint_text(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = {0};
  int port = -1;
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    port = ntohs(v6.sin6_port);
  } else {
    return "";
  }
  return std::string(host) + ":" + std::to_string(port);
}

// The socket a request arrived on. httplib 0.11 does not give handlers their socket, so it is found
// among this process's descriptors by its two addresses (unique for a TCP connection). httplib
// closes a connection only after its handler returns, so the descriptor stays this connection's
// while the handler runs. -1 when none matches.
int connection_fd(const httplib::Request& req) {
  const std::string local = req.local_addr + ":" + std::to_string(req.local_port);
  const std::string remote = req.remote_addr + ":" + std::to_string(req.remote_port);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (...) {
      continue;
    }
    sockaddr_storage mine{}, peer{};
    socklen_t ml = sizeof mine, pl = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &ml) != 0) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    if (endpoint_text(mine) == local && endpoint_text(peer) == remote) return fd;
  }
  return -1;
}

// Whether the client closed (or reset) its connection: end of stream or an error on the socket,
// seen without consuming anything it sent (a pipelined next request stays unread).
bool peer_gone(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
  if (!(p.revents & POLLIN)) return false;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace

int Server::bind() {
  port_ = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                             : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port_ < 0) throw_runtime("serve: cannot listen on ", options_.host, ":", options_.port, " (in use, or not an address here)");
  tune_listening_socket(port_, options_.send_buffer_bytes);
  return port_;
}

void Server::schedule() {
  while (scheduling_)
    if (!engine_->step()) engine_->wait_for_work(std::chrono::milliseconds(50));
}

void Server::run() {
  PAD_CHECK(port_ >= 0, "Server::run before bind");
  scheduling_ = true;
  scheduler_ = std::thread([this] { schedule(); });
  http_->listen_after_bind();
  scheduling_ = false;
  scheduler_.join();
}

void Server::start() {
  bind();
  background_ = std::thread([this] { run(); });
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::stop(std::chrono::milliseconds grace) {
  if (stopped_.exchange(true)) return;
  draining_ = true;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    std::lock_guard<std::mutex> lock(impl_->live_mu);
    for (const auto& c : impl_->live)
      for (uint64_t id : c->ids()) engine_->cancel(id);
  }
  const auto forced = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < forced)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  http_->stop();
  if (background_.joinable() && background_.get_id() != std::this_thread::get_id()) background_.join();
}

void Server::routes() {
  Impl& im = *impl_;
  http_->set_logger([&im](const httplib::Request&, const httplib::Response& res) {
    std::lock_guard<std::mutex> lock(im.counters.mu);
    ++im.counters.requests_by_status[res.status];
  });
  http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) send_error(res, ApiError(404, "invalid_request_error", "unknown route " + req.method + " " + req.path, "", "unknown_url"));
    else if (res.status == 413) send_error(res, ApiError(413, "invalid_request_error", "the request body is larger than the server accepts", "", "request_too_large"));
    else send_error(res, ApiError(res.status, res.status >= 500 ? "server_error" : "invalid_request_error", "HTTP " + std::to_string(res.status)));
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "server_error", "internal error: " + what));
  });
  const std::string key = options_.api_key;
  http_->set_pre_routing_handler([key](const httplib::Request& req, httplib::Response& res) {
    // Before httplib reads a body: it caps a Content-Length body at max_body (reading and dropping
    // a longer one, then 413), but reads a chunked body or one without a length (until the client
    // closes) whole, with no limit. Those get 411 and the connection closes.
    if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH" || req.method == "DELETE") {
      const std::string len = req.get_header_value("Content-Length");
      const bool digits = !len.empty() && len.size() <= 19 && len.find_first_not_of("0123456789") == std::string::npos;
      if (!digits) {
        res.set_header("Connection", "close");
        if (!req.has_header("Content-Length"))
          send_error(res, ApiError(411, "invalid_request_error", "a request body needs a Content-Length header (chunked bodies are not accepted)", "", "length_required"));
        else
          send_error(res, ApiError(400, "invalid_request_error", "Content-Length '" + len.substr(0, 40) + "' is not a byte count", "", "invalid_request"));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth == "Bearer " + key) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, "invalid_request_error",
                             auth.empty() ? "missing API key (Authorization: Bearer KEY)" : "incorrect API key", "",
                             "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.status = draining_ ? 503 : 200;
    res.set_content(json{{"status", draining_ ? "shutting down" : "ok"}}.dump(), "application/json");
  });
  http_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json data = json::array({model_entry(models_.name, "base")});
    for (const NamedPersRm& p : models_.persrms) data.push_back(model_entry(p.name, form_name(p.rm.form)));
    res.set_content(json{{"object", "list"}, {"data", data}}.dump(), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(engine_->stats(), impl_->counters, impl_->in_flight.load()), "text/plain; version=0.0.4");
  });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_completion(req, res, Endpoint::kChat);
  });
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_completion(req, res, Endpoint::kCompletion);
  });
}

void Server::forget(const std::shared_ptr<Call>& call) {
  std::lock_guard<std::mutex> lock(impl_->live_mu);
  impl_->live.erase(call);
}

// Parse, validate, template and tokenize here (the HTTP thread); the scheduler thread decodes.
void Server::handle_completion(const httplib::Request& req, httplib::Response& res, Endpoint e) {
  InFlight guard(impl_->in_flight);
  try {
    if (draining_) throw ApiError(503, "server_error", "the server is shutting down", "", "shutting_down");
    ApiRequest api = parse_request(req.body, e);
    Prepared p = prepare(api, models_, options_, impl_->n_ctx);
    ResponseMeta meta;
    meta.id = (e == Endpoint::kChat ? "chatcmpl-pad" : "cmpl-pad") + std::to_string(impl_->next_id++);
    meta.created = static_cast<int64_t>(std::time(nullptr));
    meta.model = api.model.empty() ? models_.name : api.model;
    meta.pad = p.pad;
    meta.logprobs = api.logprobs;
    const bool stream = api.stream;
    auto call = std::make_shared<Call>(models_.tok, std::move(api), std::move(meta), p.n_prompt);
    std::vector<uint64_t> ids;
    try {
      for (size_t i = 0; i < p.requests.size(); ++i) ids.push_back(engine_->submit(p.requests[i], call->callbacks(i)));
    } catch (const EngineBusy& b) {
      for (uint64_t id : ids) engine_->cancel(id);
      res.set_header("Retry-After", "1");
      throw ApiError(429, "rate_limit_error", std::string("too many requests: ") + b.what(), "", "rate_limit_exceeded");
    } catch (const std::invalid_argument& bad) {
      for (uint64_t id : ids) engine_->cancel(id);
      throw invalid_field("", bad.what());
    }
    call->set_ids(ids);
    {
      std::lock_guard<std::mutex> lock(impl_->counters.mu);
      impl_->counters.prompt_tokens += static_cast<uint64_t>(p.n_prompt);
    }
    {
      std::lock_guard<std::mutex> lock(impl_->live_mu);
      impl_->live.insert(call);
    }
    if (stream) return stream_response(call, res);
    // A client that leaves while its request decodes: found by probing its socket (httplib does
    // not tell a handler), its engine requests cancelled so that the rows free at once.
    int fd = -2;  // -2: not looked up yet (short requests finish before the first probe)
    auto gone = [&] {
      if (fd == -2) fd = connection_fd(req);
      return fd >= 0 && peer_gone(fd);
    };
    std::optional<json> body;
    try {
      body = call->wait_response(gone);
    } catch (...) {
      forget(call);
      throw;
    }
    forget(call);
    if (!body) {
      for (uint64_t id : call->ids()) engine_->cancel(id);
      {
        std::lock_guard<std::mutex> lock(impl_->counters.mu);
        ++impl_->counters.disconnects;
      }
      res.status = 499;  // nginx's "client closed request"; nobody reads it, /metrics counts it
      send_error(res, ApiError(499, "invalid_request_error", "the client closed the connection"));
      return;
    }
    res.set_content(body->dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  } catch (const ApiError& err) {
    send_error(res, err);
  }
}

void Server::stream_response(const std::shared_ptr<Call>& call, httplib::Response& res) {
  ++impl_->in_flight;  // until the stream ends (the releaser)
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [call, idle = 0](size_t, httplib::DataSink& sink) mutable {
        bool finished = false;
        std::string text = call->next_events(std::chrono::milliseconds(100), finished);
        // While a request waits in the queue, an SSE comment every ~2 s finds clients that left.
        if (text.empty() && ++idle >= 20) text = ": waiting\n\n";
        if (text.empty()) return true;
        idle = 0;
        if (!sink.write(text.data(), text.size())) return false;
        if (finished) sink.done();
        return true;
      },
      [this, call](bool success) {
        if (!success) {  // the client left (or stopped reading past the write timeout)
          std::lock_guard<std::mutex> lock(impl_->counters.mu);
          ++impl_->counters.disconnects;
        }
        for (uint64_t id : call->ids()) engine_->cancel(id);  // a client that left frees its rows now
        forget(call);
        --impl_->in_flight;
      });
}

}  // namespace pad::serve
