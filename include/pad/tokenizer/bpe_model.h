// Byte-pair encoding of one pre-tokenized word: ranked merges (Hugging Face BPE, GGUF "gpt2") or
// merges chosen by the score of the merged piece (SentencePiece BPE, GGUF "llama"); with byte
// fallback, unknown-token handling and a cache of encoded words.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pad {

// Hash for string-keyed maps that accept std::string_view lookups without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, int, StringHash, std::equal_to<>>;

// Turns one word (text already normalized and pre-tokenized) into ids.
class TokenModel {
 public:
  virtual ~TokenModel() = default;
  virtual void encode_word(std::string_view word, std::vector<int>& ids) const = 0;
  virtual int size() const = 0;                        // ids are in [0, size())
  virtual const std::string& piece(int id) const = 0;  // the token's text in model space ("Ġthe", "▁the")
  virtual int find(std::string_view piece) const = 0;  // -1 when absent
};

struct BpeOptions {
  bool byte_fallback = false;  // characters outside the vocabulary become <0xNN> byte tokens
  bool ignore_merges = false;  // a word that is itself a token is emitted whole (Llama 3)
  bool fuse_unk = false;       // consecutive unknown characters give one unk token
  int unk_id = -1;             // -1: unknown characters are dropped (tokenizers' behaviour)
  std::string continuing_subword_prefix;  // prefixed to every non-initial character (rare)
  std::string end_of_word_suffix;         // appended to the last character (rare)
};

class BpeModel : public TokenModel {
 public:
  // `vocab[id]` is the token text (empty for unused ids); `merges` in priority order. Throws
  // std::invalid_argument naming `what` when a merge refers to a piece outside the vocabulary.
  static std::unique_ptr<BpeModel> from_merges(std::vector<std::string> vocab,
                                               const std::vector<std::pair<std::string, std::string>>& merges,
                                               BpeOptions opt, const std::string& what);
  // SentencePiece BPE: the adjacent pair whose concatenation is a mergeable token with the highest
  // score merges first (ties: leftmost).
  static std::unique_ptr<BpeModel> from_scores(std::vector<std::string> vocab, std::vector<float> scores,
                                               std::vector<bool> mergeable, BpeOptions opt);

  void encode_word(std::string_view word, std::vector<int>& ids) const override;
  int size() const override { return static_cast<int>(vocab_.size()); }
  const std::string& piece(int id) const override { return vocab_[static_cast<size_t>(id)]; }
  int find(std::string_view piece) const override;

 private:
  struct Symbol {
    uint32_t begin, len;
    int id;  // -1 in score mode until the end
    int prev, next;
  };
  struct MergeTarget {
    int rank, new_id;
  };

  BpeModel(std::vector<std::string> vocab, BpeOptions opt);
  void encode_uncached(std::string_view word, std::vector<int>& ids) const;
  void initial_symbols(std::string_view word, std::vector<Symbol>& syms) const;
  void merge_symbols(std::string_view word, std::vector<Symbol>& syms) const;
  void emit_piece(std::string_view text, std::vector<int>& ids) const;  // id, or bytes, or unk

  std::vector<std::string> vocab_;
  PieceMap ids_;
  BpeOptions opt_;
  int byte_ids_[256];
  bool score_mode_ = false;
  std::unordered_map<uint64_t, MergeTarget> merges_;  // (left id << 32 | right id) → target
  std::vector<float> scores_;
  std::vector<bool> mergeable_;

  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int>, StringHash, std::equal_to<>> cache_;
};

}  // namespace pad
