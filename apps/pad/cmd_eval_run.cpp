// `pad eval`: runs the methods (base, preference prompting, best-of-n, PAD with one, joined and
// weighted principles, and a weight sweep between two principles) over held-out prompts, scores every
// output with the judges and the PersRM, and writes results.jsonl, table.md, summary.json and charts.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "common.h"
#include "eval_command.h"
#include "eval_files.h"
#include "eval_personalization.h"
#include "pad/decode/prompts.h"
#include "pad/eval/judges.h"
#include "pad/eval/report.h"
#include "pad/eval/stories.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

using OJson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr const char* kMethods[] = {"base", "prompt", "best-of-n", "pad", "pad-joined", "pad-weighted"};
constexpr const char* kSweepMethod = "pad-sweep";

struct EvalFlags {
  ModelFlags model;
  PersRmFlags rm;
  std::string eval_file;  // eval.jsonl: {"id", "prompt", "subject", "harmful"} per line
  std::string kb;         // kb.json the judges read (prefworld)
  std::string world = "prefworld";  // whose judges: prefworld | stories (story judges, no kb)
  std::string chat_template;  // --chat-template FILE|NAME override
  std::string out;        // output directory
  std::vector<std::string> methods = {"base", "prompt", "best-of-n", "pad", "pad-joined", "pad-weighted"};
  std::vector<std::string> principles = {"helpful", "harmless", "humor"};
  std::vector<std::string> pairs;     // "a+b"; empty: every pair of the principles
  double w = 1.0;                     // PAD guidance weight
  int k = 10;                         // PAD candidates
  int n_predict = 64;                 // new tokens per output
  int n_best = 4;                     // best-of-n samples
  float temp = 0.7f;                  // best-of-n sampling temperature
  float decode_temp = 0.0f;           // every other method: 0 = greedy (the authors' setting)
  uint64_t seed = 1;                  // sampling: prompt i samples with seed + i in every method
  int limit = 0;                      // first N prompts; 0 = all
  std::vector<double> sweep = {0, 0.25, 0.5, 0.75, 1};  // s: w_a = s, w_b = 1 - s
  std::vector<std::string> frontier;  // two principles; empty: the first pair
  bool no_frontier = false;
  int max_batch = 0;                  // requests decoded together; 0 = all of a method's requests
  std::vector<std::string> phrasings;  // "TEXT=ATTR": PAD toward TEXT, judged by ATTR (held-out phrasings)
  std::vector<std::string> unseen;     // untrained attributes: PAD toward each, alone and joined
  eval::BootstrapOptions bootstrap;    // selectivity CIs
};

// The judged attributes of a world, in table order.
std::vector<std::string> world_attributes(const std::string& world) {
  if (world == "stories") return {eval::kStoryAttributes.begin(), eval::kStoryAttributes.end()};
  return {eval::kAttributes.begin(), eval::kAttributes.end()};
}

// Throws std::invalid_argument (naming the known attributes) unless `a` is one of the world's.
void check_attribute(const std::string& world, const std::string& a) {
  if (world == "stories") eval::story_attribute_index(a);
  else eval::attribute_index(a);
}

// --phrasings "be funny=humor" -> {"be funny": "humor"}; validated before any model is loaded.
std::map<std::string, std::string> parse_phrasings(const std::vector<std::string>& specs, const std::string& world) {
  std::map<std::string, std::string> out;
  for (const std::string& s : specs) {
    const size_t eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw_invalid("--phrasings '", s, "' is not TEXT=ATTRIBUTE (e.g. \"be funny=humor\")");
    try {
      check_attribute(world, s.substr(eq + 1));
    } catch (const std::invalid_argument& e) {
      throw_invalid("--phrasings '", s, "': ", e.what());
    }
    out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

// One preference a method runs with; `label` names it in results, tables and summaries.
struct Target {
  std::string label;  // "helpful", "helpful and humor", "helpful=0.5,humor=0.5"; "none" for base
  Preference pref;
};

// One method over every prompt and every target, decoded as one batch.
struct MethodRun {
  std::string name;
  Strategy strategy = Strategy::kBase;
  std::vector<Target> targets;
};

// One output's judge scores, in the order of `names` (the world's attributes).
struct Scores {
  const std::vector<std::string>* names = nullptr;
  std::vector<double> values;
  double get(std::string_view a) const {
    for (size_t i = 0; i < names->size(); ++i)
      if ((*names)[i] == a) return values[i];
    throw_invalid("unknown attribute '", a, "'");
  }
  OJson to_json() const {
    OJson j = OJson::object();
    for (size_t i = 0; i < names->size(); ++i) j[(*names)[i]] = std::round(values[i] * 1e4) / 1e4;
    return j;
  }
};

struct Output {
  size_t item = 0;
  const MethodRun* run = nullptr;
  size_t target = 0;
  PadResult result;
  std::string text;
  Scores scores;
  std::optional<double> reward;          // PersRM sequence reward under the target preference
  std::map<std::string, double> rewards;  // base: under each principle
  const Target& tgt() const { return run->targets[target]; }
};

struct Context {
  const EvalFlags& flags;
  std::shared_ptr<Model> base;
  std::shared_ptr<const Tokenizer> tok;
  PersRm rm;
  std::vector<EvalItem> items;
  std::vector<int> stops;
  std::vector<std::string> attributes;  // the world's judged attributes
  std::optional<eval::Judges> judges;    // prefworld's, from --kb; the story judges need none
};

// Progress on stderr: a redrawn bar on a terminal, else a plain line per phase and every ~10 s.
class Progress {
 public:
  explicit Progress(size_t total) : total_(std::max<size_t>(1, total)), tty_(isatty(STDERR_FILENO)) {}
  // `units` of work, each about `tokens_per_unit` calls of token().
  void begin(const std::string& phase, size_t units, int tokens_per_unit, const char* noun = "requests") {
    phase_ = phase, units_ = units, tokens_per_unit_ = std::max(1, tokens_per_unit), tokens_ = 0;
    t_phase_ = Clock::now();
    if (!tty_) std::fprintf(stderr, "eval: %s: %zu %s\n", phase.c_str(), units, noun);
    draw(true);
  }
  void token() {
    ++tokens_;
    draw(false);
  }
  void end() {
    done_ += units_, tokens_ = 0;
    const double s = std::chrono::duration<double>(Clock::now() - t_phase_).count();
    if (tty_) draw(true);
    else std::fprintf(stderr, "eval: %s: done in %.1f s (%zu/%zu)\n", phase_.c_str(), s, done_, total_);
    if (tty_ && done_ >= total_) std::fprintf(stderr, "\n");
  }

 private:
  void draw(bool force) {
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - t_draw_).count();
    if (!force && since < (tty_ ? 0.1 : 10.0)) return;
    t_draw_ = now;
    const double partial = std::min<double>(units_, double(tokens_) / tokens_per_unit_);
    const double frac = std::min(1.0, (done_ + partial) / total_);
    if (!tty_) {
      if (!force) std::fprintf(stderr, "eval: %s: %.0f%% overall\n", phase_.c_str(), 100 * frac);
      return;
    }
    const int width = 30, filled = static_cast<int>(width * frac);
    std::fprintf(stderr, "\r[%s%s] %3.0f%% %-14s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), 100 * frac, phase_.c_str());
  }

  size_t total_, done_ = 0, units_ = 0, tokens_ = 0;
  int tokens_per_unit_ = 1;
  bool tty_;
  std::string phase_;
  Clock::time_point t_phase_, t_draw_;
};

void require_file(const std::string& path, const char* flag) {
  if (!file_exists(path) && !is_directory(path)) throw_invalid(flag, " ", path, ": no such file or directory");
}

void require_principle(const std::string& world, const std::string& p, const char* flag) {
  try {
    check_attribute(world, p);
  } catch (const std::invalid_argument& e) {
    throw_invalid(flag, ": ", e.what());  // e.what() names the known attributes
  }
}

std::pair<std::string, std::string> parse_pair(const std::string& world, const std::string& spec, const char* flag) {
  const auto parts = split(spec, '+');
  if (parts.size() != 2 || parts[0] == parts[1])
    throw_invalid(flag, " '", spec, "' is not two different principles joined by '+' (e.g. helpful+humor)");
  for (const auto& p : parts) require_principle(world, p, flag);
  return {parts[0], parts[1]};
}

Target weighted_target(const std::string& a, double wa, const std::string& b, double wb) {
  char label[160];
  std::snprintf(label, sizeof label, "%s=%g,%s=%g", a.c_str(), wa, b.c_str(), wb);
  Preference p;
  p.weighted = true;
  p.principles = {{a, wa}, {b, wb}};
  return {label, p};
}

// Methods to run, validated before any model is loaded.
std::vector<MethodRun> plan_runs(const EvalFlags& f) {
  if (f.principles.empty()) throw_invalid("--principles: give at least one");
  for (const auto& p : f.principles) require_principle(f.world, p, "--principles");
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& s : f.pairs) pairs.push_back(parse_pair(f.world, s, "--pairs"));
  if (f.pairs.empty())
    for (size_t i = 0; i < f.principles.size(); ++i)
      for (size_t j = i + 1; j < f.principles.size(); ++j) pairs.emplace_back(f.principles[i], f.principles[j]);
  std::vector<MethodRun> runs;
  for (const std::string& name : f.methods) {
    if (std::find(std::begin(kMethods), std::end(kMethods), name) == std::end(kMethods))
      throw_invalid("--methods: '", name, "' is not known (expected ", join(std::vector<std::string>(std::begin(kMethods), std::end(kMethods)), ", "), ")");
    MethodRun m{name, name == "base" ? Strategy::kBase : name == "prompt" ? Strategy::kPrompt
                     : name == "best-of-n" ? Strategy::kBestOfN : Strategy::kPad, {}};
    if (name == "base") m.targets.push_back({"none", Preference{}});
    if (name == "prompt" || name == "best-of-n" || name == "pad")
      for (const auto& p : f.principles) m.targets.push_back({p, Preference::joined_from({p})});
    if (name == "pad") {
      for (const auto& [text, attr] : parse_phrasings(f.phrasings, f.world))
        m.targets.push_back({text, Preference::joined_from({text})});
      for (const auto& u : f.unseen) {
        require_principle(f.world, u, "--unseen");
        m.targets.push_back({u, Preference::joined_from({u})});
        for (const auto& p : f.principles) m.targets.push_back({p + " and " + u, Preference::joined_from({p, u})});
      }
    }
    if ((name == "pad-joined" || name == "pad-weighted") && pairs.empty())
      throw_invalid("--methods ", name, " needs a pair of principles (--pairs or two --principles)");
    for (const auto& [a, b] : pairs) {
      if (name == "pad-joined") m.targets.push_back({a + " and " + b, Preference::joined_from({a, b})});
      if (name == "pad-weighted") m.targets.push_back(weighted_target(a, 0.5, b, 0.5));
    }
    if (m.strategy != Strategy::kBase && m.strategy != Strategy::kPrompt && !f.rm.given())
      throw_invalid("--methods ", name, " needs a PersRM (--persrm-head, --persrm-lora or --persrm)");
    runs.push_back(std::move(m));
  }
  if (runs.empty()) throw_invalid("--methods: give at least one");
  if (f.no_frontier || f.sweep.empty() || (!f.rm.given() && f.frontier.empty())) return runs;
  if (!f.rm.given()) throw_invalid("--frontier needs a PersRM (the sweep runs PAD)");
  std::pair<std::string, std::string> ab;
  if (!f.frontier.empty()) {
    if (f.frontier.size() != 2) throw_invalid("--frontier takes two principles, e.g. helpful,humor");
    ab = parse_pair(f.world, f.frontier[0] + "+" + f.frontier[1], "--frontier");
  } else if (!pairs.empty()) {
    ab = pairs.front();
  } else {
    return runs;
  }
  MethodRun sweep{kSweepMethod, Strategy::kPad, {}};
  for (double s : f.sweep) {
    if (!(s >= 0 && s <= 1)) throw_invalid("--sweep: ", s, " is outside [0, 1]");
    sweep.targets.push_back(weighted_target(ab.first, s, ab.second, 1 - s));
  }
  runs.push_back(std::move(sweep));
  return runs;
}

void validate(const EvalFlags& f) {
  require_file(f.model.model, "-m");
  require_file(f.eval_file, "--eval");
  if (f.world != "prefworld" && f.world != "stories")
    throw_invalid("--world '", f.world, "' is not known (expected prefworld or stories)");
  if (f.world == "prefworld") {
    if (f.kb.empty()) throw_invalid("--kb is required for the prefworld judges (kb.json)");
    require_file(f.kb, "--kb");
  }
  for (const auto* p : {&f.rm.persrm, &f.rm.persrm_lora, &f.rm.persrm_head})
    if (!p->empty()) require_file(*p, "PersRM");
  if (f.n_predict < 1) throw_invalid("-n ", f.n_predict, " is out of range (expected ≥ 1)");
  if (f.n_best < 1) throw_invalid("--n-best ", f.n_best, " is out of range (expected ≥ 1)");
  if (f.k < 1) throw_invalid("--k ", f.k, " is out of range (expected ≥ 1)");
  if (f.limit < 0) throw_invalid("--limit ", f.limit, " is negative");
  if (!(f.decode_temp >= 0)) throw_invalid("--decode-temp ", f.decode_temp, " is negative");
  if (f.max_batch < 0) throw_invalid("--max-batch ", f.max_batch, " is negative");
  f.bootstrap.validate();
}

PromptSpec prompt_spec(const EvalFlags& f, const EvalItem& item, const Preference& pref) {
  PromptSpec s;
  s.user = item.prompt;
  s.preference = pref;
  s.chat_template_override = f.chat_template;
  if (f.world == "stories") s.guideline_template = eval::kStoryGuidelineTemplate;
  return s;
}

PadRequest make_request(const Context& c, const MethodRun& m, const EvalItem& item, size_t i, const Preference& pref) {
  PadRequest r;
  r.prompts = build_prompts(*c.tok, prompt_spec(c.flags, item, pref), m.strategy);
  r.pad.w = c.flags.w;
  r.pad.k = c.flags.k;
  r.n_predict = c.flags.n_predict;
  r.n_best = c.flags.n_best;
  r.stop_ids = c.stops;
  // The same seed for prompt i in every method: methods differ by their rule, not by their luck.
  r.sampling.temperature = m.strategy == Strategy::kBestOfN ? c.flags.temp : c.flags.decode_temp;
  r.sampling.seed = c.flags.seed + i;
  return r;
}

// Decodes every (prompt, target) of one method as one batch.
std::vector<Output> run_method(const Context& c, const MethodRun& m, Progress& progress) {
  std::vector<PadRequest> requests;
  std::vector<Output> outputs;
  for (size_t t = 0; t < m.targets.size(); ++t)
    for (size_t i = 0; i < c.items.size(); ++i) {
      requests.push_back(make_request(c, m, c.items[i], i, m.targets[t].pref));
      Output o;
      o.item = i, o.run = &m, o.target = t;
      outputs.push_back(std::move(o));
    }
  EngineOptions opt;
  opt.strategy = m.strategy;
  opt.max_batch = c.flags.max_batch > 0 ? c.flags.max_batch : static_cast<int>(requests.size());
  opt.n_valid_tokens = c.tok->n_vocab();
  PadEngine engine(c.base, c.rm, nullptr, opt);
  progress.begin(m.name, requests.size(), c.flags.n_predict);
  std::vector<PadResult> results = engine.run(requests, [&](size_t, int) { progress.token(); });
  progress.end();
  for (size_t r = 0; r < results.size(); ++r) {
    outputs[r].text = c.tok->decode(results[r].tokens, /*skip_special=*/true);
    outputs[r].result = std::move(results[r]);
  }
  return outputs;
}

// Scores every output with the world's judges (the story judges read the continuation only).
void judge_outputs(const Context& c, std::vector<Output>& outputs) {
  const std::optional<eval::Judges>& judges = c.judges;
  for (Output& o : outputs) {
    const EvalItem& it = c.items[o.item];
    o.scores.names = &c.attributes;
    if (judges) {
      const auto v = judges->score(eval::JudgeInput{it.prompt, o.text, it.subject, it.harmful}).values;
      o.scores.values.assign(v.begin(), v.end());
    } else {
      const auto v = eval::judge_story(o.text);
      o.scores.values.assign(v.begin(), v.end());
    }
  }
}

// The preferences outputs get a PersRM reward under (reward_outputs groups by prompt and these).
size_t n_reward_labels(const std::vector<MethodRun>& runs, const std::vector<std::string>& principles) {
  std::vector<std::string> labels;
  auto add = [&](const std::string& l) {
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
  };
  for (const MethodRun& m : runs) {
    if (m.strategy == Strategy::kBase) for (const auto& p : principles) add(p);
    else for (const Target& t : m.targets) add(t.label);
  }
  return labels.size();
}

// Sequence rewards under the PersRM (DESIGN §1, best-of-n's score): every output under its target
// preference, base outputs under each principle. One engine call per (prompt, preference).
void reward_outputs(const Context& c, std::vector<Output>& outputs, Progress& progress) {
  struct RewardGroup {
    Preference pref;
    std::vector<std::pair<double*, const std::vector<int>*>> slots;  // where the reward goes, the response
  };
  std::map<std::pair<size_t, std::string>, RewardGroup> groups;
  for (Output& o : outputs) {
    if (o.run->strategy == Strategy::kBase) {
      for (const auto& p : c.flags.principles) {
        RewardGroup& g = groups[{o.item, p}];
        g.pref = Preference::joined_from({p});
        g.slots.emplace_back(&o.rewards[p], &o.result.tokens);
      }
      continue;
    }
    RewardGroup& g = groups[{o.item, o.tgt().label}];
    g.pref = o.tgt().pref;
    o.reward = 0.0;
    g.slots.emplace_back(&*o.reward, &o.result.tokens);
  }
  EngineOptions opt;
  PadEngine engine(c.base, c.rm, nullptr, opt);
  progress.begin("persrm reward", groups.size(), 1, "(prompt, preference) groups");
  for (auto& [key, g] : groups) {
    std::vector<std::vector<int>> responses;
    for (const auto& s : g.slots) responses.push_back(*s.second);
    RequestPrompts prompts = build_prompts(*c.tok, prompt_spec(c.flags, c.items[key.first], g.pref), Strategy::kPad);
    std::vector<double> r = engine.sequence_rewards(prompts, responses);
    for (size_t i = 0; i < r.size(); ++i) *g.slots[i].first = r[i];
    progress.token();
  }
  progress.end();
}

OJson result_line(const Context& c, const Output& o) {
  const EvalItem& it = c.items[o.item];
  OJson j = {{"id", it.id}, {"prompt", it.prompt}, {"method", o.run->name}, {"preference", o.tgt().label}};
  if (o.tgt().pref.weighted) {
    OJson w = OJson::object();
    for (const auto& p : o.tgt().pref.principles) w[p.text] = p.weight;
    j["weights"] = w;
  }
  j["text"] = o.text;
  j["scores"] = o.scores.to_json();
  if (o.reward) j["sequence_reward"] = *o.reward;
  if (!o.rewards.empty()) j["sequence_rewards"] = o.rewards;
  j["n_tokens"] = o.result.tokens.size();
  j["stop_reason"] = o.result.stop_reason;
  j["t_prefill_ms"] = o.result.t_prefill_ms;
  j["t_decode_ms"] = o.result.t_decode_ms;
  return j;
}

OJson summary_json(const eval::Summary& s) {
  return {{"n", s.n}, {"mean", s.mean}, {"stddev", s.stddev}, {"half_width", s.half_width}};  // NaN → null
}

// The outputs of one (method, preference), in order of first appearance.
struct Group {
  std::string method, preference;
  std::vector<const Output*> outputs;
  std::string row() const { return preference == "none" ? method : method + " (" + preference + ")"; }
};

std::vector<Group> group_outputs(const std::vector<Output>& outputs) {
  std::vector<Group> groups;
  for (const Output& o : outputs) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.method == o.run->name && g.preference == o.tgt().label;
    });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{o.run->name, o.tgt().label, {}});
    it->outputs.push_back(&o);
  }
  return groups;
}

eval::Summary summarize_attr(const Group& g, std::string_view attribute) {
  std::vector<double> xs;
  for (const Output* o : g.outputs) xs.push_back(o->scores.get(attribute));
  return eval::summarize(xs);
}

std::optional<eval::Summary> summarize_reward(const Group& g) {
  std::vector<double> xs;
  for (const Output* o : g.outputs)
    if (o->reward) xs.push_back(*o->reward);
  if (xs.empty()) return std::nullopt;
  return eval::summarize(xs);
}

void write_reports(const Context& c, const std::vector<Output>& outputs, const std::map<std::string, double>& t_method_s) {
  const std::string& dir = c.flags.out;
  std::string lines;
  for (const Output& o : outputs) lines += result_line(c, o).dump() + "\n";
  eval::write_report(dir + "/results.jsonl", lines);

  const std::vector<Group> groups = group_outputs(outputs);
  const std::vector<std::string>& attributes = c.attributes;
  OJson summary = {{"n_prompts", c.items.size()}, {"attributes", attributes}, {"groups", OJson::array()}};
  const EvalFlags& f = c.flags;
  summary["settings"] = {{"w", f.w},         {"k", f.k},         {"n_predict", f.n_predict},
                         {"decode_temp", f.decode_temp}, {"best_of_n_temp", f.temp}, {"n_best", f.n_best},
                         {"seed", f.seed}};
  std::vector<eval::ScoredRow> rows;
  std::vector<eval::FrontierPoint> frontier;
  std::string fx, fy;            // the sweep's two principles
  std::vector<double> frontier_s;  // w(fx) of each point
  PersonalizationInput pin;
  pin.trained = f.principles, pin.phrasings = parse_phrasings(f.phrasings, f.world), pin.unseen = f.unseen;
  pin.attributes = attributes, pin.bootstrap = f.bootstrap;
  for (const Group& g : groups) {
    GroupScores gs{g.method, g.preference, {}, {}, -1};
    for (const Output* o : g.outputs) {
      gs.items.push_back(o->item);
      for (const auto& a : attributes) gs.scores[a].push_back(o->scores.get(a));
    }
    if (g.method == kSweepMethod) gs.sweep_s = g.outputs.front()->tgt().pref.principles[0].weight;
    pin.groups.push_back(std::move(gs));
    OJson jg = {{"method", g.method}, {"preference", g.preference}, {"n", g.outputs.size()}, {"scores", OJson::object()}};
    for (const auto& a : attributes) jg["scores"][a] = summary_json(summarize_attr(g, a));
    if (auto r = summarize_reward(g)) jg["sequence_reward"] = summary_json(*r);
    summary["groups"].push_back(jg);
    if (g.method == kSweepMethod) {
      const auto& pr = g.outputs.front()->tgt().pref.principles;
      fx = pr[0].text, fy = pr[1].text;
      frontier_s.push_back(pr[0].weight);
      char label[32];
      std::snprintf(label, sizeof label, "s=%g", pr[0].weight);
      frontier.push_back({label, summarize_attr(g, pr[0].text), summarize_attr(g, pr[1].text)});
      continue;
    }
    for (const Output* o : g.outputs) {
      eval::ScoredRow row{g.row(), {}};
      for (const auto& a : attributes) row.scores[a] = o->scores.get(a);
      if (o->reward) row.scores["persrm reward"] = *o->reward;
      rows.push_back(std::move(row));
    }
  }
  summary["t_method_s"] = t_method_s;
  std::vector<std::string> columns = attributes;
  if (c.rm.form != PersRm::Form::kNone) columns.push_back("persrm reward");
  eval::TableOptions topt;
  topt.method_header = "Method (preference)";
  const std::string table = eval::markdown_table(eval::summarize_scores(rows, columns), topt);
  eval::write_report(dir + "/scores.svg", eval::svg_bar_chart(eval::summarize_scores(rows, attributes)));
  std::vector<std::string> written = {"results.jsonl", "table.md", "scores.svg"};
  if (!frontier.empty()) {
    eval::FrontierOptions fo;
    fo.title = "PAD weight sweep: w(" + fx + ") = s, w(" + fy + ") = 1 - s";
    fo.x_label = fx + " (judge)";
    fo.y_label = fy + " (judge)";
    eval::write_report(dir + "/frontier.svg", eval::svg_frontier_chart(frontier, fo));
    OJson pts = OJson::array();
    for (size_t i = 0; i < frontier.size(); ++i)
      pts.push_back({{"s", frontier_s[i]}, {"x", summary_json(frontier[i].x)}, {"y", summary_json(frontier[i].y)}});
    summary["frontier"] = {{"x", fx}, {"y", fy}, {"points", pts}};
    written.push_back("frontier.svg");
  }
  pin.sweep_x = fx, pin.sweep_y = fy;
  const PersonalizationReport pers = personalization_report(pin);
  summary["personalization"] = pers.json;
  eval::write_report(dir + "/selectivity.svg", pers.heatmap_svg);
  written.push_back("selectivity.svg");
  eval::write_report(dir + "/summary.json", summary.dump(2) + "\n");
  written.push_back("summary.json");
  eval::write_report(dir + "/table.md", table + pers.markdown);
  std::cout << table << pers.markdown << "\nwrote " << dir << "/{" << join(written, ",") << "}: " << outputs.size() << " outputs\n";
}

void run_eval(const EvalFlags& f) {
  validate(f);
  // Read before anything generates, so a bad kb.json fails in a second, not after every method.
  std::optional<eval::Judges> judges;
  if (f.world == "prefworld") judges.emplace(eval::KnowledgeBase::load(f.kb));
  const std::vector<MethodRun> runs = plan_runs(f);
  std::vector<EvalItem> items = read_eval_items(f.eval_file, f.limit);
  if (!has_tokenizer(f.model.model)) throw_invalid(f.model.model, ": no tokenizer (pad eval needs text prompts)");
  std::filesystem::create_directories(f.out);
  auto base = load_model(f.model);
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load(f.model.model);
  PersRm rm = load_persrm(f.rm, f.model, *base, tok);
  if (rm.bridge) throw_invalid("pad eval needs a PersRM that shares the base model's vocabulary");
  Context c{f, base, tok, rm, std::move(items), stop_ids(base->config(), tok.get()), world_attributes(f.world),
            std::move(judges)};
  size_t total = 0;
  for (const auto& m : runs) total += m.targets.size() * c.items.size();
  const bool with_rm = rm.form != PersRm::Form::kNone;
  if (with_rm) total += c.items.size() * n_reward_labels(runs, f.principles);
  Progress progress(total);
  std::vector<Output> outputs;
  std::map<std::string, double> t_method_s;
  for (const MethodRun& m : runs) {
    const auto t0 = Clock::now();
    std::vector<Output> o = run_method(c, m, progress);
    t_method_s[m.name] = std::chrono::duration<double>(Clock::now() - t0).count();
    outputs.insert(outputs.end(), std::make_move_iterator(o.begin()), std::make_move_iterator(o.end()));
  }
  judge_outputs(c, outputs);
  if (with_rm) reward_outputs(c, outputs, progress);
  write_reports(c, outputs, t_method_s);
}

}  // namespace

void add_eval_run_command(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* e = app.add_subcommand(
      "eval", "run base, prompting, best-of-n and PAD over evaluation prompts; judge every output; write "
              "results.jsonl, table.md, summary.json, scores.svg, frontier.svg");
  add_model_flags(*e, f->model);
  e->add_option("--persrm", f->rm.persrm, "PersRM as a full model (HF directory or .gguf)");
  e->add_option("--persrm-lora", f->rm.persrm_lora, "PersRM as a PEFT LoRA directory on the base model");
  e->add_option("--persrm-head", f->rm.persrm_head, "PersRM as a value head (safetensors v_head.summary.*)");
  e->add_option("--eval", f->eval_file, "evaluation prompts (PrefWorld's eval.jsonl)")->required();
  e->add_option("--chat-template", f->chat_template, kChatTemplateHelp);
  e->add_option("--kb", f->kb, "knowledge base the judges read (kb.json; prefworld)");
  e->add_option("--world", f->world, "whose judges score the outputs: prefworld (needs --kb) | stories")
      ->capture_default_str();
  e->add_option("--out", f->out, "output directory (created if missing)")->required();
  e->add_option("--methods", f->methods, "methods to run")->delimiter(',')->capture_default_str();
  e->add_option("--principles", f->principles, "principles (judged attributes)")->delimiter(',')->capture_default_str();
  e->add_option("--pairs", f->pairs, "pairs a+b for pad-joined / pad-weighted (default: every pair)")->delimiter(',');
  e->add_option("--w", f->w, "PAD guidance weight")->capture_default_str();
  e->add_option("--k", f->k, "PAD candidates")->capture_default_str();
  e->add_option("-n,--n-predict", f->n_predict, "maximum new tokens per output")->capture_default_str();
  e->add_option("--n-best", f->n_best, "best-of-n samples")->capture_default_str();
  e->add_option("--temp", f->temp, "best-of-n sampling temperature")->capture_default_str();
  e->add_option("--decode-temp", f->decode_temp,
                 "sampling temperature of base, prompt and PAD outputs; 0 = greedy (the authors' setting)")
      ->capture_default_str();
  e->add_option("--seed", f->seed, "sampling seed (prompt i uses seed + i in every method)")->capture_default_str();
  e->add_option("--limit", f->limit, "evaluate the first N prompts (0 = all)")->capture_default_str();
  e->add_option("--sweep", f->sweep, "frontier weights s (w_a = s, w_b = 1 - s)")->delimiter(',')->capture_default_str();
  e->add_option("--frontier", f->frontier, "two principles a,b for the sweep (default: the first pair)")->delimiter(',');
  e->add_flag("--no-frontier", f->no_frontier, "skip the weight sweep and frontier.svg");
  e->add_option("--max-batch", f->max_batch, "requests decoded together (0 = a method's all)")->capture_default_str();
  e->add_option("--phrasings", f->phrasings, "held-out phrasings TEXT=ATTRIBUTE for PAD (e.g. \"be funny=humor\")")
      ->delimiter(',');
  e->add_option("--unseen", f->unseen, "untrained attributes: PAD toward each, alone and joined with each principle")
      ->delimiter(',');
  e->add_option("--bootstrap", f->bootstrap.n_resamples, "bootstrap resamples for selectivity CIs")->capture_default_str();
  e->add_option("--bootstrap-seed", f->bootstrap.seed, "bootstrap seed")->capture_default_str();
  e->callback([f] {
    // The story world's principles default to its own attributes.
    if (f->world == "stories" && f->principles == std::vector<std::string>{"helpful", "harmless", "humor"})
      f->principles = world_attributes("stories");
    run_eval(*f);
  });
}

}  // namespace pad::cli
