// Registration of `pad generate` (cmd_generate.cpp), called from add_model_commands.
#pragma once

#include <CLI/CLI.hpp>

namespace pad::cli {
void add_generate_command(CLI::App& app);
}
