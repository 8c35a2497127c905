// `pad eval-pairs`: pairwise accuracy of a PersRM on preference pairs, per principle. A pair is
// {"prompt", "preference" (or "principle"), "chosen", "rejected"}; the PersRM is right when its sequence reward
// (DESIGN §1: Σ_t β-free log π_θ/π_ref over the response, under the principle's guideline prompt)
// ranks chosen above rejected. On a flipped-label set (the same two responses under two principles
// that disagree, labels opposite) a PersRM that ignores the principle scores 50% at best.
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "common.h"
#include "eval_command.h"
#include "eval_files.h"
#include "pad/decode/prompts.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

struct PairsFlags {
  ModelFlags model;
  PersRmFlags rm;
  std::string data;  // JSONL of pairs
  int limit = 0;     // first N pairs; 0 = all
  std::string chat_template;  // --chat-template FILE|NAME override
  std::string pref_template = kDefaultGuidelineTemplate;  // as `pad train persrm --pref-template`
};

std::vector<int> response_ids(const Tokenizer& tok, const std::string& text) {
  std::vector<int> ids = tok.encode(text, EncodeOptions{false, false});
  const int eos = tok.eos_id() >= 0 ? tok.eos_id() : (tok.eos_ids().empty() ? -1 : tok.eos_ids().front());
  if (eos >= 0) ids.push_back(eos);  // as `pad train persrm` scores responses
  return ids;
}

void run_pairs(const PairsFlags& f) {
  if (!f.rm.given()) throw_invalid("eval-pairs needs a PersRM (--persrm-head, --persrm-lora or --persrm)");
  if (f.limit < 0) throw_invalid("--limit ", f.limit, " is negative");
  std::vector<EvalPair> pairs = read_pairs(f.data, f.limit);
  auto base = load_model(f.model);
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load(f.model.model);
  PersRm rm = load_persrm(f.rm, f.model, *base, tok);
  if (rm.bridge) throw_invalid("eval-pairs needs a PersRM that shares the base model's vocabulary");
  PadEngine engine(base, rm, nullptr, EngineOptions{});
  struct Tally {
    int right = 0, n = 0;
    double margin = 0;
  };
  std::map<std::string, Tally> per;
  Tally all;
  for (const EvalPair& p : pairs) {
    PromptSpec spec;
    spec.user = p.prompt;
    spec.preference = Preference::joined_from({p.principle});
    spec.chat_template_override = f.chat_template;
    spec.guideline_template = f.pref_template;
    RequestPrompts prompts = build_prompts(*tok, spec, Strategy::kPad);
    std::vector<double> r = engine.sequence_rewards(prompts, {response_ids(*tok, p.chosen), response_ids(*tok, p.rejected)});
    const double m = r[0] - r[1];
    nlohmann::ordered_json line = {{"principle", p.principle}, {"reward_chosen", r[0]}, {"reward_rejected", r[1]},
                                   {"margin", m}, {"right", m > 0}};
    std::cout << line.dump() << "\n";
    for (Tally* t : {&per[p.principle], &all}) t->right += m > 0, t->n += 1, t->margin += m;
  }
  std::cout << "\n| principle | pairs | accuracy | mean margin |\n|---|---:|---:|---:|\n";
  auto row = [](const std::string& name, const Tally& t) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "| %s | %d | %.3f | %+.3f |\n", name.c_str(), t.n, double(t.right) / t.n, t.margin / t.n);
    std::cout << buf;
  };
  for (const auto& [name, t] : per) row(name, t);
  row("all", all);
}

}  // namespace

void add_eval_pairs_command(CLI::App& app) {
  auto f = std::make_shared<PairsFlags>();
  CLI::App* e = app.add_subcommand(
      "eval-pairs", "pairwise accuracy of a PersRM on {prompt, principle, chosen, rejected} pairs, per principle");
  add_model_flags(*e, f->model);
  e->add_option("--persrm", f->rm.persrm, "PersRM as a full model (HF directory or .gguf)");
  e->add_option("--persrm-lora", f->rm.persrm_lora, "PersRM as a PEFT LoRA directory on the base model");
  e->add_option("--persrm-head", f->rm.persrm_head, "PersRM as a value head (safetensors v_head.summary.*)");
  e->add_option("--data", f->data, "JSONL of preference pairs")->required();
  e->add_option("--chat-template", f->chat_template, kChatTemplateHelp);
  e->add_option("--limit", f->limit, "first N pairs (0 = all)")->capture_default_str();
  e->add_option("--pref-template", f->pref_template,
                "guideline template with {principle} and {prompt} (the one the PersRM was trained with; "
                "the story world's is \"Principle: {principle}. {prompt}\")");
  e->callback([f] { run_pairs(*f); });
}

}  // namespace pad::cli
