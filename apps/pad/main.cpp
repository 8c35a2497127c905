// The `pad` command: parses the command line and converts library exceptions to exit codes exactly
// once (STYLE.md): bad input → "error: …" and exit 2; anything else → exit 1.
#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "commands.h"

int main(int argc, char** argv) {
  // Past the file size limit (ulimit -f) a write then fails with EFBIG and pad reports it, instead of
  // the default SIGXFSZ killing the process with a partial temporary file left behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"pad: personalized alignment at decoding time"};
  app.require_subcommand(1);
  pad::cli::add_model_commands(app);
  pad::cli::add_tokenizer_commands(app);
  pad::cli::add_bench_commands(app);
  pad::cli::add_train_commands(app);
  pad::cli::add_eval_commands(app);
  pad::cli::add_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
