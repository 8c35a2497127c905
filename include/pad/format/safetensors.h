// safetensors reading (memory-mapped, one file or the shards of model.safetensors.index.json) and
// atomic writing. No torch here: tensors are described by dtype, shape and a pointer into the map.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pad/util/file.h"

namespace pad {

enum class DType { kF32, kF16, kBF16 };
const char* dtype_name(DType t);   // "F32", "F16", "BF16" as safetensors spells them
size_t dtype_size(DType t);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into a memory map owned by the file that produced it
  size_t nbytes = 0;
  std::string file;  // the file it came from, for error messages
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Validates header length, JSON, dtypes, shapes and that every [begin, end) lies inside the
  // data section and matches shape × dtype. Throws std::runtime_error naming the file and tensor.
  explicit SafetensorsFile(const std::string& path);
  const std::string& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model directory: model.safetensors, or the shards named by
// model.safetensors.index.json. Names must be unique across shards.
class SafetensorsSet {
 public:
  explicit SafetensorsSet(const std::string& dir_or_file);
  const TensorView* find(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& origin() const { return origin_; }  // directory or file, for messages

 private:
  std::string origin_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

// A tensor to write: raw little-endian bytes of `shape` in `dtype`.
struct TensorBytes {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::string bytes;
};

// Writes a safetensors file atomically (temporary file, fsync, rename).
void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace pad
