// Reports people read: per-method means with 95% confidence intervals (stats.h) as a Markdown
// table in the shape of the paper's Table 1, and hand-written SVG charts. Library functions return
// text; write_report stores it atomically.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pad/eval/stats.h"

namespace pad::eval {

// One scored output: the method that produced it and a score per attribute.
struct ScoredRow {
  std::string method;
  std::map<std::string, double> scores;
};

struct ScoreTable {
  std::vector<std::string> methods;          // rows, in order of first appearance
  std::vector<std::string> attributes;       // columns
  std::vector<std::vector<Summary>> cells;   // [method][attribute]; n = 0 where a method lacks one
};

// Groups rows by method and summarizes each attribute. `attributes` fixes the columns; empty: every
// attribute seen, in order of first appearance (a row's own scores in name order).
ScoreTable summarize_scores(const std::vector<ScoredRow>& rows, const std::vector<std::string>& attributes = {});

struct TableOptions {
  int decimals = 2;                    // digits after the point in means and half-widths
  bool bold_best = false;              // bold the highest mean of each column (all ties)
  std::string method_header = "Method";
  void validate() const;               // throws std::invalid_argument
};

// | Method | helpful | ... |  with cells "0.62 ± 0.04"; "0.62 ± n/a" for one sample, "n/a" for none.
std::string markdown_table(const ScoreTable& table, const TableOptions& options = {});

struct BarChartOptions {
  std::string title = "Judge scores per method (mean, 95% CI)";
  std::string y_label = "score";
  double y_max = 0.0;   // top of the y axis; 0: 1 when every whisker fits in [0, 1], else automatic
  int height = 360;     // pixels; the width follows from the number of bars
  void validate() const;
};

// Grouped bars: one group per method, one bar (<rect class="bar">) per attribute, CI whiskers
// (<line class="ci">), a legend of attributes.
std::string svg_bar_chart(const ScoreTable& table, const BarChartOptions& options = {});

struct FrontierPoint {
  std::string label;  // e.g. "w=0.5"
  Summary x, y;       // scores of attribute A and attribute B at this point
};

struct FrontierOptions {
  std::string title = "Frontier";
  std::string x_label = "attribute A";
  std::string y_label = "attribute B";
  int width = 520, height = 420;  // pixels
  void validate() const;
};

// Points (<circle class="point">) joined in the given order by a line, labelled, with CI whiskers
// in both directions. Axes span [0, 1] when everything fits, else the data with a margin.
std::string svg_frontier_chart(const std::vector<FrontierPoint>& points, const FrontierOptions& options = {});

std::string xml_escape(std::string_view text);

// write_file_atomic, named for the report writers.
void write_report(const std::string& path, std::string_view contents);

}  // namespace pad::eval
