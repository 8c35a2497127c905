// Error conventions (STYLE.md): std::invalid_argument for bad input, std::runtime_error for
// files/environment, PAD_CHECK for internal invariants. Messages name file, field, value, expectation.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace pad {

// Concatenates any streamable arguments into one string.
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

// Bad input from a user (flags, files, data): the CLI maps it to exit code 2.
template <typename... Args>
[[noreturn]] void throw_invalid(Args&&... args) {
  throw std::invalid_argument(str_cat(std::forward<Args>(args)...));
}

// Files or environment failed (I/O, resources).
template <typename... Args>
[[noreturn]] void throw_runtime(Args&&... args) {
  throw std::runtime_error(str_cat(std::forward<Args>(args)...));
}

[[noreturn]] void check_failed(const char* file, int line, const char* cond, const std::string& msg);

}  // namespace pad

// Invariant inside the library; a failure is a bug or a broken precondition, reported with location.
#define PAD_CHECK(cond, ...)                                                        \
  do {                                                                              \
    if (!(cond)) ::pad::check_failed(__FILE__, __LINE__, #cond, ::pad::str_cat(__VA_ARGS__)); \
  } while (0)
