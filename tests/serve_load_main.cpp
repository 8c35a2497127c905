// serve_load: the load test's client against a running `pad serve` (scripts/soak).
// Usage: serve_load PORT [SECONDS] [CLIENTS] [MAX_TOKENS]. Prints one JSON line; exits 1 on any 5xx,
// unanswered or malformed reply.
#include <cstdio>
#include <cstdlib>

#include "serve_load.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: serve_load PORT [SECONDS] [CLIENTS] [MAX_TOKENS]\n");
    return 2;
  }
  pad::test::LoadOptions o;
  o.port = std::atoi(argv[1]);
  o.seconds = argc > 2 ? std::atof(argv[2]) : 60;
  o.clients = argc > 3 ? std::atoi(argv[3]) : 64;
  o.max_tokens = argc > 4 ? std::atoi(argv[4]) : 8;
  pad::test::LoadReport r;
  pad::test::run_load(o, r);
  nlohmann::json j = {{"sent", r.sent.load()}, {"ok", r.ok.load()}, {"left_mid_stream", r.left.load()},
                      {"refused_429", r.refused.load()}, {"client_errors", r.client_errors.load()},
                      {"server_errors", r.server_errors.load()}, {"malformed", r.malformed.load()},
                      {"no_reply", r.no_reply.load()}, {"problems", r.problems}};
  std::printf("%s\n", j.dump().c_str());
  return r.server_errors + r.malformed + r.no_reply + r.client_errors == 0 ? 0 : 1;
}
