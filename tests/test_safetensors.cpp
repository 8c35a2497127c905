// safetensors write → read round trip and config.json parsing edge cases.
#include <gtest/gtest.h>

#include "pad/format/model_config.h"
#include "pad/format/safetensors.h"
#include "test_util.h"

namespace pad {
namespace {

TEST(Safetensors, WriteReadRoundTrip) {
  std::string dir = test::scratch_dir("st-roundtrip");
  std::string a(6 * 4, '\0'), b(3 * 2, '\1');
  for (int i = 0; i < 6; ++i) reinterpret_cast<float*>(a.data())[i] = static_cast<float>(i) * 0.5f;
  write_safetensors(dir + "/t.safetensors", {{"a", DType::kF32, {2, 3}, a}, {"b", DType::kBF16, {3}, b}});
  SafetensorsFile f(dir + "/t.safetensors");
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorView* ta = f.find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(reinterpret_cast<const float*>(ta->data)[5], 2.5f);
  EXPECT_EQ(f.find("b")->dtype, DType::kBF16);
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

TEST(ModelConfigJson, Llama31RopeScalingAndDefaults) {
  ModelConfig c = parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":8,
    "num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"intermediate_size":16,
    "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
    "original_max_position_embeddings":8192},"eos_token_id":[1,2,3]})", "cfg");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.eos_ids, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(c.tie_embeddings);
  ModelConfig q = parse_hf_config(R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":10,"hidden_size":8,
    "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"head_dim":6})", "cfg");
  EXPECT_TRUE(q.attn_bias);
  EXPECT_EQ(q.head_dim, 6);
  EXPECT_EQ(q.n_kv_head, 2);
}

TEST(ModelConfigJson, BadValuesNameTheField) {
  try {
    parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":8,
      "num_hidden_layers":1,"num_attention_heads":3,"num_key_value_heads":2,"intermediate_size":16})", "x/config.json");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("num_key_value_heads"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_hf_config("{", "c"), std::invalid_argument);
  EXPECT_THROW(parse_hf_config(R"({"architectures":["LlamaForCausalLM"]})", "c"), std::invalid_argument);
}

}  // namespace
}  // namespace pad
