// `pad eval-pairs --data FILE` preference pairs: the first byte's low two bits are the --limit (0 =
// all), the rest is the file → read_pairs. A parsed file must give one pair per non-blank line up to
// the limit, each with the line's prompt, chosen, rejected and principle ("preference" when the line
// has one, else "principle"); an error must be std::invalid_argument starting with "FILE:".
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "eval_files.h"
#include "fuzz_common.h"
#include "fuzz_eval_lines.h"

namespace {

void check(const pad::cli::EvalPair& p, const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line);  // the reader accepted it, so it parses
  const char* pref_key = j.contains("preference") ? "preference" : "principle";
  if (p.prompt != j.at("prompt").get<std::string>() || p.principle != j.at(pref_key).get<std::string>() ||
      p.chosen != j.at("chosen").get<std::string>() || p.rejected != j.at("rejected").get<std::string>())
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int limit = data[0] & 3;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string path = pad_fuzz::put_file("pairs.jsonl", text);
  try {
    const std::vector<pad::cli::EvalPair> pairs = pad::cli::read_pairs(path, limit);
    const auto lines = pad_fuzz::nonblank_lines(text);
    if (pairs.empty() || pairs.size() != pad_fuzz::expected_count(lines.size(), limit)) std::abort();
    for (size_t i = 0; i < pairs.size(); ++i) check(pairs[i], lines[i].second);
  } catch (const std::invalid_argument& e) {
    if (!pad_fuzz::names_file(e.what(), path)) std::abort();
  } catch (...) {
    std::abort();  // the file exists, so anything else is a bug (and would exit 1, not 2)
  }
  return 0;
}
