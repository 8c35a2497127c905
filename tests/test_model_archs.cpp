// Qwen3 (per-head q/k RMSNorm, explicit head_dim) and Llama-3.2-style models (tied embeddings,
// rope_scaling llama3) against a float64 reference forward written here from the safetensors file
// (pad's safetensors reader, ATen ops; none of pad's model code), on random-weight models the test
// writes itself. The Qwen3 GGUF variant, written with pad's GGUF writer, gives the same logits.
#include <gtest/gtest.h>

#include <cmath>

#include "pad/format/gguf.h"
#include "pad/format/safetensors.h"
#include "pad/model/model.h"
#include "test_util.h"

namespace pad {
namespace {

constexpr double kTol = 1e-4;  // pad's f32 forward against float64

struct Reference {
  const ModelConfig& c;
  SafetensorsSet st;
  at::Tensor get(const std::string& name) const {
    const TensorView* t = st.find(name);
    if (t == nullptr) throw std::runtime_error("reference: missing " + name);
    EXPECT_EQ(t->dtype, DType::kF32) << name;
    return at::from_blob(const_cast<uint8_t*>(t->data), t->shape, at::kFloat).to(at::kDouble);
  }
  static at::Tensor rms(const at::Tensor& x, const at::Tensor& w, double eps) {
    return x / (x.pow(2).mean(-1, true) + eps).sqrt() * w;
  }
  // Hugging Face's inverse frequencies, with its llama3 rule written out.
  at::Tensor inv_freq() const {
    const int64_t hd = c.head_dim;
    std::vector<double> f;
    for (int64_t i = 0; i < hd / 2; ++i) {
      double freq = 1.0 / std::pow(c.rope_theta, 2.0 * static_cast<double>(i) / static_cast<double>(hd));
      const RopeScaling& rs = c.rope_scaling;
      if (rs.type == "llama3") {
        const double old = static_cast<double>(rs.original_max_position_embeddings), wavelen = 2 * M_PI / freq;
        if (wavelen > old / rs.low_freq_factor) {
          freq /= rs.factor;
        } else if (wavelen >= old / rs.high_freq_factor) {
          const double s = (old / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
          freq = (1 - s) * freq / rs.factor + s * freq;
        }
      }
      f.push_back(freq);
    }
    return at::tensor(f, at::kDouble);
  }
  at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const {  // x [T, H, hd]
    const int64_t half = c.head_dim / 2;
    at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
    at::Tensor rot = at::cat({-x2, x1}, -1);
    return x * at::cat({cos, cos}, -1).unsqueeze(1) + rot * at::cat({sin, sin}, -1).unsqueeze(1);
  }
  at::Tensor logits(const std::vector<int64_t>& ids) const {  // [T, V] f64
    const int64_t T = static_cast<int64_t>(ids.size()), hd = c.head_dim;
    const std::string embed_name = st.find("model.embed_tokens.weight") ? "model.embed_tokens.weight" : "lm_head.weight";
    at::Tensor x = get(embed_name).index_select(0, at::tensor(ids, at::kLong));  // [T, d]
    at::Tensor ang = at::arange(T, at::kDouble).unsqueeze(1) * inv_freq().unsqueeze(0);
    at::Tensor cos = ang.cos(), sin = ang.sin();
    at::Tensor mask = at::ones({T, T}, at::kBool).triu(1);
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      at::Tensor h = rms(x, get(p + "input_layernorm.weight"), c.rms_norm_eps);
      at::Tensor q = at::matmul(h, get(p + "self_attn.q_proj.weight").t()).view({T, c.n_head, hd});
      at::Tensor k = at::matmul(h, get(p + "self_attn.k_proj.weight").t()).view({T, c.n_kv_head, hd});
      at::Tensor v = at::matmul(h, get(p + "self_attn.v_proj.weight").t()).view({T, c.n_kv_head, hd});
      if (c.arch == Arch::kQwen3) {
        q = rms(q, get(p + "self_attn.q_norm.weight"), c.rms_norm_eps);
        k = rms(k, get(p + "self_attn.k_norm.weight"), c.rms_norm_eps);
      }
      q = rope(q, cos, sin).transpose(0, 1);                                         // [H, T, hd]
      k = rope(k, cos, sin).transpose(0, 1).repeat_interleave(c.n_head / c.n_kv_head, 0);
      v = v.transpose(0, 1).repeat_interleave(c.n_head / c.n_kv_head, 0);
      at::Tensor s = at::matmul(q, k.transpose(1, 2)) / std::sqrt(static_cast<double>(hd));
      at::Tensor a = at::matmul(at::softmax(s.masked_fill(mask, -INFINITY), -1), v);  // [H, T, hd]
      x = x + at::matmul(a.transpose(0, 1).reshape({T, c.n_head * hd}), get(p + "self_attn.o_proj.weight").t());
      h = rms(x, get(p + "post_attention_layernorm.weight"), c.rms_norm_eps);
      at::Tensor g = at::matmul(h, get(p + "mlp.gate_proj.weight").t());
      at::Tensor u = at::matmul(h, get(p + "mlp.up_proj.weight").t());
      x = x + at::matmul(g * at::sigmoid(g) * u, get(p + "mlp.down_proj.weight").t());
    }
    x = rms(x, get("model.norm.weight"), c.rms_norm_eps);
    const std::string head = st.find("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
    return at::matmul(x, get(head).t());
  }
};

std::vector<int> test_ids(int64_t n_vocab, int n) {
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int>((i * 37 + 11) % n_vocab));
  return ids;
}

at::Tensor pad_logits(Model& m, const std::vector<int>& ids) {
  int slot = m.create_slot();
  at::Tensor out = m.forward({Row{slot, ids, true}}).logits;  // [T, V] f32
  m.free_slot(slot);
  return out;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

ModelConfig qwen3_config() {
  ModelConfig c;
  c.arch = Arch::kQwen3;
  c.n_vocab = 96, c.d_model = 48, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2;
  c.head_dim = 16;  // explicit, not d_model / n_head = 12
  c.d_ff = 80, c.rope_theta = 1e6, c.rms_norm_eps = 1e-6, c.qk_norm = true;
  return c;
}

// The GGUF llama.cpp writes for qwen3: same tensors under blk.N names, q/k not permuted (NEOX rope).
void write_qwen3_gguf(const std::string& path, const ModelConfig& c, const std::string& hf_dir) {
  SafetensorsSet st(hf_dir);
  auto u32 = [](int64_t v) { return GgufValue{GgufType::kUint32, false, {v}, {}, {}}; };
  auto f32 = [](double v) { return GgufValue{GgufType::kFloat32, false, {}, {v}, {}}; };
  std::map<std::string, GgufValue> kv;
  kv["general.architecture"] = GgufValue{GgufType::kString, false, {}, {}, {"qwen3"}};
  kv["qwen3.embedding_length"] = u32(c.d_model);
  kv["qwen3.block_count"] = u32(c.n_layer);
  kv["qwen3.attention.head_count"] = u32(c.n_head);
  kv["qwen3.attention.head_count_kv"] = u32(c.n_kv_head);
  kv["qwen3.attention.key_length"] = u32(c.head_dim);
  kv["qwen3.attention.value_length"] = u32(c.head_dim);
  kv["qwen3.feed_forward_length"] = u32(c.d_ff);
  kv["qwen3.context_length"] = u32(c.max_position);
  kv["qwen3.rope.freq_base"] = f32(c.rope_theta);
  kv["qwen3.attention.layer_norm_rms_epsilon"] = f32(c.rms_norm_eps);
  const std::vector<std::pair<std::string, std::string>> names = {
      {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"}, {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"}, {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  std::vector<GgufTensorBytes> tensors;
  auto add = [&](const std::string& hf, const std::string& gg) {
    const TensorView* t = st.find(hf);
    ASSERT_NE(t, nullptr) << hf;
    tensors.push_back({gg, t->shape, static_cast<uint32_t>(GgmlType::kF32),
                       std::string(reinterpret_cast<const char*>(t->data), t->nbytes)});
  };
  add("model.embed_tokens.weight", "token_embd.weight");
  for (int64_t l = 0; l < c.n_layer; ++l)
    for (const auto& [hf, gg] : names)
      add("model.layers." + std::to_string(l) + "." + hf, "blk." + std::to_string(l) + "." + gg);
  add("model.norm.weight", "output_norm.weight");
  add("lm_head.weight", "output.weight");
  write_gguf(path, kv, tensors);
}

TEST(Qwen3, HuggingFaceAndGgufMatchFloat64Reference) {
  const std::string dir = test::scratch_dir("qwen3");
  const ModelConfig c = qwen3_config();
  save_hf_model(dir, c, random_weights(c, at::kFloat, 7));
  ASSERT_NE(read_file(dir + "/config.json").find("Qwen3ForCausalLM"), std::string::npos);
  auto model = Model::load(dir);
  EXPECT_EQ(model->config().arch, Arch::kQwen3);
  EXPECT_EQ(model->config().head_dim, 16);
  const std::vector<int> ids = test_ids(c.n_vocab, 20);
  Reference ref{c, SafetensorsSet(dir)};
  const at::Tensor exact = ref.logits(std::vector<int64_t>(ids.begin(), ids.end()));
  const at::Tensor got = pad_logits(*model, ids);
  EXPECT_LE(max_diff(got, exact), kTol);
  // hidden_sequence (the training path) applies the same q/k norms; computed in f64, it differs from the
  // reference only by pad's f32 rotary frequencies (4.6e-8 measured).
  std::vector<int64_t> v(ids.begin(), ids.end());
  EXPECT_LE(max_diff(model->forward_sequence(at::tensor(v, at::kLong).unsqueeze(0), at::kDouble)[0], exact), 1e-6);
  // The q/k norms matter: without them the reference moves far beyond the tolerance.
  ModelConfig plain = c;
  plain.arch = Arch::kLlama;
  EXPECT_GT(max_diff(Reference{plain, SafetensorsSet(dir)}.logits(v), exact), 100 * kTol);

  const std::string gguf = dir + "/model.gguf";
  write_qwen3_gguf(gguf, c, dir);
  auto g = Model::load(gguf);
  EXPECT_EQ(g->config().arch, Arch::kQwen3);
  EXPECT_TRUE(g->config().qk_norm);
  EXPECT_LE(max_diff(pad_logits(*g, ids), got), 1e-5);
  remove_tree(dir);
}

TEST(Qwen3, MissingQkNormIsNamed) {
  const std::string dir = test::scratch_dir("qwen3-bad");
  ModelConfig c = qwen3_config();
  ModelWeights w = random_weights(c, at::kFloat, 3);
  ModelConfig as_llama = c;  // writes the tensors without q/k norms, then claims Qwen3
  as_llama.arch = Arch::kLlama;
  as_llama.qk_norm = false;
  for (LayerWeights& l : w.layers) l.q_norm = l.k_norm = at::Tensor();
  save_hf_model(dir, as_llama, w);
  write_file_atomic(dir + "/config.json", hf_config_json(c));
  try {
    Model::load(dir);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.self_attn.q_norm.weight"), std::string::npos) << e.what();
  }
  remove_tree(dir);
}

// Llama 3.2 1B's shape in miniature: tied embeddings, rope_scaling llama3, theta 500000.
TEST(Llama32Style, TiedLlama3RopeMatchesFloat64Reference) {
  const std::string dir = test::scratch_dir("llama32");
  ModelConfig c;
  c.n_vocab = 80, c.d_model = 64, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 1, c.head_dim = 16, c.d_ff = 96;
  c.rope_theta = 500000.0, c.tie_embeddings = true;
  // A short original context so that, at these positions, some frequencies are scaled and some smoothed.
  c.rope_scaling = RopeScaling{"llama3", 32.0, 1.0, 4.0, 64};
  save_hf_model(dir, c, random_weights(c, at::kFloat, 11));
  auto model = Model::load(dir);
  EXPECT_TRUE(model->config().tie_embeddings);
  EXPECT_EQ(model->config().rope_scaling.type, "llama3");
  const std::vector<int> ids = test_ids(c.n_vocab, 24);
  const std::vector<int64_t> v(ids.begin(), ids.end());
  Reference ref{c, SafetensorsSet(dir)};
  const at::Tensor exact = ref.logits(v);
  EXPECT_LE(max_diff(pad_logits(*model, ids), exact), kTol);
  ModelConfig unscaled = c;
  unscaled.rope_scaling = RopeScaling{};
  EXPECT_GT(max_diff(Reference{unscaled, SafetensorsSet(dir)}.logits(v), exact), 100 * kTol);  // the scaling matters
  remove_tree(dir);
}

}  // namespace
}  // namespace pad
