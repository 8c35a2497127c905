// `pad eval --eval FILE` prompt files: the first byte's low two bits are the --limit (0 = all), the
// rest is the file → read_eval_items. A parsed file must give one item per non-blank line up to the
// limit, each with the line's own prompt, id (or "eval-LINE"), subject and harmful; an error must be
// std::invalid_argument starting with "FILE:".
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "eval_files.h"
#include "fuzz_common.h"
#include "fuzz_eval_lines.h"

namespace {

void check(const pad::cli::EvalItem& it, int line_no, const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line);  // the reader accepted it, so it parses
  if (it.prompt != j.at("prompt").get<std::string>()) std::abort();
  const bool has_id = j.contains("id") && j["id"].is_string();
  if (it.id != (has_id ? j["id"].get<std::string>() : "eval-" + std::to_string(line_no))) std::abort();
  const bool has_subject = j.contains("subject") && j["subject"].is_string();
  if (it.subject != (has_subject ? j["subject"].get<std::string>() : "")) std::abort();
  if (it.harmful.has_value() != j.contains("harmful")) std::abort();
  if (it.harmful && *it.harmful != j["harmful"].get<bool>()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int limit = data[0] & 3;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string path = pad_fuzz::put_file("eval.jsonl", text);
  try {
    const std::vector<pad::cli::EvalItem> items = pad::cli::read_eval_items(path, limit);
    const auto lines = pad_fuzz::nonblank_lines(text);
    if (items.empty() || items.size() != pad_fuzz::expected_count(lines.size(), limit)) std::abort();
    for (size_t i = 0; i < items.size(); ++i) check(items[i], lines[i].first, lines[i].second);
  } catch (const std::invalid_argument& e) {
    if (!pad_fuzz::names_file(e.what(), path)) std::abort();
  } catch (...) {
    std::abort();  // the file exists, so anything else is a bug (and would exit 1, not 2)
  }
  return 0;
}
