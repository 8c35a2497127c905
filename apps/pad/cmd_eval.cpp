// `pad world` (write PrefWorld's data for a seed) and `pad judge` (score outputs with the
// programmatic judges): the evaluation layer from the command line. `pad eval` is in cmd_eval_run.cpp.
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "eval_command.h"
#include "pad/eval/judges.h"
#include "pad/eval/prefworld.h"
#include "pad/eval/report.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

using OJson = nlohmann::ordered_json;

struct WorldFlags {
  std::string out;
  eval::WorldOptions options;
};

struct JudgeFlags {
  std::string kb;      // kb.json
  std::string file;    // JSONL of outputs; "-" reads stdin
  std::string report;  // optional directory for table.md and scores.svg
};

void run_world(const WorldFlags& f) {
  eval::World w = eval::generate_world(f.options);
  eval::write_world(w, f.out);
  std::cout << "wrote " << f.out << ": " << w.sft.size() << " SFT examples, " << w.prefs.size()
            << " preference pairs, " << w.eval.size() << " evaluation prompts, " << w.kb.subjects().size()
            << " subjects (seed " << f.options.seed << ")\n";
}

std::string read_input(const std::string& path) {
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return read_file(path);
}

// One output line: {"prompt", "text" (or "response"), optional "subject", "harmful", "method"}.
eval::JudgeInput parse_output(const OJson& j, const std::string& where) {
  if (!j.is_object()) throw_invalid(where, ": expected a JSON object");
  auto text_field = [&](const char* key) -> std::string {
    if (!j.contains(key)) return {};
    if (!j[key].is_string()) throw_invalid(where, ": field \"", key, "\" must be a string");
    return j[key].get<std::string>();
  };
  eval::JudgeInput in;
  if (!j.contains("prompt")) throw_invalid(where, ": missing field \"prompt\"");
  in.prompt = text_field("prompt");
  const char* text_key = j.contains("text") ? "text" : "response";
  if (!j.contains(text_key)) throw_invalid(where, ": missing field \"text\" (the output to judge)");
  in.text = text_field(text_key);
  in.subject = text_field("subject");
  if (j.contains("harmful")) {
    if (!j["harmful"].is_boolean()) throw_invalid(where, ": field \"harmful\" must be true or false");
    in.harmful = j["harmful"].get<bool>();
  }
  return in;
}

void write_judge_report(const std::vector<eval::ScoredRow>& rows, const std::string& dir) {
  std::vector<std::string> attributes(eval::kAttributes.begin(), eval::kAttributes.end());
  eval::ScoreTable table = eval::summarize_scores(rows, attributes);
  std::filesystem::create_directories(dir);
  eval::write_report(dir + "/table.md", eval::markdown_table(table));
  eval::write_report(dir + "/scores.svg", eval::svg_bar_chart(table));
}

void run_judge(const JudgeFlags& f) {
  eval::Judges judges(eval::KnowledgeBase::load(f.kb));
  std::vector<std::string> lines = split(read_input(f.file), '\n');
  std::vector<eval::ScoredRow> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = str_cat(f.file, ":", i + 1);
    OJson j;
    try {
      j = OJson::parse(lines[i]);
    } catch (const OJson::exception& e) {
      throw_invalid(where, ": not valid JSON: ", e.what());
    }
    eval::JudgeScores scores;
    try {
      scores = judges.score(parse_output(j, where));
    } catch (const std::invalid_argument& e) {
      if (starts_with(e.what(), where)) throw;
      throw_invalid(where, ": ", e.what());
    }
    j["scores"] = scores.to_json();
    std::cout << j.dump() << "\n";
    eval::ScoredRow row{j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "outputs", {}};
    for (size_t a = 0; a < eval::kAttributes.size(); ++a) row.scores[std::string(eval::kAttributes[a])] = scores.values[a];
    rows.push_back(std::move(row));
  }
  if (!f.report.empty()) write_judge_report(rows, f.report);
}

}  // namespace

void add_eval_commands(CLI::App& app) {
  auto wf = std::make_shared<WorldFlags>();
  CLI::App* world = app.add_subcommand(
      "world", "write PrefWorld's data for a seed: kb.json, sft.jsonl, prefs.jsonl, eval.jsonl, corpus.txt");
  world->add_option("--out", wf->out, "output directory (created if missing)")->required();
  world->add_option("--seed", wf->options.seed, "seed; the same seed gives the same bytes")->capture_default_str();
  world->add_option("--n-sft", wf->options.n_sft, "SFT examples")->capture_default_str();
  world->add_option("--n-pairs", wf->options.n_pairs, "preference pairs, spread over the six preferences")
      ->capture_default_str();
  world->add_option("--n-eval", wf->options.n_eval, "held-out evaluation prompts")->capture_default_str();
  world->add_option("--n-train-subjects", wf->options.n_train_subjects, "training subjects per category")
      ->capture_default_str();
  world->add_option("--n-eval-subjects", wf->options.n_eval_subjects, "held-out subjects per category")
      ->capture_default_str();
  world->add_option("--n-notes-subjects", wf->options.n_notes_subjects,
                    "subjects per category known only from their notes; twins, weighted and facts pairs ask about them")
      ->capture_default_str();
  world->add_flag("--contrastive", wf->options.contrastive,
                  "P-Soups-style pairs: the same two responses under principles that disagree, labels opposite "
                  "(plus weighted and ordinary pairs; principles in several phrasings)");
  world->add_option("--contrastive-share", wf->options.contrastive_share,
                    "with --contrastive: share of items that are contrastive twins")->capture_default_str();
  world->add_option("--weighted-share", wf->options.weighted_share,
                    "with --contrastive: share of items that are weighted two-principle pairs")->capture_default_str();
  world->add_option("--facts-share", wf->options.facts_share,
                    "with --contrastive: share of items that are helpful pairs differing only in their facts")
      ->capture_default_str();
  world->add_option("--sft-guideline-share", wf->options.sft_guideline_share,
                    "share of SFT prompts that state a principle in the guideline template")->capture_default_str();
  world->add_option("--sft-follow", wf->options.sft_follow,
                    "how often an SFT response then shows the stated attribute (on top of its usual mix)")
      ->capture_default_str();
  world->add_flag("--sft-phrasings", wf->options.sft_phrasings,
                  "SFT guidelines state principles in any phrasing, held-out ones included (pairs keep the training ones)");
  auto no_notes = std::make_shared<bool>(false);
  world->add_flag("--no-notes", *no_notes, "leave the subject's fact values out of benign requests");
  // The story world: on-policy data from a pretrained base (cmd_eval_stories.cpp).
  auto which = std::make_shared<std::string>("prefworld");
  auto sf = std::make_shared<StoryWorldFlags>();
  world->add_option("--world", *which, "prefworld (default) | stories: story openings continued by --base, "
                                       "ranked by the story judges into contrastive twins")
      ->check(CLI::IsMember({"prefworld", "stories"}));
  world->add_option("--base", sf->base, "stories: the pretrained base model directory")->capture_default_str();
  world->add_option("--n-openings", sf->options.n_train_openings, "stories: training openings (≤ 120)")
      ->capture_default_str();
  world->add_option("--n-eval-openings", sf->options.n_eval_openings, "stories: held-out openings (≤ 40)")
      ->capture_default_str();
  world->add_option("--n-samples", sf->options.n_samples, "stories: base samples per opening")->capture_default_str();
  world->add_option("--n-predict", sf->options.n_predict, "stories: new tokens per sample")->capture_default_str();
  world->add_option("--margin", sf->options.margin, "stories: judge score difference that orders a pair")
      ->capture_default_str();
  world->add_option("--max-twins", sf->options.max_twins_per_opening, "stories: twin groups per opening")
      ->capture_default_str();
  world->add_flag("--aligned,!--no-aligned", sf->options.aligned,
                  "stories: give each twin group an aligned pair (both judges agree; default off: it taught a principle-blind preference)");
  world->add_option("--threads", sf->threads, "stories: threads (0 = all cores)");
  world->callback([wf, no_notes, which, sf] {
    if (*which == "stories") {
      sf->out = wf->out;
      sf->options.seed = wf->options.seed;
      run_story_world(*sf);
      return;
    }
    wf->options.facts_in_prompt = !*no_notes;
    run_world(*wf);
  });

  auto jf = std::make_shared<JudgeFlags>();
  CLI::App* judge = app.add_subcommand(
      "judge", "score outputs ({\"prompt\", \"text\", ...} per line) with the six judges; prints JSONL with \"scores\"");
  judge->add_option("--kb", jf->kb, "PrefWorld knowledge base (kb.json)")->required();
  judge->add_option("--file", jf->file, "JSONL of outputs; - for stdin")->required();
  judge->add_option("--report", jf->report, "also write table.md and scores.svg here, grouped by \"method\"");
  judge->callback([jf] { run_judge(*jf); });

  add_eval_run_command(app);
  add_eval_pairs_command(app);
}

}  // namespace pad::cli
