// config.json of a Hugging Face model → ModelConfig (validated), and back to JSON.
#include <exception>

#include "fuzz_common.h"
#include "pad/format/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    pad::ModelConfig c = pad::parse_hf_config(text, "config.json");
    c.validate("config.json");
    (void)c.n_params();
    (void)pad::hf_config_json(c);
  } catch (const std::exception&) {
  }
  return 0;
}
