// Shared test helpers: fixture paths and scratch directories.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "pad/util/file.h"

namespace pad::test {

inline std::string shared_dir() { return PAD_SHARED_DIR; }
inline std::string model_dir(const std::string& name) { return shared_dir() + "/testdata/models/" + name; }

// A fresh, empty directory under the system temp dir, unique per test.
inline std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("pad-test-" + std::to_string(::getpid()) + "-" + name);
  remove_tree(p.string());
  fs::create_directories(p);
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
