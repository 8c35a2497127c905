// Registration of `pad eval` (cmd_eval_run.cpp), called from add_eval_commands (cmd_eval.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace pad::cli {
void add_eval_run_command(CLI::App& app);
void add_eval_pairs_command(CLI::App& app);
}
