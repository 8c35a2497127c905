// The Jinja engine: template source, and (after the first NUL byte, when there is one) the JSON
// object of variables it renders with; without one, a fixed two-message conversation.
#include <cstring>
#include <exception>

#include "fuzz_common.h"
#include "pad/tokenizer/jinja.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(p, 0, size));
  std::string source(p, nul ? size_t(nul - p) : size);
  nlohmann::ordered_json vars;
  if (nul) {
    vars = nlohmann::ordered_json::parse(nul + 1, p + size, nullptr, false);
    if (vars.is_discarded() || !vars.is_object()) return 0;
  } else {
    vars = {{"messages", {{{"role", "system"}, {"content", "Be brief."}},
                          {{"role", "user"}, {"content", "Hi <b>there</b>"}}}},
            {"bos_token", "<s>"},
            {"eos_token", "</s>"},
            {"add_generation_prompt", true}};
  }
  pad::jinja::RenderOptions opt;
  opt.strftime_now = [](const std::string&) { return std::string("02 Dec 2026"); };
  try {
    pad::jinja::Template t(source, "fuzz");
    (void)t.render(vars, opt);
  } catch (const std::exception&) {
  }
  return 0;
}
