// GGUF v2/v3 reader: metadata key/values and tensor directory over a read-only memory map.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pad/util/file.h"

namespace pad {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

// The ggml tensor types pad can read (others are refused by name at load).
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kBF16 = 30,
};

const char* ggml_type_name(uint32_t type);

// One metadata value. Scalars are stored as arrays of one element; `is_array` tells them apart.
// Integers (and bools) live in `ints`, floats in `floats`, strings in `strings`.
struct GgufValue {
  GgufType type = GgufType::kUint8;  // element type for arrays
  bool is_array = false;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> shape;  // row-major (outermost first), i.e. ggml's ne[] reversed
  uint32_t type = 0;           // ggml type id (see GgmlType)
  uint64_t offset = 0;         // from the start of the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;  // points into the memory map
};

class GgufFile {
 public:
  // Parses header, metadata and tensor directory; validates every offset against the file size.
  // Throws std::runtime_error naming the file and the problem.
  explicit GgufFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }

  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  const GgufValue* find(const std::string& key) const;
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }

  // Typed accessors; a missing key or a value of the wrong type throws, naming file and key.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  // accepts integer values too
  bool get_bool(const std::string& key) const;
  const std::vector<std::string>& get_strings(const std::string& key) const;
  const std::vector<int64_t>& get_ints(const std::string& key) const;
  const std::vector<double>& get_floats(const std::string& key) const;

  std::optional<std::string> get_string_opt(const std::string& key) const;
  std::optional<int64_t> get_int_opt(const std::string& key) const;
  std::optional<double> get_float_opt(const std::string& key) const;
  std::optional<bool> get_bool_opt(const std::string& key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;

 private:
  const GgufValue& require(const std::string& key) const;

  MappedFile file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// A tensor to write: raw bytes already in `type`'s layout; shape row-major (outermost first).
struct GgufTensorBytes {
  std::string name;
  std::vector<int64_t> shape;
  uint32_t type = 0;
  std::string bytes;
};

// Writes a GGUF v3 file atomically: the metadata (types preserved) and tensors, data 32-byte aligned.
void write_gguf(const std::string& path, const std::map<std::string, GgufValue>& metadata,
                const std::vector<GgufTensorBytes>& tensors);

// Bytes used by `n` elements of a ggml type whose rows (innermost dimension) hold `row` elements
// (0: one row of n); throws, naming `context`, for types pad does not read and for rows that are
// not whole blocks.
size_t ggml_nbytes(uint32_t type, int64_t n, const std::string& context, int64_t row = 0);

}  // namespace pad
