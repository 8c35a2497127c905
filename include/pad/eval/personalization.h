// Statistics that show personalization (issue 12): the selectivity of PAD toward a principle on its
// own judge against PAD toward the other principles, with a seeded paired-bootstrap interval; the
// monotonicity of a weight sweep (Spearman's rho); and the selectivity matrix as an SVG heatmap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pad/eval/stats.h"

namespace pad::eval {

struct BootstrapOptions {
  int n_resamples = 2000;  // resamples of the prompts
  uint64_t seed = 1;       // the same seed gives the same interval
  void validate() const;   // throws std::invalid_argument
};

// A point estimate with a 95% percentile interval.
struct Interval {
  double estimate = 0.0;
  double lo = 0.0, hi = 0.0;  // 2.5% and 97.5% percentiles of the resampled estimates
  size_t n = 0;               // prompts
  bool clear() const { return lo > 0.0; }  // the whole interval lies above zero
};

// selectivity_p = mean_i own[i] - max_q mean_i others[q][i]: own[i] is judge p's score of PAD toward p
// on prompt i, others[q][i] judge p's score of PAD toward principle q != p on the same prompt.
// The interval is a paired bootstrap over prompts: each resample draws n prompt indices with
// replacement (one splitmix64 stream from `seed`) and recomputes the whole statistic, the max
// included, so the choice of the strongest rival is resampled too. Every vector has the same
// length n >= 1; `others` is non-empty.
Interval selectivity(const std::vector<double>& own, const std::vector<std::vector<double>>& others,
                     const BootstrapOptions& options = {});

// mean(a) - mean(b) over paired samples with the same paired-bootstrap interval.
Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                           const BootstrapOptions& options = {});

// Spearman's rank correlation (ties get their average rank; Pearson of the ranks). NaN when either
// side is constant. xs and ys have the same length >= 2.
double spearman(const std::vector<double>& xs, const std::vector<double>& ys);

// Average ranks, 1-based: {10, 20, 20, 30} -> {1, 2.5, 2.5, 4}.
std::vector<double> average_ranks(const std::vector<double>& xs);

struct HeatmapOptions {
  std::string title = "Selectivity: PAD toward p (rows) x judge q (columns), mean ± 95% CI";
  int cell_width = 96, cell_height = 40;  // pixels
  void validate() const;
};

// One <rect class="cell"> per cell shaded from white (0) to blue (1, clamped), the mean and half-width
// written in it; cells[r][c] with n = 0 are grey and read "n/a". Trained diagonal cells (row label ==
// column label) get a dark outline (class "diag").
std::string svg_heatmap(const std::vector<std::string>& rows, const std::vector<std::string>& columns,
                        const std::vector<std::vector<Summary>>& cells, const HeatmapOptions& options = {});

}  // namespace pad::eval
