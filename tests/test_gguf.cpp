// GGUF metadata of the fixture files reads back with the expected keys and types.
#include <gtest/gtest.h>

#include "pad/format/gguf.h"
#include "pad/format/model_config.h"
#include "test_util.h"

namespace pad {
namespace {

TEST(Gguf, ReadsFixtureMetadataAndTensors) {
  GgufFile g(test::model_dir("tiny-llama") + "/model.gguf");
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.block_count"), 3);
  const GgufTensor* t = g.find_tensor("token_embd.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_THROW(g.get_string("llama.block_count"), std::runtime_error);
  EXPECT_THROW(g.get_int("no.such.key"), std::runtime_error);
}

TEST(Gguf, ConfigMatchesConfigJson) {
  for (std::string name : {"tiny-llama", "tiny-qwen2"}) {
    ModelConfig a = read_hf_config(test::model_dir(name) + "/config.json");
    ModelConfig b = read_gguf_config(GgufFile(test::model_dir(name) + "/model.gguf"));
    EXPECT_EQ(a.arch, b.arch) << name;
    EXPECT_EQ(a.n_vocab, b.n_vocab) << name;
    EXPECT_EQ(a.n_kv_head, b.n_kv_head) << name;
    EXPECT_EQ(a.head_dim, b.head_dim) << name;
    EXPECT_EQ(a.tie_embeddings, b.tie_embeddings) << name;
    EXPECT_DOUBLE_EQ(a.rope_theta, b.rope_theta) << name;
    EXPECT_NEAR(a.rms_norm_eps, b.rms_norm_eps, 1e-12) << name;
  }
}

}  // namespace
}  // namespace pad
