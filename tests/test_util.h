// Shared test helpers: fixture paths and scratch directories.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pad/util/file.h"

namespace pad::test {

inline std::string shared_dir() { return PAD_SHARED_DIR; }
inline std::string model_dir(const std::string& name) { return shared_dir() + "/testdata/models/" + name; }

// The scratch directories this test binary made. They are removed when it exits with every test
// passed; after a failure they stay for a look. (Before, every run left them all: 800 folders,
// 300 MB of /tmp on a machine that had run the suite a few dozen times.)
inline std::vector<std::string>& scratch_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
inline void remove_scratch_dirs_if_passed() {
  if (!::testing::UnitTest::GetInstance()->Passed()) return;
  for (const std::string& d : scratch_dirs()) {
    try {
      remove_tree(d);
    } catch (const std::exception&) {  // best effort at exit: nothing to report to
    }
  }
}

// A fresh, empty directory under the system temp dir, unique per test.
inline std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("pad-test-" + std::to_string(::getpid()) + "-" + name);
  remove_tree(p.string());
  fs::create_directories(p);
  // Registered after the list exists, so it runs before the list is destroyed.
  if (scratch_dirs().empty()) std::atexit(remove_scratch_dirs_if_passed);
  scratch_dirs().push_back(p.string());
  return p.string();
}

struct CmdResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs the built `pad` (PAD_PAD_BIN, tests that add_dependencies on pad) with shell-quoted `args`.
inline CmdResult pad_cmd(const std::string& args) {
  CmdResult r;
  FILE* p = popen((std::string(PAD_PAD_BIN) + " " + args + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace pad::test
