// `pad generate`: plain decoding, preference prompting, PAD and best-of-n over one prompt (streamed)
// or many (--file prompts.jsonl → JSONL), with the PersRM as a full model, a LoRA or a value head.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "generate_command.h"
#include "jsonl_requests.h"
#include "pad/decode/engine.h"
#include "pad/decode/prompts.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

struct GenerateFlags {
  ModelFlags model;
  PromptFlags prompt;
  SamplingOptions sampling;
  int n_predict = 128;
  bool print_ids = false;
  bool ignore_eos = false;
  bool raw = false;
  std::string strategy;  // default: pad with a PersRM and a preference, prompt with a preference, else base
  std::string rule = "topk";
  double w = 1.0;
  int k = 10;
  int n_best = 4;
  std::vector<std::string> preferences;
  std::string preference_weights;
  std::string pref_template = kDefaultGuidelineTemplate;
  std::string persrm, persrm_lora, persrm_head, ref;
  bool allow_vocab_mismatch = false;
  std::string trace;
  std::string output;  // JSONL file; empty: stdout
  bool jsonl = false;
  int max_batch = 16;
  std::vector<std::string> stops;
};

// The flags every request starts from (a JSONL line may override some).
RequestDefaults request_defaults(const GenerateFlags& f) {
  RequestDefaults d;
  d.prompt.system = f.prompt.system;
  d.prompt.guideline_template = f.pref_template;
  d.prompt.chat = f.raw ? ChatMode::kNever : f.prompt.chat ? ChatMode::kAlways : ChatMode::kAuto;
  d.prompt.chat_template_override = f.prompt.chat_template;
  d.preferences = f.preferences;
  d.preference_weights = f.preference_weights;
  d.rule = f.rule;
  d.request.pad.w = f.w;
  d.request.pad.k = f.k;
  d.request.sampling = f.sampling;
  d.request.n_predict = f.n_predict;
  d.request.n_best = f.n_best;
  d.request.stop_strings = f.stops;
  return d;
}

Strategy choose_strategy(const GenerateFlags& f, bool has_pref) {
  if (!f.strategy.empty()) return parse_strategy(f.strategy);
  const bool has_rm = !f.persrm.empty() || !f.persrm_lora.empty() || !f.persrm_head.empty();
  return default_strategy(has_pref, has_rm);
}

std::vector<RequestSpec> read_requests(const GenerateFlags& f) {
  const RequestDefaults d = request_defaults(f);
  if (!f.prompt.file.empty() && ends_with(f.prompt.file, ".jsonl")) return read_jsonl_requests(d, f.prompt.file);
  RequestSpec r;
  r.request = base_request(d);
  const Preference pref = preference_from(d.preferences, d.preference_weights);
  if (!f.prompt.ids.empty()) {
    r.ids = parse_int_list(f.prompt.ids, "--ids");
    if (pref.weighted) throw_invalid("--preference-weights needs a text prompt (one prompt per principle), not --ids");
    r.prompt.preference = pref;
    r.text = f.prompt.ids;
  } else {
    r.text = read_prompt_text(f.prompt);
    r.prompt = prompt_spec(d, r.text, pref);
  }
  return {std::move(r)};
}

nlohmann::json result_json(const RequestSpec& r, const PadResult& res, Strategy s, const Tokenizer* tok) {
  nlohmann::json j = {{"prompt", r.text}, {"preference", r.prompt.preference.joined()}, {"method", strategy_name(s)},
                      {"n_tokens", res.tokens.size()}, {"stop_reason", res.stop_reason},
                      {"t_prefill_ms", res.t_prefill_ms}, {"t_decode_ms", res.t_decode_ms}};
  if (tok) j["text"] = tok->decode(res.tokens, /*skip_special=*/true);
  j["ids"] = res.tokens;
  if (s == Strategy::kBestOfN) j["sequence_reward"] = res.sequence_reward;
  if (s == Strategy::kPad) j["w"] = r.request.pad.w;
  return j;
}

void run_generate(const GenerateFlags& f) {
  auto base = load_model(f.model);
  std::shared_ptr<const Tokenizer> tok;
  if (has_tokenizer(f.model.model)) tok = Tokenizer::load(f.model.model);
  std::vector<RequestSpec> specs = read_requests(f);
  bool has_pref = false;
  for (const auto& s : specs) has_pref = has_pref || !s.prompt.preference.principles.empty();
  const Strategy strategy = choose_strategy(f, has_pref);
  PersRm rm = load_persrm(PersRmFlags{f.persrm, f.persrm_lora, f.persrm_head, f.allow_vocab_mismatch}, f.model, *base, tok);
  std::shared_ptr<Model> ref;
  if (!f.ref.empty()) {
    auto ref_tok = tok ? tokenizer_of(f.ref) : nullptr;
    if (ref_tok && vocabulary_differs(*tok, *ref_tok)) throw_invalid(f.ref, ": the reference's vocabulary differs from the base model's");
    ref = load_model_at(f.ref, f.model);
  }
  std::vector<PadRequest> requests;
  for (RequestSpec& s : specs) {
    PadRequest r = s.request;
    if (!s.ids.empty()) {
      r.prompts.base = s.ids;
      if (strategy == Strategy::kPad || strategy == Strategy::kBestOfN) {
        if (rm.bridge) throw_invalid("--allow-vocab-mismatch needs a text prompt (it re-tokenizes text), not --ids");
        if (s.prompt.preference.principles.empty()) throw_invalid("--strategy ", strategy_name(strategy), " needs a preference");
        r.prompts.principles = {s.ids};
        r.prompts.weights = {1.0};
      }
    } else {
      if (!tok) throw_invalid(f.model.model, ": no tokenizer; give the prompt as --ids");
      r.prompts = build_prompts(*tok, s.prompt, strategy);
      if (rm.bridge) r.prompts.persrm_principles = build_prompts(*rm.bridge->persrm, s.prompt, strategy).principles;
    }
    if (!f.ignore_eos) r.stop_ids = stop_ids(base->config(), tok.get());
    requests.push_back(std::move(r));
  }
  EngineOptions opt;
  opt.strategy = strategy;
  opt.max_batch = f.max_batch;
  if (tok) {
    opt.detokenize = [&](const std::vector<int>& ids) { return tok->decode(ids); };
    opt.n_valid_tokens = tok->n_vocab();
  }
  std::ofstream trace_file;
  if (!f.trace.empty()) {
    trace_file.open(f.trace);
    if (!trace_file) throw_runtime(f.trace, ": cannot open for writing");
    opt.trace = &trace_file;
  }
  PadEngine engine(base, rm, ref, opt);
  const bool stream = specs.size() == 1 && !f.jsonl && f.output.empty();
  std::unique_ptr<StreamDecoder> decoder;
  if (stream && !f.print_ids) {
    if (!tok) throw_invalid(f.model.model, ": no tokenizer to print text; use --print-ids");
    decoder = std::make_unique<StreamDecoder>(*tok, /*skip_special=*/true);
  }
  auto on_token = [&](size_t, int id) {
    if (decoder) std::cout << decoder->feed(id) << std::flush;
  };
  std::vector<PadResult> results = engine.run(requests, on_token);
  if (stream) {
    if (decoder) {
      std::cout << decoder->flush() << "\n";
    } else {
      std::vector<std::string> ids;
      for (int t : results[0].tokens) ids.push_back(std::to_string(t));
      std::cout << join(ids, " ") << "\n";
    }
    return;
  }
  std::string lines;
  for (size_t i = 0; i < specs.size(); ++i) lines += result_json(specs[i], results[i], strategy, tok.get()).dump() + "\n";
  if (f.output.empty()) std::cout << lines;
  else write_file_atomic(f.output, lines);
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* g = app.add_subcommand("generate", "Generate text: plain, preference-prompted, PAD-guided or best-of-n");
  add_model_flags(*g, f->model);
  add_prompt_flags(*g, f->prompt);
  add_sampling_flags(*g, f->sampling);
  g->add_option("-n,--n-predict", f->n_predict, "maximum new tokens");
  g->add_flag("--print-ids", f->print_ids, "print generated ids instead of text");
  g->add_flag("--ignore-eos", f->ignore_eos, "do not stop at end-of-sequence tokens");
  g->add_flag("--raw", f->raw, "never apply the chat template (default: applied when the model has one)");
  g->add_option("--strategy", f->strategy, "base | prompt | pad | best-of-n");
  g->add_option("--rule", f->rule, "PAD rule: topk (the authors' released rule) | full");
  g->add_option("--w", f->w, "PAD guidance weight");
  g->add_option("--k", f->k, "PAD candidates (rule topk)");
  g->add_option("--n-best", f->n_best, "samples for best-of-n");
  g->add_option("--preference", f->preferences, "a principle; repeat to join with \" and \"");
  g->add_option("--preference-weights", f->preference_weights, "weights over principles, e.g. \"helpful=1,humor=0.5\"");
  g->add_option("--pref-template", f->pref_template, "guideline template with {principle} and {prompt}");
  g->add_option("--persrm", f->persrm, "PersRM as a full model (HF directory or .gguf)");
  g->add_option("--persrm-lora", f->persrm_lora, "PersRM as a PEFT LoRA directory on the base model");
  g->add_option("--persrm-head", f->persrm_head, "PersRM as a value head (safetensors v_head.summary.*) on the base");
  g->add_option("--ref", f->ref, "reference model (default: the base model)");
  g->add_flag("--allow-vocab-mismatch", f->allow_vocab_mismatch, "accept a PersRM whose vocabulary differs");
  g->add_option("--trace", f->trace, "write a JSONL trace of every PAD step to this file");
  g->add_option("--output", f->output, "write results as JSONL to this file");
  g->add_flag("--jsonl", f->jsonl, "print results as JSONL even for one prompt");
  g->add_option("--max-batch", f->max_batch, "requests decoded together");
  g->add_option("--stop", f->stops, "stop string (repeatable)");
  g->callback([f] { run_generate(*f); });
}

}  // namespace pad::cli
