// Every loader refuses a bad file with an error naming the file and the problem, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pad/format/safetensors.h"
#include "pad/model/model.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

namespace fs = std::filesystem;

// Expects `fn` to throw an exception derived from std::exception whose message contains every needle.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
  }
}

// A copy of tiny-llama whose tensors pass through `edit` before being written.
std::string edited_llama(const std::string& name, const std::function<void(std::vector<TensorBytes>&)>& edit) {
  std::string dir = test::scratch_dir(name);
  fs::copy_file(test::model_dir("tiny-llama") + "/config.json", dir + "/config.json");
  SafetensorsFile src(test::model_dir("tiny-llama") + "/model.safetensors");
  std::vector<TensorBytes> tensors;
  for (const TensorView& t : src.tensors())
    tensors.push_back({t.name, t.dtype, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
  edit(tensors);
  write_safetensors(dir + "/model.safetensors", tensors);
  return dir;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Loaders, SafetensorsRoundTripLoads) {
  std::string dir = edited_llama("roundtrip", [](auto&) {});
  auto a = Model::load(dir);
  auto b = Model::load(test::model_dir("tiny-llama"));
  int sa = a->create_slot(), sb = b->create_slot();
  EXPECT_TRUE(at::equal(a->forward({Row{sa, {1, 2, 3}, true}}).logits, b->forward({Row{sb, {1, 2, 3}, true}}).logits));
}

TEST(Loaders, MissingTensor) {
  std::string dir = edited_llama("missing", [](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& x) { return x.name == "model.layers.1.mlp.up_proj.weight"; }), t.end());
  });
  expect_error([&] { Model::load(dir); }, {dir, "missing tensor", "model.layers.1.mlp.up_proj.weight"});
}

TEST(Loaders, ShapeContradictsConfig) {
  std::string dir = edited_llama("shape", [](auto& t) {
    for (auto& x : t)
      if (x.name == "model.layers.0.self_attn.k_proj.weight") x.shape = {64, 32};
  });
  expect_error([&] { Model::load(dir); }, {"k_proj.weight", "shape [64, 32]", "[32, 64]"});
}

TEST(Loaders, UnknownArchitecture) {
  std::string dir = edited_llama("arch", [](auto&) {});
  std::string cfg = read_file(dir + "/config.json");
  cfg.replace(cfg.find("LlamaForCausalLM"), 16, "GPTNeoXForCausalLM");
  write_bytes(dir + "/config.json", cfg);
  expect_error([&] { Model::load(dir); }, {"config.json", "GPTNeoXForCausalLM", "not supported"});
}

TEST(Loaders, SafetensorsBadHeaderLength) {
  std::string dir = edited_llama("hdrlen", [](auto&) {});
  std::string bytes = read_file(dir + "/model.safetensors");
  uint64_t huge = 1ull << 40;
  bytes.replace(0, 8, reinterpret_cast<const char*>(&huge), 8);
  write_bytes(dir + "/model.safetensors", bytes);
  expect_error([&] { Model::load(dir); }, {"model.safetensors", "header length", "past the end"});
}

TEST(Loaders, SafetensorsOffsetsOutOfRange) {
  std::string dir = test::scratch_dir("offsets");
  std::string header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16000]}})";
  uint64_t n = header.size();
  write_bytes(dir + "/x.safetensors", std::string(reinterpret_cast<const char*>(&n), 8) + header + std::string(16, '\0'));
  expect_error([&] { SafetensorsFile f(dir + "/x.safetensors"); }, {"x.safetensors", "'w'", "outside the data section"});
}

TEST(Loaders, SafetensorsUnknownDtype) {
  std::string dir = test::scratch_dir("dtype");
  std::string header = R"({"w":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})";
  uint64_t n = header.size();
  write_bytes(dir + "/x.safetensors", std::string(reinterpret_cast<const char*>(&n), 8) + header + std::string(4, '\0'));
  expect_error([&] { SafetensorsFile f(dir + "/x.safetensors"); }, {"x.safetensors", "'w'", "I8"});
}

TEST(Loaders, SafetensorsBadJsonAndTinyFile) {
  std::string dir = test::scratch_dir("json");
  std::string header = R"({"w":{"dtype":)";
  uint64_t n = header.size();
  write_bytes(dir + "/x.safetensors", std::string(reinterpret_cast<const char*>(&n), 8) + header);
  expect_error([&] { SafetensorsFile f(dir + "/x.safetensors"); }, {"x.safetensors", "not valid JSON"});
  write_bytes(dir + "/y.safetensors", "abc");
  expect_error([&] { SafetensorsFile f(dir + "/y.safetensors"); }, {"y.safetensors", "too small"});
}

TEST(Loaders, GgufBadMagic) {
  std::string dir = test::scratch_dir("magic");
  std::string bytes = read_file(test::model_dir("tiny-llama") + "/model.gguf");
  bytes[0] = 'X';
  write_bytes(dir + "/m.gguf", bytes);
  expect_error([&] { Model::load(dir + "/m.gguf"); }, {"m.gguf", "bad magic"});
}

TEST(Loaders, GgufTruncated) {
  std::string dir = test::scratch_dir("trunc");
  std::string bytes = read_file(test::model_dir("tiny-qwen2") + "/model.gguf");
  for (size_t keep : {size_t{10}, size_t{3000}, bytes.size() / 2}) {
    write_bytes(dir + "/m.gguf", bytes.substr(0, keep));
    expect_error([&] { Model::load(dir + "/m.gguf"); }, {"m.gguf"});
  }
  write_bytes(dir + "/m.gguf", bytes.substr(0, bytes.size() / 2));
  expect_error([&] { Model::load(dir + "/m.gguf"); }, {"m.gguf", "past the end of the file"});
}

TEST(Loaders, GgufUnknownTensorTypeAndArchitecture) {
  // A minimal GGUF: architecture "gptj" and one tensor of type q4_1 (pad reads q4_0, not q4_1).
  auto str = [](const std::string& s) {
    uint64_t n = s.size();
    return std::string(reinterpret_cast<const char*>(&n), 8) + s;
  };
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [](uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  std::string f = "GGUF" + u32(3) + u64(1) + u64(1);
  f += str("general.architecture") + u32(8) + str("gptj");
  f += str("token_embd.weight") + u32(2) + u64(256) + u64(4) + u32(3) + u64(0);
  std::string dir = test::scratch_dir("ggtype");
  write_bytes(dir + "/m.gguf", f + std::string(4096, '\0'));
  expect_error([&] { Model::load(dir + "/m.gguf"); }, {"m.gguf", "token_embd.weight", "q4_1", "not supported"});
}

TEST(Loaders, NotAModel) {
  expect_error([&] { Model::load("/nonexistent/model"); }, {"/nonexistent/model", "no such file"});
  std::string dir = test::scratch_dir("empty");
  expect_error([&] { Model::load(dir); }, {dir, "config.json"});
}

}  // namespace
}  // namespace pad
