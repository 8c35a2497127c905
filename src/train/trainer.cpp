// The training loop, checkpoints and the metrics log.
#include "pad/train/trainer.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pad/format/safetensors.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/log.h"

namespace pad {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kCheckpointDir = "checkpoints";
constexpr const char* kStateFile = "state.safetensors";
constexpr const char* kTrainerFile = "trainer_state.json";

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Removes a checkpoint folder so that a crash midway never leaves a half-deleted one under a step
// name: it is renamed away first (atomic), then deleted.
void retire(const fs::path& dir) {
  if (!fs::exists(dir)) return;
  const fs::path old = dir.string() + ".old";
  remove_tree(old.string());
  fs::rename(dir, old);
  remove_tree(old.string());
}

// Fields that must match for a resume to continue the same run.
Json run_identity(const TrainTask& task, const TrainOptions& o, int64_t n_examples, int64_t total) {
  return {{"total_steps", total}, {"seed", o.seed}, {"batch_size", o.batch_size}, {"grad_accum", o.grad_accum},
          {"n_examples", n_examples}, {"bucket", o.bucket}};
}

void save_checkpoint(const std::string& out_dir, int64_t step, const AdamW& opt, const Json& identity, int64_t keep) {
  const fs::path root = fs::path(out_dir) / kCheckpointDir;
  fs::create_directories(root);
  const fs::path final_dir = root / step_name(step), tmp = root / (step_name(step) + ".tmp");
  remove_tree(tmp);
  fs::create_directories(tmp);
  std::vector<TensorBytes> tensors;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    at::Tensor x = t.detach().to(at::kFloat).contiguous();  // f32 round-trips the f32 leaves exactly
    tensors.push_back({name, DType::kF32, x.sizes().vec(),
                       std::string(static_cast<const char*>(x.data_ptr()), x.numel() * sizeof(float))});
  };
  for (const NamedTensor& p : opt.params()) add("param/" + p.name, p.tensor);
  for (const NamedTensor& s : opt.state()) add(s.name, s.tensor);
  write_safetensors((tmp / kStateFile).string(), tensors);
  Json state = identity;
  state["step"] = step;
  write_file_atomic((tmp / kTrainerFile).string(), state.dump(2) + "\n");
  retire(final_dir);
  fs::rename(tmp, final_dir);  // the checkpoint appears complete or not at all
  fsync_dir(root);
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && n.find('.') == std::string::npos) all.push_back(e.path());
    else if (n.size() > 4 && n.ends_with(".old")) remove_tree(e.path());  // left by a crash while pruning
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) retire(all[i]);
}

// Restores params and optimizer state; returns the step the checkpoint was taken after.
int64_t load_checkpoint(const std::string& dir, AdamW& opt, const Json& identity) {
  const std::string state_path = dir + "/" + kTrainerFile;
  Json state = Json::parse(read_file(state_path), nullptr, false);
  if (state.is_discarded() || !state.contains("step")) throw_runtime(state_path, ": not a trainer state file");
  for (const auto& [key, value] : identity.items())
    if (!state.contains(key) || state[key] != value)
      throw_invalid("--resume: checkpoint ", dir, " was written with ", key, " = ",
                    state.contains(key) ? state[key].dump() : "(none)", " but this run has ", value.dump(),
                    " (resume with the same data and flags, or start a new --out)");
  SafetensorsFile st(dir + "/" + kStateFile);
  auto read = [&](const std::string& name) {
    const TensorView* t = st.find(name);
    if (t == nullptr || t->dtype != DType::kF32) throw_runtime(st.path(), ": missing f32 tensor '", name, "'");
    return at::from_blob(const_cast<uint8_t*>(t->data), t->shape, at::kFloat).clone();
  };
  at::NoGradGuard no_grad;
  std::vector<NamedTensor> moments;
  for (const NamedTensor& p : opt.params()) {
    at::Tensor v = read("param/" + p.name);
    if (v.sizes() != p.tensor.sizes())
      throw_invalid(st.path(), ": '", p.name, "' is ", v.sizes(), ", the model has ", p.tensor.sizes());
    at::Tensor dst = p.tensor;
    dst.copy_(v);
    moments.push_back({"adam_m/" + p.name, read("adam_m/" + p.name)});
    moments.push_back({"adam_v/" + p.name, read("adam_v/" + p.name)});
  }
  const int64_t step = state["step"].get<int64_t>();
  opt.restore(moments, step);
  return step;
}

// Keeps the metrics lines of steps ≤ `step` (a resumed run rewrites what follows).
void truncate_metrics(const std::string& path, int64_t step) {
  if (!file_exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("step", int64_t{0}) <= step) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

// Zeroes the gradients, runs this rank's slice of each micro-batch, and sums gradients and stats
// across ranks: afterwards every rank holds the gradient of the whole step's mean loss.
StepStats forward_backward(TrainTask& task, AdamW& opt, const std::vector<std::vector<int64_t>>& micro,
                           double normalizer, GradientSync* sync) {
  const int rank = sync ? sync->rank() : 0, world = sync ? sync->world_size() : 1;
  opt.zero_grad();
  StepStats s;
  for (const auto& batch : micro) {
    std::vector<int64_t> mine;  // this rank's slice of the micro-batch
    for (size_t i = rank; i < batch.size(); i += world) mine.push_back(batch[i]);
    if (mine.empty()) continue;
    StepStats m = task.accumulate(mine, normalizer);
    s.loss_sum += m.loss_sum, s.n_correct += m.n_correct, s.n_items += m.n_items, s.n_tokens += m.n_tokens;
  }
  if (sync == nullptr) return s;
  std::vector<at::Tensor> reduce;
  for (const NamedTensor& p : opt.params()) {
    if (!p.tensor.grad().defined()) p.tensor.mutable_grad() = at::zeros_like(p.tensor);  // a rank with no examples
    reduce.push_back(p.tensor.grad());
  }
  reduce.push_back(at::tensor({s.loss_sum, s.n_correct, s.n_items, s.n_tokens}, at::kDouble));  // [4] f64
  sync->all_reduce_sum(reduce);
  auto st = reduce.back().accessor<double, 1>();
  return {st[0], st[1], st[2], st[3]};
}

void write_metrics(std::ofstream& out, const std::string& path, const Progress& p) {
  Json line = {{"step", p.step}, {"loss", p.loss}, {"lr", p.lr}, {"tokens_per_s", p.tokens_per_s}};
  if (p.accuracy >= 0) line["accuracy"] = p.accuracy;
  for (const auto& [k, v] : p.eval) line[k] = v;
  out << line.dump() << "\n" << std::flush;
  if (!out) throw_runtime(path, ": cannot append to the metrics log: ", std::strerror(errno), " (disk full?)");
}

}  // namespace

void TrainOptions::validate() const {
  if (out_dir.empty()) throw_invalid("--out is required");
  if (steps < 0) throw_invalid("--steps ", steps, " must be ≥ 0");
  if (steps == 0 && !(epochs > 0)) throw_invalid("--epochs ", epochs, " must be > 0");
  if (batch_size <= 0) throw_invalid("--batch-size ", batch_size, " must be > 0");
  if (grad_accum <= 0) throw_invalid("--grad-accum ", grad_accum, " must be > 0");
  if (log_every <= 0) throw_invalid("--log-every ", log_every, " must be > 0");
  if (eval_every < 0 || save_every < 0 || stop_after < 0) throw_invalid("--eval-every/--save-every/--stop-after must be ≥ 0");
  if (keep_checkpoints <= 0) throw_invalid("--keep-checkpoints ", keep_checkpoints, " must be > 0");
  schedule.validate();
  adamw.validate();
}

std::vector<std::string> list_checkpoints(const std::string& out_dir) {
  const fs::path root = fs::path(out_dir) / kCheckpointDir;
  std::vector<std::string> all;
  if (!fs::is_directory(root)) return all;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && n.find('.') == std::string::npos && e.is_directory()) all.push_back(e.path().string());
  }
  std::sort(all.rbegin(), all.rend());  // step names are zero-padded: newest first
  return all;
}

std::string checkpoint_problem(const std::string& dir) {
  try {
    const std::string state_path = dir + "/" + kTrainerFile;
    Json state = Json::parse(read_file(state_path), nullptr, false);
    if (state.is_discarded() || !state.is_object() || !state.contains("step") || !state["step"].is_number_integer())
      return state_path + ": not a complete trainer state file";
    SafetensorsFile st(dir + "/" + kStateFile);  // validates the header against the file's size
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string latest_checkpoint(const std::string& out_dir) {
  for (const std::string& dir : list_checkpoints(out_dir))
    if (checkpoint_problem(dir).empty()) return dir;
  return "";
}

void copy_tokenizer_files(const std::string& from, const std::string& to_dir) {
  const fs::path src = fs::is_directory(from) ? fs::path(from) : fs::path(from).parent_path();
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                           "generation_config.json", "chat_template.jinja"}) {
    const fs::path f = src / name;
    if (fs::exists(f)) write_file_atomic((fs::path(to_dir) / name).string(), read_file(f.string()));
  }
}

// Restores the newest checkpoint when resuming (returning its step), else starts an empty metrics log.
static int64_t begin_run(const TrainOptions& o, AdamW& opt, const Json& identity, bool writer, const std::string& metrics_path) {
  if (!o.resume) {
    if (writer) write_file_atomic(metrics_path, "");
    return 0;
  }
  std::string ckpt;
  for (const std::string& dir : list_checkpoints(o.out_dir)) {
    const std::string problem = checkpoint_problem(dir);
    if (problem.empty()) {
      ckpt = dir;
      break;
    }
    log_warn("--resume: skipping the torn checkpoint ", dir, " (", problem, ")");
  }
  if (ckpt.empty()) throw_invalid("--resume: no complete checkpoint under ", o.out_dir, "/", kCheckpointDir);
  const int64_t start = load_checkpoint(ckpt, opt, identity);
  log_info("resuming from ", ckpt, " at step ", start);
  if (writer) truncate_metrics(metrics_path, start);
  return start;
}

TrainResult train(TrainTask& task, const TrainOptions& o) {
  o.validate();
  const bool writer = o.sync == nullptr || o.sync->rank() == 0;
  const std::vector<int64_t> lengths = task.example_lengths();
  const int64_t n = static_cast<int64_t>(lengths.size());
  const int64_t per_epoch = (n + o.batch_size - 1) / o.batch_size;  // micro-batches per epoch
  const int64_t total = o.steps > 0 ? o.steps
                                    : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.epochs * per_epoch / o.grad_accum)));
  AdamW opt(task.policy().parameters(), o.adamw);
  const Json identity = run_identity(task, o, n, total);
  const std::string metrics_path = o.out_dir + "/metrics.jsonl";
  if (writer) fs::create_directories(o.out_dir);

  const int64_t start = begin_run(o, opt, identity, writer, metrics_path);
  std::ofstream metrics;
  if (writer) metrics.open(metrics_path, std::ios::app);

  TrainResult result;
  result.total_steps = total;
  int64_t plan_epoch_index = -1;
  std::vector<std::vector<int64_t>> plan;
  auto micro_batch = [&](int64_t m) -> const std::vector<int64_t>& {
    const int64_t epoch = m / per_epoch;
    if (epoch != plan_epoch_index) {
      plan = plan_epoch(lengths, o.batch_size, o.seed, epoch, o.bucket);
      plan_epoch_index = epoch;
    }
    return plan[m % per_epoch];
  };
  const auto t_begin = std::chrono::steady_clock::now();
  double tokens_run = 0;
  int64_t step = start;
  while (step < total) {
    // Normalizer: items of the whole (global, accumulated) step, so the gradient is the step's mean.
    std::vector<std::vector<int64_t>> micro;
    double normalizer = 0;
    for (int64_t a = 0; a < o.grad_accum; ++a) {
      micro.push_back(micro_batch(step * o.grad_accum + a));
      normalizer += task.items_in(micro.back());
    }
    StepStats s = forward_backward(task, opt, micro, normalizer, o.sync);
    clip_grad_norm(opt.params(), o.max_grad_norm);
    const double lr = scheduled_lr(o.schedule, step, total);
    opt.step(lr);
    ++step;
    tokens_run += s.n_tokens;

    Progress p;
    p.step = step;
    p.total_steps = total;
    p.loss = s.loss_sum / std::max(1e-12, normalizer);
    p.accuracy = task.reports_accuracy() ? s.n_correct / std::max(1.0, s.n_items) : -1;
    p.lr = lr;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_begin).count();
    p.tokens_per_s = tokens_run / std::max(1e-9, secs);
    p.eta_s = secs / static_cast<double>(step - start) * static_cast<double>(total - step);
    const bool last = step == total;
    if ((o.eval_every > 0 && step % o.eval_every == 0) || last) p.eval = result.eval = task.evaluate();
    if (writer && (step % o.log_every == 0 || last || !p.eval.empty())) write_metrics(metrics, metrics_path, p);
    if (o.on_progress) o.on_progress(p);
    const bool stop = (o.stop_after > 0 && step - start >= o.stop_after && !last) ||
                      (o.stop_requested != nullptr && o.stop_requested->load());
    if (writer && ((o.save_every > 0 && step % o.save_every == 0) || last || stop))
      save_checkpoint(o.out_dir, step, opt, identity, o.keep_checkpoints);
    if (stop && !last) {
      result.stopped = true;
      log_info("stopped after step ", step, " of ", total, "; continue with --resume");
      break;
    }
  }
  result.steps_done = step;
  if (step == total && writer) task.save_output(o.out_dir);
  return result;
}

}  // namespace pad
