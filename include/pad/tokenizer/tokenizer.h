// Text ⇄ token ids for every model family pad reads: Hugging Face tokenizer.json, SentencePiece
// tokenizer.model and GGUF vocabularies, with special tokens, BOS/EOS rules and the chat template;
// and the streaming detokenizer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pad {

struct TokenizerParts;
class AddedTokenMatcher;

struct EncodeOptions {
  bool add_special = true;    // add BOS/EOS as the tokenizer's configuration says
  bool parse_special = true;  // special-token text ("<|im_start|>") becomes its id; else plain text
};

class Tokenizer {
 public:
  // path: a model directory (tokenizer.json preferred, else tokenizer.model; tokenizer_config.json and
  // generation_config.json read when present), a tokenizer.json, a tokenizer.model, or a .gguf
  // (vocabulary-only files too). Throws std::runtime_error for unreadable files and
  // std::invalid_argument for malformed content, naming the file and field.
  static std::unique_ptr<Tokenizer> load(const std::string& path);

  explicit Tokenizer(TokenizerParts parts);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text must be valid UTF-8 (else std::invalid_argument with the byte offset).
  std::vector<int> encode(std::string_view text, const EncodeOptions& opt = {}) const;
  // Ids outside [0, n_vocab) throw std::invalid_argument. Bytes that do not form valid UTF-8 (a
  // model emitting half a character) become U+FFFD, one per maximal invalid subsequence.
  std::string decode(const std::vector<int>& ids, bool skip_special = false) const;
  // Decodes ids[begin, end); `at_start`: the range starts the sequence (leading-space rules apply).
  std::string decode_range(const std::vector<int>& ids, size_t begin, size_t end, bool skip_special,
                           bool at_start) const;
  std::string token_text(int id) const;             // decoded text of one token, as it reads mid-sequence
  const std::string& token_piece(int id) const;     // the raw vocabulary entry ("Ġthe", "<0x0A>")
  int token_to_id(std::string_view piece) const;    // -1 when absent

  int n_vocab() const { return n_vocab_; }
  int bos_id() const;  // -1 when absent
  int eos_id() const;
  std::vector<int> eos_ids() const;  // every id that ends generation (eos, <|eot_id|>, <|im_end|>, ...)
  bool is_special(int id) const;
  bool adds_bos() const;  // encode(add_special) starts with BOS
  // Text after a special token decodes as if it began the sequence (SentencePiece models).
  bool restarts_after_special() const;
  const std::optional<std::string>& chat_template() const;
  std::string bos_text() const;  // "" when absent
  std::string eos_text() const;
  const std::string& source() const;  // the file it was loaded from

 private:
  void check_id(int id) const;

  std::unique_ptr<TokenizerParts> parts_;
  std::unique_ptr<AddedTokenMatcher> matcher_;
  int n_vocab_ = 0;
  std::vector<bool> special_;
  std::vector<int> added_index_;  // id → index into the added tokens, or -1
};

// Incremental detokenizer: fed one id at a time, it emits only complete UTF-8, and the concatenation
// of everything it emits (feed calls, then flush) equals Tokenizer::decode of all ids.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);

  std::string feed(int id);  // text completed by this id ("" while a character is still partial)
  std::string flush();       // whatever is held back (a partial character becomes U+FFFD)
  void reset();

 private:
  // Decodes ids_[prefix_, end): the window starts one complete point back so that leading-space
  // and byte rules see the same context as the full decode.
  std::string window(size_t end) const;

  const Tokenizer& tok_;
  bool skip_special_;
  std::vector<int> ids_;
  size_t prefix_ = 0;  // start of the decode window
  size_t read_ = 0;    // ids before this were emitted
};

}  // namespace pad
