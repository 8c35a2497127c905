// `pad eval`'s prompts and `pad eval-pairs`' pairs files (eval_files.h).
#include "eval_files.h"

#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {

namespace {

// Calls `record(j, where, line_no)` with each non-blank line's JSON object (`where` is "FILE:LINE"),
// for the first `limit` such lines (≤ 0: all).
template <typename Record>
void for_each_object_line(const std::string& path, int limit, Record record) {
  std::istringstream in(read_file(path));
  int line_no = 0, n = 0;
  for (std::string line; (limit <= 0 || n < limit) && std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = str_cat(path, ":", line_no);
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw_invalid(where, ": not a JSON object");
    record(j, where, line_no);
    ++n;
  }
}

}  // namespace

std::vector<EvalItem> read_eval_items(const std::string& path, int limit) {
  std::vector<EvalItem> items;
  for_each_object_line(path, limit, [&](const nlohmann::json& j, const std::string& where, int line_no) {
    if (!j.contains("prompt") || !j["prompt"].is_string()) throw_invalid(where, ": missing string field \"prompt\"");
    EvalItem it;
    it.prompt = j["prompt"].get<std::string>();
    it.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : str_cat("eval-", line_no);
    if (j.contains("subject") && j["subject"].is_string()) it.subject = j["subject"].get<std::string>();
    if (j.contains("harmful")) {
      if (!j["harmful"].is_boolean()) throw_invalid(where, ": field \"harmful\" must be true or false");
      it.harmful = j["harmful"].get<bool>();
    }
    items.push_back(std::move(it));
  });
  if (items.empty()) throw_invalid(path, ": no evaluation prompts");
  return items;
}

std::vector<EvalPair> read_pairs(const std::string& path, int limit) {
  std::vector<EvalPair> out;
  for_each_object_line(path, limit, [&](const nlohmann::json& j, const std::string& where, int) {
    EvalPair p;
    // PrefWorld's prefs.jsonl names the principle "preference"; "principle" is accepted too.
    const char* pref_key = j.contains("preference") || !j.contains("principle") ? "preference" : "principle";
    for (auto [key, dst] : {std::pair{"prompt", &p.prompt}, {pref_key, &p.principle}, {"chosen", &p.chosen},
                            {"rejected", &p.rejected}}) {
      if (!j.contains(key) || !j[key].is_string()) throw_invalid(where, ": missing string field \"", key, "\"");
      *dst = j[key].get<std::string>();
    }
    out.push_back(std::move(p));
  });
  if (out.empty()) throw_invalid(path, ": no preference pairs");
  return out;
}

}  // namespace pad::cli
