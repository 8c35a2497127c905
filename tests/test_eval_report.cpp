// Statistics against hand-computed values; the Markdown table's exact text; SVG well-formedness.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "pad/eval/report.h"

namespace pad::eval {
namespace {

TEST(EvalStats, StudentTQuantiles) {
  EXPECT_DOUBLE_EQ(t_quantile_975(1), 12.706);
  EXPECT_DOUBLE_EQ(t_quantile_975(30), 2.042);
  EXPECT_DOUBLE_EQ(t_quantile_975(40), 2.021);
  // df 50: 1/50 lies 60% of the way from 1/40 to 1/60.
  EXPECT_NEAR(t_quantile_975(50), 2.021 + 0.6 * (2.000 - 2.021), 1e-12);
  EXPECT_GT(t_quantile_975(1000), 1.959964);
  EXPECT_LT(t_quantile_975(1000), 1.980);
  EXPECT_NEAR(t_quantile_975(100000000), 1.959964, 1e-6);
  EXPECT_THROW(t_quantile_975(0), std::invalid_argument);
}

TEST(EvalStats, MeanAndInterval) {
  Summary s = summarize({1, 2, 3, 4});
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.stddev, std::sqrt(5.0 / 3.0), 1e-12);              // (2.25+0.25+0.25+2.25)/3
  EXPECT_NEAR(s.half_width, 3.182 * std::sqrt(5.0 / 3.0) / 2.0, 1e-12);  // t_{.975,3} s / sqrt(4)
  Summary one = summarize({0.5});
  EXPECT_DOUBLE_EQ(one.mean, 0.5);
  EXPECT_TRUE(std::isnan(one.half_width));
  EXPECT_EQ(summarize({}).n, 0u);
  Summary flat = summarize({0.3, 0.3, 0.3});
  EXPECT_DOUBLE_EQ(flat.half_width, 0.0);
}

ScoreTable small_table() {
  std::vector<ScoredRow> rows = {{"base", {{"helpful", 0.4}, {"humor", 0.0}}},
                                 {"pad", {{"helpful", 0.8}, {"humor", 1.0}}},
                                 {"base", {{"helpful", 0.6}, {"humor", 1.0}}},
                                 {"pad", {{"helpful", 0.8}, {"humor", 1.0}}},
                                 {"pad <w=1>", {{"helpful", 0.7}}}};
  return summarize_scores(rows, {"helpful", "humor"});
}

TEST(EvalReport, MarkdownTableExactText) {
  // base helpful: mean 0.5, s = 0.1414, hw = 12.706 * 0.1414 / sqrt(2) = 1.2706;
  // base humor: mean 0.5, s = 0.7071, hw = 12.706 * 0.5 = 6.353.
  const char* expected =
      "| Method | helpful | humor |\n"
      "|---|---:|---:|\n"
      "| base | 0.50 ± 1.27 | 0.50 ± 6.35 |\n"
      "| pad | 0.80 ± 0.00 | 1.00 ± 0.00 |\n"
      "| pad <w=1> | 0.70 ± n/a | n/a |\n";
  EXPECT_EQ(markdown_table(small_table()), expected);
  TableOptions opt;
  opt.bold_best = true;
  opt.decimals = 1;
  const char* bold =
      "| Method | helpful | humor |\n"
      "|---|---:|---:|\n"
      "| base | 0.5 ± 1.3 | 0.5 ± 6.4 |\n"
      "| pad | **0.8 ± 0.0** | **1.0 ± 0.0** |\n"
      "| pad <w=1> | 0.7 ± n/a | n/a |\n";
  EXPECT_EQ(markdown_table(small_table(), opt), bold);
  opt.decimals = -1;
  EXPECT_THROW(markdown_table(small_table(), opt), std::invalid_argument);
}

TEST(EvalReport, ColumnsInFirstSeenOrderWhenUnspecified) {
  ScoreTable t = summarize_scores({{"a", {{"z", 1.0}}}, {"b", {{"y", 0.0}, {"z", 0.5}}}});
  EXPECT_EQ(t.methods, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.attributes, (std::vector<std::string>{"z", "y"}));
  EXPECT_EQ(t.cells[0][1].n, 0u);
}

// Checks that every start tag has its matching end tag (a small XML well-formedness check:
// comments, the declaration and self-closing tags handled; attributes must be quoted).
bool tags_balanced(const std::string& svg, std::string* why) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    size_t end = svg.find('>', pos);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    std::string tag = svg.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (std::count(tag.begin(), tag.end(), '"') % 2) return *why = "odd quotes in <" + tag + ">", false;
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return *why = "unexpected </" + name + ">", false;
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
    }
  }
  if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
  return true;
}

int count_of(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(EvalReport, BarChartIsWellFormedWithOneBarPerCell) {
  std::vector<ScoredRow> rows;
  for (const char* m : {"base", "prompting", "pad & co"})
    for (int i = 0; i < 5; ++i)
      rows.push_back({m, {{"helpful", 0.1 * i}, {"harmless", 0.2 * i}, {"humor", i % 2 * 1.0}}});
  ScoreTable t = summarize_scores(rows);
  std::string svg = svg_bar_chart(t);
  std::string why;
  EXPECT_TRUE(tags_balanced(svg, &why)) << why;
  EXPECT_EQ(count_of(svg, "class=\"bar\""), 3 * 3);
  EXPECT_EQ(count_of(svg, "class=\"legend\""), 3);
  EXPECT_NE(svg.find("pad &amp; co"), std::string::npos);
  EXPECT_EQ(svg.find("pad & co"), std::string::npos);
  EXPECT_TRUE(tags_balanced("<svg><g></svg>", &why) == false);
}

TEST(EvalReport, FrontierChartHasOnePointPerWeight) {
  std::vector<FrontierPoint> pts;
  for (int i = 0; i <= 4; ++i) {
    double w = 0.25 * i;
    pts.push_back({"w=" + std::to_string(w).substr(0, 4), summarize({1 - w, 0.9 - w}), summarize({w, w + 0.1})});
  }
  FrontierOptions opt;
  opt.x_label = "helpful";
  opt.y_label = "humor <judge>";
  std::string svg = svg_frontier_chart(pts, opt);
  std::string why;
  EXPECT_TRUE(tags_balanced(svg, &why)) << why;
  EXPECT_EQ(count_of(svg, "class=\"point\""), 5);
  EXPECT_EQ(count_of(svg, "class=\"frontier\""), 1);
  EXPECT_NE(svg.find(">w=0.50<"), std::string::npos);
  EXPECT_NE(svg.find("humor &lt;judge&gt;"), std::string::npos);
  opt.width = 10;
  EXPECT_THROW(svg_frontier_chart(pts, opt), std::invalid_argument);
}

}  // namespace
}  // namespace pad::eval
