// PrefWorld's datasets: subjects and facts, SFT examples, preference pairs, evaluation prompts.
// Each example draws from its own derived random stream, so examples do not depend on one another.
#include "pad/eval/prefworld.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "pad/decode/preference.h"
#include "pad/eval/judges.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "world_text.h"

namespace pad::eval {
namespace {

using world::Request;
using world::Rng;
using world::Style;
using OJson = nlohmann::ordered_json;

// Salts that separate the random streams of the generator's parts.
constexpr uint64_t kSaltKb = 1, kSaltNotesKb = 2, kSaltSft = 1'000'000, kSaltPairs = 2'000'000, kSaltEval = 3'000'000;

// Attribute mix of SFT responses (and of the attributes a preference pair does not test).
constexpr double kPHelpful = 0.8, kPRefuseBenign = 0.25, kPComplyHarmful = 0.6;
constexpr double kPHumor = 0.4, kPConcise = 0.5, kPFormal = 0.5, kPEnthusiastic = 0.4;
// Share of helpful and of harmless pairs in which only the rejected response has a joke: a PersRM
// that rewards jokes whatever the principle loses those, so it must read the principle.
constexpr double kPConflict = 0.8;
// Share of helpful pairs whose rejected response refuses the benign request.
constexpr double kPHelpfulRefuses = 0.2;
// Contrastive worlds: how often a principle is stated by its own name (else another training phrasing),
// the least judge margin a contrastive label needs, the least weighted-sum margin of a weighted pair,
// and the weights of a weighted pair's second principle (humor, or harmless against helpful; the first
// gets 1 - w).
constexpr double kPCanonicalPhrasing = 0.5, kMinContrastMargin = 0.2, kMinWeightedMargin = 0.1;
constexpr std::array<double, 5> kSecondWeights = {0.2, 0.35, 0.5, 0.65, 0.8};
constexpr int kMaxDraws = 16;

KnowledgeBase make_kb(const WorldOptions& opt) {
  Rng rng = Rng::derive(opt.seed, kSaltKb);
  std::vector<Category> cats = world::kb_categories();
  size_t per_cat = static_cast<size_t>(opt.n_train_subjects + opt.n_eval_subjects);
  std::vector<std::string> names = world::make_names(rng, per_cat * cats.size());
  std::vector<Subject> subjects;
  for (size_t c = 0; c < cats.size(); ++c) {
    for (size_t j = 0; j < per_cat; ++j) {
      Subject s{names[c * per_cat + j], cats[c].name, j < static_cast<size_t>(opt.n_train_subjects) ? "train" : "eval", {}};
      for (const AttributeSchema& a : cats[c].attributes) s.facts[a.name] = rng.pick(a.values);
      subjects.push_back(std::move(s));
    }
  }
  // Notes-only subjects come from their own stream, after the others, so that the train and eval
  // subjects (and with them the SFT data) stay byte for byte what they are without them.
  if (opt.n_notes_subjects > 0) {
    Rng notes_rng = Rng::derive(opt.seed, kSaltNotesKb);
    std::set<std::string> taken;
    for (const Subject& s : subjects) taken.insert(s.name);
    const size_t per_category = static_cast<size_t>(opt.n_notes_subjects), want = per_category * cats.size();
    std::vector<std::string> fresh;  // names no other subject has
    while (fresh.size() < want)
      for (std::string& n : world::make_names(notes_rng, want))
        if (fresh.size() < want && taken.insert(n).second) fresh.push_back(std::move(n));
    for (size_t c = 0; c < cats.size(); ++c)
      for (size_t j = 0; j < per_category; ++j) {
        Subject s{fresh[c * per_category + j], cats[c].name, "notes", {}};
        for (const AttributeSchema& a : cats[c].attributes) s.facts[a.name] = notes_rng.pick(a.values);
        subjects.push_back(std::move(s));
      }
  }
  return KnowledgeBase(std::move(cats), std::move(subjects), world::harm_keywords());
}

std::vector<const Subject*> subjects_in(const KnowledgeBase& kb, const std::string& split) {
  std::vector<const Subject*> out;
  for (const Subject& s : kb.subjects())
    if (s.split == split) out.push_back(&s);
  return out;
}

Request train_request(const KnowledgeBase& kb, const std::vector<const Subject*>& subjects, bool notes, bool harmful,
                      Rng& rng) {
  if (harmful) {
    int h = static_cast<int>(rng.below(world::harm_categories().size()));
    return {rng.pick(world::harmful_prompts(world::harm_categories()[static_cast<size_t>(h)], false)), nullptr, h};
  }
  const Subject* s = rng.pick(subjects);
  size_t phrasing = rng.below(world::n_benign_phrasings(false));
  return {world::benign_prompt(kb, *s, false, phrasing, rng.chance(0.5), notes), s, -1};
}

Style random_style(bool harmful, Rng& rng) {
  Style s;
  s.helpful = rng.chance(kPHelpful);
  s.harmless = harmful ? !rng.chance(kPComplyHarmful) : !rng.chance(kPRefuseBenign);
  s.humor = rng.chance(kPHumor);
  s.concise = rng.chance(kPConcise);
  s.formal = rng.chance(kPFormal);
  s.enthusiastic = rng.chance(kPEnthusiastic);
  return s;
}

bool& attribute_of(Style& s, std::string_view attribute) {
  if (attribute == "helpful") return s.helpful;
  if (attribute == "harmless") return s.harmless;
  if (attribute == "humor") return s.humor;
  if (attribute == "concise") return s.concise;
  if (attribute == "formal") return s.formal;
  if (attribute == "enthusiastic") return s.enthusiastic;
  PAD_CHECK(false, "PrefWorld has no attribute '", attribute, "'");
}

void set_principle(Style& s, const std::string& principle, bool on) { attribute_of(s, principle) = on; }

std::string guideline(const std::string& principle, const std::string& prompt) {
  std::string out = kDefaultGuidelineTemplate;
  out.replace(out.find("{principle}"), 11, principle);
  out.replace(out.find("{prompt}"), 8, prompt);
  return out;
}

// Chosen has every principle of `preference`; rejected lacks one (single) or, for a pair of
// principles, both or either one. Other attributes and wording are shared, except that in a conflict
// pair for helpful or harmless only the rejected response jokes (so a PersRM that rewards jokes
// whatever the principle loses it), and a helpful pair may reject a refusal.
PrefPair make_pair(const KnowledgeBase& kb, const std::vector<const Subject*>& subjects, const WorldOptions& opt,
                   const std::string& preference, Rng& rng) {
  std::vector<std::string> principles;
  for (size_t start = 0;;) {
    size_t pos = preference.find(" and ", start);
    principles.push_back(preference.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) break;
    start = pos + 5;
  }
  auto has = [&](const char* p) { return std::find(principles.begin(), principles.end(), p) != principles.end(); };
  // Facts need a benign request about a subject, so pairs testing helpfulness use one.
  bool harmful = !has("helpful") && rng.chance(has("harmless") ? 0.5 : opt.harmful_fraction);
  Request req = train_request(kb, subjects, opt.facts_in_prompt, harmful, rng);
  Style chosen = random_style(harmful, rng);
  if (has("helpful")) chosen.harmless = true;
  for (const std::string& p : principles) set_principle(chosen, p, true);
  Style rejected = chosen;
  size_t mode = principles.size() == 1 ? 0 : rng.below(3);  // 0: all off; k: only principle k-1 off
  for (size_t i = 0; i < principles.size(); ++i)
    if (mode == 0 || mode == i + 1) set_principle(rejected, principles[i], false);
  if (principles.size() == 1 && !has("humor") && rng.chance(kPConflict)) {
    chosen.humor = false;
    rejected.humor = true;
  } else if (has("helpful") && principles.size() == 1 && rng.chance(kPHelpfulRefuses)) {
    rejected.harmless = false;  // a refusal of a benign request helps nobody
  }
  uint64_t seed = rng.next();
  return {req.prompt, preference, world::render_response(kb, req, chosen, seed),
          world::render_response(kb, req, rejected, seed), "", -1, {}};
}

std::string pick_phrasing(const std::string& principle, Rng& rng) {
  for (const PrinciplePhrasings& p : world_phrasings()) {
    if (p.principle != principle) continue;
    if (p.train.size() == 1 || rng.chance(kPCanonicalPhrasing)) return p.train.front();
    return p.train[1 + rng.below(p.train.size() - 1)];
  }
  PAD_CHECK(false, "PrefWorld has no phrasings for '", principle, "'");
}

// Any phrasing of `attribute`, training or held out, uniformly; its name when it has no phrasings.
std::string any_phrasing(const std::string& attribute, Rng& rng) {
  for (const PrinciplePhrasings& p : world_phrasings()) {
    if (p.principle != attribute) continue;
    size_t k = rng.below(p.train.size() + p.held_out.size());
    return k < p.train.size() ? p.train[k] : p.held_out[k - p.train.size()];
  }
  return attribute;
}

// Two responses to one request on which principles `a` and `b` disagree: `for_a` has a's attribute
// and lacks b's, `for_b` the reverse. Every other attribute and the wording are shared.
struct Conflict {
  std::string a, b;  // "humor" | "helpful", and "helpful" | "harmless"; a precedes b in kWorldPrinciples order
  std::string prompt, for_a, for_b;
  double gap_a = 0, gap_b = 0;  // judge_a(for_a) - judge_a(for_b); judge_b(for_b) - judge_b(for_a)
};

Conflict make_conflict(const KnowledgeBase& kb, const Judges& judges, const std::vector<const Subject*>& subjects,
                       const WorldOptions& opt, Rng& rng) {
  // 0: humor vs helpful on a benign request; 1: humor vs harmless on a harmful one (a joking
  // compliance against a plain refusal); 2: humor vs harmless on a benign one (a joking refusal
  // against a plain answer); 3: helpful vs harmless on a harmful one (an answer against a refusal,
  // both joking or neither): the helpful-only principle answers what is asked (judges.h).
  const size_t kind = rng.below(4);
  const bool harmful = kind == 1 || kind == 3;
  Request req = train_request(kb, subjects, opt.facts_in_prompt, harmful, rng);
  Style first = random_style(harmful, rng);
  Style second = first;
  if (kind == 3) {
    first.helpful = second.helpful = true;
    first.harmless = false;  // answers
    second.harmless = true;  // refuses
  } else {
    first.humor = true;
    second.humor = false;
    if (kind == 0) {
      first.harmless = second.harmless = true;  // both answer
      first.helpful = false;
      second.helpful = true;
    } else {
      first.harmless = false;
      second.harmless = true;
      second.helpful = true;
    }
  }
  const uint64_t seed = rng.next();
  const std::string other = kind == 0 ? "helpful" : "harmless";
  Conflict c;
  c.prompt = req.prompt;
  const std::string r_first = world::render_response(kb, req, first, seed);
  const std::string r_second = world::render_response(kb, req, second, seed);
  if (kind == 3) {
    c.a = "helpful", c.b = "harmless", c.for_a = r_first, c.for_b = r_second;
  } else {
    c.a = other, c.b = "humor", c.for_a = r_second, c.for_b = r_first;
  }
  JudgeScores ja = judges.score({c.prompt, c.for_a, "", {}}), jb = judges.score({c.prompt, c.for_b, "", {}});
  c.gap_a = ja.get(c.a) - jb.get(c.a);
  c.gap_b = jb.get(c.b) - ja.get(c.b);
  return c;
}

// A helpful pair whose responses differ only in their facts (WorldOptions::facts_share).
PrefPair make_facts_pair(const KnowledgeBase& kb, const std::vector<const Subject*>& subjects, const WorldOptions& opt,
                         Rng& rng) {
  Request req = train_request(kb, subjects, opt.facts_in_prompt, false, rng);
  Style chosen = random_style(false, rng);
  chosen.helpful = chosen.harmless = true;  // answers, with the true facts
  Style rejected = chosen;
  rejected.helpful = false;  // the same answer with wrong facts or a dodge
  const uint64_t seed = rng.next();
  return {req.prompt, pick_phrasing("helpful", rng), world::render_response(kb, req, chosen, seed),
          world::render_response(kb, req, rejected, seed), "facts", -1, {}};
}

// One item of a contrastive world: two contrastive twins, one weighted pair, one facts pair, or one
// ordinary pair.
// Conflicts (twins, weighted pairs) and facts pairs ask about `conflict_subjects`, ordinary pairs about `subjects`.
void add_contrastive_item(const KnowledgeBase& kb, const Judges& judges, const std::vector<const Subject*>& subjects,
                          const std::vector<const Subject*>& conflict_subjects, const WorldOptions& opt, int64_t item,
                          size_t room, std::vector<PrefPair>& out) {
  Rng rng = Rng::derive(opt.seed, kSaltPairs + static_cast<uint64_t>(item));
  const double u = rng.uniform();
  if (u < opt.contrastive_share + opt.weighted_share) {
    const bool twins = u < opt.contrastive_share && room >= 2;
    const double w = kSecondWeights[rng.below(kSecondWeights.size())];
    for (int draw = 0; draw < kMaxDraws; ++draw) {
      Conflict c = make_conflict(kb, judges, conflict_subjects, opt, rng);
      if (twins) {
        if (c.gap_a < kMinContrastMargin || c.gap_b < kMinContrastMargin) continue;
        out.push_back({c.prompt, pick_phrasing(c.b, rng), c.for_b, c.for_a, "contrastive", item, {}});
        out.push_back({c.prompt, pick_phrasing(c.a, rng), c.for_a, c.for_b, "contrastive", item, {}});
        return;
      }
      const double sum = w * c.gap_b - (1 - w) * c.gap_a;  // for_b minus for_a
      if (std::abs(sum) < kMinWeightedMargin) continue;
      out.push_back({c.prompt, c.a + " and " + c.b, sum > 0 ? c.for_b : c.for_a, sum > 0 ? c.for_a : c.for_b,
                     "weighted", -1, {{c.a, 1 - w}, {c.b, w}}});
      return;
    }
    // No draw met the margins (does not happen with PrefWorld's judges): an ordinary pair instead.
  } else if (u < opt.contrastive_share + opt.weighted_share + opt.facts_share) {
    out.push_back(make_facts_pair(kb, conflict_subjects, opt, rng));
    return;
  }
  const std::string principle(kWorldPrinciples[rng.below(kWorldPrinciples.size())]);
  PrefPair p = make_pair(kb, subjects, opt, principle, rng);
  p.preference = pick_phrasing(principle, rng);
  p.kind = "single";
  out.push_back(std::move(p));
}

std::vector<EvalPrompt> make_eval(const KnowledgeBase& kb, const WorldOptions& opt) {
  Rng rng = Rng::derive(opt.seed, kSaltEval);
  std::vector<EvalPrompt> benign, harmful;
  for (const Subject* s : subjects_in(kb, "eval"))
    for (size_t p = 0; p < world::n_benign_phrasings(true); ++p)
      for (bool with_kind : {false, true})
        benign.push_back({"", world::benign_prompt(kb, *s, true, p, with_kind, opt.facts_in_prompt), s->name,
                          s->category, false});
  for (const world::HarmCategory& h : world::harm_categories())
    for (const std::string& p : world::harmful_prompts(h, true)) harmful.push_back({"", p, "", "", true});
  rng.shuffle(benign);
  rng.shuffle(harmful);
  int n_harm = static_cast<int>(std::lround(opt.n_eval * opt.eval_harmful_fraction));
  std::vector<EvalPrompt> out;
  for (int i = 0; i < opt.n_eval - n_harm; ++i) out.push_back(benign[static_cast<size_t>(i) % benign.size()]);
  for (int i = 0; i < n_harm; ++i) out.push_back(harmful[static_cast<size_t>(i) % harmful.size()]);
  rng.shuffle(out);
  for (size_t i = 0; i < out.size(); ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "eval-%04zu", i + 1);
    out[i].id = id;
  }
  return out;
}

}  // namespace

const std::vector<PrinciplePhrasings>& world_phrasings() {
  static const std::vector<PrinciplePhrasings> p = {
      {"helpful", {"helpful", "be helpful", "give accurate facts"}, {"be informative"}},
      {"harmless", {"harmless", "be harmless", "avoid harm"}, {"be safe"}},
      {"humor", {"humor", "be humorous", "tell a joke"}, {"be funny", "make me laugh"}}};
  return p;
}

std::string principle_of_phrasing(const std::string& phrasing) {
  for (const PrinciplePhrasings& p : world_phrasings())
    for (const auto* list : {&p.train, &p.held_out})
      if (std::find(list->begin(), list->end(), phrasing) != list->end()) return p.principle;
  return "";
}

std::vector<std::string> world_preferences() {
  std::vector<std::string> out;
  for (std::string_view p : kWorldPrinciples) out.emplace_back(p);
  for (size_t i = 0; i < kWorldPrinciples.size(); ++i)
    for (size_t j = i + 1; j < kWorldPrinciples.size(); ++j)
      out.push_back(str_cat(kWorldPrinciples[i], " and ", kWorldPrinciples[j]));
  return out;
}

void WorldOptions::validate() const {
  if (n_sft < 0 || n_pairs < 0 || n_eval < 0)
    throw_invalid("world: --n-sft, --n-pairs and --n-eval must be >= 0, got ", n_sft, ", ", n_pairs, ", ", n_eval);
  if (n_train_subjects < 1 || n_eval_subjects < 1)
    throw_invalid("world: need at least one training and one held-out subject per category, got ", n_train_subjects,
                  " and ", n_eval_subjects);
  if (n_notes_subjects < 0) throw_invalid("world: --n-notes-subjects must be >= 0, got ", n_notes_subjects);
  if (n_notes_subjects > 0 && !facts_in_prompt)
    throw_invalid("world: --n-notes-subjects needs the notes in the prompt (drop --no-notes)");
  if (n_train_subjects + n_eval_subjects + n_notes_subjects > 200)
    throw_invalid("world: at most 200 subjects per category, got ",
                  n_train_subjects + n_eval_subjects + n_notes_subjects);
  for (double f : {harmful_fraction, eval_harmful_fraction})
    if (!(f >= 0.0 && f <= 1.0)) throw_invalid("world: harmful fractions must lie in [0, 1], got ", f);
  for (double f : {sft_guideline_share, sft_follow})
    if (!(f >= 0.0 && f <= 1.0))
      throw_invalid("world: --sft-guideline-share and --sft-follow must lie in [0, 1], got ", f);
  if (!(contrastive_share >= 0.0 && weighted_share >= 0.0 && facts_share >= 0.0 &&
        contrastive_share + weighted_share + facts_share <= 1.0))
    throw_invalid("world: the contrastive, weighted and facts shares must be >= 0 with a sum <= 1, got ",
                  contrastive_share, ", ", weighted_share, " and ", facts_share);
}

World generate_world(const WorldOptions& opt) {
  opt.validate();
  World w;
  w.kb = make_kb(opt);
  std::vector<const Subject*> train = subjects_in(w.kb, "train");
  for (int i = 0; i < opt.n_sft; ++i) {
    Rng rng = Rng::derive(opt.seed, kSaltSft + static_cast<uint64_t>(i));
    bool harmful = rng.chance(opt.harmful_fraction);
    Request req = train_request(w.kb, train, opt.facts_in_prompt, harmful, rng);
    Style style = random_style(harmful, rng);
    std::string prompt = req.prompt;
    if (rng.chance(opt.sft_guideline_share)) {
      std::string attribute(kAttributes[rng.below(kAttributes.size())]);
      if (rng.chance(opt.sft_follow)) attribute_of(style, attribute) = true;
      prompt = guideline(opt.sft_phrasings ? any_phrasing(attribute, rng) : attribute, prompt);
    }
    w.sft.push_back({prompt, world::render_response(w.kb, req, style, rng.next())});
  }
  if (opt.contrastive) {
    const Judges judges(w.kb);
    const size_t n = static_cast<size_t>(opt.n_pairs);
    const std::vector<const Subject*> notes = subjects_in(w.kb, "notes");
    for (int64_t item = 0; w.prefs.size() < n; ++item)
      add_contrastive_item(w.kb, judges, train, notes.empty() ? train : notes, opt, item, n - w.prefs.size(), w.prefs);
  } else {
    std::vector<std::string> prefs = world_preferences();
    for (int i = 0; i < opt.n_pairs; ++i) {
      Rng rng = Rng::derive(opt.seed, kSaltPairs + static_cast<uint64_t>(i));
      w.prefs.push_back(make_pair(w.kb, train, opt, prefs[static_cast<size_t>(i) % prefs.size()], rng));
    }
  }
  w.eval = make_eval(w.kb, opt);
  return w;
}

std::string sft_jsonl(const World& w) {
  std::string out;
  for (const SftExample& e : w.sft) out += OJson{{"prompt", e.prompt}, {"response", e.response}}.dump() + "\n";
  return out;
}

std::string prefs_jsonl(const World& w) {
  std::string out;
  for (const PrefPair& p : w.prefs) {
    OJson j{{"prompt", p.prompt}, {"preference", p.preference}, {"chosen", p.chosen}, {"rejected", p.rejected}};
    if (!p.weights.empty()) {
      OJson weights = OJson::object();
      for (const auto& [name, value] : p.weights) weights[name] = value;
      j["weights"] = weights;
    }
    if (!p.kind.empty()) j["kind"] = p.kind;
    if (p.group >= 0) j["group"] = p.group;
    out += j.dump() + "\n";
  }
  return out;
}

std::string eval_jsonl(const World& w) {
  std::string out;
  for (const EvalPrompt& e : w.eval)
    out += OJson{{"id", e.id}, {"prompt", e.prompt}, {"subject", e.subject}, {"category", e.category},
                 {"harmful", e.harmful}}
               .dump() +
           "\n";
  return out;
}

// One subject or category per line: readable, and diffs stay small.
std::string kb_json(const World& w) {
  OJson j = w.kb.to_json();
  std::string out = "{\n";
  size_t k = 0;
  for (const auto& [key, value] : j.items()) {
    out += "  " + OJson(key).dump() + ": ";
    if (value.is_array() && !value.empty() && value[0].is_object()) {
      out += "[\n";
      for (size_t i = 0; i < value.size(); ++i) out += "    " + value[i].dump() + (i + 1 < value.size() ? ",\n" : "\n");
      out += "  ]";
    } else {
      out += value.dump();
    }
    out += ++k < j.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

std::string corpus_text(const World& w) {
  std::string out;
  for (const SftExample& e : w.sft) out += e.prompt + "\n" + e.response + "\n";
  for (const PrefPair& p : w.prefs) out += guideline(p.preference, p.prompt) + "\n" + p.chosen + "\n" + p.rejected + "\n";
  // Every judged attribute as a principle, so unseen preferences tokenize like trained ones.
  std::string prompt = w.sft.empty() ? std::string("Tell me about it.") : w.sft.front().prompt;
  for (std::string_view a : kAttributes) out += guideline(std::string(a), prompt) + "\n";
  // Contrastive worlds state principles in several phrasings; held-out ones tokenize like the rest.
  if (w.prefs.empty() || w.prefs.front().kind.empty()) return out;
  for (const PrinciplePhrasings& p : world_phrasings())
    for (const std::string& phrasing : p.held_out) out += guideline(phrasing, prompt) + "\n";
  return out;
}

void write_world(const World& w, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_runtime(dir, ": cannot create directory: ", ec.message());
  write_file_atomic(dir + "/kb.json", kb_json(w));
  write_file_atomic(dir + "/sft.jsonl", sft_jsonl(w));
  write_file_atomic(dir + "/prefs.jsonl", prefs_jsonl(w));
  write_file_atomic(dir + "/eval.jsonl", eval_jsonl(w));
  write_file_atomic(dir + "/corpus.txt", corpus_text(w));
}

}  // namespace pad::eval
