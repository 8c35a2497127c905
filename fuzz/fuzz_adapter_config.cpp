// PEFT adapter_config.json → LoraAdapter::load beside a fixed, valid adapter_model.safetensors for a
// tiny base (rank 2 on every module): the fuzzed config decides rank, alpha, rsLoRA and targets, so
// inputs that pass the config checks go on to match (or fail to match) real tensors.
#include <exception>

#include "fuzz_common.h"
#include "pad/model/adapters.h"

namespace {

pad::ModelConfig tiny_base() {
  pad::ModelConfig c;
  c.n_vocab = 32;
  c.d_model = 8;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_kv_head = 1;
  c.head_dim = 4;
  c.d_ff = 16;
  c.max_position = 64;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pad::ModelConfig base = tiny_base();
  static const std::string dir = [] {
    const std::string d = pad_fuzz::scratch_dir() + "/adapter";
    pad::LoraAdapter::create(base, 2, 4.0, pad::lora_module_names(), 1).save(d, "tiny");
    return d;
  }();
  pad_fuzz::put_file("adapter/adapter_config.json", data, size);
  try {
    pad::LoraAdapter a = pad::LoraAdapter::load(dir, base);
    (void)a.scale();
  } catch (const std::exception&) {
  }
  return 0;
}
