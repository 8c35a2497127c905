// Shared by fuzz_eval_items and fuzz_eval_pairs: the non-blank lines of a JSONL file as the readers
// see them (std::getline, blank = only spaces, tabs and CRs), with their 1-based line numbers, so a
// target can check that the i-th record came from the i-th non-blank line.
#pragma once

#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pad_fuzz {

inline std::vector<std::pair<int, std::string>> nonblank_lines(const std::string& text) {
  std::vector<std::pair<int, std::string>> out;
  std::istringstream in(text);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.emplace_back(line_no, line);
  }
  return out;
}

// What a reader given `limit` (≤ 0: all) must return when it succeeds: one record per non-blank line
// up to the limit.
inline size_t expected_count(size_t n_lines, int limit) {
  return limit > 0 && static_cast<size_t>(limit) < n_lines ? static_cast<size_t>(limit) : n_lines;
}

// An error of a reader of `path`: std::invalid_argument naming "PATH:LINE: " or PATH (no record).
inline bool names_file(const std::string& what, const std::string& path) {
  return what.rfind(path + ":", 0) == 0;
}

}  // namespace pad_fuzz
