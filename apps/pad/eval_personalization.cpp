// Selectivity matrix, selectivity per principle, sweep monotonicity, phrasings and unseen attributes.
#include "eval_personalization.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pad/util/error.h"

namespace pad::cli {
namespace {

using OJson = nlohmann::ordered_json;

const GroupScores* find_group(const PersonalizationInput& in, const std::string& method, const std::string& pref) {
  for (const GroupScores& g : in.groups)
    if (g.method == method && g.preference == pref) return &g;
  return nullptr;
}

// Judge `attr`'s scores of `g`, ordered by prompt index so that two groups pair up.
std::vector<double> by_item(const GroupScores& g, const std::string& attr) {
  auto it = g.scores.find(attr);
  PAD_CHECK(it != g.scores.end(), "no scores for attribute ", attr);
  std::vector<size_t> order(g.items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return g.items[a] < g.items[b]; });
  std::vector<double> out;
  for (size_t i : order) out.push_back(it->second[i]);
  return out;
}

std::string f2(double x) {
  if (std::isnan(x)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.2f", x);
  return buf;
}

std::string interval_text(const eval::Interval& v) {
  return f2(v.estimate) + " [" + f2(v.lo) + ", " + f2(v.hi) + "]";
}

OJson interval_json(const eval::Interval& v) {
  return {{"estimate", v.estimate}, {"lo", v.lo}, {"hi", v.hi}, {"n", v.n}, {"clear", v.clear()}};
}

OJson summary_json(const eval::Summary& s) {
  return {{"n", s.n}, {"mean", s.mean}, {"half_width", s.half_width}};
}

// Rows of the matrix: base, then PAD toward each trained principle, phrasing and unseen attribute.
void selectivity_matrix(const PersonalizationInput& in, PersonalizationReport& r) {
  std::vector<std::string> labels;
  std::vector<std::vector<eval::Summary>> cells;
  std::vector<std::pair<std::string, const GroupScores*>> rows;
  if (const GroupScores* b = find_group(in, "base", "none")) rows.emplace_back("base", b);
  auto add_pad = [&](const std::string& p) {
    if (const GroupScores* g = find_group(in, "pad", p)) rows.emplace_back(p, g);
  };
  for (const auto& p : in.trained) add_pad(p);
  for (const auto& [p, attr] : in.phrasings) add_pad(p);
  for (const auto& u : in.unseen) add_pad(u);
  std::string md = "\n### Selectivity matrix: PAD toward p (rows) × judge q (columns), mean ± 95% CI\n\n| PAD toward |";
  for (const auto& a : in.attributes) md += " " + a + " |";
  md += "\n|---|" + std::string() ;
  for (size_t a = 0; a < in.attributes.size(); ++a) md += "---:|";
  md += "\n";
  OJson jm = OJson::object();
  for (const auto& [label, g] : rows) {
    labels.push_back(label);
    std::vector<eval::Summary> row;
    // Row names differ from the main table's ("base", "pad (humor)") so each row there stays unique.
    md += "| " + (label == "base" ? std::string("base (no steering)") : "PAD → " + label) + " |";
    for (const auto& a : in.attributes) {
      row.push_back(eval::summarize(by_item(*g, a)));
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.2f ± %.2f |", row.back().mean, row.back().half_width);
      md += buf;
      jm[label][a] = summary_json(row.back());
    }
    md += "\n";
    cells.push_back(std::move(row));
  }
  r.markdown += md;
  r.json["matrix"] = jm;
  r.heatmap_svg = eval::svg_heatmap(labels, in.attributes, cells);
}

void per_principle(const PersonalizationInput& in, PersonalizationReport& r) {
  std::string md =
      "\n### Selectivity per trained principle p: score_p(PAD p) − max over q ≠ p of score_p(PAD q)\n\n"
      "95% CIs: paired percentile bootstrap over prompts (" +
      std::to_string(in.bootstrap.n_resamples) + " resamples, seed " + std::to_string(in.bootstrap.seed) +
      "; the max is recomputed in every resample).\n\n| p | selectivity | PAD p − base | PAD p − prompt p | clear |\n|---|---:|---:|---:|---|\n";
  OJson js = OJson::object();
  const GroupScores* base = find_group(in, "base", "none");
  for (const auto& p : in.trained) {
    const GroupScores* own = find_group(in, "pad", p);
    if (!own) continue;
    std::vector<std::vector<double>> others;
    for (const auto& q : in.trained)
      if (q != p)
        if (const GroupScores* g = find_group(in, "pad", q)) others.push_back(by_item(*g, p));
    OJson jp = OJson::object();
    const std::vector<double> mine = by_item(*own, p);
    std::string sel = "n/a", vb = "n/a", vp = "n/a", clear = "n/a";
    if (!others.empty()) {
      eval::Interval s = eval::selectivity(mine, others, in.bootstrap);
      sel = interval_text(s), clear = s.clear() ? "yes" : "no";
      jp["selectivity"] = interval_json(s);
    }
    if (base && base->items.size() == own->items.size()) {
      eval::Interval d = eval::paired_difference(mine, by_item(*base, p), in.bootstrap);
      vb = interval_text(d), jp["gain_over_base"] = interval_json(d);
    }
    if (const GroupScores* pr = find_group(in, "prompt", p); pr && pr->items.size() == own->items.size()) {
      eval::Interval d = eval::paired_difference(mine, by_item(*pr, p), in.bootstrap);
      vp = interval_text(d), jp["gain_over_prompt"] = interval_json(d);
    }
    js[p] = jp;
    md += "| " + p + " | " + sel + " | " + vb + " | " + vp + " | " + clear + " |\n";
  }
  r.markdown += md;
  r.json["selectivity"] = js;
}

void sweep_monotonicity(const PersonalizationInput& in, PersonalizationReport& r) {
  if (in.sweep_x.empty()) return;
  std::vector<double> s, mx, my;
  for (const GroupScores& g : in.groups)
    if (g.method == "pad-sweep") {
      s.push_back(g.sweep_s);
      mx.push_back(eval::summarize(by_item(g, in.sweep_x)).mean);
      my.push_back(eval::summarize(by_item(g, in.sweep_y)).mean);
    }
  if (s.size() < 2) return;
  auto span = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()); };
  const double rx = eval::spearman(s, mx), ry = eval::spearman(s, my);
  r.json["frontier_monotonicity"] = {{"x", in.sweep_x}, {"y", in.sweep_y}, {"spearman_x", rx}, {"spearman_y", ry},
                                     {"span_x", span(mx)}, {"span_y", span(my)}, {"n_points", s.size()}};
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "\n### Sweep monotonicity (w(%s) = s, w(%s) = 1 − s; %zu points)\n\n"
                "Spearman(s, %s judge) = %.2f, span %.2f; Spearman(s, %s judge) = %.2f, span %.2f\n",
                in.sweep_x.c_str(), in.sweep_y.c_str(), s.size(), in.sweep_x.c_str(), rx, span(mx), in.sweep_y.c_str(),
                ry, span(my));
  r.markdown += buf;
}

// Gain over base on `attr` of PAD toward `pref`, as an interval; nullopt-like n = 0 when missing.
eval::Interval gain(const PersonalizationInput& in, const std::string& pref, const std::string& attr) {
  const GroupScores* g = find_group(in, "pad", pref);
  const GroupScores* b = find_group(in, "base", "none");
  if (!g || !b || g->items.size() != b->items.size()) return eval::Interval{NAN, NAN, NAN, 0};
  return eval::paired_difference(by_item(*g, attr), by_item(*b, attr), in.bootstrap);
}

void phrasings_and_unseen(const PersonalizationInput& in, PersonalizationReport& r) {
  if (in.phrasings.empty() && in.unseen.empty()) return;
  std::string md = "\n### Held-out phrasings and unseen attributes: PAD − base on the judge, 95% CI\n\n"
                   "| PAD toward | judge | gain over base | share of the trained phrasing's gain |\n|---|---|---:|---:|\n";
  OJson jp = OJson::object(), ju = OJson::object();
  for (const auto& [phrase, attr] : in.phrasings) {
    eval::Interval g = gain(in, phrase, attr), t = gain(in, attr, attr);
    const double share = t.n && t.estimate > 0 ? g.estimate / t.estimate : NAN;
    jp[phrase] = {{"judge", attr}, {"gain_over_base", interval_json(g)}, {"trained_gain", interval_json(t)},
                  {"share_of_trained_gain", share}};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", share * 100);
    md += "| " + phrase + " | " + attr + " | " + interval_text(g) + " | " + (std::isnan(share) ? "n/a" : buf) + " |\n";
  }
  for (const auto& u : in.unseen) {
    eval::Interval g = gain(in, u, u);
    ju[u]["alone"] = interval_json(g);
    md += "| " + u + " (unseen) | " + u + " | " + interval_text(g) + " | |\n";
    for (const auto& p : in.trained) {
      const std::string joined = p + " and " + u;
      if (!find_group(in, "pad", joined)) continue;
      eval::Interval gu = gain(in, joined, u), gp = gain(in, joined, p);
      ju[u][joined] = {{u, interval_json(gu)}, {p, interval_json(gp)}};
      md += "| " + joined + " | " + u + " | " + interval_text(gu) + " | |\n";
      md += "| " + joined + " | " + p + " | " + interval_text(gp) + " | |\n";
    }
  }
  r.markdown += md;
  if (!in.phrasings.empty()) r.json["phrasings"] = jp;
  if (!in.unseen.empty()) r.json["unseen"] = ju;
}

}  // namespace

PersonalizationReport personalization_report(const PersonalizationInput& in) {
  in.bootstrap.validate();
  PersonalizationReport r;
  r.json = OJson::object();
  r.json["bootstrap"] = {{"method", "paired percentile bootstrap over prompts"},
                         {"n_resamples", in.bootstrap.n_resamples}, {"seed", in.bootstrap.seed}};
  selectivity_matrix(in, r);
  per_principle(in, r);
  sweep_monotonicity(in, r);
  phrasings_and_unseen(in, r);
  return r;
}

}  // namespace pad::cli
