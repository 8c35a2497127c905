// `pad serve`: the OpenAI-compatible server (DESIGN §6). With no -m it serves the embedded default
// models (models/base with the value head and the LoRA as PersRMs). SIGTERM or SIGINT stops
// accepting, lets in-flight requests finish within --shutdown-timeout, and exits 0.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common.h"
#include "pad/serve/server.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad::cli {
namespace {

struct ServeFlags {
  ModelFlags model;
  std::string models = "models";  // the embedded defaults' directory (no -m)
  std::string name;               // the base model's id ("" = its file or directory name)
  std::vector<std::string> persrm, persrm_lora, persrm_head;  // NAME=PATH, repeatable
  std::vector<int> order;  // 0 head, 1 lora, 2 full: each PersRM flag as it appeared
  bool allow_vocab_mismatch = false;
  serve::ServerOptions server;
  double shutdown_timeout_s = 30;
  double max_wall_s = 120;
};

// "NAME=PATH" → {NAME, PATH}; a bare PATH is named `fallback`.
std::pair<std::string, std::string> named_path(const std::string& spec, const std::string& fallback, const char* flag) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos) return {fallback, spec};
  if (eq == 0 || eq + 1 == spec.size()) throw_invalid(flag, " '", spec, "': expected NAME=PATH");
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

std::string model_name(const std::string& path) {
  std::filesystem::path p(path);
  if (p.filename().empty()) p = p.parent_path();
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

serve::ServeModels load_models(ServeFlags& f) {
  const bool defaults = f.model.model.empty();
  if (defaults) {
    f.model.model = f.models + "/base";
    if (!is_directory(f.model.model))
      throw_invalid(f.model.model, ": no default model here (give -m MODEL, run from the repository root, or --models DIR)");
    if (f.persrm.empty() && f.persrm_lora.empty() && f.persrm_head.empty()) {
      f.persrm_head.push_back("head=" + f.models + "/persrm-head/value_head.safetensors");
      f.persrm_lora.push_back("lora=" + f.models + "/persrm-lora");
      f.order = {0, 1};
    }
  }
  serve::ServeModels m;
  m.base = load_model(f.model);
  m.tok = tokenizer_of(f.model.model);
  if (!m.tok) throw_invalid(f.model.model, ": no tokenizer (the server needs one to read text)");
  m.name = f.name.empty() ? model_name(f.model.model) : f.name;
  // In command-line order across the three flags: the first PersRM given is the default.
  size_t next[3] = {0, 0, 0};
  for (int kind : f.order) {
    const std::vector<std::string>& specs = kind == 0 ? f.persrm_head : kind == 1 ? f.persrm_lora : f.persrm;
    if (next[kind] >= specs.size()) continue;
    const char* flag = kind == 0 ? "--persrm-head" : kind == 1 ? "--persrm-lora" : "--persrm";
    auto [name, path] = named_path(specs[next[kind]++], kind == 0 ? "head" : kind == 1 ? "lora" : "persrm", flag);
    PersRmFlags rf;
    rf.allow_vocab_mismatch = f.allow_vocab_mismatch;
    (kind == 0 ? rf.persrm_head : kind == 1 ? rf.persrm_lora : rf.persrm) = path;
    m.persrms.push_back({name, load_persrm(rf, f.model, *m.base, m.tok)});
  }
  return m;
}

int g_signal_pipe[2] = {-1, -1};

// Async-signal-safe: the waiting thread below does the work.
void on_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &b, 1);
}

void run_serve(ServeFlags& f) {
  f.server.max_wall_ms = f.max_wall_s * 1000.0;
  if (!(f.shutdown_timeout_s >= 0)) throw_invalid("--shutdown-timeout ", f.shutdown_timeout_s, " is out of range (expected ≥ 0)");
  serve::ServeModels models = load_models(f);
  serve::Server server(std::move(models), f.server);
  const int port = server.bind();
  if (::pipe(g_signal_pipe) != 0) throw_runtime("serve: cannot create a pipe for signals");
  std::signal(SIGPIPE, SIG_IGN);  // a client that left is a failed write, not a dead server
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::printf("pad serve: listening on http://%s:%d\n", f.server.host.c_str(), port);
  std::fflush(stdout);
  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(f.shutdown_timeout_s * 1000));
  std::thread waiter([&server, grace] {
    unsigned char sig = 0;
    while (::read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    std::fprintf(stderr, "pad serve: signal %d, finishing in-flight requests\n", sig);
    server.stop(grace);
  });
  server.run();
  waiter.join();
  std::fprintf(stderr, "pad serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* s = app.add_subcommand("serve", "OpenAI-compatible HTTP server with per-request preferences (PAD)");
  s->add_option("-m,--model", f->model.model, "base model: Hugging Face directory or .gguf (default: the embedded models)");
  add_runtime_flags(*s, f->model);
  s->add_option("--models", f->models, "directory of the embedded default models (used without -m)");
  s->add_option("--name", f->name, "the base model's id in the API (default: its directory or file name)");
  s->add_option("--persrm", f->persrm, "NAME=MODEL: a full PersRM (repeatable; the first PersRM given is the default)");
  s->add_option("--persrm-lora", f->persrm_lora, "NAME=DIR: a PEFT LoRA PersRM on the base model (repeatable)");
  s->add_option("--persrm-head", f->persrm_head, "NAME=FILE: a value-head PersRM on the base backbone (repeatable)");
  s->add_flag("--allow-vocab-mismatch", f->allow_vocab_mismatch, "accept a full PersRM whose vocabulary differs");
  s->add_option("--host", f->server.host, "address to listen on (default 127.0.0.1: this machine only)");
  s->add_option("--port", f->server.port, "port (0 = any free port)");
  s->add_option("--max-batch", f->server.max_batch, "requests decoded together");
  s->add_option("--max-queue", f->server.max_queue, "requests waiting for a batch place; past it 429");
  s->add_option("--max-body", f->server.max_body, "largest request body in bytes; past it 413");
  s->add_option("--ctx", f->server.n_ctx, "context limit per request, prompt + max_tokens (0 = the model's)");
  s->add_option("--max-tokens", f->server.default_max_tokens, "max_tokens when a request gives none");
  s->add_option("--max-wall", f->max_wall_s, "seconds a request may decode before it ends with finish_reason length");
  s->add_option("--pref-template", f->server.guideline_template, "guideline template with {principle} and {prompt}");
  s->add_option("--api-key", f->server.api_key, "require Authorization: Bearer KEY on /v1/*");
  s->add_option("--http-threads", f->server.http_threads, "connections served at once");
  s->add_option("--shutdown-timeout", f->shutdown_timeout_s, "seconds in-flight requests get to finish after SIGTERM");
  s->callback([f, s] {
    for (const CLI::Option* o : s->parse_order()) {
      const std::string name = o->get_name();
      if (name == "--persrm-head") f->order.push_back(0);
      else if (name == "--persrm-lora") f->order.push_back(1);
      else if (name == "--persrm") f->order.push_back(2);
    }
    run_serve(*f);
  });
}

}  // namespace pad::cli
