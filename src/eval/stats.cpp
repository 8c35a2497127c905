// Mean and Student-t confidence intervals.
#include "pad/eval/stats.h"

#include <array>
#include <cmath>
#include <limits>

#include "pad/util/error.h"

namespace pad::eval {
namespace {

// t_{0.975, df} for df = 1..30.
constexpr std::array<double, 30> kT975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                          2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                          2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
struct Knot {
  double df, t;
};
constexpr std::array<Knot, 5> kTail = {{{30, 2.042}, {40, 2.021}, {60, 2.000}, {120, 1.980}, {0, 1.959964}}};

}  // namespace

double t_quantile_975(size_t df) {
  if (df == 0) throw_invalid("t quantile: degrees of freedom must be >= 1");
  if (df <= kT975.size()) return kT975[df - 1];
  double inv = 1.0 / static_cast<double>(df);
  for (size_t i = 0; i + 1 < kTail.size(); ++i) {
    double inv_a = 1.0 / kTail[i].df;
    double inv_b = kTail[i + 1].df > 0 ? 1.0 / kTail[i + 1].df : 0.0;
    if (inv <= inv_a && inv >= inv_b) {
      double frac = (inv_a - inv) / (inv_a - inv_b);
      return kTail[i].t + frac * (kTail[i + 1].t - kTail[i].t);
    }
  }
  return kTail.back().t;
}

Summary summarize(const std::vector<double>& xs) {
  Summary s;
  s.n = xs.size();
  if (s.n == 0) {
    s.mean = std::numeric_limits<double>::quiet_NaN();
    s.half_width = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0.0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n < 2) {
    s.half_width = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double ss = 0.0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(ss / static_cast<double>(s.n - 1));
  s.half_width = t_quantile_975(s.n - 1) * s.stddev / std::sqrt(static_cast<double>(s.n));
  return s;
}

}  // namespace pad::eval
