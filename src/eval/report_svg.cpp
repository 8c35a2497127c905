// Hand-written SVG charts (no plotting library): grouped bars with CI whiskers, and a frontier of
// points traced by sweeping a weight between two principles.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pad/eval/report.h"
#include "pad/util/error.h"

namespace pad::eval {
namespace {

// Tableau 10: distinguishable, colour-blind friendly enough for six attributes.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

std::string score(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

// Smallest of 1, 2, 2.5, 5 times a power of ten that is >= v (v > 0).
double nice_ceil(double v) {
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

class Svg {
 public:
  Svg(double width, double height) {
    out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
           num(width) + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
           "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    out_ += "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"" + num(width) + "\" height=\"" + num(height) +
            "\" fill=\"white\"/>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& cls, const std::string& stroke) {
    out_ += "<line class=\"" + cls + "\" x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
            num(y2) + "\" stroke=\"" + stroke + "\"/>\n";
  }
  void text(double x, double y, std::string_view s, const std::string& anchor, const std::string& extra = "") {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" +
            xml_escape(s) + "</text>\n";
  }
  void raw(const std::string& s) { out_ += s; }
  std::string finish() { return out_ + "</svg>\n"; }

 private:
  std::string out_;
};

// Vertical whisker with caps at x from value lo to hi (already in pixels).
void whisker_v(Svg& svg, double x, double y_lo, double y_hi, double cap) {
  svg.line(x, y_lo, x, y_hi, "ci", "#333");
  svg.line(x - cap, y_lo, x + cap, y_lo, "ci", "#333");
  svg.line(x - cap, y_hi, x + cap, y_hi, "ci", "#333");
}

struct Range {
  double lo = 0.0, hi = 1.0;
};

// [0, 1] when every value fits, else the values' span with a 5% margin.
Range axis_range(const std::vector<double>& values) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo) || (lo >= 0.0 && hi <= 1.0)) return {};
  double pad = std::max(1e-9, (hi - lo) * 0.05);
  return {lo - pad, hi + pad};
}

}  // namespace

void BarChartOptions::validate() const {
  if (!(y_max >= 0.0) || !std::isfinite(y_max)) throw_invalid("bar chart: y_max must be >= 0, got ", y_max);
  if (height < 120) throw_invalid("bar chart: height must be >= 120 pixels, got ", height);
}

void FrontierOptions::validate() const {
  if (width < 160 || height < 160)
    throw_invalid("frontier chart: width and height must be >= 160 pixels, got ", width, "x", height);
}

std::string svg_bar_chart(const ScoreTable& t, const BarChartOptions& opt) {
  opt.validate();
  const double bar_w = 14, gap = 28, left = 60, right = 150, top = 44, bottom = 80;
  const double group_w = bar_w * static_cast<double>(t.attributes.size()) + gap;
  const double plot_w = std::max(240.0, group_w * static_cast<double>(t.methods.size()));
  const double width = left + plot_w + right, height = opt.height, plot_h = height - top - bottom;
  double y_max = opt.y_max;
  if (y_max <= 0) {
    double hi = 0.0;
    for (const auto& row : t.cells)
      for (const Summary& s : row)
        if (s.n > 0) hi = std::max(hi, s.mean + (std::isnan(s.half_width) ? 0.0 : s.half_width));
    y_max = hi <= 1.0 ? 1.0 : nice_ceil(hi);
  }
  auto y_of = [&](double v) { return top + plot_h * (1.0 - std::clamp(v, 0.0, y_max) / y_max); };

  Svg svg(width, height);
  svg.text(width / 2, 24, opt.title, "middle", " font-size=\"15\"");
  for (int k = 0; k <= 4; ++k) {
    double v = y_max * k / 4.0, y = y_of(v);
    svg.line(left, y, left + plot_w, y, "grid", "#ddd");
    svg.text(left - 6, y + 4, score(v), "end");
  }
  svg.line(left, top, left, top + plot_h, "axis", "#000");
  svg.line(left, top + plot_h, left + plot_w, top + plot_h, "axis", "#000");
  svg.text(16, top + plot_h / 2, opt.y_label, "middle",
           " transform=\"rotate(-90 16 " + num(top + plot_h / 2) + ")\"");
  for (size_t m = 0; m < t.methods.size(); ++m) {
    double x0 = left + group_w * static_cast<double>(m) + gap / 2;
    for (size_t a = 0; a < t.attributes.size(); ++a) {
      const Summary& s = t.cells[m][a];
      if (s.n == 0) continue;
      double x = x0 + bar_w * static_cast<double>(a), y = y_of(s.mean);
      svg.raw("<rect class=\"bar\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(bar_w - 2) +
              "\" height=\"" + num(y_of(0) - y) + "\" fill=\"" + kPalette[a % 10] + "\"><title>" +
              xml_escape(t.methods[m] + " / " + t.attributes[a] + ": " + score(s.mean)) + "</title></rect>\n");
      if (!std::isnan(s.half_width) && s.half_width > 0)
        whisker_v(svg, x + (bar_w - 2) / 2, y_of(s.mean - s.half_width), y_of(s.mean + s.half_width), 3);
    }
    double cx = x0 + bar_w * static_cast<double>(t.attributes.size()) / 2, ly = top + plot_h + 16;
    svg.text(cx, ly, t.methods[m], "end", " transform=\"rotate(-25 " + num(cx) + " " + num(ly) + ")\"");
  }
  for (size_t a = 0; a < t.attributes.size(); ++a) {
    double lx = left + plot_w + 20, ly = top + 18.0 * static_cast<double>(a);
    svg.raw("<rect class=\"legend\" x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" width=\"10\" height=\"10\" fill=\"" +
            kPalette[a % 10] + "\"/>\n");
    svg.text(lx + 16, ly + 9, t.attributes[a], "start");
  }
  return svg.finish();
}

std::string svg_frontier_chart(const std::vector<FrontierPoint>& points, const FrontierOptions& opt) {
  opt.validate();
  const double left = 64, right = 30, top = 44, bottom = 56;
  const double plot_w = opt.width - left - right, plot_h = opt.height - top - bottom;
  std::vector<double> xs, ys;
  for (const FrontierPoint& p : points) {
    double hx = std::isnan(p.x.half_width) ? 0.0 : p.x.half_width, hy = std::isnan(p.y.half_width) ? 0.0 : p.y.half_width;
    xs.insert(xs.end(), {p.x.mean - hx, p.x.mean + hx});
    ys.insert(ys.end(), {p.y.mean - hy, p.y.mean + hy});
  }
  Range rx = axis_range(xs), ry = axis_range(ys);
  auto px = [&](double v) { return left + plot_w * (v - rx.lo) / (rx.hi - rx.lo); };
  auto py = [&](double v) { return top + plot_h * (1.0 - (v - ry.lo) / (ry.hi - ry.lo)); };

  Svg svg(opt.width, opt.height);
  svg.text(opt.width / 2.0, 24, opt.title, "middle", " font-size=\"15\"");
  for (int k = 0; k <= 4; ++k) {
    double vx = rx.lo + (rx.hi - rx.lo) * k / 4.0, vy = ry.lo + (ry.hi - ry.lo) * k / 4.0;
    svg.line(px(vx), top, px(vx), top + plot_h, "grid", "#eee");
    svg.line(left, py(vy), left + plot_w, py(vy), "grid", "#eee");
    svg.text(px(vx), top + plot_h + 16, score(vx), "middle");
    svg.text(left - 6, py(vy) + 4, score(vy), "end");
  }
  svg.line(left, top, left, top + plot_h, "axis", "#000");
  svg.line(left, top + plot_h, left + plot_w, top + plot_h, "axis", "#000");
  svg.text(left + plot_w / 2, opt.height - 12.0, opt.x_label, "middle");
  svg.text(16, top + plot_h / 2, opt.y_label, "middle", " transform=\"rotate(-90 16 " + num(top + plot_h / 2) + ")\"");
  if (points.size() > 1) {
    std::string pts;
    for (const FrontierPoint& p : points) pts += (pts.empty() ? "" : " ") + num(px(p.x.mean)) + "," + num(py(p.y.mean));
    svg.raw("<polyline class=\"frontier\" points=\"" + pts + "\" fill=\"none\" stroke=\"" + kPalette[0] +
            "\" stroke-width=\"2\"/>\n");
  }
  for (const FrontierPoint& p : points) {
    double x = px(p.x.mean), y = py(p.y.mean);
    if (std::isfinite(p.x.half_width) && p.x.half_width > 0)
      svg.line(px(p.x.mean - p.x.half_width), y, px(p.x.mean + p.x.half_width), y, "ci", "#888");
    if (std::isfinite(p.y.half_width) && p.y.half_width > 0)
      svg.line(x, py(p.y.mean - p.y.half_width), x, py(p.y.mean + p.y.half_width), "ci", "#888");
    svg.raw("<circle class=\"point\" cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"4\" fill=\"" + kPalette[1] +
            "\"><title>" + xml_escape(p.label + ": " + score(p.x.mean) + ", " + score(p.y.mean)) + "</title></circle>\n");
    svg.text(x + 7, y - 7, p.label, "start", " font-size=\"11\"");
  }
  return svg.finish();
}

}  // namespace pad::eval
