// Byte-level BPE training (GPT-2 style: GPT-2 pre-tokenization regex, 256 byte symbols, merges by
// pair frequency), written as a tokenizer.json + tokenizer_config.json that Tokenizer::load reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pad {

struct BpeTrainerOptions {
  int64_t vocab_size = 8192;  // total: special tokens + 256 bytes + merges
  std::vector<std::string> special_tokens = {"<|endoftext|>"};  // ids 0..S-1, in this order
  int64_t min_frequency = 2;  // a pair seen fewer times is never merged
  std::string bos_token;      // one of special_tokens, or "" (none); BOS is then added by encode()
  std::string eos_token = "<|endoftext|>";  // one of special_tokens, or ""
  int64_t model_max_length = 2048;
  void validate() const;
};

struct BpeTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;  // with a ChatML chat template when <|im_start|> and <|im_end|> are special
  int64_t n_merges = 0;
  int64_t vocab_size = 0;  // may be below the requested size when the corpus runs out of pairs
};

// Deterministic for the same texts and options.
BpeTokenizerFiles train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options);

// Writes tokenizer.json and tokenizer_config.json into `dir` (created if needed), atomically.
void write_tokenizer_files(const std::string& dir, const BpeTokenizerFiles& files);

}  // namespace pad
