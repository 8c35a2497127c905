// Byte-level BPE training: count pre-tokenized words, then repeatedly merge the most frequent
// adjacent pair, updating only the words that contain it (a max-heap with lazy invalidation).
#include "pad/train/bpe_trainer.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <unordered_map>

#include "pad/tokenizer/pre_tokenizer.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

using Json = nlohmann::ordered_json;
using PairKey = uint64_t;  // (left id << 32) | right id

PairKey key(int a, int b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

struct Word {
  std::vector<int> symbols;
  int64_t count = 0;
};

class MergeState {
 public:
  explicit MergeState(std::vector<Word> words) : words_(std::move(words)) {
    for (size_t w = 0; w < words_.size(); ++w) add_pairs(static_cast<int>(w), +1);
    for (const auto& [k, c] : counts_) heap_.push({c, ~k});
  }

  // The most frequent pair (ties: smallest ids, for determinism), or false when none reaches min_count.
  bool best(int64_t min_count, PairKey& out) {
    while (!heap_.empty()) {
      auto [c, inv] = heap_.top();
      const PairKey k = ~inv;
      auto it = counts_.find(k);
      if (it == counts_.end() || it->second != c) {  // stale entry
        heap_.pop();
        continue;
      }
      if (c < min_count) return false;
      out = k;
      return true;
    }
    return false;
  }

  void merge(PairKey k, int new_id) {
    const int a = static_cast<int>(k >> 32), b = static_cast<int>(k & 0xffffffffu);
    std::set<int> affected = std::move(where_[k]);
    where_.erase(k);
    changed_.clear();
    for (int w : affected) {
      add_pairs(w, -1);
      std::vector<int>& s = words_[w].symbols;
      std::vector<int> out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          out.push_back(new_id);
          ++i;
        } else {
          out.push_back(s[i]);
        }
      }
      s = std::move(out);
      add_pairs(w, +1);
    }
    for (PairKey c : changed_) {
      auto it = counts_.find(c);
      if (it != counts_.end() && it->second > 0) heap_.push({it->second, ~c});
    }
  }

 private:
  void add_pairs(int w, int sign) {
    const Word& word = words_[w];
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      const PairKey k = key(word.symbols[i], word.symbols[i + 1]);
      int64_t& c = counts_[k];
      c += sign * word.count;
      if (sign > 0) where_[k].insert(w);
      if (c == 0) counts_.erase(k);
      changed_.push_back(k);
    }
  }

  std::vector<Word> words_;
  std::unordered_map<PairKey, int64_t> counts_;
  std::unordered_map<PairKey, std::set<int>> where_;  // may over-approximate after merges; rechecked on merge
  std::priority_queue<std::pair<int64_t, uint64_t>> heap_;  // (count, ~key): ties prefer the smaller key
  std::vector<PairKey> changed_;
};

std::string chatml_template() {
  return "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
         "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}

}  // namespace

void BpeTrainerOptions::validate() const {
  const int64_t floor = 256 + static_cast<int64_t>(special_tokens.size());
  if (vocab_size < floor) throw_invalid("--vocab-size ", vocab_size, " is below 256 bytes + ", special_tokens.size(), " special tokens");
  if (min_frequency < 1) throw_invalid("--min-frequency ", min_frequency, " must be ≥ 1");
  std::set<std::string> seen;
  for (const std::string& s : special_tokens) {
    if (s.empty()) throw_invalid("--special-tokens: an empty token");
    if (!seen.insert(s).second) throw_invalid("--special-tokens: '", s, "' is listed twice");
  }
  for (const std::string* t : {&bos_token, &eos_token})
    if (!t->empty() && !seen.count(*t)) throw_invalid("BOS/EOS token '", *t, "' is not among the special tokens");
}

BpeTokenizerFiles train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& o) {
  o.validate();
  const int n_special = static_cast<int>(o.special_tokens.size());
  // Pre-tokenize exactly as the loaded tokenizer will (ByteLevel with GPT-2's regex) and count words.
  auto pre = make_byte_level_pre_tokenizer(/*add_prefix_space=*/false, /*use_regex=*/true);
  std::map<std::string, int64_t> word_counts;  // ordered: deterministic word ids
  for (const std::string& text : texts) {
    std::vector<PreToken> words = {{text, true}};
    pre->pre_tokenize(words);
    for (const PreToken& w : words)
      if (!w.text.empty()) ++word_counts[w.text];
  }
  std::vector<std::string> vocab(n_special);  // id → byte-level token text
  for (int i = 0; i < n_special; ++i) vocab[i] = o.special_tokens[i];
  for (int b = 0; b < 256; ++b) vocab.push_back(byte_to_unicode(static_cast<uint8_t>(b)));
  std::vector<Word> words;
  for (const auto& [text, count] : word_counts) {
    Word w{{}, count};
    for (size_t i = 0; i < text.size();) {
      const int byte = unicode_to_byte(utf8_decode(text, i));
      PAD_CHECK(byte >= 0, "byte-level pre-tokenizer produced an unmapped character in '", text, "'");
      w.symbols.push_back(n_special + byte);
    }
    words.push_back(std::move(w));
  }
  std::unordered_map<std::string, int> ids;  // token text → id
  for (size_t i = 0; i < vocab.size(); ++i) ids.emplace(vocab[i], static_cast<int>(i));
  MergeState state(std::move(words));
  Json merges = Json::array();
  PairKey k = 0;
  while (static_cast<int64_t>(vocab.size()) < o.vocab_size && state.best(o.min_frequency, k)) {
    const int a = static_cast<int>(k >> 32), b = static_cast<int>(k & 0xffffffffu);
    merges.push_back(vocab[a] + " " + vocab[b]);
    // Two different splits can spell the same token ("ab c", "a bc"): one id for that text.
    const std::string merged = vocab[a] + vocab[b];
    auto [it, fresh] = ids.emplace(merged, static_cast<int>(vocab.size()));
    if (fresh) vocab.push_back(merged);
    state.merge(k, it->second);
  }

  Json added = Json::array();
  for (int i = 0; i < n_special; ++i)
    added.push_back({{"id", i}, {"content", vocab[i]}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  Json vocab_json = Json::object();
  for (size_t i = 0; i < vocab.size(); ++i) vocab_json[vocab[i]] = i;
  Json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  Json tok = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
              {"normalizer", nullptr}, {"pre_tokenizer", byte_level}, {"post_processor", byte_level},
              {"decoder", byte_level},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                         {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                         {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab_json}, {"merges", merges}}}};
  auto token_or_null = [](const std::string& t) { return t.empty() ? Json(nullptr) : Json(t); };
  Json cfg = {{"bos_token", token_or_null(o.bos_token)}, {"eos_token", token_or_null(o.eos_token)},
              {"add_bos_token", !o.bos_token.empty()}, {"model_max_length", o.model_max_length},
              {"tokenizer_class", "PreTrainedTokenizerFast"}};
  const auto& sp = o.special_tokens;
  if (std::find(sp.begin(), sp.end(), "<|im_start|>") != sp.end() && std::find(sp.begin(), sp.end(), "<|im_end|>") != sp.end())
    cfg["chat_template"] = chatml_template();
  BpeTokenizerFiles out;
  out.tokenizer_json = tok.dump(1) + "\n";
  out.tokenizer_config_json = cfg.dump(2) + "\n";
  out.n_merges = static_cast<int64_t>(merges.size());
  out.vocab_size = static_cast<int64_t>(vocab.size());
  return out;
}

void write_tokenizer_files(const std::string& dir, const BpeTokenizerFiles& f) {
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/tokenizer.json", f.tokenizer_json);
  write_file_atomic(dir + "/tokenizer_config.json", f.tokenizer_config_json);
}

}  // namespace pad
