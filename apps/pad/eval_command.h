// Registration of `pad eval` (cmd_eval_run.cpp), called from add_eval_commands (cmd_eval.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace pad::cli {
void add_eval_run_command(CLI::App& app);
void add_eval_pairs_command(CLI::App& app);
}

#include <string>

#include "pad/eval/stories.h"

namespace pad::cli {
// `pad world --world stories` (cmd_eval_stories.cpp).
struct StoryWorldFlags {
  std::string out;
  std::string base = "models/stories-base";  // the pretrained base whose samples become the data
  int threads = 0;
  eval::StoryWorldOptions options;
};
void run_story_world(const StoryWorldFlags& f);
}  // namespace pad::cli
