// Shared test helpers: fixture paths and scratch directories.
#pragma once

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

}  // namespace pad::test
