// GGUF parsing. Every read is bounds-checked, so a truncated or corrupt file gives an error, not a crash.
#include "pad/format/gguf.h"

#include <cstring>

#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxStringBytes = 1ull << 30;
constexpr uint64_t kMaxArrayElems = 1ull << 32;

class Reader {
 public:
  Reader(const MappedFile& f) : f_(f) {}

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, f_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    if (n > kMaxStringBytes) throw_runtime(f_.path(), ": ", what, " has length ", n, " (corrupt file?)");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(f_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  size_t pos() const { return pos_; }

 private:
  void need(uint64_t n, const char* what) {
    if (n > f_.size() || pos_ > f_.size() - n)
      throw_runtime(f_.path(), ": truncated while reading ", what, " at byte ", pos_, " (file has ", f_.size(),
                    " bytes)");
  }
  const MappedFile& f_;
  size_t pos_ = 0;
};

void read_element(Reader& r, GgufType t, GgufValue& v, const std::string& key, const std::string& path) {
  switch (t) {
    case GgufType::kUint8: v.ints.push_back(r.read<uint8_t>("metadata value")); break;
    case GgufType::kInt8: v.ints.push_back(r.read<int8_t>("metadata value")); break;
    case GgufType::kUint16: v.ints.push_back(r.read<uint16_t>("metadata value")); break;
    case GgufType::kInt16: v.ints.push_back(r.read<int16_t>("metadata value")); break;
    case GgufType::kUint32: v.ints.push_back(r.read<uint32_t>("metadata value")); break;
    case GgufType::kInt32: v.ints.push_back(r.read<int32_t>("metadata value")); break;
    case GgufType::kUint64: v.ints.push_back(static_cast<int64_t>(r.read<uint64_t>("metadata value"))); break;
    case GgufType::kInt64: v.ints.push_back(r.read<int64_t>("metadata value")); break;
    case GgufType::kBool: v.ints.push_back(r.read<uint8_t>("metadata value") != 0); break;
    case GgufType::kFloat32: v.floats.push_back(r.read<float>("metadata value")); break;
    case GgufType::kFloat64: v.floats.push_back(r.read<double>("metadata value")); break;
    case GgufType::kString: v.strings.push_back(r.read_string("metadata string")); break;
    default:
      throw_runtime(path, ": metadata key '", key, "' has unknown value type ", static_cast<uint32_t>(t));
  }
}

const char* type_word(GgufType t) {
  switch (t) {
    case GgufType::kString: return "string";
    case GgufType::kFloat32:
    case GgufType::kFloat64: return "float";
    case GgufType::kBool: return "bool";
    default: return "integer";
  }
}

}  // namespace

const char* ggml_type_name(uint32_t type) {
  switch (type) {
    case 0: return "f32";
    case 1: return "f16";
    case 2: return "q4_0";
    case 3: return "q4_1";
    case 6: return "q5_0";
    case 7: return "q5_1";
    case 8: return "q8_0";
    case 10: return "q2_K";
    case 11: return "q3_K";
    case 12: return "q4_K";
    case 13: return "q5_K";
    case 14: return "q6_K";
    case 30: return "bf16";
    default: return "unknown";
  }
}

size_t ggml_nbytes(uint32_t type, int64_t n, const std::string& context, int64_t row) {
  int64_t block = 1;
  size_t bytes = 0;
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32: block = 1, bytes = 4; break;
    case GgmlType::kF16:
    case GgmlType::kBF16: block = 1, bytes = 2; break;
    case GgmlType::kQ8_0: block = 32, bytes = 34; break;
    case GgmlType::kQ4_0: block = 32, bytes = 18; break;
    case GgmlType::kQ4_K: block = 256, bytes = 144; break;
    case GgmlType::kQ5_K: block = 256, bytes = 176; break;
    case GgmlType::kQ6_K: block = 256, bytes = 210; break;
    default:
      throw_runtime(context, ": tensor type ", type, " (", ggml_type_name(type),
                    ") is not supported; pad reads f32, f16, bf16, q8_0, q4_0, q4_K, q5_K and q6_K");
  }
  // Blocks never straddle rows: the innermost dimension must hold whole blocks.
  const int64_t inner = row > 0 ? row : n;
  if (inner % block != 0 || n % block != 0)
    throw_runtime(context, ": ", ggml_type_name(type), " tensor rows of ", inner,
                  " elements are not a multiple of its block of ", block);
  return static_cast<size_t>(n / block) * bytes;
}

GgufFile::GgufFile(const std::string& path) : file_(path) {
  Reader r(file_);
  if (file_.size() < 4 || r.read<uint32_t>("magic") != kMagic)
    throw_runtime(path, ": not a GGUF file (bad magic; expected 'GGUF')");
  version_ = r.read<uint32_t>("version");
  if (version_ < 2 || version_ > 3) throw_runtime(path, ": GGUF version ", version_, " is not supported (expected 2 or 3)");
  uint64_t n_tensors = r.read<uint64_t>("tensor count");
  uint64_t n_kv = r.read<uint64_t>("metadata count");
  if (n_tensors > file_.size() || n_kv > file_.size())
    throw_runtime(path, ": header claims ", n_tensors, " tensors and ", n_kv, " metadata keys (corrupt file)");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.read_string("metadata key");
    auto t = static_cast<GgufType>(r.read<uint32_t>("metadata type"));
    GgufValue v;
    if (t == GgufType::kArray) {
      v.is_array = true;
      v.type = static_cast<GgufType>(r.read<uint32_t>("array type"));
      uint64_t n = r.read<uint64_t>("array length");
      if (n > kMaxArrayElems || n > file_.size()) throw_runtime(path, ": array '", key, "' has length ", n, " (corrupt file)");
      if (v.type == GgufType::kArray) throw_runtime(path, ": nested arrays in '", key, "' are not supported");
      for (uint64_t j = 0; j < n; ++j) read_element(r, v.type, v, key, path);
    } else {
      v.type = t;
      read_element(r, t, v, key, path);
    }
    kv_[key] = std::move(v);
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = r.read_string("tensor name");
    uint32_t n_dims = r.read<uint32_t>("tensor dims");
    if (n_dims == 0 || n_dims > 4) throw_runtime(path, ": tensor '", t.name, "' has ", n_dims, " dimensions (expected 1..4)");
    int64_t n_elem = 1;
    t.shape.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      auto dim = r.read<uint64_t>("tensor shape");
      if (dim == 0 || dim > (1ull << 40)) throw_runtime(path, ": tensor '", t.name, "' has dimension ", dim);
      t.shape[n_dims - 1 - d] = static_cast<int64_t>(dim);
      // Checked before multiplying: 2^46 * 2^40 would overflow int64 (found by fuzz_gguf).
      if (static_cast<int64_t>(dim) > (int64_t(1) << 46) / n_elem)
        throw_runtime(path, ": tensor '", t.name, "' has more than 2^46 elements");
      n_elem *= static_cast<int64_t>(dim);
      if (n_elem > (int64_t(1) << 46)) throw_runtime(path, ": tensor '", t.name, "' has more than 2^46 elements");
    }
    t.type = r.read<uint32_t>("tensor type");
    t.offset = r.read<uint64_t>("tensor offset");
    t.nbytes = ggml_nbytes(t.type, n_elem, path + ": tensor '" + t.name + "'", t.shape.back());
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  uint64_t alignment = 32;
  if (auto a = get_int_opt("general.alignment")) {
    if (*a <= 0 || (*a & (*a - 1)) != 0) throw_runtime(path, ": general.alignment = ", *a, " (expected a power of two)");
    alignment = static_cast<uint64_t>(*a);
  }
  uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  for (GgufTensor& t : tensors_) {
    uint64_t begin = data_start + t.offset;
    if (t.offset > file_.size() || begin > file_.size() || t.nbytes > file_.size() - begin)
      throw_runtime(path, ": tensor '", t.name, "' data [", begin, ", ", begin + t.nbytes, ") lies past the end of the file (",
                    file_.size(), " bytes)");
    t.data = file_.data() + begin;
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::require(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw_runtime(path(), ": missing metadata key '", key, "'");
  return *v;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = require(key);
  if (v.is_array || v.type != GgufType::kString) throw_runtime(path(), ": metadata '", key, "' is not a string");
  return v.strings[0];
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = require(key);
  if (v.is_array || v.ints.empty()) throw_runtime(path(), ": metadata '", key, "' is a ", type_word(v.type), ", expected an integer");
  return v.ints[0];
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = require(key);
  if (v.is_array) throw_runtime(path(), ": metadata '", key, "' is an array, expected a number");
  if (!v.floats.empty()) return v.floats[0];
  if (!v.ints.empty() && v.type != GgufType::kBool) return static_cast<double>(v.ints[0]);
  throw_runtime(path(), ": metadata '", key, "' is a ", type_word(v.type), ", expected a number");
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = require(key);
  if (v.is_array || v.ints.empty()) throw_runtime(path(), ": metadata '", key, "' is not a bool");
  return v.ints[0] != 0;
}

const std::vector<std::string>& GgufFile::get_strings(const std::string& key) const {
  const GgufValue& v = require(key);
  if (!v.is_array || v.type != GgufType::kString) throw_runtime(path(), ": metadata '", key, "' is not an array of strings");
  return v.strings;
}

const std::vector<int64_t>& GgufFile::get_ints(const std::string& key) const {
  const GgufValue& v = require(key);
  if (!v.is_array || v.type == GgufType::kString || v.type == GgufType::kFloat32 || v.type == GgufType::kFloat64)
    throw_runtime(path(), ": metadata '", key, "' is not an array of integers");
  return v.ints;
}

const std::vector<double>& GgufFile::get_floats(const std::string& key) const {
  const GgufValue& v = require(key);
  if (!v.is_array || (v.type != GgufType::kFloat32 && v.type != GgufType::kFloat64))
    throw_runtime(path(), ": metadata '", key, "' is not an array of floats");
  return v.floats;
}

std::optional<std::string> GgufFile::get_string_opt(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_string(key);
}
std::optional<int64_t> GgufFile::get_int_opt(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_int(key);
}
std::optional<double> GgufFile::get_float_opt(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_float(key);
}
std::optional<bool> GgufFile::get_bool_opt(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_bool(key);
}

namespace {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_ += s;
  }
  void put_element(GgufType t, const GgufValue& v, size_t i) {
    switch (t) {
      case GgufType::kUint8: put<uint8_t>(static_cast<uint8_t>(v.ints[i])); break;
      case GgufType::kInt8: put<int8_t>(static_cast<int8_t>(v.ints[i])); break;
      case GgufType::kUint16: put<uint16_t>(static_cast<uint16_t>(v.ints[i])); break;
      case GgufType::kInt16: put<int16_t>(static_cast<int16_t>(v.ints[i])); break;
      case GgufType::kUint32: put<uint32_t>(static_cast<uint32_t>(v.ints[i])); break;
      case GgufType::kInt32: put<int32_t>(static_cast<int32_t>(v.ints[i])); break;
      case GgufType::kUint64: put<uint64_t>(static_cast<uint64_t>(v.ints[i])); break;
      case GgufType::kInt64: put<int64_t>(v.ints[i]); break;
      case GgufType::kBool: put<uint8_t>(v.ints[i] != 0); break;
      case GgufType::kFloat32: put<float>(static_cast<float>(v.floats[i])); break;
      case GgufType::kFloat64: put<double>(v.floats[i]); break;
      case GgufType::kString: put_string(v.strings[i]); break;
      default: PAD_CHECK(false, "unwritable GGUF type ", static_cast<uint32_t>(t));
    }
  }
  void align(size_t a) { out_.append((a - out_.size() % a) % a, '\0'); }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

size_t element_count(const GgufValue& v) {
  switch (v.type) {
    case GgufType::kString: return v.strings.size();
    case GgufType::kFloat32:
    case GgufType::kFloat64: return v.floats.size();
    default: return v.ints.size();
  }
}

}  // namespace

void write_gguf(const std::string& path, const std::map<std::string, GgufValue>& metadata,
                const std::vector<GgufTensorBytes>& tensors) {
  constexpr size_t kAlign = 32;
  Writer w;
  w.put<uint32_t>(kMagic);
  w.put<uint32_t>(3);
  w.put<uint64_t>(tensors.size());
  w.put<uint64_t>(metadata.size());
  for (const auto& [key, v] : metadata) {
    w.put_string(key);
    if (v.is_array) {
      w.put<uint32_t>(static_cast<uint32_t>(GgufType::kArray));
      w.put<uint32_t>(static_cast<uint32_t>(v.type));
      w.put<uint64_t>(element_count(v));
    } else {
      w.put<uint32_t>(static_cast<uint32_t>(v.type));
    }
    for (size_t i = 0; i < element_count(v); ++i) w.put_element(v.type, v, i);
  }
  uint64_t offset = 0;
  for (const GgufTensorBytes& t : tensors) {
    w.put_string(t.name);
    w.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) w.put<uint64_t>(static_cast<uint64_t>(*it));
    w.put<uint32_t>(t.type);
    w.put<uint64_t>(offset);
    offset += (t.bytes.size() + kAlign - 1) / kAlign * kAlign;
  }
  w.align(kAlign);
  for (const GgufTensorBytes& t : tensors) {
    w.str() += t.bytes;
    w.align(kAlign);
  }
  write_file_atomic(path, w.str());
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace pad
