// A sandboxed Jinja engine for chat templates: the subset of Jinja2 that published Hugging Face chat
// templates use, rendered as transformers' apply_chat_template does (trim_blocks, lstrip_blocks,
// loop controls, tojson without ASCII escaping, raise_exception, strftime_now). It reads only the
// variables it is given: no file, environment or clock access beyond the strftime_now hook.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace pad::jinja {

namespace detail {
struct Program;
}

// Limits that keep a hostile template from running away.
struct Limits {
  long max_steps = 5'000'000;             // statements executed plus loop iterations
  int max_depth = 200;                    // nested macro calls and nested blocks
  size_t max_output = size_t(64) << 20;   // bytes of rendered text
};

struct RenderOptions {
  // strftime_now(format): today's date as the template wants it; default: the local clock.
  std::function<std::string(const std::string& format)> strftime_now;
  Limits limits;
};

class Template {
 public:
  // Parses `source`; throws std::invalid_argument naming `name`, the line and what was expected.
  explicit Template(const std::string& source, std::string name = "chat template");
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with the top-level variables of `vars` (a JSON object; key order is kept, as Python's
  // dicts keep it). Template errors and raise_exception(...) throw std::invalid_argument naming the
  // template and line.
  std::string render(const nlohmann::ordered_json& vars, const RenderOptions& options = {}) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::unique_ptr<detail::Program> program_;
};

}  // namespace pad::jinja
