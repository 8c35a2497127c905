// `pad serve`'s server (DESIGN §6): one scheduler thread owns the models and runs the online engine;
// HTTP threads parse, validate, template and tokenize, hand requests over and stream tokens back.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pad/decode/engine.h"
#include "pad/decode/preference.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace pad {
class Tokenizer;
}

namespace pad::serve {

class Call;
enum class Endpoint;

struct NamedPersRm {
  std::string name;  // what requests give in pad.persrm (and /v1/models lists)
  PersRm rm;
};

// What is served: the base model with its tokenizer and any number of PersRMs (the first is the default).
struct ServeModels {
  std::string name;  // the base model's id in /v1/models and responses
  std::shared_ptr<Model> base;
  std::shared_ptr<const Tokenizer> tok;
  std::vector<NamedPersRm> persrms;
  void validate() const;  // names unique and non-empty, a base and a tokenizer
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8080;                 // 0: any free port (see Server::port())
  int max_batch = 16;              // requests decoded together
  size_t max_queue = 64;           // waiting requests; past it 429
  size_t max_body = 1 << 20;       // request body bytes; past it 413
  int64_t n_ctx = 0;               // context limit (prompt + max_tokens); 0 = the model's
  int default_max_tokens = 256;    // when a request gives none (cut to what the context leaves)
  double max_wall_ms = 120000;     // per request, from admission; then finish_reason "length"
  std::string api_key;             // non-empty: /v1/* needs "Authorization: Bearer KEY"
  int http_threads = 96;           // concurrent connections served
  int read_timeout_ms = 15000;     // a client that stalls mid-request is cut off after this
  int write_timeout_ms = 5000;     // a client that stops reading its reply is cut off after this
  int send_buffer_bytes = 0;       // SO_SNDBUF of each connection (0: the kernel's, autotuned up to MBs):
                                   // what a client that stops reading leaves queued before the write timeout
  std::string guideline_template;  // "" = the default (preference.h)
  void validate() const;
};

// Counters /metrics reports besides the engine's.
struct ServerCounters {
  std::mutex mu;
  std::map<int, uint64_t> requests_by_status;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t disconnects = 0;  // clients that left before their reply ended (their requests cancelled)
};

class Server {
 public:
  Server(ServeModels models, ServerOptions options);
  ~Server();  // stops (without waiting) if still running

  // Binds the listening socket (throws std::runtime_error when it cannot) and returns the port.
  int bind();
  // Serves until stop(); call bind() first. Runs the scheduler thread while it serves.
  void run();
  // bind() + run() on a background thread.
  void start();
  // Stops accepting (new requests get 503), lets in-flight requests finish within `grace`, cancels
  // the rest, then closes the server. Safe from any thread (not from a signal handler).
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));
  int port() const { return port_; }
  PadEngine& engine() { return *engine_; }

 private:
  struct Impl;
  void routes();
  void schedule();
  void handle_completion(const httplib::Request& req, httplib::Response& res, Endpoint e);
  void stream_response(const std::shared_ptr<Call>& call, httplib::Response& res);
  void forget(const std::shared_ptr<Call>& call);

  ServeModels models_;
  ServerOptions options_;
  std::unique_ptr<PadEngine> engine_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<Impl> impl_;
  std::thread scheduler_, background_;
  std::atomic<bool> scheduling_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  int port_ = -1;
};

}  // namespace pad::serve
