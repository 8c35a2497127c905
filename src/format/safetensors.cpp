// safetensors: 8-byte little-endian header length, a JSON header, then the raw data section.
#include "pad/format/safetensors.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "pad/util/error.h"

namespace pad {
namespace {

DType parse_dtype(const std::string& s, const std::string& path, const std::string& name) {
  if (s == "F32") return DType::kF32;
  if (s == "F16") return DType::kF16;
  if (s == "BF16") return DType::kBF16;
  throw_runtime(path, ": tensor '", name, "' has dtype '", s, "'; pad reads F32, F16 and BF16");
}

// An array of JSON integers; anything else (a float, which nlohmann would cast with undefined
// behaviour when out of range, found by fuzz_safetensors) is refused naming the field.
std::vector<int64_t> int_array(const nlohmann::json& j, const std::string& path, const std::string& name,
                               const char* field) {
  if (!j.is_array()) throw_runtime(path, ": tensor '", name, "' ", field, " is not an array");
  std::vector<int64_t> out;
  for (const nlohmann::json& v : j) {
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
      throw_runtime(path, ": tensor '", name, "' ", field, " has ", v.dump(), " (expected integers below 2^63)");
    out.push_back(v.get<int64_t>());
  }
  return out;
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(DType t) { return t == DType::kF32 ? 4 : 2; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  if (file_.size() < 8) throw_runtime(path, ": too small to be a safetensors file (", file_.size(), " bytes)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_.data(), 8);
  if (header_len > file_.size() - 8)
    throw_runtime(path, ": header length ", header_len, " runs past the end of the file (", file_.size(), " bytes)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file_.data() + 8, file_.data() + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw_runtime(path, ": header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) throw_runtime(path, ": header is not a JSON object");
  const uint8_t* data = file_.data() + 8 + header_len;
  const size_t data_size = file_.size() - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    const nlohmann::json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw_runtime(path, ": tensor '", it.key(), "' lacks dtype, shape or data_offsets");
    TensorView t;
    t.name = it.key();
    t.file = path;
    try {
      t.dtype = parse_dtype(e.at("dtype").get<std::string>(), path, t.name);
      t.shape = int_array(e.at("shape"), path, t.name, "shape");
      std::vector<int64_t> off = int_array(e.at("data_offsets"), path, t.name, "data_offsets");
      if (off.size() != 2) throw_runtime(path, ": tensor '", t.name, "' data_offsets must have 2 entries");
      // The element count is bounded as the dimensions multiply, so numel() cannot overflow.
      uint64_t elems = 1;
      for (int64_t d : t.shape) {
        if (d < 0) throw_runtime(path, ": tensor '", t.name, "' has a negative dimension");
        if (d != 0 && elems > (uint64_t(1) << 60) / static_cast<uint64_t>(d))
          throw_runtime(path, ": tensor '", t.name, "' has more than 2^60 elements");
        elems *= static_cast<uint64_t>(d);
      }
      if (off[0] < 0 || off[0] > off[1] || static_cast<uint64_t>(off[1]) > data_size)
        throw_runtime(path, ": tensor '", t.name, "' data_offsets [", off[0], ", ", off[1],
                      "] lie outside the data section (", data_size, " bytes)");
      t.nbytes = off[1] - off[0];
      if (t.nbytes != static_cast<size_t>(t.numel()) * dtype_size(t.dtype))
        throw_runtime(path, ": tensor '", t.name, "' has ", t.nbytes, " bytes but shape and dtype need ",
                      t.numel() * dtype_size(t.dtype));
      t.data = data + off[0];
    } catch (const nlohmann::json::exception& ex) {
      throw_runtime(path, ": tensor '", it.key(), "' has a malformed entry: ", ex.what());
    }
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

SafetensorsSet::SafetensorsSet(const std::string& dir_or_file) : origin_(dir_or_file) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  if (!fs::is_directory(dir_or_file)) {
    paths.push_back(dir_or_file);
  } else if (fs::exists(fs::path(dir_or_file) / "model.safetensors")) {
    paths.push_back((fs::path(dir_or_file) / "model.safetensors").string());
  } else if (fs::exists(fs::path(dir_or_file) / "model.safetensors.index.json")) {
    std::string index_path = (fs::path(dir_or_file) / "model.safetensors.index.json").string();
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(read_file(index_path));
    } catch (const nlohmann::json::exception& e) {
      throw_runtime(index_path, ": not valid JSON: ", e.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
      throw_runtime(index_path, ": missing object 'weight_map'");
    std::map<std::string, bool> seen;
    for (auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw_runtime(index_path, ": weight_map['", name, "'] is not a file name");
      std::string f = file.get<std::string>();
      if (!seen[f]) paths.push_back((fs::path(dir_or_file) / f).string());
      seen[f] = true;
    }
  } else {
    throw_runtime(dir_or_file, ": no model.safetensors or model.safetensors.index.json in this directory");
  }
  for (const std::string& p : paths) {
    files_.push_back(std::make_unique<SafetensorsFile>(p));
    for (const TensorView& t : files_.back()->tensors()) {
      if (index_.count(t.name)) throw_runtime(p, ": tensor '", t.name, "' also appears in ", index_[t.name]->file);
      index_[t.name] = &t;
    }
  }
}

const TensorView* SafetensorsSet::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsSet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : index_) out.push_back(name);
  return out;
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorBytes& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    PAD_CHECK(t.bytes.size() == static_cast<size_t>(n) * dtype_size(t.dtype), "tensor ", t.name, " byte size");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t len = h.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out += h;
  for (const TensorBytes& t : tensors) out += t.bytes;
  write_file_atomic(path, out);
}

}  // namespace pad
