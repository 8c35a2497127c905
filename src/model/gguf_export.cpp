// Writing a model as a GGUF file in a stored type of choice (pad create-model, quantization tests):
// llama.cpp's tensor names, its q/k row permutation, its K-quant mixes.
#include <cmath>
#include <map>

#include "pad/model/model.h"
#include "pad/model/weights.h"
#include "pad/util/error.h"

namespace pad {
namespace {

GgufValue int_value(int64_t v) { return GgufValue{GgufType::kUint32, false, {v}, {}, {}}; }
GgufValue float_value(double v) { return GgufValue{GgufType::kFloat32, false, {}, {v}, {}}; }
GgufValue string_value(std::string v) { return GgufValue{GgufType::kString, false, {}, {}, {std::move(v)}}; }

// llama.cpp's converter order for q/k rows: the two rotary halves of each head interleaved.
at::Tensor permute_qk(const at::Tensor& w, int64_t n_heads) {
  const int64_t rows = w.size(0), cols = w.size(1);
  return w.reshape({n_heads, 2, rows / n_heads / 2, cols}).transpose(1, 2).reshape({rows, cols}).contiguous();
}

// llama.cpp gives these layers more bits in its _M mixes (first and last eighth, every third between).
bool more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

std::string tensor_bytes(const at::Tensor& t, kernels::WType type) {
  if (t.dim() == 1 || type == kernels::WType::kF32) {
    at::Tensor f = t.to(at::kFloat).contiguous();
    return std::string(static_cast<const char*>(f.data_ptr()), f.numel() * 4);
  }
  kernels::WeightMatrix m = kernels::WeightMatrix::quantize(t.to(at::kFloat).contiguous(), type);
  return std::string(reinterpret_cast<const char*>(m.data), m.nbytes());
}

}  // namespace

kernels::WType gguf_export_type(const std::string& mix, const std::string& name, int64_t layer, int64_t n_layer) {
  const bool k_m = mix == "q4_K_M" || mix == "q5_K_M";
  if (!k_m) return kernels::parse_wtype(mix);
  const kernels::WType base = mix == "q4_K_M" ? kernels::WType::kQ4_K : kernels::WType::kQ5_K;
  if (name == "output.weight") return kernels::WType::kQ6_K;
  const bool boosted = name.find("attn_v.weight") != std::string::npos || name.find("ffn_down.weight") != std::string::npos;
  return boosted && more_bits(layer, n_layer) ? kernels::WType::kQ6_K : base;
}

void save_gguf_model(const std::string& path, const ModelConfig& c, const TensorSupplier& supply,
                     const std::string& mix, const std::map<std::string, GgufValue>& extra) {
  const std::string arch = c.arch == Arch::kQwen2 ? "qwen2" : c.arch == Arch::kQwen3 ? "qwen3" : "llama";
  std::map<std::string, GgufValue> meta = extra;
  meta["general.architecture"] = string_value(arch);
  meta["general.name"] = string_value("pad random-weight model");
  meta["general.alignment"] = int_value(32);
  const std::string p = arch + ".";
  meta[p + "context_length"] = int_value(c.max_position);
  meta[p + "embedding_length"] = int_value(c.d_model);
  meta[p + "block_count"] = int_value(c.n_layer);
  meta[p + "feed_forward_length"] = int_value(c.d_ff);
  meta[p + "attention.head_count"] = int_value(c.n_head);
  meta[p + "attention.head_count_kv"] = int_value(c.n_kv_head);
  meta[p + "attention.key_length"] = int_value(c.head_dim);
  meta[p + "attention.value_length"] = int_value(c.head_dim);
  meta[p + "rope.dimension_count"] = int_value(c.head_dim);
  meta[p + "rope.freq_base"] = float_value(c.rope_theta);
  meta[p + "attention.layer_norm_rms_epsilon"] = float_value(c.rms_norm_eps);
  meta[p + "vocab_size"] = int_value(c.n_vocab);

  std::vector<GgufTensorBytes> out;
  const bool permuted = arch == "llama";
  auto add = [&](const std::string& hf, const std::string& name, std::vector<int64_t> shape, int64_t layer,
                 int64_t qk_heads) {
    at::Tensor t = supply(hf, shape);
    if (t.sizes().vec() != shape) throw_invalid(path, ": tensor '", hf, "' has shape ", t.sizes(), ", expected ", at::IntArrayRef(shape));
    if (permuted && qk_heads > 0) t = permute_qk(t, qk_heads);
    kernels::WType type = shape.size() == 1 ? kernels::WType::kF32 : gguf_export_type(mix, name, layer, c.n_layer);
    // Blocks never straddle rows: rows too short for the type's block fall back to f16, as
    // llama.cpp's quantizer falls back to a type that fits.
    if (shape.size() == 2 && shape[1] % kernels::block_elems(type) != 0) type = kernels::WType::kF16;
    out.push_back({name, shape, static_cast<uint32_t>(type), tensor_bytes(t, type)});
  };
  const int64_t d = c.d_model, q_dim = c.n_head * c.head_dim, kv_dim = c.n_kv_head * c.head_dim;
  add("model.embed_tokens.weight", "token_embd.weight", {c.n_vocab, d}, -1, 0);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string h = "model.layers." + std::to_string(i) + ".", g = "blk." + std::to_string(i) + ".";
    add(h + "input_layernorm.weight", g + "attn_norm.weight", {d}, i, 0);
    add(h + "self_attn.q_proj.weight", g + "attn_q.weight", {q_dim, d}, i, c.n_head);
    add(h + "self_attn.k_proj.weight", g + "attn_k.weight", {kv_dim, d}, i, c.n_kv_head);
    add(h + "self_attn.v_proj.weight", g + "attn_v.weight", {kv_dim, d}, i, 0);
    if (c.attn_bias) {
      add(h + "self_attn.q_proj.bias", g + "attn_q.bias", {q_dim}, i, 0);
      add(h + "self_attn.k_proj.bias", g + "attn_k.bias", {kv_dim}, i, 0);
      add(h + "self_attn.v_proj.bias", g + "attn_v.bias", {kv_dim}, i, 0);
    }
    if (c.qk_norm) {
      add(h + "self_attn.q_norm.weight", g + "attn_q_norm.weight", {c.head_dim}, i, 0);
      add(h + "self_attn.k_norm.weight", g + "attn_k_norm.weight", {c.head_dim}, i, 0);
    }
    add(h + "self_attn.o_proj.weight", g + "attn_output.weight", {d, q_dim}, i, 0);
    add(h + "post_attention_layernorm.weight", g + "ffn_norm.weight", {d}, i, 0);
    add(h + "mlp.gate_proj.weight", g + "ffn_gate.weight", {c.d_ff, d}, i, 0);
    add(h + "mlp.up_proj.weight", g + "ffn_up.weight", {c.d_ff, d}, i, 0);
    add(h + "mlp.down_proj.weight", g + "ffn_down.weight", {d, c.d_ff}, i, 0);
  }
  add("model.norm.weight", "output_norm.weight", {d}, -1, 0);
  if (!c.tie_embeddings) add("lm_head.weight", "output.weight", {c.n_vocab, d}, -1, 0);
  if (c.rope_scaling.type == "llama3") {
    // GGUF carries llama3 scaling as per-frequency divisors (rope_freqs.weight).
    ModelConfig plain = c;
    plain.rope_scaling = RopeScaling();
    at::Tensor factors = rope_inv_freq(plain, at::Tensor()) / rope_inv_freq(c, at::Tensor());
    out.push_back({"rope_freqs.weight", {c.head_dim / 2}, 0, tensor_bytes(factors, kernels::WType::kF32)});
  }
  write_gguf(path, meta, out);
}

TensorSupplier weights_supplier(const ModelWeights& w) {
  return [&w](const std::string& hf, const std::vector<int64_t>&) -> at::Tensor {
    if (hf == "model.embed_tokens.weight") return w.embed;
    if (hf == "model.norm.weight") return w.final_norm;
    if (hf == "lm_head.weight") return w.lm_head;
    const std::string prefix = "model.layers.";
    const size_t dot = hf.find('.', prefix.size());
    const LayerWeights& l = w.layers.at(std::stoul(hf.substr(prefix.size(), dot - prefix.size())));
    const std::map<std::string, const at::Tensor*> by_name = {
        {"input_layernorm.weight", &l.attn_norm}, {"post_attention_layernorm.weight", &l.ffn_norm},
        {"self_attn.q_proj.weight", &l.wq},       {"self_attn.k_proj.weight", &l.wk},
        {"self_attn.v_proj.weight", &l.wv},       {"self_attn.o_proj.weight", &l.wo},
        {"mlp.gate_proj.weight", &l.w_gate},      {"mlp.up_proj.weight", &l.w_up},
        {"mlp.down_proj.weight", &l.w_down},      {"self_attn.q_proj.bias", &l.bq},
        {"self_attn.k_proj.bias", &l.bk},         {"self_attn.v_proj.bias", &l.bv},
        {"self_attn.q_norm.weight", &l.q_norm},   {"self_attn.k_norm.weight", &l.k_norm}};
    const at::Tensor* t = by_name.at(hf.substr(dot + 1));
    PAD_CHECK(t->defined(), "tensor ", hf, " is not held as a float tensor");
    return *t;
  };
}

std::map<std::string, GgufValue> synthetic_gguf_vocab(int64_t n) {
  if (n < 259) throw_invalid("a synthetic vocabulary needs at least 259 tokens (3 special + 256 bytes), got ", n);
  GgufValue tokens{GgufType::kString, true, {}, {}, {"<unk>", "<s>", "</s>"}};
  GgufValue scores{GgufType::kFloat32, true, {}, {0, 0, 0}, {}};
  GgufValue types{GgufType::kInt32, true, {2, 3, 3}, {}, {}};  // unknown, control, control
  char buf[16];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.strings.push_back(buf), scores.floats.push_back(0), types.ints.push_back(6);  // byte
  }
  for (int64_t i = tokens.strings.size(); i < n; ++i) {
    tokens.strings.push_back("\xe2\x96\x81t" + std::to_string(i));  // "▁t<i>": distinct pieces
    scores.floats.push_back(-static_cast<double>(i)), types.ints.push_back(1);
  }
  return {{"tokenizer.ggml.model", string_value("llama")},
          {"tokenizer.ggml.tokens", tokens},
          {"tokenizer.ggml.scores", scores},
          {"tokenizer.ggml.token_type", types},
          {"tokenizer.ggml.bos_token_id", int_value(1)},
          {"tokenizer.ggml.eos_token_id", int_value(2)},
          {"tokenizer.ggml.unknown_token_id", int_value(0)}};
}

}  // namespace pad
