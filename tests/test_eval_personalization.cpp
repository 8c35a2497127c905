// Selectivity, paired bootstrap and Spearman against hand-computed cases; the heatmap's structure.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "pad/eval/personalization.h"

namespace pad::eval {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(EvalPersonalization, AverageRanksAndSpearman) {
  EXPECT_EQ(average_ranks({10, 20, 20, 30}), (std::vector<double>{1, 2.5, 2.5, 4}));
  EXPECT_EQ(average_ranks({3, 1, 2}), (std::vector<double>{3, 1, 2}));
  EXPECT_DOUBLE_EQ(spearman({0, 0.25, 0.5, 0.75, 1}, {0.1, 0.2, 0.3, 0.9, 1.0}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({0, 0.25, 0.5, 0.75, 1}, {5, 4, 3, 2, 1}), -1.0);
  // Ranks x = 1..4, y = {1, 3, 2, 4}: d² = 0+1+1+0 = 2, rho = 1 - 6*2/(4*15) = 0.8 (no ties).
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 30, 20, 40}), 0.8, 1e-12);
  // With a tie, y ranks {1, 2.5, 2.5, 4}: Pearson of ranks = 4.5 / sqrt(5 * 4.5).
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 2, 2, 3}), 4.5 / std::sqrt(5.0 * 4.5), 1e-12);
  EXPECT_TRUE(std::isnan(spearman({1, 2, 3}, {7, 7, 7})));
  EXPECT_THROW(spearman({1}, {1}), std::invalid_argument);
  EXPECT_THROW(spearman({1, 2}, {1, 2, 3}), std::invalid_argument);
}

TEST(EvalPersonalization, SelectivityEstimateIsOwnMinusStrongestRival) {
  std::vector<double> own = {1, 1, 0, 1};                      // mean 0.75
  std::vector<std::vector<double>> others = {{0, 0, 0, 1},     // mean 0.25
                                             {1, 0, 0, 1}};    // mean 0.5: the strongest rival
  Interval s = selectivity(own, others);
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.estimate, 0.25);
  EXPECT_LE(s.lo, s.estimate);
  EXPECT_GE(s.hi, s.estimate);
  // Resampling a 4-prompt sample can land anywhere in [-1, 1] but not outside.
  EXPECT_GE(s.lo, -1.0);
  EXPECT_LE(s.hi, 1.0);
  // Seeded: the same seed gives the same interval, another seed (almost surely) another.
  Interval again = selectivity(own, others);
  EXPECT_EQ(again.lo, s.lo);
  EXPECT_EQ(again.hi, s.hi);
}

TEST(EvalPersonalization, SelectivityIntervalIsClearOnlyWhenTheEffectIs) {
  std::vector<double> own(40, 1.0), rival(40, 0.0), noisy_own, noisy_rival;
  Interval clear = selectivity(own, {rival});
  EXPECT_DOUBLE_EQ(clear.estimate, 1.0);
  EXPECT_DOUBLE_EQ(clear.lo, 1.0);  // no variance: every resample gives 1
  EXPECT_TRUE(clear.clear());
  for (int i = 0; i < 40; ++i) noisy_own.push_back(i % 2), noisy_rival.push_back((i + 1) % 2);
  Interval null = selectivity(noisy_own, {noisy_rival});
  EXPECT_DOUBLE_EQ(null.estimate, 0.0);
  EXPECT_LT(null.lo, 0.0);
  EXPECT_GT(null.hi, 0.0);
  EXPECT_FALSE(null.clear());
  EXPECT_THROW(selectivity({}, {{}}), std::invalid_argument);
  EXPECT_THROW(selectivity({1, 0}, {}), std::invalid_argument);
  EXPECT_THROW(selectivity({1, 0}, {{1}}), std::invalid_argument);
  BootstrapOptions bad;
  bad.n_resamples = 10;
  EXPECT_THROW(selectivity({1, 0}, {{0, 1}}, bad), std::invalid_argument);
}

TEST(EvalPersonalization, PairedDifferenceUsesThePairing) {
  // b = a - 0.1 exactly: every resample of the pairs gives 0.1, an unpaired one would not.
  std::vector<double> a = {0.9, 0.2, 0.6, 0.4, 1.0, 0.1}, b;
  for (double x : a) b.push_back(x - 0.1);
  Interval d = paired_difference(a, b);
  EXPECT_NEAR(d.estimate, 0.1, 1e-12);
  EXPECT_NEAR(d.lo, 0.1, 1e-12);
  EXPECT_NEAR(d.hi, 0.1, 1e-12);
  EXPECT_THROW(paired_difference({1}, {1, 2}), std::invalid_argument);
}

TEST(EvalPersonalization, HeatmapHasACellPerEntryAndMarksTheDiagonal) {
  std::vector<std::string> rows = {"helpful", "humor", "be funny"}, cols = {"helpful", "humor"};
  std::vector<std::vector<Summary>> cells = {{summarize({1, 0.5}), summarize({0, 0})},
                                             {summarize({0.5, 0.5}), summarize({1, 1})},
                                             {Summary{}, summarize({0.2, 0.4})}};
  std::string svg = svg_heatmap(rows, cols, cells);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"cell"), 6u);
  EXPECT_EQ(count(svg, "class=\"cell diag\""), 2u);  // helpful×helpful, humor×humor
  EXPECT_NE(svg.find("0.75 ± "), std::string::npos);
  EXPECT_NE(svg.find(">n/a<"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#2166ac\""), std::string::npos);  // a mean of 1 is full blue
  EXPECT_THROW(svg_heatmap(rows, cols, {cells[0]}), std::exception);
  HeatmapOptions tiny;
  tiny.cell_width = 5;
  EXPECT_THROW(svg_heatmap(rows, cols, cells, tiny), std::invalid_argument);
}

}  // namespace
}  // namespace pad::eval
