// Inputs the libFuzzer targets (fuzz/, scripts/fuzz) found to crash a parser, cut down to the bytes
// that matter: each must now be refused with a clear error. One test per finding.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "pad/format/gguf.h"
#include "pad/format/model_config.h"
#include "pad/eval/knowledge_base.h"
#include "pad/format/safetensors.h"
#include "test_util.h"

namespace pad {
namespace {

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);  // GGUF is little-endian, as is this machine
}

std::string write(const std::string& name, const std::string& bytes) {
  std::string path = test::scratch_dir("fuzz_regressions") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// fuzz_gguf, UBSan: a tensor with dimensions 2^40 x 2^40 overflowed int64 while the element count
// was multiplied (each dimension passed its own check, the product was checked only afterwards).
TEST(FuzzRegressions, GgufTensorShapeOverflowIsRefused) {
  std::string b = "GGUF";
  put<uint32_t>(b, 3);   // version
  put<uint64_t>(b, 1);   // tensors
  put<uint64_t>(b, 0);   // metadata keys
  put<uint64_t>(b, 1);   // name length
  b += "t";
  put<uint32_t>(b, 2);   // dimensions
  put<uint64_t>(b, uint64_t(1) << 40);
  put<uint64_t>(b, uint64_t(1) << 40);
  put<uint32_t>(b, 0);   // F32
  put<uint64_t>(b, 0);   // offset
  const std::string path = write("shape-overflow.gguf", b);
  try {
    GgufFile f(path);
    FAIL() << "a 2^80-element tensor was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("more than 2^46 elements"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'t'"), std::string::npos) << e.what();
  }
}

std::string safetensors_with_header(std::string header) {
  header += std::string((8 - header.size() % 8) % 8, ' ');
  std::string b;
  put<uint64_t>(b, header.size());
  return b + header + std::string(16, '\0');
}

void expect_refused(const std::string& path, const std::string& needle) {
  try {
    SafetensorsFile f(path);
    FAIL() << path << " was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// fuzz_safetensors, UBSan: a data offset written as a huge float (6.4e128) was converted to uint64 by
// nlohmann's get<> (undefined behaviour); shapes had the same problem, and a shape's element count
// could overflow int64. Both are now refused naming the tensor and field.
TEST(FuzzRegressions, SafetensorsNonIntegerOffsetsAndHugeShapesAreRefused) {
  expect_refused(write("float-offset.safetensors", safetensors_with_header(
                     R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,6.4e128]}})")),
                 "data_offsets has 6.4e+128");
  expect_refused(write("float-shape.safetensors", safetensors_with_header(
                     R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})")),
                 "shape has 2.5");
  expect_refused(write("huge-shape.safetensors", safetensors_with_header(
                     R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})")),
                 "more than 2^60 elements");
  // A well-formed file next to them still reads.
  SafetensorsFile ok(write("ok.safetensors", safetensors_with_header(
                         R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})")));
  ASSERT_EQ(ok.tensors().size(), 1u);
  EXPECT_EQ(ok.tensors()[0].numel(), 4);
}

// fuzz_gguf, UBSan: ModelConfig::n_params multiplied the dimensions in int64, which overflowed for a
// file whose sizes pass validate() (it bounds them only from below). Now saturates; real sizes exact.
TEST(FuzzRegressions, ModelConfigParamCountDoesNotOverflow) {
  ModelConfig c = parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"vocab_size":5,
      "hidden_size":5137482455300747648,"num_hidden_layers":2,"num_attention_heads":2,
      "intermediate_size":4})", "config.json");
  c.validate("config.json");
  EXPECT_EQ(c.n_params(), INT64_MAX);
  ModelConfig small = parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"vocab_size":10,
      "hidden_size":4,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8})", "config.json");
  // embeddings 2*10*4, attention 4*2*2*2 + 4*2*2*2, mlp 3*4*8, norms 2*4, final norm 4
  EXPECT_EQ(small.n_params(), 80 + 64 + 96 + 8 + 4);
}

// fuzz_config_json, UBSan (session 6): a vocab_size written as a 120-digit integer parses as the
// float 5.1e122, and get<int64_t> cast it (undefined behaviour). Integer fields, optional ones and
// token id lists now take integers (or integral floats) in range, else an error naming the field.
TEST(FuzzRegressions, ConfigIntegersOutOfRangeAreErrorsNotCasts) {
  const std::string head = R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":1,
      "num_attention_heads":4,"intermediate_size":8,)";
  auto error_of = [&](const std::string& rest) {
    try {
      parse_hf_config(head + rest, "config.json");
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"("vocab_size": 5)" + std::string(120, '1') + "}").find("'vocab_size'"), std::string::npos);
  EXPECT_NE(error_of(R"("vocab_size": 1e300})").find("'vocab_size'"), std::string::npos);
  EXPECT_NE(error_of(R"("vocab_size": 18446744073709551615})").find("'vocab_size'"), std::string::npos);
  EXPECT_NE(error_of(R"("vocab_size": 10, "max_position_embeddings": -1e30})").find("'max_position_embeddings'"),
            std::string::npos);
  EXPECT_NE(error_of(R"("vocab_size": 10, "eos_token_id": [2, 1e300]})").find("'eos_token_id'"), std::string::npos);
  EXPECT_NE(error_of(R"("vocab_size": 10, "bos_token_id": 1e300})").find("'bos_token_id'"), std::string::npos);
  EXPECT_NE(error_of(R"("vocab_size": 10, "rope_scaling": {"rope_type": "llama3", "factor": 8,
      "original_max_position_embeddings": 1e40}})").find("'original_max_position_embeddings'"), std::string::npos);
  // Integral floats and ordinary integers still read.
  const ModelConfig c = parse_hf_config(head + R"("vocab_size": 10.0, "eos_token_id": [2, 3]})", "config.json");
  EXPECT_EQ(c.n_vocab, 10);
  EXPECT_EQ(c.eos_ids, (std::vector<int>{2, 3}));
  EXPECT_TRUE(parse_hf_config(head + R"("vocab_size": 10, "bos_token_id": null})", "config.json").bos_ids.empty());
  EXPECT_EQ(parse_hf_config(head + R"("vocab_size": 10, "bos_token_id": 1})", "config.json").bos_ids, std::vector<int>{1});
}

// `pad generate --file` JSONL lines: {"k": 1e300} was cast to int by nlohmann's value<int>()
// (undefined behaviour, garbage k in a Release build); now a clear error naming the line and field.
TEST(FuzzRegressions, JsonlRequestNumbersOutOfRangeAreErrors) {
  const std::string dir = test::scratch_dir("jsonl-numbers");
  const std::string models = std::string(PAD_SOURCE_DIR) + "/models";
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"{\"prompt\": \"x\", \"k\": 1e300}", "'k'"},
      {"{\"prompt\": \"x\", \"n_predict\": -1e300}", "'n_predict'"},
      {"{\"prompt\": \"x\", \"seed\": 1e30}", "'seed'"},
      {"{\"prompt\": \"x\", \"temperature\": \"hot\"}", "'temperature'"},
      {"{\"prompt\": \"x\", \"w\": 1e308}", "'w'"}};
  for (const auto& [line, field] : lines) {
    {
      std::ofstream(dir + "/r.jsonl") << "{\"prompt\": \"fine\"}\n" << line << "\n";
    }
    test::CmdResult r = test::pad_cmd("generate -m " + models + "/base --file " + dir + "/r.jsonl -n 2");
    EXPECT_EQ(r.code, 2) << line << ": " << r.out;
    EXPECT_NE(r.out.find("r.jsonl:2:"), std::string::npos) << line << ": " << r.out;
    EXPECT_NE(r.out.find(field), std::string::npos) << line << ": " << r.out;
  }
}

// `pad eval --kb` files: a subject's "split" that is not a string escaped as nlohmann's own
// type_error (no file or field named; exit 1, not 2), and the consistency errors (unknown category,
// unlisted fact value, a name twice) did not name the file. Now std::invalid_argument naming both.
TEST(FuzzRegressions, KnowledgeBaseErrorsNameTheFileAndField) {
  const std::string planet = R"({"name": "planet", "attributes": [{"name": "colour", "values": ["red"]}]})";
  const std::string head = R"({"categories": [)" + planet + R"(], "subjects": [)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {head + R"({"name": "Zorb", "category": "planet", "split": 1, "facts": {}}]})", "\"split\""},
      {head + R"({"name": "Zorb", "category": "comet", "facts": {}}]})", "'comet'"},
      {head + R"({"name": "Zorb", "category": "planet", "facts": {"colour": "plaid"}}]})", "'plaid'"},
      {head + R"({"name": "Zorb", "category": "planet", "facts": {}}, {"name": "ZORB", "category": "planet", "facts": {}}]})",
       "twice"},
      // A split other than train or eval would drop the subject from both.
      {head + R"({"name": "Zorb", "category": "planet", "split": "evel", "facts": {}}]})", "'evel'"},
      // The same category twice: the second would be unreachable.
      {R"({"categories": [)" + planet + ", " + planet + R"(], "subjects": []})", "category name 'planet' appears twice"}};
  for (const auto& [kb, needle] : cases) {
    const std::string path = write("kb.json", kb);
    try {
      eval::KnowledgeBase::load(path);
      ADD_FAILURE() << kb << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace pad
