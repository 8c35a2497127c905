// `pad train persrm|sft|tokenizer` and `pad bench train`: flags → library options, the progress bar,
// and SIGINT/SIGTERM turned into "checkpoint and stop".
#include <ATen/Parallel.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "commands.h"
#include "common.h"
#include "pad/format/model_config.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/train/bpe_trainer.h"
#include "pad/train/dist.h"
#include "pad/train/persrm.h"
#include "pad/train/sft.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

std::atomic<bool> g_stop{false};

// First SIGINT/SIGTERM: ask the loop to checkpoint and stop; a second one ends the process at once.
void on_signal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

struct CommonTrainFlags {
  ModelFlags model;
  std::string data, eval_data, out;
  TrainOptions train;
  DataOptions data_options;
  DistOptions dist;
  bool resume = false;
  bool quiet = false;  // no progress bar
};

void add_common_train_flags(CLI::App& app, CommonTrainFlags& f) {
  add_runtime_flags(app, f.model);
  app.add_option("--data", f.data, "training data (JSONL)")->required();
  app.add_option("--eval-data", f.eval_data, "held-out data evaluated every --eval-every steps and at the end");
  app.add_option("--out", f.train.out_dir, "output directory (artifact, metrics.jsonl, checkpoints/)")->required();
  auto* steps = app.add_option("--steps", f.train.steps, "optimizer steps");
  app.add_option("--epochs", f.train.epochs, "passes over the data (when --steps is not given)")->excludes(steps);
  app.add_option("--lr", f.train.schedule.lr, "peak learning rate");
  app.add_option("--warmup", f.train.schedule.warmup_steps, "linear warmup steps");
  app.add_option("--min-lr-ratio", f.train.schedule.min_lr_ratio, "cosine decay floor as a fraction of --lr");
  app.add_option("--weight-decay", f.train.adamw.weight_decay, "AdamW decoupled weight decay (matrices only)");
  app.add_option("--max-grad-norm", f.train.max_grad_norm, "clip the global gradient norm (0 = off)");
  app.add_option("--batch-size", f.train.batch_size, "examples per micro-batch");
  app.add_option("--grad-accum", f.train.grad_accum, "micro-batches per optimizer step");
  app.add_option("--seed", f.train.seed, "data order and initialization seed");
  app.add_flag("!--no-bucket", f.train.bucket, "do not group similar lengths into a batch");
  app.add_option("--log-every", f.train.log_every, "metrics.jsonl line every N steps");
  app.add_option("--eval-every", f.train.eval_every, "evaluate every N steps (0 = at the end only)");
  app.add_option("--save-every", f.train.save_every, "checkpoint every N steps (0 = at the end and on stop)");
  app.add_option("--keep-checkpoints", f.train.keep_checkpoints, "checkpoints kept");
  app.add_flag("--resume", f.train.resume, "continue from the newest checkpoint in --out");
  app.add_option("--stop-after", f.train.stop_after, "stop with a checkpoint after N steps of this run");
  app.add_option("--max-length", f.data_options.max_length, "longest sequence in tokens; longer examples are bad data");
  app.add_flag("--strict", f.data_options.strict, "fail on the first bad data line instead of skipping it");
  app.add_flag("-q,--quiet", f.quiet, "no progress bar");
  app.add_option("--world-size", f.dist.world_size, "data-parallel processes (Gloo all-reduce)");
  app.add_option("--rank", f.dist.rank, "this process's rank (0 writes the outputs)");
  app.add_option("--master-addr", f.dist.master_addr, "rank 0's address for the rendezvous");
  app.add_option("--master-port", f.dist.master_port, "rank 0's port for the rendezvous");
}

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const int t = static_cast<int>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}

// Draws the progress bar on a terminal (stderr); evaluation results get a line of their own.
std::function<void(const Progress&)> progress_printer(bool quiet) {
  const bool tty = !quiet && isatty(STDERR_FILENO);
  return [tty](const Progress& p) {
    if (!tty) return;
    const int width = 24, filled = static_cast<int>(width * p.step / std::max<int64_t>(1, p.total_steps));
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    std::fprintf(stderr, "\r[%s] %lld/%lld loss %.4f", bar.c_str(), static_cast<long long>(p.step),
                 static_cast<long long>(p.total_steps), p.loss);
    if (p.accuracy >= 0) std::fprintf(stderr, " acc %.3f", p.accuracy);
    std::fprintf(stderr, " %.0f tok/s ETA %s   ", p.tokens_per_s, format_duration(p.eta_s).c_str());
    if (!p.eval.empty()) {
      std::fprintf(stderr, "\n  eval:");
      for (const auto& [k, v] : p.eval) std::fprintf(stderr, " %s %.4f", k.c_str(), v);
      std::fprintf(stderr, "\n");
    }
    if (p.step == p.total_steps) std::fprintf(stderr, "\n");
  };
}

void print_report(const DataReport& r) {
  std::fprintf(stderr, "%s\n", r.summary(20).c_str());
}

// Shared tail of the train commands: signals, the loop, the summary on stdout.
void run_task(TrainTask& task, CommonTrainFlags& f, const std::string& what) {
  g_stop = false;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  f.train.stop_requested = &g_stop;
  f.train.on_progress = progress_printer(f.quiet || f.dist.rank != 0);
  std::unique_ptr<GradientSync> sync;
  if (f.dist.world_size > 1) {
    sync = make_gloo_sync(f.dist);
    f.train.sync = sync.get();
  }
  TrainResult r = train(task, f.train);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (f.dist.rank != 0) return;
  if (r.stopped) {
    std::printf("stopped at step %lld of %lld; checkpoint in %s/checkpoints (continue with --resume)\n",
                static_cast<long long>(r.steps_done), static_cast<long long>(r.total_steps), f.train.out_dir.c_str());
    return;
  }
  std::printf("trained %s for %lld steps; wrote %s\n", what.c_str(), static_cast<long long>(r.total_steps),
              f.train.out_dir.c_str());
  for (const auto& [k, v] : r.eval) std::printf("%s %.6f\n", k.c_str(), v);
}

struct PersRmTrainFlags {
  CommonTrainFlags common;
  std::string form = "lora";
  PersRmOptions persrm;
  LoraOptions lora;
  std::string lora_targets = "q_proj,v_proj";
};

// Training keeps its batches, adapters, heads and checkpoints as host tensors (src/train); until
// they move too, a device run would fail half-way, so it is refused up front (docs/gpu.md).
void refuse_device_training(const ModelFlags& m) {
  if (m.device == "cpu") return;
  device_options(m);  // a machine without CUDA gets that message first
  throw_runtime("pad train --device ", m.device, ": training on a device is not supported yet (the trainer's ",
                "batches and checkpoints are host tensors); train on the CPU, then decode with --device");
}

void run_persrm(PersRmTrainFlags& f) {
  CommonTrainFlags& c = f.common;
  if (c.train.schedule.lr <= 0) throw_invalid("--lr must be > 0");
  f.lora.targets = split(f.lora_targets, ',');
  const Form form = parse_form(f.form);
  refuse_device_training(c.model);
  c.train.validate();
  f.persrm.validate();
  c.data_options.validate();
  if (form == Form::kLora) f.lora.validate();
  auto tok = Tokenizer::load(c.model.model);
  DataReport report;
  std::vector<PreferencePair> train_pairs = load_preference_data(c.data, *tok, c.data_options, &report);
  print_report(report);
  std::vector<PreferencePair> eval_pairs;
  if (!c.eval_data.empty()) {
    eval_pairs = load_preference_data(c.eval_data, *tok, c.data_options, &report);
    print_report(report);
  }
  std::shared_ptr<Model> base = load_model(c.model);
  PersRmTask task(Policy::create(form, base, f.lora, c.train.seed), std::move(train_pairs), std::move(eval_pairs),
                  f.persrm);
  std::filesystem::create_directories(c.train.out_dir);
  if (form == Form::kFull) copy_tokenizer_files(c.model.model, c.train.out_dir);
  run_task(task, c, std::string("a ") + form_name(form) + " PersRM");
}

struct SftTrainFlags {
  CommonTrainFlags common;
  std::string init_config, tokenizer;
  std::string form = "full";
  LoraOptions lora;
  std::string lora_targets = "q_proj,v_proj";
};

void run_sft(SftTrainFlags& f) {
  CommonTrainFlags& c = f.common;
  f.lora.targets = split(f.lora_targets, ',');
  const Form form = parse_form(f.form);
  if (form == Form::kHead) throw_invalid("--form head is for PersRM training; SFT trains full or lora");
  if (c.model.model.empty() == f.init_config.empty())
    throw_invalid("give exactly one of -m MODEL and --init-config config.json");
  const std::string tok_path = !f.tokenizer.empty() ? f.tokenizer : c.model.model;
  if (tok_path.empty()) throw_invalid("--init-config needs --tokenizer (a tokenizer.json or model directory)");
  refuse_device_training(c.model);
  c.train.validate();
  auto tok = Tokenizer::load(tok_path);
  DataReport report;
  std::vector<SftExample> train_ex = load_sft_data(c.data, *tok, c.data_options, &report);
  print_report(report);
  std::vector<SftExample> eval_ex;
  if (!c.eval_data.empty()) {
    eval_ex = load_sft_data(c.eval_data, *tok, c.data_options, &report);
    print_report(report);
  }
  std::shared_ptr<Model> base;
  if (!f.init_config.empty()) {
    apply_threads(c.model);
    ModelConfig config = read_hf_config(f.init_config);
    if (config.n_vocab < tok->n_vocab())
      throw_invalid(f.init_config, ": vocab_size ", config.n_vocab, " is smaller than the tokenizer's ", tok->n_vocab());
    base = std::make_shared<Model>(config, random_weights(config, at::kFloat, c.train.seed), "init");
  } else {
    base = load_model(c.model);
  }
  SftTask task(Policy::create(form, base, f.lora, c.train.seed), std::move(train_ex), std::move(eval_ex));
  std::filesystem::create_directories(c.train.out_dir);
  if (form == Form::kFull) copy_tokenizer_files(tok_path, c.train.out_dir);
  run_task(task, c, "an SFT model");
}

struct TokenizerTrainFlags {
  std::vector<std::string> files;
  std::string out;
  BpeTrainerOptions bpe;
  std::string special = "<|endoftext|>";
};

void run_tokenizer_train(TokenizerTrainFlags& f) {
  f.bpe.special_tokens = split(f.special, ',');
  std::vector<std::string> texts;
  for (const std::string& file : f.files) texts.push_back(read_file(file));
  BpeTokenizerFiles out = train_bpe(texts, f.bpe);
  write_tokenizer_files(f.out, out);
  std::printf("wrote %s/tokenizer.json: %lld tokens (%lld merges)\n", f.out.c_str(),
              static_cast<long long>(out.vocab_size), static_cast<long long>(out.n_merges));
}

struct TrainBenchFlags {
  ModelFlags model;
  int steps = 3;        // timed optimizer steps per form (after one warm-up step)
  int batch = 4;        // pairs per step
  int prompt_len = 64;  // tokens
  int response_len = 64;
  int64_t n_layer = 12;
  std::string forms = "head,lora,full";
};

void run_train_bench(const TrainBenchFlags& f) {
  refuse_device_training(f.model);
  apply_threads(f.model);
  ModelConfig c;  // the ~100M preset of `pad bench runtime`
  c.n_vocab = 32000, c.d_model = 768, c.n_layer = f.n_layer, c.n_head = 12, c.n_kv_head = 12, c.head_dim = 64;
  c.d_ff = 2048, c.tie_embeddings = true, c.max_position = 4096;
  auto base = std::make_shared<Model>(c, random_weights(c, at::kFloat, 1), "bench-100m");
  std::mt19937 rng(7);
  auto ids = [&](int n) {
    std::vector<int> v(n);
    for (int& x : v) x = static_cast<int>(rng() % 32000);
    return v;
  };
  std::vector<PreferencePair> pairs(f.batch);
  for (PreferencePair& p : pairs) p = {0, {{ids(f.prompt_len), 1.0}}, ids(f.response_len), ids(f.response_len)};
  std::printf("# pad bench train: %.1fM parameters, f32, %d threads; PersRM steps of %d pairs × 2 sequences of %d tokens\n\n",
              c.n_params() / 1e6, at::get_num_threads(), f.batch, f.prompt_len + f.response_len);
  std::printf("| form | trained params | s/step | tokens/s |\n|---|---:|---:|---:|\n");
  for (const std::string& name : split(f.forms, ',')) {
    PersRmTask task(Policy::create(parse_form(name), base, LoraOptions{}, 1), pairs, {}, PersRmOptions{});
    AdamW opt(task.policy().parameters(), AdamWOptions{});
    int64_t n_params = 0;
    for (const NamedTensor& p : opt.params()) n_params += p.tensor.numel();
    std::vector<int64_t> all(pairs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    double tokens = 0, secs = 0;
    for (int s = 0; s <= f.steps; ++s) {
      auto t0 = std::chrono::steady_clock::now();
      opt.zero_grad();
      StepStats st = task.accumulate(all, static_cast<double>(all.size()));
      opt.step(1e-5);
      if (s == 0) continue;  // warm-up
      secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      tokens += st.n_tokens;
    }
    std::printf("| %s | %lld | %.2f | %.0f |\n", name.c_str(), static_cast<long long>(n_params), secs / f.steps,
                tokens / secs);
    std::fflush(stdout);
  }
}

}  // namespace

void add_train_commands(CLI::App& app) {
  CLI::App* train_cmd = app.add_subcommand("train", "train a PersRM, fine-tune a model, or train a tokenizer");
  train_cmd->require_subcommand(1);

  auto pf = std::make_shared<PersRmTrainFlags>();
  CLI::App* persrm = train_cmd->add_subcommand("persrm", "train a personalized reward model (PersRM loss, DESIGN §1)");
  persrm->add_option("-m,--model", pf->common.model.model, "base model (Hugging Face directory)")->required();
  add_common_train_flags(*persrm, pf->common);
  persrm->add_option("--form", pf->form, "head | lora | full")->check(CLI::IsMember({"head", "lora", "full"}));
  persrm->add_option("--beta", pf->persrm.beta, "β of the PersRM loss");
  persrm->add_option("--anchor", pf->persrm.anchor,
                     "weight of the penalty that holds at zero each token's log-ratio shared by a group's principles "
                     "(contrastive twins; 0 = plain PersRM loss)");
  persrm->add_option("--lora-r", pf->lora.rank, "LoRA rank");
  persrm->add_option("--lora-alpha", pf->lora.alpha, "LoRA alpha (scale alpha / r)");
  persrm->add_option("--lora-targets", pf->lora_targets, "comma-separated modules (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)");
  persrm->add_option("--init-from", pf->lora.init_from,
                     "start from a trained PersRM: a PEFT adapter directory (lora) or value_head.safetensors (head)");
  persrm->add_option("--pref-template", pf->common.data_options.guideline_template, "guideline template with {principle} and {prompt}");
  pf->common.train.schedule.lr = 1e-4;
  persrm->callback([pf] { run_persrm(*pf); });

  auto sf = std::make_shared<SftTrainFlags>();
  CLI::App* sft = train_cmd->add_subcommand("sft", "supervised fine-tuning (loss on response tokens)");
  sft->add_option("-m,--model", sf->common.model.model, "model to start from (Hugging Face directory)");
  sft->add_option("--init-config", sf->init_config, "start from random weights of this config.json instead");
  sft->add_option("--tokenizer", sf->tokenizer, "tokenizer for --init-config (tokenizer.json or directory)");
  add_common_train_flags(*sft, sf->common);
  sft->add_option("--form", sf->form, "full | lora")->check(CLI::IsMember({"lora", "full"}));
  sft->add_option("--lora-r", sf->lora.rank, "LoRA rank");
  sft->add_option("--lora-alpha", sf->lora.alpha, "LoRA alpha");
  sft->add_option("--lora-targets", sf->lora_targets, "comma-separated modules");
  sf->common.train.schedule.lr = 3e-4;
  sft->callback([sf] { run_sft(*sf); });

  auto tf = std::make_shared<TokenizerTrainFlags>();
  CLI::App* tokenizer = train_cmd->add_subcommand("tokenizer", "train a byte-level BPE tokenizer on text files");
  tokenizer->add_option("files", tf->files, "text files")->required()->check(CLI::ExistingFile);
  tokenizer->add_option("--out", tf->out, "output directory (tokenizer.json, tokenizer_config.json)")->required();
  tokenizer->add_option("--vocab-size", tf->bpe.vocab_size, "vocabulary size including special tokens");
  tokenizer->add_option("--special-tokens", tf->special, "comma-separated special tokens (ids 0..S-1)");
  tokenizer->add_option("--min-frequency", tf->bpe.min_frequency, "least pair count merged");
  tokenizer->add_option("--bos", tf->bpe.bos_token, "BOS token (one of the special tokens); default none");
  tokenizer->add_option("--eos", tf->bpe.eos_token, "EOS token (one of the special tokens)");
  tokenizer->callback([tf] { run_tokenizer_train(*tf); });

  // `pad bench train` joins the bench group when it exists.
  CLI::App* bench = nullptr;
  try {
    bench = app.get_subcommand("bench");
  } catch (const CLI::OptionNotFound&) {
    bench = app.add_subcommand("bench", "benchmarks");
  }
  auto bf = std::make_shared<TrainBenchFlags>();
  CLI::App* tb = bench->add_subcommand("train", "training tokens/s per PersRM form on a ~100M model (random weights)");
  add_runtime_flags(*tb, bf->model);
  tb->add_option("--steps", bf->steps, "timed steps per form");
  tb->add_option("--batch", bf->batch, "pairs per step");
  tb->add_option("--prompt-len", bf->prompt_len, "prompt tokens");
  tb->add_option("--response-len", bf->response_len, "response tokens");
  tb->add_option("--layers", bf->n_layer, "layers (12 = the ~100M preset)");
  tb->add_option("--forms", bf->forms, "comma-separated forms");
  tb->callback([bf] { run_train_bench(*bf); });
}

}  // namespace pad::cli
