// The pieces a loader assembles into a Tokenizer: the Hugging Face pipeline (normalizer →
// pre-tokenizer → model → post-processor; decoder) plus special tokens and the chat template.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pad/tokenizer/added_tokens.h"
#include "pad/tokenizer/bpe_model.h"
#include "pad/tokenizer/decoder.h"
#include "pad/tokenizer/normalizer.h"
#include "pad/tokenizer/pre_tokenizer.h"

namespace pad {

struct TokenizerParts {
  std::string source;                           // file the tokenizer came from (for messages)
  std::unique_ptr<TokenModel> model;            // required
  std::unique_ptr<Normalizer> normalizer;       // optional
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // optional: without it each segment is one word
  std::unique_ptr<Decoder> decoder;             // optional: without it pieces are concatenated
  std::vector<AddedToken> added_tokens;
  std::vector<int> prefix_ids, suffix_ids;  // post-processor: put around the text when add_special
  int bos_id = -1, eos_id = -1;
  std::vector<int> extra_eos_ids;  // other ids that end generation (generation_config.json, <|eot_id|>...)
  std::optional<std::string> chat_template;
  // Encode starts every segment between added tokens afresh (SentencePiece's dummy prefix, a Prepend
  // normalizer, Metaspace "always"), so decode strips that prefix after each special token too.
  bool restart_after_special = false;
};

// Loaders (one per format). `config_path` is a tokenizer_config.json or empty.
TokenizerParts load_hf_tokenizer(const std::string& tokenizer_json_path, const std::string& config_path);
TokenizerParts load_sentencepiece_tokenizer(const std::string& model_path, const std::string& config_path);
TokenizerParts load_gguf_tokenizer(const std::string& gguf_path);

// Applies tokenizer_config.json (bos/eos tokens, add_bos_token/add_eos_token, chat_template) and a
// generation_config.json (eos_token_id) to loaded parts; either path may be empty.
void apply_tokenizer_config(TokenizerParts& parts, const std::string& config_path,
                            const std::string& generation_config_path);

// Adds the ids of well-known end-of-turn tokens present as special tokens to extra_eos_ids.
void add_known_eos_tokens(TokenizerParts& parts);

}  // namespace pad

namespace pad {

// Pre-tokenization of a GGUF "gpt2" vocabulary, named by tokenizer.ggml.pre: the regexes applied in
// order (each splits every piece, keeping matches and the text between them), as llama.cpp does.
struct GgufPreTokenizer {
  std::vector<std::string> regexes;
  bool ignore_merges = false;  // whole words that are tokens skip the merges (Llama 3)
  bool add_bos = false;        // default when tokenizer.ggml.add_bos_token is absent
  bool nfc = false;            // the family's tokenizer.json normalizes to NFC first (Qwen2)
};

// Throws std::invalid_argument naming `path` and listing the known names when `name` is unknown.
GgufPreTokenizer gguf_pre_tokenizer(const std::string& name, const std::string& path);
std::vector<std::string> gguf_pre_tokenizer_names();

}  // namespace pad
