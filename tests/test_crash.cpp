// Reliability: `pad train persrm` killed with SIGKILL at random points resumes to bit-identical weights,
// no checkpoint on disk is ever unreadable, a torn checkpoint is skipped; writes past a file size limit
// fail with a clear error and leave nothing under the final name.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "pad/train/trainer.h"
#include "test_train_util.h"

namespace pad {
namespace {

namespace fs = std::filesystem;

// Starts `pad args…` with stdout/stderr appended to `log`; `fsize` > 0 sets RLIMIT_FSIZE in the child.
pid_t spawn_pad(const std::vector<std::string>& args, const std::string& log, rlim_t fsize = 0) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1), ::dup2(fd, 2);
    if (fsize > 0) {
      rlimit lim{fsize, fsize};
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    std::vector<char*> argv{const_cast<char*>(PAD_PAD_BIN)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(PAD_PAD_BIN, argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t step_of(const std::string& dir) { return std::stoll(fs::path(dir).filename().string().substr(5)); }
int64_t newest_step(const std::string& out) {
  auto all = list_checkpoints(out);
  return all.empty() ? 0 : step_of(all.front());
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

struct CrashFixture {
  std::string model, data;
};

CrashFixture& crash_fixture() {
  static CrashFixture f = [] {
    CrashFixture x;
    x.model = test::make_tiny_model_dir("crash-base");
    x.data = x.model + "/train.jsonl";
    write_file_atomic(x.data, test::synthetic_jsonl(1, 32));
    return x;
  }();
  return f;
}

std::vector<std::string> train_args(const std::string& out, int64_t steps) {
  const CrashFixture& f = crash_fixture();
  return {"train", "persrm", "-q", "--threads", "1", "-m", f.model, "--data", f.data, "--form", "lora",
          "--steps", std::to_string(steps), "--batch-size", "4", "--warmup", "2", "--seed", "4", "--save-every", "1",
          "--keep-checkpoints", "2", "--out", out};
}

// Kills training PAD_CRASH_KILLS times (5 by default; scripts/crash-test runs 20) at random points,
// each a random number of checkpoints plus a random delay into a run, and resumes each time.
TEST(Crash, SigkillAtRandomPointsResumesBitIdentical) {
  const int n_kills = env_int("PAD_CRASH_KILLS", 5);
  const unsigned seed = static_cast<unsigned>(env_int("PAD_CRASH_SEED", static_cast<int>(std::random_device{}() % 100000)));
  std::mt19937 rng(seed);
  SCOPED_TRACE("PAD_CRASH_SEED=" + std::to_string(seed));
  const int64_t steps = 6 * n_kills + 4;  // each kill advances ≤ 3 checkpoints plus what 40 ms run
  const std::string dir = test::scratch_dir("crash"), ref = dir + "/ref", out = dir + "/out", log = dir + "/log.txt";
  ASSERT_EQ(wait_exit(spawn_pad(train_args(ref, steps), log)), 0) << read_file(log);

  std::set<std::string> torn;  // checkpoints this test tore itself
  int kills = 0, skipped_torn = 0;
  while (true) {
    std::vector<std::string> args = train_args(out, steps);
    const int64_t from = newest_step(out);
    if (!list_checkpoints(out).empty()) args.push_back("--resume");
    const std::string run_log = dir + "/run" + std::to_string(kills) + ".txt";
    const pid_t pid = spawn_pad(args, run_log);
    if (kills == n_kills) {
      ASSERT_EQ(wait_exit(pid), 0) << read_file(run_log);
      break;
    }
    // Wait for 0-3 new checkpoints, then 0-40 ms more: kills land in startup, steps and checkpoint writes.
    const int64_t target = from + static_cast<int64_t>(rng() % 4);
    const auto delay = std::chrono::microseconds(rng() % 40000);
    bool exited = false;
    while (!exited && newest_step(out) < target) {
      int status;
      exited = ::waitpid(pid, &status, WNOHANG) == pid;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_FALSE(exited) << "training ended before kill " << kills + 1 << ":\n" << read_file(run_log);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    wait_exit(pid);
    ++kills;
    // Every checkpoint on disk reads back, except those this test tore and training has not rewritten.
    for (const std::string& c : list_checkpoints(out)) {
      const std::string problem = checkpoint_problem(c);
      if (problem.empty()) torn.erase(c);
      else EXPECT_TRUE(torn.count(c)) << "kill " << kills << " left an unreadable checkpoint: " << problem;
    }
    if (fs::exists(run_log) && read_file(run_log).find("skipping the torn checkpoint") != std::string::npos) ++skipped_torn;
    // Every other kill, tear the newest checkpoint (when an older one exists to fall back to).
    const auto all = list_checkpoints(out);
    if (kills % 2 == 1 && all.size() >= 2 && !torn.count(all.front())) {
      const std::string victim = all.front() + (rng() % 2 ? "/state.safetensors" : "/trainer_state.json");
      fs::resize_file(victim, fs::file_size(victim) / 2);
      torn.insert(all.front());
    }
  }
  EXPECT_EQ(kills, n_kills);
  EXPECT_GE(skipped_torn + static_cast<int>(torn.size()), 1) << "no torn checkpoint was exercised";
  EXPECT_EQ(read_file(ref + "/adapter_model.safetensors"), read_file(out + "/adapter_model.safetensors"))
      << "the resumed weights differ from the uninterrupted run";
  EXPECT_EQ(read_file(ref + "/adapter_config.json"), read_file(out + "/adapter_config.json"));
}

// A torn newest checkpoint is skipped for the last complete one, with a warning.
TEST(Crash, TornCheckpointIsSkippedWithAWarning) {
  const std::string dir = test::scratch_dir("torn"), ref = dir + "/ref", out = dir + "/out", log = dir + "/log.txt";
  ASSERT_EQ(wait_exit(spawn_pad(train_args(ref, 6), log)), 0) << read_file(log);
  std::vector<std::string> args = train_args(out, 6);
  args.insert(args.end(), {"--stop-after", "4"});
  ASSERT_EQ(wait_exit(spawn_pad(args, log)), 0) << read_file(log);
  auto all = list_checkpoints(out);
  ASSERT_EQ(all.size(), 2u);
  fs::resize_file(all.front() + "/state.safetensors", 100);
  EXPECT_NE(checkpoint_problem(all.front()), "");
  EXPECT_EQ(latest_checkpoint(out), all.back());
  args = train_args(out, 6);
  args.push_back("--resume");
  const std::string log2 = dir + "/log2.txt";
  ASSERT_EQ(wait_exit(spawn_pad(args, log2)), 0) << read_file(log2);
  EXPECT_NE(read_file(log2).find("skipping the torn checkpoint " + all.front()), std::string::npos) << read_file(log2);
  EXPECT_EQ(read_file(ref + "/adapter_model.safetensors"), read_file(out + "/adapter_model.safetensors"));
}

// write_file_atomic past RLIMIT_FSIZE: a clear error naming the file and errno, the old version kept,
// no temporary file left.
TEST(FullDisk, AtomicWritePastTheFileSizeLimitKeepsTheOldVersion) {
  const std::string dir = test::scratch_dir("fsize"), path = dir + "/out.bin";
  write_file_atomic(path, "old");
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  auto prev = ::signal(SIGXFSZ, SIG_IGN);
  rlimit lim{64 * 1024, old.rlim_max};
  ::setrlimit(RLIMIT_FSIZE, &lim);
  std::string message;
  try {
    write_file_atomic(path, std::string(1 << 20, 'x'));
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, prev);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(read_file(path), "old");
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename() != "out.bin";
  EXPECT_EQ(n, 0) << "a temporary file was left";
}

// The CLI under a file size limit: checkpoints and the trained model fail with "error: FILE: …",
// exit 1, and no file exists under its final name.
TEST(FullDisk, TrainingUnderAFileSizeLimitFailsCleanly) {
  const std::string dir = test::scratch_dir("fsize-cli"), out = dir + "/out", log = dir + "/log.txt";
  // The first checkpoint's state (LoRA weights + 2 Adam moments) does not fit in 16 KB.
  EXPECT_EQ(wait_exit(spawn_pad(train_args(out, 3), log, 16 * 1024)), 1) << read_file(log);
  EXPECT_NE(read_file(log).find("error: " + out + "/checkpoints/step-00000001.tmp/state.safetensors: write failed"),
            std::string::npos) << read_file(log);
  EXPECT_TRUE(list_checkpoints(out).empty());
  EXPECT_FALSE(fs::exists(out + "/adapter_model.safetensors"));
  // A finished run resumed without its model: only the model is written, and it does not fit either.
  const std::string log2 = dir + "/log2.txt";
  ASSERT_EQ(wait_exit(spawn_pad(train_args(out, 3), log2)), 0) << read_file(log2);
  const auto model_size = fs::file_size(out + "/adapter_model.safetensors");
  fs::remove(out + "/adapter_model.safetensors");
  std::vector<std::string> args = train_args(out, 3);
  args.push_back("--resume");
  const std::string log3 = dir + "/log3.txt";
  EXPECT_EQ(wait_exit(spawn_pad(args, log3, model_size / 2)), 1) << read_file(log3);
  EXPECT_NE(read_file(log3).find("adapter_model.safetensors: write failed: File too large"), std::string::npos)
      << read_file(log3);
  EXPECT_FALSE(fs::exists(out + "/adapter_model.safetensors"));
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "left " << e.path();
}

}  // namespace
}  // namespace pad
