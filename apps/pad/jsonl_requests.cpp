// `pad generate`'s request defaults and its JSONL request files (jsonl_requests.h).
#include "jsonl_requests.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {

Preference preference_from(const std::vector<std::string>& joined, const std::string& weights) {
  if (!joined.empty() && !weights.empty()) throw_invalid("give --preference or --preference-weights, not both");
  return weights.empty() ? Preference::joined_from(joined) : Preference::parse_weights(weights);
}

PadRequest base_request(const RequestDefaults& d) {
  PadRequest r = d.request;
  r.pad.rule = d.rule == "full" ? PadRule::kFull : PadRule::kTopK;
  if (d.rule != "full" && d.rule != "topk") throw_invalid("--rule '", d.rule, "' is not known (expected topk or full)");
  return r;
}

PromptSpec prompt_spec(const RequestDefaults& d, const std::string& user, Preference pref) {
  PromptSpec s = d.prompt;
  s.user = user;
  s.preference = std::move(pref);
  return s;
}

namespace {

// The line's preference as (joined principles, weights spec), starting from the defaults'.
std::pair<std::vector<std::string>, std::string> line_preference(const RequestDefaults& d, const nlohmann::json& j) {
  std::vector<std::string> joined = d.preferences;
  std::string weights = d.preference_weights;
  if (j.contains("preference")) {
    joined = j["preference"].is_array() ? j["preference"].get<std::vector<std::string>>()
                                        : std::vector<std::string>{j["preference"].get<std::string>()};
    weights.clear();
  }
  if (j.contains("preference_weights")) {
    const auto& pw = j["preference_weights"];
    if (pw.is_object()) {
      std::vector<std::string> parts;
      for (auto& [k, v] : pw.items()) parts.push_back(k + "=" + std::to_string(v.get<double>()));
      weights = join(parts, ",");
    } else {
      weights = pw.get<std::string>();
    }
    joined.clear();
  }
  return {joined, weights};
}

// Field `name` of line `j` as a number in [lo, hi] (whole: an integer), else `fallback`. Checked by
// hand: nlohmann's value<int>() casts a float such as 1e300 to int, which is undefined behaviour
// (found by reading, confirmed with UBSan; test_fuzz_regressions).
double line_number(const nlohmann::json& j, const char* name, double fallback, double lo, double hi, bool whole) {
  if (!j.contains(name)) return fallback;
  const nlohmann::json& v = j[name];
  const double x = v.is_number() ? v.get<double>() : std::nan("");
  if (!(x >= lo && x <= hi) || (whole && std::floor(x) != x))
    throw std::invalid_argument(std::string("'") + name + "' must be " + (whole ? "an integer" : "a number") +
                                " from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not " + v.dump());
  return x;
}

RequestSpec line_request(const RequestDefaults& d, const nlohmann::json& j) {
  auto [joined, weights] = line_preference(d, j);
  RequestSpec r;
  r.text = j["prompt"].get<std::string>();
  r.prompt = prompt_spec(d, r.text, preference_from(joined, weights));
  r.request = base_request(d);
  r.request.pad.w = line_number(j, "w", d.request.pad.w, -1e6, 1e6, false);
  r.request.pad.k = static_cast<int>(line_number(j, "k", d.request.pad.k, 1, 1e6, true));
  r.request.sampling.temperature =
      static_cast<float>(line_number(j, "temperature", d.request.sampling.temperature, 0, 100, false));
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned()) throw std::invalid_argument("'seed' must be a non-negative integer, not " + j["seed"].dump());
    r.request.sampling.seed = j["seed"].get<uint64_t>();
  }
  r.request.n_predict = static_cast<int>(line_number(j, "n_predict", d.request.n_predict, 1, 1 << 24, true));
  return r;
}

}  // namespace

std::vector<RequestSpec> read_jsonl_requests(const RequestDefaults& d, const std::string& path) {
  std::vector<RequestSpec> out;
  std::istringstream in(read_file(path));
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw_invalid(path, ":", line_no, ": not a JSON object");
    if (!j.contains("prompt") || !j["prompt"].is_string()) throw_invalid(path, ":", line_no, ": missing string field 'prompt'");
    try {
      out.push_back(line_request(d, j));
    } catch (const nlohmann::json::exception& e) {
      throw_invalid(path, ":", line_no, ": ", e.what());
    } catch (const std::invalid_argument& e) {
      throw_invalid(path, ":", line_no, ": ", e.what());
    }
  }
  if (out.empty()) throw_invalid(path, ": no requests");
  return out;
}

}  // namespace pad::cli
