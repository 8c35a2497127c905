// `pad demo PROMPT PREFERENCE`: the README's main command. Runs the embedded default models (models/)
// without and with PAD for one request and prints both outputs with every judge's score.
// `--world stories` does the same on the story world: the pretrained TinyStories base continues a
// story opening, steered by the story PersRM, scored by the story judges.
#include <cstdio>
#include <iostream>
#include <optional>

#include "common.h"
#include "demo_command.h"
#include "pad/decode/engine.h"
#include "pad/decode/prompts.h"
#include "pad/eval/judges.h"
#include "pad/eval/stories.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad::cli {
namespace {

struct DemoFlags {
  std::string prompt = "Share a few facts about the animal Fenzor, please. Notes: purple, seeds, caves, eight legs.";
  std::string preference = "humor";
  std::string models = "models";  // base/, persrm-head/, prefworld/ (scripts/build-default-models)
  std::string form = "head";      // head | lora (the story world has a LoRA PersRM only)
  std::string world = "prefworld";  // prefworld | stories
  std::string chat_template;      // --chat-template FILE|NAME override
  double w = 1.0;
  float temp = 0.0f;  // 0 = greedy
  uint64_t seed = 1;
  int n_predict = 64;
  int threads = 0;
};

std::string run_strategy(std::shared_ptr<Model> base, const PersRm& rm, const Tokenizer& tok, const DemoFlags& f,
                         Strategy s) {
  PromptSpec spec;
  spec.user = f.prompt;
  spec.chat_template_override = f.chat_template;
  if (f.world == "stories") spec.guideline_template = eval::kStoryGuidelineTemplate;
  if (s != Strategy::kBase) spec.preference = Preference::joined_from({f.preference});
  PadRequest r;
  r.prompts = build_prompts(tok, spec, s);
  r.pad.w = f.w;
  r.n_predict = f.n_predict;
  r.sampling.temperature = f.temp;
  r.sampling.seed = f.seed;  // the same draws for all three outputs
  r.stop_ids = stop_ids(base->config(), &tok);
  EngineOptions opt;
  opt.strategy = s;
  opt.n_valid_tokens = tok.n_vocab();
  PadEngine engine(base, s == Strategy::kPad ? rm : PersRm{}, nullptr, opt);
  return tok.decode(engine.run({r})[0].tokens, /*skip_special=*/true);
}

// Judges of the world: PrefWorld's (with its knowledge base) or the story judges (none).
void print_scored(const char* label, const std::string& text, const eval::Judges* judges, const DemoFlags& f) {
  std::printf("%s\n  %s\n ", label, text.c_str());
  if (judges != nullptr) {
    eval::JudgeScores s = judges->score({f.prompt, text, "", std::nullopt});
    for (size_t i = 0; i < eval::kAttributes.size(); ++i)
      std::printf(" %s %.2f", std::string(eval::kAttributes[i]).c_str(), s.values[i]);
  } else {
    const auto s = eval::judge_story(text);
    for (size_t i = 0; i < eval::kStoryAttributes.size(); ++i)
      std::printf(" [%s %.2f]", std::string(eval::kStoryAttributes[i]).c_str(), s[i]);
  }
  std::printf("\n\n");
}

void run_demo(const DemoFlags& f) {
  const bool stories = f.world == "stories";
  if (!stories && f.world != "prefworld") throw_invalid("--world '", f.world, "' is not known (expected prefworld or stories)");
  if (stories && f.form != "lora") throw_invalid("--world stories has a LoRA PersRM only (--form lora)");
  const std::string base_dir = f.models + (stories ? "/stories-base" : "/base");
  if (!is_directory(base_dir))
    throw_invalid(base_dir, ": no default model here (run from the repository root, or rebuild with scripts/build-default-models)");
  ModelFlags mf;
  mf.model = base_dir;
  mf.threads = f.threads;
  auto base = load_model(mf);
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load(base_dir);
  PersRmFlags rf;
  if (f.form == "lora")
    rf.persrm_lora = f.models + (stories ? "/stories-persrm-lora" : "/persrm-lora");
  else if (f.form == "head")
    rf.persrm_head = f.models + "/persrm-head/value_head.safetensors";
  else
    throw_invalid("--form '", f.form, "' is not known (expected head or lora)");
  PersRm rm = load_persrm(rf, mf, *base, tok);
  std::optional<eval::Judges> judges;
  if (!stories) judges.emplace(eval::KnowledgeBase::load(f.models + "/prefworld/kb.json"));
  const eval::Judges* j = judges ? &*judges : nullptr;
  std::printf("prompt:     %s\npreference: %s\n\n", f.prompt.c_str(), f.preference.c_str());
  print_scored("base model (no preference):", run_strategy(base, rm, *tok, f, Strategy::kBase), j, f);
  print_scored("preference in the prompt only:", run_strategy(base, rm, *tok, f, Strategy::kPrompt), j, f);
  const std::string label = "PAD (" + f.form + " PersRM, w = " + std::to_string(f.w).substr(0, 4) + "):";
  print_scored(label.c_str(), run_strategy(base, rm, *tok, f, Strategy::kPad), j, f);
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto f = std::make_shared<DemoFlags>();
  CLI::App* d = app.add_subcommand("demo", "PAD on the embedded default models: base vs PAD output, judged");
  d->add_option("prompt", f->prompt, "the request");
  d->add_option("preference", f->preference, "the preference, e.g. humor, harmless, helpful");
  d->add_option("--models", f->models, "directory of the default models");
  d->add_option("--chat-template", f->chat_template, kChatTemplateHelp);
  d->add_option("--form", f->form, "PersRM form: head | lora (default head; lora with --world stories)");
  d->add_option("--world", f->world, "prefworld (default) | stories: story openings on the pretrained TinyStories base");
  d->add_option("--w", f->w, "PAD guidance weight");
  d->add_option("--temp", f->temp, "sampling temperature; 0 = greedy (default)");
  d->add_option("--seed", f->seed, "sampling seed");
  d->add_option("-n,--n-predict", f->n_predict, "maximum new tokens");
  d->add_option("--threads", f->threads, "threads (0 = all cores)");
  d->callback([f, d] {
    if (f->world == "stories") {  // the story world's own defaults, unless given
      if (d->count("--form") == 0) f->form = "lora";
      if (d->count("prompt") == 0) f->prompt = "Once upon a time, a little dog";
      if (d->count("preference") == 0) f->preference = "happy ending";
      if (d->count("-n") == 0) f->n_predict = 96;
    }
    run_demo(*f);
  });
}

}  // namespace pad::cli
