// Unicode normalization (UAX #15): full decomposition, canonical ordering, canonical composition,
// with algorithmic Hangul. Tables come from unicode_norm_data.cpp and are parsed once.
#include "pad/tokenizer/unicode_norm.h"

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "pad/tokenizer/unicode.h"

namespace pad {
namespace unicode_data {
extern const char* const kCombiningClasses;
extern const char* const kDecompositions;
}  // namespace unicode_data

namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

struct Decomposition {
  bool compat = false;
  std::vector<uint32_t> seq;
};

struct Tables {
  struct Range {
    uint32_t first, last;
    uint8_t ccc;
  };
  std::vector<Range> ccc;
  std::unordered_map<uint32_t, Decomposition> decomp;
  std::unordered_map<uint64_t, uint32_t> compose;  // (first << 32 | second) → primary composite

  Tables() {
    for (const char* p = unicode_data::kCombiningClasses; *p;) {
      char* end = nullptr;
      Range r{};
      r.first = static_cast<uint32_t>(std::strtoul(p, &end, 16));
      r.last = static_cast<uint32_t>(std::strtoul(end, &end, 16));
      r.ccc = static_cast<uint8_t>(std::strtoul(end, &end, 10));
      ccc.push_back(r);
      p = end + 1;  // past ';'
    }
    for (const char* p = unicode_data::kDecompositions; *p;) {
      char kind = (*p == '~' || *p == '!') ? *p++ : ' ';
      char* end = nullptr;
      uint32_t cp = static_cast<uint32_t>(std::strtoul(p, &end, 16));
      Decomposition d;
      d.compat = kind == '~';
      while (*end == ' ') d.seq.push_back(static_cast<uint32_t>(std::strtoul(end + 1, &end, 16)));
      if (kind == ' ' && d.seq.size() == 2) compose[(static_cast<uint64_t>(d.seq[0]) << 32) | d.seq[1]] = cp;
      decomp.emplace(cp, std::move(d));
      p = end + 1;
    }
  }

  uint8_t combining_class(uint32_t cp) const {
    auto it = std::upper_bound(ccc.begin(), ccc.end(), cp, [](uint32_t c, const Range& r) { return c < r.first; });
    if (it == ccc.begin()) return 0;
    --it;
    return cp <= it->last ? it->ccc : 0;
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

void decompose(uint32_t cp, bool compat, const Tables& t, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  auto it = t.decomp.find(cp);
  if (it == t.decomp.end() || (it->second.compat && !compat)) {
    out.push_back(cp);
    return;
  }
  for (uint32_t c : it->second.seq) decompose(c, compat, t, out);
}

uint32_t compose_pair(uint32_t a, uint32_t b, const Tables& t) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  auto it = t.compose.find((static_cast<uint64_t>(a) << 32) | b);
  return it == t.compose.end() ? 0 : it->second;
}

// Canonical ordering: stable sort of each run of non-starters by combining class.
void reorder(std::vector<uint32_t>& cps, const Tables& t) {
  for (size_t i = 0; i < cps.size();) {
    if (t.combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && t.combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.begin() + static_cast<std::ptrdiff_t>(j),
                     [&](uint32_t a, uint32_t b) { return t.combining_class(a) < t.combining_class(b); });
    i = j;
  }
}

std::vector<uint32_t> compose(const std::vector<uint32_t>& cps, const Tables& t) {
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  long starter = -1;  // index in `out` of the last starter
  int last_cc = -1;   // class of the last character after that starter; -1: none yet
  for (uint32_t c : cps) {
    int cc = t.combining_class(c);
    if (starter >= 0 && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
      if (uint32_t comp = compose_pair(out[static_cast<size_t>(starter)], c, t)) {
        out[static_cast<size_t>(starter)] = comp;
        continue;
      }
    }
    if (cc == 0) {
      starter = static_cast<long>(out.size());
      last_cc = -1;
    } else {
      last_cc = cc;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string unicode_normalize(std::string_view text, UnicodeForm form) {
  const bool compat = form == UnicodeForm::kNFKC || form == UnicodeForm::kNFKD;
  const bool composed = form == UnicodeForm::kNFC || form == UnicodeForm::kNFKC;
  // Below these code points nothing decomposes (NFD/NFKD) or changes under composition (NFC/NFKC).
  const uint32_t stable_below = compat ? 0xA0 : composed ? 0x300 : 0xC0;
  // Same test on lead bytes first, so plain text costs one scan and no allocation.
  const unsigned char lead_below = compat ? 0xC2 : composed ? 0xCC : 0xC3;
  if (std::all_of(text.begin(), text.end(), [&](char c) { return static_cast<unsigned char>(c) < lead_below; }))
    return std::string(text);
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  uint32_t max_cp = 0;
  for (size_t i = 0; i < text.size();) {
    cps.push_back(utf8_decode(text, i));
    max_cp = std::max(max_cp, cps.back());
  }
  if (max_cp < stable_below) return std::string(text);
  const Tables& t = tables();
  std::vector<uint32_t> dec;
  dec.reserve(cps.size() + 8);
  for (uint32_t c : cps) decompose(c, compat, t, dec);
  reorder(dec, t);
  if (composed) dec = compose(dec, t);
  std::string out;
  out.reserve(text.size() + 8);
  for (uint32_t c : dec) utf8_append(out, c);
  return out;
}

}  // namespace pad
