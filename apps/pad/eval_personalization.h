// The personalization section of `pad eval` (issue 12): selectivity matrix and heatmap, selectivity
// per trained principle with paired-bootstrap CIs, the sweep's monotonicity, held-out phrasings and
// unseen attributes. Built from per-prompt judge scores only, so it is testable without a model.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pad/eval/personalization.h"

namespace pad::cli {

// The judge scores of one (method, preference) over the prompts, indexed by prompt.
struct GroupScores {
  std::string method, preference;
  std::vector<size_t> items;                          // prompt index of each output
  std::map<std::string, std::vector<double>> scores;  // attribute -> score per output
  double sweep_s = -1;                                // pad-sweep: w of the first principle; else -1
};

struct PersonalizationInput {
  std::vector<GroupScores> groups;
  std::vector<std::string> trained;              // principles the PersRM was trained on
  std::map<std::string, std::string> phrasings;  // held-out phrasing -> the attribute judging it
  std::vector<std::string> unseen;               // attributes never trained
  std::vector<std::string> attributes;           // judge columns
  std::string sweep_x, sweep_y;                  // the sweep's principles; empty: no sweep
  eval::BootstrapOptions bootstrap;
};

struct PersonalizationReport {
  std::string markdown;       // appended to table.md
  std::string heatmap_svg;    // selectivity.svg
  nlohmann::ordered_json json;  // summary.json["personalization"]
};

PersonalizationReport personalization_report(const PersonalizationInput& in);

}  // namespace pad::cli
