// Tokenizer: splits off added tokens, runs normalizer → pre-tokenizer → model on the rest, adds
// BOS/EOS; decodes through the decoder chain. Also picks the loader for a path.
#include "pad/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>

#include "pad/tokenizer/tokenizer_parts.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad {
namespace {

std::string sibling(const std::string& path, const std::string& name) {
  size_t slash = path.find_last_of('/');
  return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + name;
}

std::string existing(const std::string& path) { return file_exists(path) ? path : std::string(); }

bool has_gguf_magic(const std::string& path) {
  if (!file_exists(path) || is_directory(path)) return false;
  MappedFile f(path);
  return f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0;
}

TokenizerParts load_parts(const std::string& path) {
  if (is_directory(path)) {
    std::string dir = ends_with(path, "/") ? path : path + "/";
    std::string config = existing(dir + "tokenizer_config.json");
    if (file_exists(dir + "tokenizer.json")) return load_hf_tokenizer(dir + "tokenizer.json", config);
    if (file_exists(dir + "tokenizer.model")) return load_sentencepiece_tokenizer(dir + "tokenizer.model", config);
    if (file_exists(dir + "model.gguf")) return load_gguf_tokenizer(dir + "model.gguf");
    throw_runtime(path, ": no tokenizer found (looked for tokenizer.json, tokenizer.model, model.gguf)");
  }
  if (!file_exists(path)) throw_runtime(path, ": no such file or directory (expected a model directory, "
                                              "tokenizer.json, tokenizer.model or .gguf)");
  if (ends_with(path, ".gguf") || has_gguf_magic(path)) return load_gguf_tokenizer(path);
  if (ends_with(path, "tokenizer_config.json")) {
    std::string tj = sibling(path, "tokenizer.json"), tm = sibling(path, "tokenizer.model");
    if (file_exists(tj)) return load_hf_tokenizer(tj, path);
    if (file_exists(tm)) return load_sentencepiece_tokenizer(tm, path);
    throw_runtime(path, ": no tokenizer.json or tokenizer.model beside it");
  }
  if (ends_with(path, ".json")) return load_hf_tokenizer(path, existing(sibling(path, "tokenizer_config.json")));
  if (ends_with(path, ".model"))
    return load_sentencepiece_tokenizer(path, existing(sibling(path, "tokenizer_config.json")));
  throw_invalid(path, ": unknown tokenizer format (expected a model directory, tokenizer.json, "
                      "tokenizer.model or .gguf)");
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  TokenizerParts parts = load_parts(path);
  if (parts.source.empty()) parts.source = path;
  return std::make_unique<Tokenizer>(std::move(parts));
}

Tokenizer::Tokenizer(TokenizerParts parts) : parts_(std::make_unique<TokenizerParts>(std::move(parts))) {
  TokenizerParts& p = *parts_;
  PAD_CHECK(p.model != nullptr, "tokenizer without a model");
  n_vocab_ = p.model->size();
  for (const AddedToken& t : p.added_tokens) {
    if (t.id < 0) throw_invalid(p.source, ": added token '", t.content, "' has negative id ", t.id);
    if (t.content.empty()) throw_invalid(p.source, ": added token with id ", t.id, " has empty content");
    n_vocab_ = std::max(n_vocab_, t.id + 1);
  }
  special_.assign(static_cast<size_t>(n_vocab_), false);
  added_index_.assign(static_cast<size_t>(n_vocab_), -1);
  for (size_t i = 0; i < p.added_tokens.size(); ++i) {
    const AddedToken& t = p.added_tokens[i];
    special_[static_cast<size_t>(t.id)] = special_[static_cast<size_t>(t.id)] || t.special;
    if (t.id >= p.model->size() || p.model->piece(t.id).empty() || p.model->piece(t.id) != t.content)
      added_index_[static_cast<size_t>(t.id)] = static_cast<int>(i);
  }
  auto check = [&](int id, const char* what) {
    if (id < -1 || id >= n_vocab_) throw_invalid(p.source, ": ", what, " id ", id, " is outside [0, ", n_vocab_, ")");
  };
  check(p.bos_id, "BOS token");
  check(p.eos_id, "EOS token");
  for (int id : p.prefix_ids) check(id, "post-processor token");
  for (int id : p.suffix_ids) check(id, "post-processor token");
  std::vector<int> eos;
  for (int id : p.extra_eos_ids)
    if (id >= 0 && id < n_vocab_ && id != p.eos_id && std::find(eos.begin(), eos.end(), id) == eos.end())
      eos.push_back(id);
  p.extra_eos_ids = eos;
  p.added_tokens.shrink_to_fit();
  matcher_ = std::make_unique<AddedTokenMatcher>(p.added_tokens);
}

Tokenizer::~Tokenizer() = default;

std::vector<int> Tokenizer::encode(std::string_view text, const EncodeOptions& opt) const {
  const TokenizerParts& p = *parts_;
  utf8_require_valid(text, "text to encode");
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 4);
  if (opt.add_special) ids.insert(ids.end(), p.prefix_ids.begin(), p.prefix_ids.end());
  std::vector<PreToken> words;
  for (const TextSegment& seg : matcher_->split(text, opt.parse_special)) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    words.clear();
    words.push_back({p.normalizer ? p.normalizer->normalize(seg.text) : std::string(seg.text), seg.at_start});
    if (p.pre_tokenizer) p.pre_tokenizer->pre_tokenize(words);
    for (const PreToken& w : words) p.model->encode_word(w.text, ids);
  }
  if (opt.add_special) ids.insert(ids.end(), p.suffix_ids.begin(), p.suffix_ids.end());
  return ids;
}

void Tokenizer::check_id(int id) const {
  if (id < 0 || id >= n_vocab_)
    throw_invalid("token id ", id, " is outside the vocabulary [0, ", n_vocab_, ") of ", parts_->source);
}

const std::string& Tokenizer::token_piece(int id) const {
  check_id(id);
  int added = added_index_[static_cast<size_t>(id)];
  if (added >= 0) return parts_->added_tokens[static_cast<size_t>(added)].content;
  return parts_->model->piece(id);
}

std::string Tokenizer::decode_range(const std::vector<int>& ids, size_t begin, size_t end, bool skip_special,
                                    bool at_start) const {
  // Special tokens are copied as they are; the text between them goes through the decoder chain,
  // restarting after each special token when encode started each segment afresh (SentencePiece's
  // dummy prefix), so that decode inverts encode.
  std::string out;
  std::vector<std::string> run;
  run.reserve(end - begin);
  out.reserve((end - begin) * 4);
  bool run_at_start = at_start;
  auto flush_run = [&] {
    if (run.empty()) return;
    if (parts_->decoder) parts_->decoder->decode_chain(run, run_at_start);
    for (const std::string& s : run) out += s;
    run.clear();
  };
  for (size_t k = begin; k < end; ++k) {
    const std::string& piece = token_piece(ids[k]);
    if (!special_[static_cast<size_t>(ids[k])]) {
      if (run.empty() && k > begin) run_at_start = parts_->restart_after_special;
      run.push_back(piece);
      continue;
    }
    flush_run();
    run_at_start = parts_->restart_after_special;
    if (!skip_special) out += piece;
  }
  flush_run();
  return utf8_repair(out);
}

bool Tokenizer::restarts_after_special() const { return parts_->restart_after_special; }

std::string Tokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
  return decode_range(ids, 0, ids.size(), skip_special, true);
}

std::string Tokenizer::token_text(int id) const { return decode_range({id}, 0, 1, false, false); }

int Tokenizer::token_to_id(std::string_view piece) const {
  for (const AddedToken& t : parts_->added_tokens)
    if (t.content == piece) return t.id;
  return parts_->model->find(piece);
}

int Tokenizer::bos_id() const { return parts_->bos_id; }
int Tokenizer::eos_id() const { return parts_->eos_id; }

std::vector<int> Tokenizer::eos_ids() const {
  std::vector<int> out;
  if (parts_->eos_id >= 0) out.push_back(parts_->eos_id);
  out.insert(out.end(), parts_->extra_eos_ids.begin(), parts_->extra_eos_ids.end());
  return out;
}

bool Tokenizer::is_special(int id) const { return id >= 0 && id < n_vocab_ && special_[static_cast<size_t>(id)]; }

bool Tokenizer::adds_bos() const {
  return parts_->bos_id >= 0 && !parts_->prefix_ids.empty() && parts_->prefix_ids.front() == parts_->bos_id;
}

const std::optional<std::string>& Tokenizer::chat_template() const { return parts_->chat_template; }
std::string Tokenizer::bos_text() const { return parts_->bos_id >= 0 ? token_piece(parts_->bos_id) : std::string(); }
std::string Tokenizer::eos_text() const { return parts_->eos_id >= 0 ? token_piece(parts_->eos_id) : std::string(); }
const std::string& Tokenizer::source() const { return parts_->source; }

}  // namespace pad
