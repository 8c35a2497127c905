// `pad world --world stories`: the story world's data (issue 12). Samples stories from a pretrained
// base for the training openings, ranks them by the story judges into contrastive twins and writes
// prefs.jsonl (what `pad train persrm` reads), eval.jsonl (held-out openings), heldout-prefs.jsonl
// (twins on the held-out openings, for `pad eval-pairs`), samples.jsonl (training openings' samples,
// judged) and base-stats.json (the base's own distribution under every judge).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common.h"
#include "eval_command.h"
#include "pad/decode/engine.h"
#include "pad/decode/prompts.h"
#include "pad/eval/report.h"
#include "pad/eval/stories.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad::cli {
namespace {

using OJson = nlohmann::ordered_json;

// Continuations of every opening: n_samples each, sampled with seed-derived per-request seeds so the
// same seed and thread count give the same bytes. Training openings first, then the held-out ones.
std::vector<eval::StorySamples> sample_stories(const StoryWorldFlags& f, const std::vector<eval::StoryOpening>& openings) {
  ModelFlags mf;
  mf.model = f.base;
  mf.threads = f.threads;
  auto base = load_model(mf);
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load(f.base);
  std::vector<PadRequest> requests;
  std::vector<eval::StorySamples> out;
  for (const eval::StoryOpening& o : openings) {
    out.push_back({o.text, {}});
    PromptSpec spec;
    spec.user = o.text;
    for (int j = 0; j < f.options.n_samples; ++j) {
      PadRequest r;
      r.prompts = build_prompts(*tok, spec, Strategy::kBase);
      r.n_predict = f.options.n_predict;
      r.sampling.temperature = f.options.temperature;
      r.sampling.seed = f.options.seed * 1000003ULL + requests.size();
      r.stop_ids = stop_ids(base->config(), tok.get());
      requests.push_back(std::move(r));
    }
  }
  EngineOptions opt;
  opt.strategy = Strategy::kBase;
  opt.max_batch = 64;
  opt.n_valid_tokens = tok->n_vocab();
  PadEngine engine(base, PersRm{}, nullptr, opt);
  std::vector<PadResult> results = engine.run(requests);
  for (size_t i = 0; i < results.size(); ++i)
    out[i / f.options.n_samples].stories.push_back(tok->decode(results[i].tokens, /*skip_special=*/true));
  return out;
}

std::string jsonl(const std::vector<OJson>& rows) {
  std::string s;
  for (const OJson& j : rows) s += j.dump() + "\n";
  return s;
}

}  // namespace

void run_story_world(const StoryWorldFlags& f) {
  f.options.validate();
  if (!is_directory(f.base))
    throw_invalid("--base ", f.base, ": no such model directory (the story world needs a pretrained base, e.g. models/stories-base)");
  const std::vector<eval::StoryOpening> openings = eval::story_openings(f.options);
  std::vector<eval::StorySamples> samples = sample_stories(f, openings);
  const auto first_held = samples.begin() + f.options.n_train_openings;
  const std::vector<eval::StorySamples> held(first_held, samples.end());
  samples.erase(first_held, samples.end());
  const std::vector<std::string> prefs = eval::build_story_prefs(samples, f.options);
  // Twins on the held-out openings: never trained on; `pad eval-pairs` checks the PersRM flips with them.
  // Twins only (no aligned pairs), so a PersRM that ignores the principle scores 50% on them.
  eval::StoryWorldOptions twins_only = f.options;
  twins_only.aligned = false;
  const std::vector<std::string> held_prefs = eval::build_story_prefs(held, twins_only);
  std::vector<OJson> eval_rows, sample_rows;
  for (const auto& o : openings)
    if (o.held_out) eval_rows.push_back({{"id", o.id}, {"prompt", o.text}});
  for (const auto& s : samples)
    for (const auto& story : s.stories) {
      OJson sc = OJson::object();
      const auto v = eval::judge_story(story);
      for (size_t a = 0; a < v.size(); ++a) sc[std::string(eval::kStoryAttributes[a])] = v[a];
      sample_rows.push_back({{"prompt", s.opening}, {"text", story}, {"scores", sc}});
    }
  const eval::StoryBaseStats st = eval::story_base_stats(samples);
  OJson stats = {{"n", st.n}, {"mean", st.mean}, {"share_above_half", st.share_high},
                 {"seed", f.options.seed}, {"base", std::filesystem::path(f.base).filename().string()}};
  std::filesystem::create_directories(f.out);
  auto lines = [](const std::vector<std::string>& v) {
    std::string text;
    for (const auto& l : v) text += l + "\n";
    return text;
  };
  write_file_atomic(f.out + "/prefs.jsonl", lines(prefs));
  write_file_atomic(f.out + "/heldout-prefs.jsonl", lines(held_prefs));
  write_file_atomic(f.out + "/eval.jsonl", jsonl(eval_rows));
  write_file_atomic(f.out + "/samples.jsonl", jsonl(sample_rows));
  write_file_atomic(f.out + "/base-stats.json", stats.dump(2) + "\n");
  std::cout << "wrote " << f.out << ": " << sample_rows.size() << " base samples over " << samples.size()
            << " openings, " << prefs.size() << " preference lines (" << prefs.size() / (f.options.aligned ? 4 : 2)
            << (f.options.aligned ? " twin groups with an aligned pair each), " : " twin groups), ")
            << eval_rows.size() << " held-out openings with " << held_prefs.size() / 2 << " twin groups (seed " << f.options.seed << ")\nbase distribution:";
  for (const auto& a : eval::kStoryAttributes)
    std::printf(" %s %.2f (%.0f%% > 0.5);", std::string(a).c_str(), st.mean.at(std::string(a)),
                100 * st.share_high.at(std::string(a)));
  std::printf("\n");
}

}  // namespace pad::cli
