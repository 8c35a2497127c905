// Loader for GGUF vocabularies (tokenizer.ggml.*): "gpt2" byte-level BPE with a named pre-tokenizer
// "llama" SentencePiece BPE with scores and byte fallback, and "gemma4" SentencePiece-style BPE with merges. Token types decide which are special.
#include "pad/format/gguf.h"
#include "pad/tokenizer/tokenizer_parts.h"
#include "pad/util/error.h"

namespace pad {
namespace {

// tokenizer.ggml.token_type values.
enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

const char* const kSpace = "\xE2\x96\x81";  // ▁

int opt_id(const GgufFile& f, const char* key, int n_vocab) {
  auto v = f.get_int_opt(key);
  if (!v || *v < 0) return -1;
  if (*v >= n_vocab) throw_invalid(f.path(), ": ", key, " = ", *v, " is outside the vocabulary [0, ", n_vocab, ")");
  return static_cast<int>(*v);
}

void add_special_tokens(TokenizerParts& parts, const std::vector<std::string>& tokens, const std::vector<int64_t>& types) {
  for (size_t i = 0; i < types.size(); ++i) {
    int64_t t = types[i];
    if (t != kControl && t != kUserDefined && t != kUnknown) continue;
    if (tokens[i].empty()) continue;
    AddedToken a;
    a.id = static_cast<int>(i);
    a.content = tokens[i];
    a.special = t != kUserDefined;
    parts.added_tokens.push_back(std::move(a));
  }
}

// tokenizer.ggml.merges: "left right", split at the first space after the first byte.
std::vector<std::pair<std::string, std::string>> read_merges(const GgufFile& f) {
  const std::vector<std::string>& raw = f.get_strings("tokenizer.ggml.merges");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    size_t sp = raw[i].find(' ', 1);
    if (sp == std::string::npos)
      throw_invalid(f.path(), ": tokenizer.ggml.merges[", i, "] = '", raw[i], "' is not two tokens separated by a space");
    merges.emplace_back(raw[i].substr(0, sp), raw[i].substr(sp + 1));
  }
  return merges;
}

void build_gpt2(TokenizerParts& parts, const GgufFile& f, std::vector<std::string> tokens, bool* add_bos_default) {
  std::string pre_name = f.get_string_opt("tokenizer.ggml.pre").value_or("default");
  GgufPreTokenizer pre = gguf_pre_tokenizer(pre_name, f.path());
  *add_bos_default = pre.add_bos;
  if (pre.nfc) parts.normalizer = make_unicode_normalizer(UnicodeForm::kNFC);
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  for (const std::string& re : pre.regexes)
    steps.push_back(make_split_pre_tokenizer({re, true}, SplitBehavior::kIsolated, false));
  steps.push_back(make_byte_level_pre_tokenizer(false, false));
  parts.pre_tokenizer = make_sequence_pre_tokenizer(std::move(steps));
  parts.decoder = make_byte_level_decoder();

  BpeOptions opt;
  opt.ignore_merges = pre.ignore_merges;
  parts.model = BpeModel::from_merges(std::move(tokens), read_merges(f), opt, f.path());
}

// Gemma 4 ("gemma4"): SentencePiece-style BPE ranked by merges over raw UTF-8 characters: spaces
// become ▁, no dummy prefix, the text split only between newline and non-newline runs (as llama.cpp
// does), pieces outside the vocabulary fall back to <0xNN> byte tokens.
void build_gemma4(TokenizerParts& parts, const GgufFile& f, std::vector<std::string> tokens) {
  parts.normalizer = make_replace_normalizer({" ", false}, kSpace);
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  steps.push_back(make_split_pre_tokenizer({"[^\\n]+|[\\n]+", true}, SplitBehavior::kIsolated, false));
  parts.pre_tokenizer = make_sequence_pre_tokenizer(std::move(steps));
  std::vector<std::unique_ptr<Decoder>> dec;
  dec.push_back(make_replace_decoder({kSpace, false}, " "));
  dec.push_back(make_byte_fallback_decoder());
  dec.push_back(make_fuse_decoder());
  parts.decoder = make_sequence_decoder(std::move(dec));
  BpeOptions opt;
  opt.byte_fallback = true;
  opt.unk_id = opt_id(f, "tokenizer.ggml.unknown_token_id", static_cast<int>(tokens.size()));
  parts.model = BpeModel::from_merges(std::move(tokens), read_merges(f), opt, f.path());
}

void build_llama(TokenizerParts& parts, const GgufFile& f, std::vector<std::string> tokens,
                 const std::vector<int64_t>& types) {
  const size_t n = tokens.size();
  std::vector<float> scores(n, 0.0f);
  if (f.has("tokenizer.ggml.scores")) {
    const std::vector<double>& s = f.get_floats("tokenizer.ggml.scores");
    if (s.size() != n)
      throw_invalid(f.path(), ": tokenizer.ggml.scores has ", s.size(), " entries for ", n, " tokens");
    for (size_t i = 0; i < n; ++i) scores[i] = static_cast<float>(s[i]);
  }
  std::vector<bool> mergeable(n);
  for (size_t i = 0; i < n; ++i) mergeable[i] = types[i] == kNormal || types[i] == kUserDefined;
  bool space_prefix = f.get_bool_opt("tokenizer.ggml.add_space_prefix").value_or(true);
  std::vector<std::unique_ptr<Normalizer>> norm;
  if (space_prefix) norm.push_back(make_prepend_normalizer(kSpace));
  norm.push_back(make_replace_normalizer({" ", false}, kSpace));
  parts.normalizer = make_sequence_normalizer(std::move(norm));
  std::vector<std::unique_ptr<Decoder>> dec;
  dec.push_back(make_replace_decoder({kSpace, false}, " "));
  dec.push_back(make_byte_fallback_decoder());
  dec.push_back(make_fuse_decoder());
  if (space_prefix) dec.push_back(make_strip_decoder(" ", 1, 0));
  parts.decoder = make_sequence_decoder(std::move(dec));
  parts.restart_after_special = space_prefix;
  BpeOptions opt;
  opt.byte_fallback = true;
  opt.unk_id = opt_id(f, "tokenizer.ggml.unknown_token_id", static_cast<int>(n));
  parts.model = BpeModel::from_scores(std::move(tokens), std::move(scores), std::move(mergeable), opt);
}

}  // namespace

TokenizerParts load_gguf_tokenizer(const std::string& path) {
  GgufFile f(path);
  TokenizerParts parts;
  parts.source = path;
  std::string model = f.get_string("tokenizer.ggml.model");
  std::vector<std::string> tokens = f.get_strings("tokenizer.ggml.tokens");
  const int n = static_cast<int>(tokens.size());
  if (n == 0) throw_invalid(path, ": tokenizer.ggml.tokens is empty");
  std::vector<int64_t> types(tokens.size(), kNormal);
  if (f.has("tokenizer.ggml.token_type")) {
    types = f.get_ints("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      throw_invalid(path, ": tokenizer.ggml.token_type has ", types.size(), " entries for ", n, " tokens");
  }
  add_special_tokens(parts, tokens, types);
  bool add_bos = false;
  if (model == "gpt2") {
    build_gpt2(parts, f, std::move(tokens), &add_bos);
  } else if (model == "llama") {
    build_llama(parts, f, std::move(tokens), types);
    add_bos = true;
  } else if (model == "gemma4") {
    build_gemma4(parts, f, std::move(tokens));
    add_bos = true;
  } else if (model == "t5") {
    throw_invalid(path, ": tokenizer.ggml.model 't5' (a SentencePiece unigram vocabulary) is not supported: pad reads "
                  "BPE vocabularies (gpt2, llama, gemma4), which is what Llama-family models use");
  } else {
    throw_invalid(path, ": tokenizer.ggml.model '", model, "' is not supported (supported: gpt2, llama, gemma4)");
  }
  parts.bos_id = opt_id(f, "tokenizer.ggml.bos_token_id", n);
  parts.eos_id = opt_id(f, "tokenizer.ggml.eos_token_id", n);
  add_bos = f.get_bool_opt("tokenizer.ggml.add_bos_token").value_or(add_bos);
  bool add_eos = f.get_bool_opt("tokenizer.ggml.add_eos_token").value_or(false);
  if (add_bos && parts.bos_id >= 0) parts.prefix_ids.push_back(parts.bos_id);
  if (add_eos && parts.eos_id >= 0) parts.suffix_ids.push_back(parts.eos_id);
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int id = opt_id(f, key, n);
    if (id >= 0) parts.extra_eos_ids.push_back(id);
  }
  add_known_eos_tokens(parts);
  parts.chat_template = f.get_string_opt("tokenizer.chat_template");
  return parts;
}

}  // namespace pad
