// `pad generate`'s requests before tokenization: the defaults its flags give every request, and
// `--file prompts.jsonl` (one request per line, some fields overriding the defaults). Its own file,
// free of the CLI, so fuzz/fuzz_jsonl_requests.cpp can build the JSONL parser alone.
#pragma once

#include <string>
#include <vector>

#include "pad/decode/engine.h"
#include "pad/decode/preference.h"
#include "pad/decode/prompts.h"

namespace pad::cli {

// What `pad generate`'s flags give every request.
struct RequestDefaults {
  PromptSpec prompt;                     // system, guideline template, chat mode and template; user, preference unset
  std::vector<std::string> preferences;  // --preference: principles joined with " and "
  std::string preference_weights;        // --preference-weights: "helpful=1,humor=0.5"
  std::string rule = "topk";             // --rule: topk | full, checked by base_request
  PadRequest request;                    // --w, --k, sampling, -n, --n-best, --stop; prompts and pad.rule unset
};

// What one request asks for before tokenization.
struct RequestSpec {
  PromptSpec prompt;
  std::vector<int> ids;  // --ids: raw ids, used for every row
  PadRequest request;    // options; prompts filled later
  std::string text;      // the prompt as given, for output
};

// --preference (joined) or --preference-weights; both given is an error.
Preference preference_from(const std::vector<std::string>& joined, const std::string& weights);
// The defaults' request with the rule parsed; throws std::invalid_argument for an unknown rule.
PadRequest base_request(const RequestDefaults& d);
PromptSpec prompt_spec(const RequestDefaults& d, const std::string& user, Preference pref);

// One request per non-blank line: a JSON object with a string "prompt" and optionally "preference"
// (a string or an array of strings), "preference_weights" (an object of numbers or a
// "name=weight,..." string), "w", "k", "temperature", "seed", "n_predict". A field a line gives
// replaces the default; a preference replaces both kinds of default preference. Every returned
// request has k ≥ 1, 1 ≤ n_predict ≤ 2^24, w in [-1e6, 1e6] and temperature in [0, 100] unless the
// default itself is outside. Throws std::invalid_argument naming FILE:LINE and the field, or FILE
// when it holds no request; std::runtime_error when it cannot be read.
std::vector<RequestSpec> read_jsonl_requests(const RequestDefaults& d, const std::string& path);

}  // namespace pad::cli
