// Registration of `pad demo` (cmd_demo.cpp), called from add_model_commands.
#pragma once

#include <CLI/CLI.hpp>

namespace pad::cli {
void add_demo_command(CLI::App& app);
}
