// On-policy preference data for the story world: contrastive twins from the base's own samples,
// ranked by the story judges (stories.h).
#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "pad/eval/stories.h"
#include "world_rng.h"

namespace pad::eval {
namespace {

using OJson = nlohmann::ordered_json;
using Scores = std::array<double, kStoryAttributes.size()>;

// Samples a and b of one opening that judge p prefers a and judge q orders oppositely (a twin: q
// prefers b) or the same way (aligned: q prefers a too).
struct Twin {
  size_t a, b, p, q;
};

// No judge but p and q orders x and y (with aligned pairs, such an order would teach p a correlate).
bool tied_elsewhere(const Scores& x, const Scores& y, size_t p, size_t q, double margin) {
  for (size_t r = 0; r < x.size(); ++r)
    if (r != p && r != q && std::abs(x[r] - y[r]) >= margin) return false;
  return true;
}

const std::string& phrase(size_t attribute, world::Rng& rng) {
  return rng.pick(story_phrasings()[attribute].trained);
}

OJson pref_line(const std::string& prompt, const std::string& principle, const std::string& chosen,
                const std::string& rejected, const std::string& group, size_t attribute, double margin,
                const char* kind = "contrastive") {
  return {{"prompt", prompt}, {"preference", principle}, {"chosen", chosen}, {"rejected", rejected},
          {"group", group},   {"kind", kind},   {"attribute", std::string(kStoryAttributes[attribute])},
          {"margin", static_cast<double>(static_cast<int>(margin * 10000 + 0.5)) / 10000}};
}

}  // namespace

std::vector<std::string> build_story_prefs(const std::vector<StorySamples>& samples, const StoryWorldOptions& options) {
  options.validate();
  std::vector<std::string> lines;
  world::Rng rng = world::Rng::derive(options.seed, 3);
  size_t n_group = 0;
  for (const StorySamples& s : samples) {
    std::vector<Scores> sc;
    for (const std::string& story : s.stories) sc.push_back(judge_story(story));
    // Candidates per attribute pair (p, q), so every kind of disagreement gets its turn: twins (p
    // prefers a, q prefers b) and aligned pairs (both prefer a).
    std::map<std::pair<size_t, size_t>, std::vector<Twin>> by_kind, aligned_by_kind;
    for (size_t a = 0; a < sc.size(); ++a)
      for (size_t b = 0; b < sc.size(); ++b)
        for (size_t p = 0; p < kStoryAttributes.size(); ++p)
          for (size_t q = p + 1; q < kStoryAttributes.size(); ++q) {
            if (a == b || s.stories[a] == s.stories[b] || sc[a][p] - sc[b][p] < options.margin) continue;
            if (options.aligned && !tied_elsewhere(sc[a], sc[b], p, q, options.margin)) continue;
            if (sc[b][q] - sc[a][q] >= options.margin) by_kind[{p, q}].push_back({a, b, p, q});
            if (sc[a][q] - sc[b][q] >= options.margin) aligned_by_kind[{p, q}].push_back({a, b, p, q});
          }
    std::vector<std::vector<Twin>> kinds;
    for (auto& [k, v] : by_kind) {
      if (options.aligned && aligned_by_kind[k].empty()) continue;  // a twin without its companion is unbalanced
      rng.shuffle(v);
      kinds.push_back(std::move(v));
    }
    if (options.aligned)
      for (auto& [k, v] : aligned_by_kind) rng.shuffle(v);
    rng.shuffle(kinds);
    std::vector<Twin> chosen;
    std::vector<size_t> round_of;
    for (size_t round = 0; static_cast<int>(chosen.size()) < options.max_twins_per_opening; ++round) {
      bool any = false;
      for (const auto& k : kinds)
        if (round < k.size() && static_cast<int>(chosen.size()) < options.max_twins_per_opening) {
          chosen.push_back(k[round]);
          round_of.push_back(round);
          any = true;
        }
      if (!any) break;
    }
    for (size_t i = 0; i < chosen.size(); ++i) {
      const Twin& t = chosen[i];
      const std::string group = "story-" + std::to_string(++n_group);
      const std::string& A = s.stories[t.a];
      const std::string& B = s.stories[t.b];
      lines.push_back(pref_line(s.opening, phrase(t.p, rng), A, B, group, t.p, sc[t.a][t.p] - sc[t.b][t.p]).dump());
      lines.push_back(pref_line(s.opening, phrase(t.q, rng), B, A, group, t.q, sc[t.b][t.q] - sc[t.a][t.q]).dump());
      if (!options.aligned) continue;
      // The companion: two samples both judges order the same way, chosen under both principles. Under
      // p the chosen story is then better on q in one pair and worse in the other, so "less of q" is no
      // shortcut to p (without it every other principle learns "no animals": docs/results/stories).
      const std::vector<Twin>& al = aligned_by_kind[{t.p, t.q}];
      const Twin& c = al[round_of[i] % al.size()];
      const std::string& C = s.stories[c.a];
      const std::string& D = s.stories[c.b];
      lines.push_back(
          pref_line(s.opening, phrase(t.p, rng), C, D, group, t.p, sc[c.a][t.p] - sc[c.b][t.p], "aligned").dump());
      lines.push_back(
          pref_line(s.opening, phrase(t.q, rng), C, D, group, t.q, sc[c.a][t.q] - sc[c.b][t.q], "aligned").dump());
    }
  }
  return lines;
}

StoryBaseStats story_base_stats(const std::vector<StorySamples>& samples, const StoryJudgeOptions& opt) {
  StoryBaseStats st;
  for (const auto& a : kStoryAttributes) st.mean[std::string(a)] = 0, st.share_high[std::string(a)] = 0;
  for (const StorySamples& s : samples)
    for (const std::string& story : s.stories) {
      const Scores sc = judge_story(story, opt);
      for (size_t i = 0; i < sc.size(); ++i) {
        st.mean[std::string(kStoryAttributes[i])] += sc[i];
        st.share_high[std::string(kStoryAttributes[i])] += sc[i] > 0.5 ? 1 : 0;
      }
      ++st.n;
    }
  if (st.n > 0)
    for (const auto& a : kStoryAttributes) st.mean[std::string(a)] /= st.n, st.share_high[std::string(a)] /= st.n;
  return st;
}

}  // namespace pad::eval
