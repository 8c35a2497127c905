// `pad generate --file prompts.jsonl` request files: the first byte picks the flags' defaults (a
// --preference, --preference-weights, --rule full or an unknown rule), the rest is the file →
// read_jsonl_requests. A parsed file must give requests within the ranges the parser promises; an
// error must be std::invalid_argument naming the file (FILE:LINE or FILE), or a std::runtime_error.
#include <cmath>
#include <cstdlib>
#include <exception>
#include <stdexcept>

#include "fuzz_common.h"
#include "jsonl_requests.h"

namespace {

pad::cli::RequestDefaults defaults_for(uint8_t mode) {
  pad::cli::RequestDefaults d;
  if (mode & 1) d.preferences = {"helpful", "concise"};
  if (mode & 2) d.preference_weights = "helpful=1,humor=0.5";
  d.rule = (mode & 4) ? "full" : (mode & 24) == 24 ? "sideways" : "topk";
  d.request.stop_strings = {"\n\n"};
  return d;
}

void check(const pad::cli::RequestSpec& r, const pad::cli::RequestDefaults& d) {
  const pad::PadRequest& q = r.request;
  if (r.prompt.user != r.text || !r.ids.empty()) std::abort();
  if (q.pad.k < 1 || q.pad.k > 1000000 || q.n_predict < 1 || q.n_predict > (1 << 24)) std::abort();
  if (!std::isfinite(q.pad.w) || q.pad.w < -1e6 || q.pad.w > 1e6) std::abort();
  if (!std::isfinite(q.sampling.temperature) || q.sampling.temperature < 0 || q.sampling.temperature > 100) std::abort();
  if (q.pad.rule != (d.rule == "full" ? pad::PadRule::kFull : pad::PadRule::kTopK)) std::abort();
  if (q.n_best != d.request.n_best || q.stop_strings != d.request.stop_strings) std::abort();
  if (r.prompt.guideline_template != d.prompt.guideline_template) std::abort();
  const pad::Preference& p = r.prompt.preference;
  if (p.weighted && p.principles.empty()) std::abort();
  for (const pad::Principle& pr : p.principles)
    if (pr.text.empty() || !std::isfinite(pr.weight)) std::abort();
  (void)p.joined();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const pad::cli::RequestDefaults d = defaults_for(data[0]);
  const std::string path = pad_fuzz::put_file("requests.jsonl", data + 1, size - 1);
  try {
    const std::vector<pad::cli::RequestSpec> out = pad::cli::read_jsonl_requests(d, path);
    if (out.empty()) std::abort();
    for (const pad::cli::RequestSpec& r : out) check(r, d);
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).rfind(path, 0) != 0) std::abort();
  } catch (const std::runtime_error&) {
  } catch (...) {
    std::abort();  // another exception would escape the CLI's exit-2 mapping and its FILE:LINE
  }
  return 0;
}
