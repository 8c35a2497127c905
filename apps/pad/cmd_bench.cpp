// placeholder: registers no commands yet
#include "commands.h"
namespace pad::cli {
void add_bench_commands(CLI::App&) {}
}  // namespace pad::cli
