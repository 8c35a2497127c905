// Loading decoder weights: safetensors (HF names) or GGUF (llama.cpp names, permuted q/k undone,
// q8_0 dequantized), each checked against the shapes the config implies.
#include "pad/model/weights.h"

#include <filesystem>
#include <functional>
#include <optional>

#include "pad/format/gguf.h"
#include "pad/format/safetensors.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

at::ScalarType to_scalar(DType t) {
  switch (t) {
    case DType::kF32: return at::kFloat;
    case DType::kF16: return at::kHalf;
    case DType::kBF16: return at::kBFloat16;
  }
  return at::kFloat;
}

// Fetches one tensor by its Hugging Face name, as f32 or the stored float type; nullopt when absent.
using Fetch = std::function<std::optional<at::Tensor>(const std::string& hf_name)>;

at::Tensor dequantize_q8_0(const uint8_t* data, int64_t n) {
  at::Tensor out = at::empty({n}, at::kFloat);  // [n] f32
  float* dst = out.data_ptr<float>();
  const int64_t n_blocks = n / 32;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* block = data + b * 34;
    uint16_t half_bits;
    std::memcpy(&half_bits, block, 2);
    const float scale = static_cast<float>(c10::Half(half_bits, c10::Half::from_bits()));
    const auto* q = reinterpret_cast<const int8_t*>(block + 2);
    for (int i = 0; i < 32; ++i) dst[b * 32 + i] = scale * static_cast<float>(q[i]);
  }
  return out;
}

at::Tensor gguf_tensor(const GgufTensor& t) {
  switch (static_cast<GgmlType>(t.type)) {
    case GgmlType::kF32:
      return at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kFloat).clone();
    case GgmlType::kF16:
      return at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kHalf).to(at::kFloat);
    case GgmlType::kBF16:
      return at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kBFloat16).clone();
    case GgmlType::kQ8_0: {
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      return dequantize_q8_0(t.data, n).reshape(t.shape);
    }
  }
  throw_runtime("tensor '", t.name, "' has unsupported type ", ggml_type_name(t.type));
}

// llama.cpp's converter permutes q/k rows so that rotary pairs are adjacent (interleaved rope);
// this restores Hugging Face's half-split order. w: [n_heads·hd, d].
at::Tensor unpermute_qk(const at::Tensor& w, int64_t n_heads) {
  const int64_t rows = w.size(0);
  auto rest = w.sizes().slice(1).vec();
  std::vector<int64_t> shape = {n_heads, rows / n_heads / 2, 2};
  shape.insert(shape.end(), rest.begin(), rest.end());
  std::vector<int64_t> out_shape = {rows};
  out_shape.insert(out_shape.end(), rest.begin(), rest.end());
  return w.reshape(shape).transpose(1, 2).reshape(out_shape).contiguous();
}

std::string gguf_name(const std::string& hf) {
  static const std::vector<std::pair<std::string, std::string>> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},   {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},     {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},         {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},         {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},         {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},          {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  size_t dot = hf.find('.', prefix.size());
  std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  std::string rest = hf.substr(dot + 1);
  for (const auto& [from, to] : kLayer)
    if (rest == from) return "blk." + layer + "." + to;
  return hf;
}

struct Source {
  std::string origin;
  Fetch fetch;
};

at::Tensor require(const Source& src, const std::string& name, std::vector<int64_t> expected, at::ScalarType dtype) {
  std::optional<at::Tensor> t = src.fetch(name);
  if (!t) throw_runtime(src.origin, ": missing tensor '", name, "'");
  if (t->sizes().vec() != expected)
    throw_runtime(src.origin, ": tensor '", name, "' has shape ", shape_str(t->sizes()), " but the config implies ",
                  shape_str(expected));
  return t->to(dtype).contiguous();
}

// Tied checkpoints are published storing either the embedding or lm_head.weight alone: the name
// under which the shared [V, d] matrix is actually stored.
std::string tied_embedding_name(const ModelConfig& c, const Source& src) {
  if (c.tie_embeddings && !src.fetch("model.embed_tokens.weight") && src.fetch("lm_head.weight")) return "lm_head.weight";
  return "model.embed_tokens.weight";
}

ModelWeights assemble(const ModelConfig& c, const Source& src, at::ScalarType dtype) {
  ModelWeights w;
  const int64_t d = c.d_model, q_dim = c.n_head * c.head_dim, kv_dim = c.n_kv_head * c.head_dim;
  w.embed = require(src, tied_embedding_name(c, src), {c.n_vocab, d}, dtype);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.attn_norm = require(src, p + "input_layernorm.weight", {d}, at::kFloat);
    l.wq = require(src, p + "self_attn.q_proj.weight", {q_dim, d}, dtype);
    l.wk = require(src, p + "self_attn.k_proj.weight", {kv_dim, d}, dtype);
    l.wv = require(src, p + "self_attn.v_proj.weight", {kv_dim, d}, dtype);
    if (c.attn_bias) {
      l.bq = require(src, p + "self_attn.q_proj.bias", {q_dim}, at::kFloat);
      l.bk = require(src, p + "self_attn.k_proj.bias", {kv_dim}, at::kFloat);
      l.bv = require(src, p + "self_attn.v_proj.bias", {kv_dim}, at::kFloat);
    }
    if (c.qk_norm) {
      l.q_norm = require(src, p + "self_attn.q_norm.weight", {c.head_dim}, at::kFloat);
      l.k_norm = require(src, p + "self_attn.k_norm.weight", {c.head_dim}, at::kFloat);
    }
    l.wo = require(src, p + "self_attn.o_proj.weight", {d, q_dim}, dtype);
    l.ffn_norm = require(src, p + "post_attention_layernorm.weight", {d}, at::kFloat);
    l.w_gate = require(src, p + "mlp.gate_proj.weight", {c.d_ff, d}, dtype);
    l.w_up = require(src, p + "mlp.up_proj.weight", {c.d_ff, d}, dtype);
    l.w_down = require(src, p + "mlp.down_proj.weight", {d, c.d_ff}, dtype);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = require(src, "model.norm.weight", {d}, at::kFloat);
  if (c.tie_embeddings) {
    w.lm_head = w.embed;
  } else {
    w.lm_head = require(src, "lm_head.weight", {c.n_vocab, d}, dtype);
  }
  return w;
}

LoadedModel load_safetensors_dir(const std::string& dir, const LoadOptions& opt) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(config_path)) throw_invalid(dir, ": no config.json (expected a Hugging Face model directory or a .gguf file)");
  LoadedModel m;
  m.config = read_hf_config(config_path);
  m.path = dir;
  m.format = "safetensors";
  auto set = std::make_shared<SafetensorsSet>(dir);
  std::string dtypes;
  for (const std::string& name : set->names()) {
    std::string dn = dtype_name(set->find(name)->dtype);
    if (dtypes.find(dn) == std::string::npos) dtypes += (dtypes.empty() ? "" : ",") + dn;
  }
  m.file_dtype = dtypes;
  Source src{dir, [set](const std::string& name) -> std::optional<at::Tensor> {
               const TensorView* t = set->find(name);
               if (t == nullptr) return std::nullopt;
               return at::from_blob(const_cast<uint8_t*>(t->data), t->shape, to_scalar(t->dtype)).clone();
             }};
  m.weights = assemble(m.config, src, opt.dtype);
  if (m.config.tie_embeddings)
    m.tied_from = set->find("model.embed_tokens.weight") ? "model.embed_tokens.weight" : "lm_head.weight";
  return m;
}

LoadedModel load_gguf(const std::string& path, const LoadOptions& opt) {
  auto g = std::make_shared<GgufFile>(path);
  LoadedModel m;
  m.config = read_gguf_config(*g);
  m.path = path;
  m.format = "gguf";
  std::string types;
  for (const GgufTensor& t : g->tensors()) {
    std::string tn = ggml_type_name(t.type);
    if (types.find(tn) == std::string::npos) types += (types.empty() ? "" : ",") + tn;
  }
  m.file_dtype = types;
  const bool permuted = m.config.arch == Arch::kLlama;
  const ModelConfig c = m.config;
  Source src{path, [g, permuted, c](const std::string& hf) -> std::optional<at::Tensor> {
               const GgufTensor* t = g->find_tensor(gguf_name(hf));
               if (t == nullptr) return std::nullopt;
               at::Tensor x = gguf_tensor(*t);
               if (permuted && hf.find("q_proj.weight") != std::string::npos && x.dim() == 2 &&
                   x.size(0) == c.n_head * c.head_dim)
                 x = unpermute_qk(x, c.n_head);
               if (permuted && hf.find("k_proj.weight") != std::string::npos && x.dim() == 2 &&
                   x.size(0) == c.n_kv_head * c.head_dim)
                 x = unpermute_qk(x, c.n_kv_head);
               return x;
             }};
  m.weights = assemble(m.config, src, opt.dtype);
  if (m.config.tie_embeddings) m.tied_from = "token_embd.weight";
  if (const GgufTensor* f = g->find_tensor("rope_freqs.weight")) {
    at::Tensor factors = gguf_tensor(*f).to(at::kFloat).reshape({-1});
    if (factors.size(0) != c.head_dim / 2)
      throw_runtime(path, ": tensor 'rope_freqs.weight' has ", factors.size(0), " entries, expected head_dim/2 = ", c.head_dim / 2);
    m.weights.rope_freq_factors = factors;
  }
  return m;
}

}  // namespace

LoadedModel load_weights(const std::string& path, const LoadOptions& opt) {
  if (opt.dtype != at::kFloat && opt.dtype != at::kBFloat16)
    throw_invalid("compute dtype must be f32 or bf16");
  if (std::filesystem::is_directory(path)) return load_safetensors_dir(path, opt);
  if (!std::filesystem::exists(path)) throw_invalid(path, ": no such file or directory");
  if (path.size() >= 5 && path.substr(path.size() - 5) == ".gguf") return load_gguf(path, opt);
  throw_invalid(path, ": not a model (expected a Hugging Face directory with config.json, or a .gguf file)");
}

void save_hf_model(const std::string& dir, const ModelConfig& c, const ModelWeights& w) {
  std::filesystem::create_directories(dir);
  std::vector<TensorBytes> out;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    at::Tensor x = t.contiguous();
    PAD_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16, "tensor ", name, " dtype");
    out.push_back({name, x.scalar_type() == at::kFloat ? DType::kF32 : DType::kBF16, x.sizes().vec(),
                   std::string(static_cast<const char*>(x.data_ptr()), x.numel() * x.element_size())});
  };
  add("model.embed_tokens.weight", w.embed);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", l.attn_norm);
    add(p + "self_attn.q_proj.weight", l.wq);
    add(p + "self_attn.k_proj.weight", l.wk);
    add(p + "self_attn.v_proj.weight", l.wv);
    if (l.bq.defined()) {
      add(p + "self_attn.q_proj.bias", l.bq);
      add(p + "self_attn.k_proj.bias", l.bk);
      add(p + "self_attn.v_proj.bias", l.bv);
    }
    if (l.q_norm.defined()) {
      add(p + "self_attn.q_norm.weight", l.q_norm);
      add(p + "self_attn.k_norm.weight", l.k_norm);
    }
    add(p + "self_attn.o_proj.weight", l.wo);
    add(p + "post_attention_layernorm.weight", l.ffn_norm);
    add(p + "mlp.gate_proj.weight", l.w_gate);
    add(p + "mlp.up_proj.weight", l.w_up);
    add(p + "mlp.down_proj.weight", l.w_down);
  }
  add("model.norm.weight", w.final_norm);
  if (!c.tie_embeddings) add("lm_head.weight", w.lm_head);
  write_safetensors(dir + "/model.safetensors", out);
  write_file_atomic(dir + "/config.json", hf_config_json(c));
}

ModelWeights random_weights(const ModelConfig& c, at::ScalarType dtype, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d_model));
  auto mat = [&](int64_t r, int64_t k) { return (at::randn({r, k}, gen, at::kFloat) * scale).to(dtype).contiguous(); };
  auto norm = [&](int64_t n) { return at::ones({n}, at::kFloat) + 0.1 * at::randn({n}, gen, at::kFloat); };
  const int64_t d = c.d_model, q_dim = c.n_head * c.head_dim, kv_dim = c.n_kv_head * c.head_dim;
  ModelWeights w;
  w.embed = mat(c.n_vocab, d);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    LayerWeights l;
    l.attn_norm = norm(d);
    l.wq = mat(q_dim, d);
    l.wk = mat(kv_dim, d);
    l.wv = mat(kv_dim, d);
    if (c.attn_bias) {
      l.bq = 0.1 * at::randn({q_dim}, gen, at::kFloat);
      l.bk = 0.1 * at::randn({kv_dim}, gen, at::kFloat);
      l.bv = 0.1 * at::randn({kv_dim}, gen, at::kFloat);
    }
    if (c.qk_norm) {
      l.q_norm = norm(c.head_dim);
      l.k_norm = norm(c.head_dim);
    }
    l.wo = mat(d, q_dim);
    l.ffn_norm = norm(d);
    l.w_gate = mat(c.d_ff, d);
    l.w_up = mat(c.d_ff, d);
    l.w_down = mat(d, c.d_ff);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = norm(d);
  w.lm_head = c.tie_embeddings ? w.embed : mat(c.n_vocab, d);
  return w;
}

}  // namespace pad
