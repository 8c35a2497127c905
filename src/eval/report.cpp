// Score tables: grouping by method and the Markdown rendering.
#include "pad/eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad::eval {
namespace {

template <typename T>
size_t index_of(std::vector<T>& v, const T& x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it != v.end()) return static_cast<size_t>(it - v.begin());
  v.push_back(x);
  return v.size() - 1;
}

std::string fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

std::string cell_text(const Summary& s, int decimals) {
  if (s.n == 0) return "n/a";
  std::string hw = std::isnan(s.half_width) ? "n/a" : fixed(s.half_width, decimals);
  return fixed(s.mean, decimals) + " ± " + hw;
}

}  // namespace

ScoreTable summarize_scores(const std::vector<ScoredRow>& rows, const std::vector<std::string>& attributes) {
  ScoreTable t;
  t.attributes = attributes;
  if (t.attributes.empty())
    for (const ScoredRow& r : rows)
      for (const auto& [name, value] : r.scores) index_of(t.attributes, name);
  std::vector<std::vector<std::vector<double>>> samples;  // [method][attribute][i]
  for (const ScoredRow& r : rows) {
    size_t m = index_of(t.methods, r.method);
    if (m == samples.size()) samples.emplace_back(t.attributes.size());
    for (size_t a = 0; a < t.attributes.size(); ++a) {
      auto it = r.scores.find(t.attributes[a]);
      if (it != r.scores.end()) samples[m][a].push_back(it->second);
    }
  }
  for (const auto& per_method : samples) {
    std::vector<Summary> row;
    for (const auto& xs : per_method) row.push_back(summarize(xs));
    t.cells.push_back(std::move(row));
  }
  return t;
}

void TableOptions::validate() const {
  if (decimals < 0 || decimals > 6) throw_invalid("table: decimals must lie in [0, 6], got ", decimals);
}

std::string markdown_table(const ScoreTable& t, const TableOptions& opt) {
  opt.validate();
  PAD_CHECK(t.cells.size() == t.methods.size(), "score table has ", t.cells.size(), " rows for ", t.methods.size(),
            " methods");
  std::vector<double> best(t.attributes.size(), -INFINITY);
  for (const auto& row : t.cells)
    for (size_t a = 0; a < row.size(); ++a)
      if (row[a].n > 0) best[a] = std::max(best[a], row[a].mean);
  std::string out = "| " + opt.method_header + " |";
  for (const std::string& a : t.attributes) out += " " + a + " |";
  out += "\n|---|";
  for (size_t a = 0; a < t.attributes.size(); ++a) out += "---:|";
  out += "\n";
  for (size_t m = 0; m < t.methods.size(); ++m) {
    out += "| " + t.methods[m] + " |";
    for (size_t a = 0; a < t.attributes.size(); ++a) {
      const Summary& s = t.cells[m][a];
      std::string text = cell_text(s, opt.decimals);
      bool bold = opt.bold_best && s.n > 0 && fixed(s.mean, opt.decimals) == fixed(best[a], opt.decimals);
      out += " " + (bold ? "**" + text + "**" : text) + " |";
    }
    out += "\n";
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

void write_report(const std::string& path, std::string_view contents) { write_file_atomic(path, contents); }

}  // namespace pad::eval
