// model.safetensors.index.json (weight_map → shard file names) in a directory that also holds one
// valid shard, so names that resolve are opened and checked for duplicates.
#include <exception>

#include "fuzz_common.h"
#include "pad/format/safetensors.h"

namespace {
void write_shard() {
  static bool done = false;
  if (done) return;
  pad::write_safetensors(pad_fuzz::scratch_dir() + "/index/model-00001-of-00001.safetensors",
                         {{"w", pad::DType::kF32, {2}, std::string(8, '\0')}});
  done = true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool made = [] {
    std::filesystem::create_directories(pad_fuzz::scratch_dir() + "/index");
    return true;
  }();
  (void)made;
  write_shard();
  pad_fuzz::put_file("index/model.safetensors.index.json", data, size);
  try {
    pad::SafetensorsSet set(pad_fuzz::scratch_dir() + "/index");
    for (const std::string& n : set.names()) (void)set.find(n);
  } catch (const std::exception&) {
  }
  return 0;
}
