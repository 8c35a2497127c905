// Golden token ids: llama.cpp's vocabulary vectors (produced by Hugging Face tokenizers) and the
// test models' golden.json, through the path `pad tokenize --no-special` uses.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "pad/tokenizer/tokenizer.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad {
namespace {

const std::string kShared = PAD_SHARED_DIR;
const std::string kVocabDir = kShared + "/testdata/tokenizers/";
const EncodeOptions kNoSpecial{false, false};

}  // namespace

// Tokenizers shared by the tests of this binary, loaded once (large vocabularies take ~0.5 s).
const Tokenizer& shared_tokenizer(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[path];
  if (!slot) slot = Tokenizer::load(path);
  return *slot;
}

namespace {

struct Vectors {
  std::vector<std::string> texts;
  std::vector<std::vector<int>> ids;
};

// .inp: texts each followed by "\n__ggml_vocab_test__\n"; .out: one line of ids per text.
Vectors read_vectors(const std::string& vocab) {
  Vectors v;
  std::string inp = read_file(kVocabDir + vocab + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    v.texts.push_back(inp.substr(pos, end - pos));
    pos = end + sep.size();
  }
  std::string out = read_file(kVocabDir + vocab + ".out");
  for (const std::string& line : split(out, '\n')) {
    if (v.ids.size() == v.texts.size()) break;
    std::vector<int> ids;
    for (const std::string& tok : split(line, ' '))
      if (!tok.empty()) ids.push_back(std::stoi(tok));
    v.ids.push_back(ids);
  }
  return v;
}

void expect_vectors(const Tokenizer& tok, const std::string& vocab) {
  Vectors v = read_vectors(vocab);
  ASSERT_GT(v.texts.size(), 20u);
  ASSERT_EQ(v.texts.size(), v.ids.size());
  for (size_t i = 0; i < v.texts.size(); ++i)
    EXPECT_EQ(tok.encode(v.texts[i], kNoSpecial), v.ids[i]) << vocab << " text #" << i << ": '" << v.texts[i] << "'";
}

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, GgufMatchesHuggingFace) {
  expect_vectors(shared_tokenizer(kVocabDir + GetParam()), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Ggml, VocabVectors,
                         ::testing::Values("ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf",
                                           "ggml-vocab-llama-spm.gguf", "ggml-vocab-qwen2.gguf",
                                           "ggml-vocab-qwen35.gguf", "ggml-vocab-gemma-4.gguf"),
                         [](const auto& info) {
                           std::string n = info.param.substr(11, info.param.size() - 16);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(VocabVectors, SentencePieceModelMatchesLlamaSpmVectors) {
  expect_vectors(shared_tokenizer(kVocabDir + "llama2-tokenizer.model"), "ggml-vocab-llama-spm.gguf");
}

void expect_golden(const std::string& model, const std::string& file) {
  auto tok = Tokenizer::load(kShared + "/testdata/models/" + model + "/" + file);
  auto golden = nlohmann::json::parse(read_file(kShared + "/testdata/models/" + model + "/golden.json"));
  ASSERT_FALSE(golden["cases"].empty());
  for (const auto& c : golden["cases"])
    EXPECT_EQ(tok->encode(c["text"].get<std::string>(), kNoSpecial), c["ids"].get<std::vector<int>>())
        << model << "/" << file << ": " << c["text"];
}

TEST(GoldenModels, TinyLlamaTokenizerJson) { expect_golden("tiny-llama", "tokenizer.json"); }
TEST(GoldenModels, TinyLlamaGguf) { expect_golden("tiny-llama", "model.gguf"); }
TEST(GoldenModels, TinyQwen2TokenizerJson) { expect_golden("tiny-qwen2", "tokenizer.json"); }
TEST(GoldenModels, TinyQwen2Gguf) { expect_golden("tiny-qwen2", "model.gguf"); }
TEST(GoldenModels, ModelDirectoryPrefersTokenizerJson) {
  auto dir = Tokenizer::load(kShared + "/testdata/models/tiny-qwen2");
  EXPECT_NE(dir->source().find("tokenizer.json"), std::string::npos);
  ASSERT_TRUE(dir->chat_template().has_value());
  EXPECT_NE(dir->chat_template()->find("<|im_start|>"), std::string::npos);
}

}  // namespace
}  // namespace pad
