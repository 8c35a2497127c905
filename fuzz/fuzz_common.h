// Shared by the libFuzzer targets: pad's parsers take paths, so each input is written to a file in a
// per-process scratch directory (on /dev/shm when there is one) and parsed from there. Every parser
// must either succeed or throw a std::exception with a message; anything else (a sanitizer report,
// an abort, a hang, running out of memory) is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace pad_fuzz {

inline const std::string& scratch_dir() {
  // Never destroyed: the atexit handler that removes the directory runs after static destructors.
  static const std::string* dir = [] {
    namespace fs = std::filesystem;
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("pad-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    auto* s = new std::string(d.string());
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return s;
  }();
  return *dir;
}

// Writes bytes to scratch_dir()/name (truncating) and returns the path.
inline std::string put_file(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = scratch_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}
inline std::string put_file(const std::string& name, const std::string& s) {
  return put_file(name, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// The data files committed next to the targets (fuzz/data), for targets that need a fixed
// tokenizer around the fuzzed input.
inline std::string data_file(const std::string& name) { return std::string(PAD_FUZZ_DATA) + "/" + name; }

}  // namespace pad_fuzz
