// Genuinely pretrained checkpoints as published (../shared/testdata/real): each tokenizes the golden
// texts as its own library does and continues them greedily exactly as golden.json's float64 reference.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pad/decode/generate.h"
#include "pad/model/model.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

const std::string kReal = test::shared_dir() + "/testdata/real/";

void expect_golden(const std::string& key, const std::string& path) {
  auto golden = nlohmann::json::parse(read_file(kReal + "golden.json"));
  ASSERT_TRUE(golden.contains(key)) << key;
  ASSERT_FALSE(golden[key].empty());
  auto model = Model::load(path);
  auto tok = Tokenizer::load(path);
  for (const auto& c : golden[key]) {
    const std::vector<int> prompt = c["prompt_ids"].get<std::vector<int>>();
    if (!c["text"].is_null()) {
      // With BOS (add_special), special-token text not parsed.
      EXPECT_EQ(tok->encode(c["text"].get<std::string>(), EncodeOptions{true, false}), prompt) << key << ": " << c["text"];
    }
    const std::vector<int> greedy = c["greedy"].get<std::vector<int>>();
    GenerateOptions opt;
    opt.n_predict = static_cast<int>(greedy.size());  // golden ends at EOS or at its length: no stop ids
    EXPECT_EQ(generate(*model, {prompt}, opt)[0].tokens, greedy) << key << ": " << c["text"];
  }
}

// Tied embeddings stored only as lm_head.weight (the safetensors metadata maps the embedding to it).
TEST(RealModels, TinyStories656KHuggingFaceDirectory) { expect_golden("TinyStories-656K", kReal + "TinyStories-656K"); }

TEST(RealModels, Stories260KGguf) { expect_golden("stories260K.gguf", kReal + "stories260K.gguf"); }

}  // namespace
}  // namespace pad
