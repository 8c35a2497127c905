// The training loop shared by PersRM and SFT: batch plan, gradient accumulation, AdamW with the
// warmup + cosine schedule, clipping, evaluation, the JSONL metrics log, atomic checkpoints kept
// K at a time, exact resume, and stopping cleanly on request (SIGINT/SIGTERM from the app).
#pragma once

#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pad/train/optim.h"
#include "pad/train/policy.h"

namespace pad {

// Sums over one micro-batch (on this process).
struct StepStats {
  double loss_sum = 0;   // Σ per-item loss (pairs for PersRM, scored tokens for SFT)
  double n_correct = 0;  // PersRM: pairs whose implicit reward margin is > 0
  double n_items = 0;    // pairs or scored tokens
  double n_tokens = 0;   // real tokens processed (tokens/s)
};

// What a training objective supplies to the loop.
class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual Policy& policy() = 0;
  virtual std::vector<int64_t> example_lengths() const = 0;  // for length bucketing; size = n examples
  // Items the examples contribute to the loss normalizer (pairs, or scored tokens).
  virtual double items_in(const std::vector<int64_t>& examples) const = 0;
  // Forward and backward of Σ loss / normalizer over `examples`; gradients accumulate in the leaves.
  virtual StepStats accumulate(const std::vector<int64_t>& examples, double normalizer) = 0;
  // Held-out metrics ("eval_accuracy", "eval_margin" / "eval_loss", "eval_perplexity"); {} without eval data.
  virtual std::map<std::string, double> evaluate() = 0;
  virtual bool reports_accuracy() const = 0;
  // Writes the final artifact (model, adapter or head) into `dir`.
  virtual void save_output(const std::string& dir) = 0;
};

// Reduces tensors across data-parallel processes (sum, in place). Absent: one process.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
};

struct Progress {
  int64_t step = 0;         // optimizer steps done
  int64_t total_steps = 0;
  double loss = 0;          // of the last step
  double accuracy = -1;     // of the last step, or −1 when the task has none
  double lr = 0;
  double tokens_per_s = 0;  // over this run so far
  double eta_s = 0;
  std::map<std::string, double> eval;  // filled on evaluation steps
};

struct TrainOptions {
  std::string out_dir;          // metrics.jsonl, checkpoints/, and the final artifact
  int64_t steps = 0;            // optimizer steps; 0 = derived from epochs
  double epochs = 1;            // used when steps == 0
  int64_t batch_size = 8;       // examples per micro-batch (the global batch across processes)
  int64_t grad_accum = 1;       // micro-batches per optimizer step
  ScheduleOptions schedule;
  AdamWOptions adamw;
  double max_grad_norm = 1.0;   // ≤ 0: no clipping
  bool bucket = true;           // length bucketing of micro-batches
  uint64_t seed = 0;            // data order (and LoRA init, chosen by the caller)
  int64_t log_every = 1;        // a metrics.jsonl line every N steps (and the last)
  int64_t eval_every = 0;       // evaluate every N steps; 0 = only at the end
  int64_t save_every = 0;       // checkpoint every N steps; 0 = only at the end or on stop
  int64_t keep_checkpoints = 2; // the newest K checkpoints are kept
  bool resume = false;          // continue from the newest checkpoint in out_dir/checkpoints
  int64_t stop_after = 0;       // stop (with a checkpoint) once this run has done N steps; 0 = never
  const std::atomic<bool>* stop_requested = nullptr;  // set by a signal handler: checkpoint and return
  std::function<void(const Progress&)> on_progress;  // after every step
  GradientSync* sync = nullptr;  // data-parallel reduction; rank 0 writes files
  void validate() const;
};

struct TrainResult {
  int64_t steps_done = 0;     // optimizer steps completed in total (including resumed ones)
  int64_t total_steps = 0;
  bool stopped = false;       // stopped early (stop_after or a stop request); a checkpoint holds the state
  std::map<std::string, double> eval;  // the last evaluation
};

TrainResult train(TrainTask& task, const TrainOptions& options);

// Copies tokenizer.json, tokenizer_config.json, tokenizer.model, special_tokens_map.json and
// generation_config.json from a model directory (or a tokenizer file's directory) when present.
void copy_tokenizer_files(const std::string& from, const std::string& to_dir);

// The checkpoint directories under out_dir/checkpoints, newest first (complete or not).
std::vector<std::string> list_checkpoints(const std::string& out_dir);

// Why a checkpoint directory cannot be resumed from (a torn or missing file), or "" when it reads back.
std::string checkpoint_problem(const std::string& dir);

// The newest complete checkpoint directory under out_dir/checkpoints, or "" when none; --resume
// skips a torn newer one with a warning.
std::string latest_checkpoint(const std::string& out_dir);

}  // namespace pad
