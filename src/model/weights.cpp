// Loading decoder weights: safetensors (HF names) or GGUF (llama.cpp names, permuted q/k undone,
// quantized types kept as stored or dequantized), each checked against the shapes the config implies.
#include "pad/model/weights.h"

#include <cstring>
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
// Fetches one matrix in its stored quantized type; nullopt when absent or stored as a float type.
using FetchStored = std::function<std::optional<kernels::WeightMatrix>(const std::string& hf_name)>;

bool is_quantized_ggml(uint32_t type) {
  return type != static_cast<uint32_t>(GgmlType::kF32) && type != static_cast<uint32_t>(GgmlType::kF16) &&
         type != static_cast<uint32_t>(GgmlType::kBF16);
}

// A 2-D GGUF tensor's bytes as a WeightMatrix over the memory map (no copy); `file` stays alive
// as long as the matrix does.
kernels::WeightMatrix gguf_matrix(const GgufTensor& t, const std::shared_ptr<GgufFile>& file) {
  if (t.shape.size() != 2) throw_runtime(file->path(), ": tensor '", t.name, "' has ", t.shape.size(), " dimensions, expected 2");
  auto type = static_cast<kernels::WType>(t.type);
  at::Tensor owner = at::from_blob(const_cast<uint8_t*>(t.data), {static_cast<int64_t>(t.nbytes)},
                                   [file](void*) {}, at::TensorOptions(at::kByte));
  return kernels::WeightMatrix::from_bytes(type, t.shape[0], t.shape[1], t.data, owner);
}

// A GGUF tensor as a float tensor: f32/bf16 as stored (f16 too when `keep_float16`, else widened
// to f32), quantized types dequantized to f32.
at::Tensor gguf_tensor(const GgufTensor& t, bool keep_float16 = false) {
  switch (static_cast<GgmlType>(t.type)) {
    case GgmlType::kF32:
      return at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kFloat).clone();
    case GgmlType::kF16: {
      at::Tensor h = at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kHalf);
      return keep_float16 ? h.clone() : h.to(at::kFloat);
    }
    case GgmlType::kBF16:
      return at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kBFloat16).clone();
    default: break;
  }
  if (!is_quantized_ggml(t.type) || !kernels::is_known_wtype(t.type))
    throw_runtime("tensor '", t.name, "' has unsupported type ", ggml_type_name(t.type));
  const int64_t k = t.shape.back(), n = static_cast<int64_t>(t.nbytes / kernels::row_bytes(static_cast<kernels::WType>(t.type), k));
  kernels::WeightMatrix m = kernels::WeightMatrix::from_bytes(static_cast<kernels::WType>(t.type), n, k, t.data, at::Tensor());
  return m.dequantize().reshape(t.shape);
}

// The source row of each row after undoing llama.cpp's q/k permutation (see unpermute_qk).
std::vector<int64_t> unpermuted_row_order(int64_t rows, int64_t n_heads) {
  at::Tensor order = at::arange(rows, at::kLong).reshape({n_heads, rows / n_heads / 2, 2}).transpose(1, 2).reshape({-1}).contiguous();
  return std::vector<int64_t>(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + rows);
}

// Rows of a stored matrix in a new order (a copy): row i of the result is row order[i] of m.
kernels::WeightMatrix reorder_rows(const kernels::WeightMatrix& m, const std::vector<int64_t>& order) {
  const size_t stride = m.row_stride();
  at::Tensor bytes = at::empty({m.n, static_cast<int64_t>(stride)}, at::kByte);  // [n, row bytes] u8
  uint8_t* dst = bytes.data_ptr<uint8_t>();
  for (int64_t i = 0; i < m.n; ++i) std::memcpy(dst + i * stride, m.data + order[i] * stride, stride);
  release_mapped_pages(m.data, m.nbytes());  // the copy replaces the mapped rows
  return kernels::WeightMatrix::from_bytes(m.type, m.n, m.k, dst, bytes);
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
  FetchStored fetch_stored;  // null: the source stores float types only
  std::function<bool(const std::string& hf_name)> has;  // without reading the tensor
};

// `dtype` converts the tensor; nullopt keeps the stored float type.
at::Tensor require(const Source& src, const std::string& name, std::vector<int64_t> expected,
                   std::optional<at::ScalarType> dtype) {
  std::optional<at::Tensor> t = src.fetch(name);
  if (!t) throw_runtime(src.origin, ": missing tensor '", name, "'");
  if (t->sizes().vec() != expected)
    throw_runtime(src.origin, ": tensor '", name, "' has shape ", shape_str(t->sizes()), " but the config implies ",
                  shape_str(expected));
  return dtype ? t->to(*dtype).contiguous() : t->contiguous();
}

// Tied checkpoints are published storing either the embedding or lm_head.weight alone: the name
// under which the shared [V, d] matrix is actually stored.
std::string tied_embedding_name(const ModelConfig& c, const Source& src) {
  if (c.tie_embeddings && !src.has("model.embed_tokens.weight") && src.has("lm_head.weight")) return "lm_head.weight";
  return "model.embed_tokens.weight";
}

// One large matrix: its stored quantized form into `stored` when the options keep it, else a float
// tensor into `tensor`.
void require_matrix(const Source& src, const std::string& name, int64_t rows, int64_t cols, const LoadOptions& opt,
                    at::Tensor& tensor, kernels::WeightMatrix& stored) {
  if (opt.keep_stored && src.fetch_stored) {
    if (std::optional<kernels::WeightMatrix> m = src.fetch_stored(name)) {
      if (m->n != rows || m->k != cols)
        throw_runtime(src.origin, ": tensor '", name, "' has shape [", m->n, ", ", m->k, "] but the config implies [",
                      rows, ", ", cols, "]");
      // In the layout this CPU's kernels read fastest; a reordered copy replaces the mapped bytes.
      stored = m->for_kernels();
      if (stored.data != m->data) release_mapped_pages(m->data, m->nbytes());
      return;
    }
  }
  tensor = require(src, name, {rows, cols}, opt.keep_stored ? std::nullopt : std::optional<at::ScalarType>(opt.dtype));
}

ModelWeights assemble(const ModelConfig& c, const Source& src, const LoadOptions& opt) {
  ModelWeights w;
  const int64_t d = c.d_model, q_dim = c.n_head * c.head_dim, kv_dim = c.n_kv_head * c.head_dim;
  require_matrix(src, tied_embedding_name(c, src), c.n_vocab, d, opt, w.embed, w.embed_stored);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    StoredMatrices& s = l.stored;
    l.attn_norm = require(src, p + "input_layernorm.weight", {d}, at::kFloat);
    require_matrix(src, p + "self_attn.q_proj.weight", q_dim, d, opt, l.wq, s.wq);
    require_matrix(src, p + "self_attn.k_proj.weight", kv_dim, d, opt, l.wk, s.wk);
    require_matrix(src, p + "self_attn.v_proj.weight", kv_dim, d, opt, l.wv, s.wv);
    if (c.attn_bias) {
      l.bq = require(src, p + "self_attn.q_proj.bias", {q_dim}, at::kFloat);
      l.bk = require(src, p + "self_attn.k_proj.bias", {kv_dim}, at::kFloat);
      l.bv = require(src, p + "self_attn.v_proj.bias", {kv_dim}, at::kFloat);
    }
    if (c.qk_norm) {
      l.q_norm = require(src, p + "self_attn.q_norm.weight", {c.head_dim}, at::kFloat);
      l.k_norm = require(src, p + "self_attn.k_norm.weight", {c.head_dim}, at::kFloat);
    }
    require_matrix(src, p + "self_attn.o_proj.weight", d, q_dim, opt, l.wo, s.wo);
    l.ffn_norm = require(src, p + "post_attention_layernorm.weight", {d}, at::kFloat);
    require_matrix(src, p + "mlp.gate_proj.weight", c.d_ff, d, opt, l.w_gate, s.w_gate);
    require_matrix(src, p + "mlp.up_proj.weight", c.d_ff, d, opt, l.w_up, s.w_up);
    require_matrix(src, p + "mlp.down_proj.weight", d, c.d_ff, opt, l.w_down, s.w_down);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = require(src, "model.norm.weight", {d}, at::kFloat);
  if (c.tie_embeddings) {
    w.lm_head = w.embed;
    w.lm_head_stored = w.embed_stored;
  } else {
    require_matrix(src, "lm_head.weight", c.n_vocab, d, opt, w.lm_head, w.lm_head_stored);
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
             },
             nullptr, [set](const std::string& name) { return set->find(name) != nullptr; }};
  m.weights = assemble(m.config, src, opt);
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
  const bool keep = opt.keep_stored;
  // q/k rows of the llama architecture come permuted (see unpermute_qk): n heads of this matrix.
  auto qk_heads = [permuted, c](const std::string& hf, int64_t rows) -> int64_t {
    if (!permuted) return 0;
    if (hf.find("q_proj.weight") != std::string::npos && rows == c.n_head * c.head_dim) return c.n_head;
    if (hf.find("k_proj.weight") != std::string::npos && rows == c.n_kv_head * c.head_dim) return c.n_kv_head;
    return 0;
  };
  Source src{path,
             [g, keep, qk_heads](const std::string& hf) -> std::optional<at::Tensor> {
               const GgufTensor* t = g->find_tensor(gguf_name(hf));
               if (t == nullptr) return std::nullopt;
               at::Tensor x = gguf_tensor(*t, keep);
               if (x.dim() == 2)
                 if (int64_t heads = qk_heads(hf, x.size(0))) x = unpermute_qk(x, heads);
               return x;
             },
             [g, qk_heads](const std::string& hf) -> std::optional<kernels::WeightMatrix> {
               const GgufTensor* t = g->find_tensor(gguf_name(hf));
               if (t == nullptr || !is_quantized_ggml(t->type) || t->shape.size() != 2) return std::nullopt;
               kernels::WeightMatrix m = gguf_matrix(*t, g);
               if (int64_t heads = qk_heads(hf, m.n)) m = reorder_rows(m, unpermuted_row_order(m.n, heads));
               return m;
             },
             [g](const std::string& hf) { return g->find_tensor(gguf_name(hf)) != nullptr; }};
  m.weights = assemble(m.config, src, opt);
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
