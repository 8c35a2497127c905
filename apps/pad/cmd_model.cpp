// placeholder: registers no commands yet
#include "commands.h"
namespace pad::cli {
void add_model_commands(CLI::App&) {}
}  // namespace pad::cli
