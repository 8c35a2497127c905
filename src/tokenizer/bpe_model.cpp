// BPE merge loop over a linked list of symbols with a priority queue of candidate pairs, so long
// words cost O(n log n), plus a shared cache of encoded words.
#include "pad/tokenizer/bpe_model.h"

#include <cstdio>
#include <queue>

#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"

namespace pad {
namespace {

constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 18;

uint64_t pair_key(int a, int b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

struct Candidate {
  double rank;    // lower merges first
  uint32_t pos;   // byte position of the left symbol: ties merge leftmost first
  int left, right;
  uint32_t len;   // combined length when queued; a mismatch later means the entry is stale
  int new_id;
  bool operator<(const Candidate& o) const {  // std::priority_queue is a max-heap: invert
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

BpeModel::BpeModel(std::vector<std::string> vocab, BpeOptions opt) : vocab_(std::move(vocab)), opt_(std::move(opt)) {
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i)
    if (!vocab_[i].empty()) ids_[vocab_[i]] = static_cast<int>(i);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = find(name);
  }
}

std::unique_ptr<BpeModel> BpeModel::from_merges(std::vector<std::string> vocab,
                                                const std::vector<std::pair<std::string, std::string>>& merges,
                                                BpeOptions opt, const std::string& what) {
  std::unique_ptr<BpeModel> m(new BpeModel(std::move(vocab), std::move(opt)));
  const size_t prefix_len = m->opt_.continuing_subword_prefix.size();
  m->merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    int ia = m->find(a), ib = m->find(b);
    std::string merged = a + (prefix_len && b.compare(0, prefix_len, m->opt_.continuing_subword_prefix) == 0
                                  ? b.substr(prefix_len) : b);
    int im = m->find(merged);
    if (ia < 0 || ib < 0 || im < 0)
      throw_invalid(what, ": merges[", r, "] = \"", a, " ", b, "\" refers to '",
                    ia < 0 ? a : ib < 0 ? b : merged, "', which is not in the vocabulary");
    m->merges_.try_emplace(pair_key(ia, ib), MergeTarget{static_cast<int>(r), im});
  }
  return m;
}

std::unique_ptr<BpeModel> BpeModel::from_scores(std::vector<std::string> vocab, std::vector<float> scores,
                                                std::vector<bool> mergeable, BpeOptions opt) {
  PAD_CHECK(scores.size() == vocab.size() && mergeable.size() == vocab.size(), "score table size mismatch");
  std::unique_ptr<BpeModel> m(new BpeModel(std::move(vocab), std::move(opt)));
  m->score_mode_ = true;
  m->scores_ = std::move(scores);
  m->mergeable_ = std::move(mergeable);
  return m;
}

int BpeModel::find(std::string_view piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<int>& ids) const {
  if (word.empty()) return;
  if (word.size() > kMaxCachedWordBytes) return encode_uncached(word, ids);
  {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> out;
  encode_uncached(word, out);
  ids.insert(ids.end(), out.begin(), out.end());
  std::unique_lock lock(cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::string(word), std::move(out));
}

void BpeModel::emit_piece(std::string_view text, std::vector<int>& ids) const {
  int id = find(text);
  if (id >= 0) {
    ids.push_back(id);
    return;
  }
  if (opt_.byte_fallback) {
    bool all = true;
    for (char c : text) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
    if (all) {
      for (char c : text) ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      return;
    }
  }
  if (opt_.unk_id < 0) return;
  if (opt_.fuse_unk && !ids.empty() && ids.back() == opt_.unk_id) return;
  ids.push_back(opt_.unk_id);
}

void BpeModel::initial_symbols(std::string_view word, std::vector<Symbol>& syms) const {
  const bool affixes = !opt_.continuing_subword_prefix.empty() || !opt_.end_of_word_suffix.empty();
  std::string buf;
  size_t i = 0;
  while (i < word.size()) {
    size_t len = std::min(utf8_len(static_cast<unsigned char>(word[i])), word.size() - i);
    int id = -1;
    if (!score_mode_) {
      std::string_view ch = word.substr(i, len);
      if (affixes) {
        buf = (i > 0 ? opt_.continuing_subword_prefix : std::string()) + std::string(ch) +
              (i + len == word.size() ? opt_.end_of_word_suffix : std::string());
        ch = buf;
      }
      id = find(ch);
      if (id < 0) {  // resolve now: byte tokens or unk, which take part in no merge
        std::vector<int> fallback;
        emit_piece(ch, fallback);
        if (opt_.fuse_unk && fallback.size() == 1 && fallback[0] == opt_.unk_id && !syms.empty() &&
            syms.back().id == opt_.unk_id) {
          syms.back().len += static_cast<uint32_t>(len);
          i += len;
          continue;
        }
        for (size_t k = 0; k < fallback.size(); ++k) {
          uint32_t b = static_cast<uint32_t>(k == 0 ? i : i + len);  // unk/bytes share the char's span
          syms.push_back({b, static_cast<uint32_t>(k == 0 ? len : 0), fallback[k], -1, -1});
        }
        i += len;
        continue;
      }
    }
    syms.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), id, -1, -1});
    i += len;
  }
  for (size_t k = 0; k < syms.size(); ++k) {
    syms[k].prev = static_cast<int>(k) - 1;
    syms[k].next = k + 1 < syms.size() ? static_cast<int>(k) + 1 : -1;
  }
}

void BpeModel::merge_symbols(std::string_view word, std::vector<Symbol>& syms) const {
  std::priority_queue<Candidate> queue;
  auto try_pair = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const Symbol& a = syms[static_cast<size_t>(l)];
    const Symbol& b = syms[static_cast<size_t>(r)];
    if (score_mode_) {
      int id = find(word.substr(a.begin, a.len + b.len));
      if (id < 0 || !mergeable_[static_cast<size_t>(id)]) return;
      queue.push({-static_cast<double>(scores_[static_cast<size_t>(id)]), a.begin, l, r, a.len + b.len, id});
    } else {
      if (a.id < 0 || b.id < 0) return;
      auto it = merges_.find(pair_key(a.id, b.id));
      if (it == merges_.end()) return;
      queue.push({static_cast<double>(it->second.rank), a.begin, l, r, a.len + b.len, it->second.new_id});
    }
  };
  for (size_t k = 0; k + 1 < syms.size(); ++k) try_pair(static_cast<int>(k), static_cast<int>(k) + 1);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& a = syms[static_cast<size_t>(c.left)];
    Symbol& b = syms[static_cast<size_t>(c.right)];
    if (a.len == 0 || b.len == 0 || a.next != c.right || a.len + b.len != c.len) continue;  // stale
    a.len += b.len;
    a.id = c.new_id;
    a.next = b.next;
    if (b.next >= 0) syms[static_cast<size_t>(b.next)].prev = c.left;
    b.len = 0;
    b.id = -2;
    try_pair(a.prev, c.left);
    try_pair(c.left, a.next);
  }
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int>& ids) const {
  if (opt_.ignore_merges) {
    int id = find(word);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  initial_symbols(word, syms);
  merge_symbols(word, syms);
  for (int k = syms.empty() ? -1 : 0; k >= 0; k = syms[static_cast<size_t>(k)].next) {
    const Symbol& s = syms[static_cast<size_t>(k)];
    if (score_mode_) emit_piece(word.substr(s.begin, s.len), ids);
    else ids.push_back(s.id);
  }
}

}  // namespace pad
