// Plain generation: the batched, cached engine and generate_simple(), its straight-line specification.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pad/decode/sampler.h"
#include "pad/model/model.h"

namespace pad {

struct GenerateOptions {
  int n_predict = 32;                  // maximum new tokens
  SamplingOptions sampling;            // greedy by default
  std::vector<int> stop_ids;           // end of generation (EOS and friends); not emitted
  int64_t n_valid_tokens = 0;          // ids at or above are never chosen (0: no limit); see EngineOptions
  void validate() const;
};

struct GenerateResult {
  std::vector<int> tokens;             // generated ids (stop token excluded)
  std::string stop_reason;             // "eos" or "length"
  double t_prefill_ms = 0;
  double t_decode_ms = 0;
};

// Called after each accepted token: (request index, token id).
using TokenCallback = std::function<void(size_t, int)>;

// Runs all prompts together: one prefill call for all of them, then one forward per step over the
// rows still active. Each request uses its own slot and its own sampler (seed + request index).
std::vector<GenerateResult> generate(Model& model, const std::vector<std::vector<int>>& prompts,
                                     const GenerateOptions& options, const TokenCallback& on_token = {});

// The executable specification: one prompt, no cache, the whole sequence recomputed every step.
std::vector<int> generate_simple(const Model& model, const std::vector<int>& prompt, const GenerateOptions& options);

}  // namespace pad
