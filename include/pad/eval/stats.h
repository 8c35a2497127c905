// Summary statistics for judge scores: mean and a 95% confidence interval for the mean.
#pragma once

#include <cstddef>
#include <vector>

namespace pad::eval {

struct Summary {
  size_t n = 0;
  double mean = 0.0;
  double stddev = 0.0;      // sample standard deviation (n - 1 denominator); 0 when n < 2
  double half_width = 0.0;  // 95% CI is mean ± half_width; NaN when n < 2 (no interval exists)
};

// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom: exact table values for
// df 1..30, 40, 60, 120; linear in 1/df between them; 1.959964 (normal) beyond. df >= 1.
double t_quantile_975(size_t df);

// Mean with a Student-t 95% interval: half_width = t_{0.975, n-1} * s / sqrt(n). The t interval
// (not the normal one) because per-method samples in small evaluations can be a few dozen.
Summary summarize(const std::vector<double>& xs);

}  // namespace pad::eval
