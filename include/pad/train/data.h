// Training data: JSONL preference pairs and SFT examples, encoded exactly as decoding encodes its
// prompts (DESIGN §1), every bad line counted and reported by line number; and the batch plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pad/decode/preference.h"

namespace pad {

class Tokenizer;

struct BadLine {
  int64_t line = 0;    // 1-based line number in the file
  std::string reason;  // "invalid JSON: ...", "missing field 'chosen'", ...
};

struct DataReport {
  std::string file;
  int64_t n_lines = 0;  // non-blank lines read
  int64_t n_used = 0;   // examples kept
  std::vector<BadLine> bad;
  // "train.jsonl: 98 of 100 lines used, 2 skipped: line 3: invalid JSON ...; line 7: ..."
  std::string summary(size_t max_listed = 10) const;
};

struct DataOptions {
  std::string guideline_template = kDefaultGuidelineTemplate;  // {principle}, {prompt}
  int64_t max_length = 1024;  // prompt + response tokens of one sequence; longer examples are bad data
  bool strict = false;        // throw std::invalid_argument on the first bad line instead of skipping it
  void validate() const;
};

// A token sequence whose tokens from n_prompt on are scored (predicted from the previous position).
struct Sequence {
  std::vector<int> ids;
  int64_t n_prompt = 1;  // ≥ 1: the first token is never scored
};

// Encodes prompts and responses the way the decoder does: guideline, then the chat template's user
// turn with the generation prompt when the tokenizer has a template; responses end with EOS.
class PromptEncoder {
 public:
  PromptEncoder(const Tokenizer& tok, std::string guideline_template);
  std::vector<int> preference_prompt(const std::string& principle, const std::string& prompt) const;
  std::vector<int> chat_prompt(const std::string& user_content) const;  // no guideline (SFT)
  std::vector<int> response(const std::string& text) const;

 private:
  const Tokenizer& tok_;
  std::string template_;
};

// One JSONL line {"prompt", "preference", "chosen", "rejected", ["weights": {name: w}], ["group": id]}.
// Pairs that share a group (the contrastive twins of PrefWorld, issue 12) train in one micro-batch.
struct PreferencePair {
  struct Prompt {
    std::vector<int> ids;  // guideline + chat template applied for one principle
    double weight = 1.0;   // w_p entry of that principle
  };
  int64_t line = 0;
  std::vector<Prompt> prompts;  // one (weight 1) for a plain preference; one per named weight
  std::vector<int> chosen, rejected;  // response ids, EOS-terminated
  std::string group;                  // "" = a group of its own
  int64_t n_tokens() const;  // tokens of all sequences this pair contributes
};

// One SFT example: a JSONL {"prompt", "response"} (loss on the response only), or a plain text line.
struct SftExample {
  int64_t line = 0;
  Sequence sequence;
};

// Throws std::runtime_error when the file cannot be read; bad lines go to `report` (or throw when
// options.strict). An empty result throws std::invalid_argument naming the file.
std::vector<PreferencePair> load_preference_data(const std::string& path, const Tokenizer& tok,
                                                 const DataOptions& options, DataReport* report);
// `.jsonl` files hold {"prompt", "response"} objects; any other file is plain text, one example per
// non-blank line (BOS as the tokenizer adds it, EOS appended, every token after the first scored).
std::vector<SftExample> load_sft_data(const std::string& path, const Tokenizer& tok, const DataOptions& options,
                                      DataReport* report);

// The micro-batches of one epoch, as indices into the examples: shuffled by (seed, epoch), then,
// when `bucket`, sorted by length within windows of 32 batches so that a batch holds similar lengths
// (less padding), and the batches shuffled again. Always ceil(n / batch_size) batches.
std::vector<std::vector<int64_t>> plan_epoch(const std::vector<int64_t>& lengths, int64_t batch_size, uint64_t seed,
                                             int64_t epoch, bool bucket);

}  // namespace pad
