// A .safetensors file: 8-byte header length, JSON header (dtypes, shapes, offsets), data section.
#include <exception>

#include "fuzz_common.h"
#include "pad/format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = pad_fuzz::put_file("model.safetensors", data, size);
  try {
    pad::SafetensorsFile f(path);
    // Touch every tensor's bytes: the validated ranges must lie inside the map.
    volatile uint8_t sum = 0;
    for (const pad::TensorView& t : f.tensors()) {
      if (t.nbytes) sum = sum + t.data[0] + t.data[t.nbytes - 1];
      (void)t.numel();
    }
  } catch (const std::exception&) {
  }
  return 0;
}
