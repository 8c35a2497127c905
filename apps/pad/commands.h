// Each group of `pad` subcommands registers itself on the root CLI11 app; main() only dispatches.
#pragma once

#include <CLI/CLI.hpp>

namespace pad::cli {

void add_model_commands(CLI::App& app);      // info, logits, generate         (cmd_model.cpp)
void add_tokenizer_commands(CLI::App& app);  // tokenize, detokenize, chat-template (cmd_tokenizer.cpp)
void add_bench_commands(CLI::App& app);      // bench runtime, ...              (cmd_bench.cpp)
void add_bench_gpu_command(CLI::App& bench); // bench gpu                       (cmd_bench_gpu.cpp)
void add_train_commands(CLI::App& app);      // train persrm|sft|tokenizer, bench train (cmd_train.cpp)
void add_eval_commands(CLI::App& app);       // world, judge                  (cmd_eval.cpp)
void add_serve_command(CLI::App& app);       // serve                          (cmd_serve.cpp)

}  // namespace pad::cli
