// Selectivity with a paired bootstrap, Spearman's rho, and the selectivity heatmap.
#include "pad/eval/personalization.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "pad/eval/report.h"
#include "pad/util/error.h"

namespace pad::eval {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double mean_at(const std::vector<double>& xs, const std::vector<size_t>& idx) {
  double s = 0.0;
  for (size_t i : idx) s += xs[i];
  return s / static_cast<double>(idx.size());
}

// The percentile at q in [0, 1] of sorted values, linear between order statistics.
double percentile(const std::vector<double>& sorted, double q) {
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// The statistic on the full sample and its 95% percentile bootstrap interval over resampled indices.
template <typename Stat>
Interval bootstrap(size_t n, const Stat& stat, const BootstrapOptions& opt) {
  opt.validate();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  Interval out;
  out.n = n;
  out.estimate = stat(idx);
  std::vector<double> draws;
  draws.reserve(static_cast<size_t>(opt.n_resamples));
  uint64_t state = opt.seed;
  for (int b = 0; b < opt.n_resamples; ++b) {
    for (size_t& i : idx) i = static_cast<size_t>(splitmix64(state) % n);
    draws.push_back(stat(idx));
  }
  std::sort(draws.begin(), draws.end());
  out.lo = percentile(draws, 0.025);
  out.hi = percentile(draws, 0.975);
  return out;
}

std::string fmt(const char* f, double x) {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

}  // namespace

void BootstrapOptions::validate() const {
  if (n_resamples < 100) throw_invalid("bootstrap: n_resamples must be >= 100, got ", n_resamples);
}

Interval selectivity(const std::vector<double>& own, const std::vector<std::vector<double>>& others,
                     const BootstrapOptions& opt) {
  if (own.empty()) throw_invalid("selectivity: no prompts");
  if (others.empty()) throw_invalid("selectivity: no other principle to compare with");
  for (const auto& o : others)
    if (o.size() != own.size())
      throw_invalid("selectivity: ", o.size(), " scores for a rival principle, expected ", own.size(), " (paired)");
  return bootstrap(
      own.size(),
      [&](const std::vector<size_t>& idx) {
        double best = -std::numeric_limits<double>::infinity();
        for (const auto& o : others) best = std::max(best, mean_at(o, idx));
        return mean_at(own, idx) - best;
      },
      opt);
}

Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b, const BootstrapOptions& opt) {
  if (a.empty() || a.size() != b.size())
    throw_invalid("paired difference: ", a.size(), " and ", b.size(), " samples (expected the same number, >= 1)");
  return bootstrap(a.size(), [&](const std::vector<size_t>& idx) { return mean_at(a, idx) - mean_at(b, idx); }, opt);
}

std::vector<double> average_ranks(const std::vector<double>& xs) {
  std::vector<size_t> order(xs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return xs[a] < xs[b]; });
  std::vector<double> ranks(xs.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && xs[order[j + 1]] == xs[order[i]]) ++j;
    double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;  // average of ranks i+1..j+1
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

double spearman(const std::vector<double>& xs, const std::vector<double>& ys) {
  if (xs.size() != ys.size() || xs.size() < 2)
    throw_invalid("spearman: ", xs.size(), " and ", ys.size(), " values (expected the same number, >= 2)");
  std::vector<double> rx = average_ranks(xs), ry = average_ranks(ys);
  double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / rx.size();
  double my = std::accumulate(ry.begin(), ry.end(), 0.0) / ry.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

void HeatmapOptions::validate() const {
  if (cell_width < 40 || cell_height < 20)
    throw_invalid("heatmap: cells must be at least 40x20 pixels, got ", cell_width, "x", cell_height);
}

std::string svg_heatmap(const std::vector<std::string>& rows, const std::vector<std::string>& columns,
                        const std::vector<std::vector<Summary>>& cells, const HeatmapOptions& opt) {
  opt.validate();
  PAD_CHECK(cells.size() == rows.size(), "heatmap: ", cells.size(), " rows of cells for ", rows.size(), " labels");
  size_t label_chars = 8;
  for (const auto& r : rows) label_chars = std::max(label_chars, r.size());
  const double left = 16 + 7.0 * static_cast<double>(label_chars), top = 64;
  const double w = left + opt.cell_width * static_cast<double>(columns.size()) + 16;
  const double h = top + opt.cell_height * static_cast<double>(rows.size()) + 16;
  auto f1 = [](double x) { return fmt("%.1f", x); };
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    f1(w) + "\" height=\"" + f1(h) + "\" viewBox=\"0 0 " + f1(w) + " " + f1(h) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect x=\"0\" y=\"0\" width=\"" + f1(w) +
                    "\" height=\"" + f1(h) + "\" fill=\"white\"/>\n";
  auto text = [&](double x, double y, const std::string& s, const char* anchor, const std::string& fill = "#000") {
    out += "<text x=\"" + f1(x) + "\" y=\"" + f1(y) + "\" text-anchor=\"" + anchor + "\" fill=\"" + fill + "\">" +
           xml_escape(s) + "</text>\n";
  };
  text(w / 2, 20, opt.title, "middle");
  for (size_t c = 0; c < columns.size(); ++c)
    text(left + opt.cell_width * (c + 0.5), top - 10, "judge: " + columns[c], "middle");
  for (size_t r = 0; r < rows.size(); ++r) {
    PAD_CHECK(cells[r].size() == columns.size(), "heatmap: row ", r, " has ", cells[r].size(), " cells for ",
              columns.size(), " columns");
    const double y = top + opt.cell_height * static_cast<double>(r);
    text(left - 8, y + opt.cell_height / 2 + 4, rows[r], "end");
    for (size_t c = 0; c < columns.size(); ++c) {
      const Summary& s = cells[r][c];
      const double x = left + opt.cell_width * static_cast<double>(c);
      const double v = s.n == 0 ? 0.0 : std::clamp(s.mean, 0.0, 1.0);
      // White (255,255,255) to #2166ac (33,102,172) in proportion to the mean.
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", int(255 - v * 222), int(255 - v * 153), int(255 - v * 83));
      const bool diag = rows[r] == columns[c];
      out += "<rect class=\"cell" + std::string(diag ? " diag" : "") + "\" x=\"" + f1(x) + "\" y=\"" + f1(y) +
             "\" width=\"" + f1(opt.cell_width) + "\" height=\"" + f1(opt.cell_height) + "\" fill=\"" +
             (s.n == 0 ? std::string("#cccccc") : std::string(fill)) + "\" stroke=\"" + (diag ? "#000" : "#fff") +
             "\" stroke-width=\"" + (diag ? "2" : "1") + "\"/>\n";
      std::string label = s.n == 0 ? "n/a"
                                   : fmt("%.2f", s.mean) + " ± " + (std::isnan(s.half_width) ? "n/a" : fmt("%.2f", s.half_width));
      text(x + opt.cell_width / 2.0, y + opt.cell_height / 2.0 + 4, label, "middle", v > 0.6 ? "#fff" : "#000");
    }
  }
  return out + "</svg>\n";
}

}  // namespace pad::eval
