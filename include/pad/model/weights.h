// The tensors of a Llama-family decoder in Hugging Face layout, loaded from safetensors or GGUF.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pad/format/gguf.h"
#include "pad/format/model_config.h"
#include "pad/kernels/weight.h"

namespace pad {

// The large matrices of a layer as the file stores them, which is what the forward's products read.
// Filled by the loader when it keeps a quantized type (the tensors of LayerWeights stay undefined
// then); otherwise the Model builds them from the tensors.
struct StoredMatrices {
  kernels::WeightMatrix wq, wk, wv, wo, w_gate, w_up, w_down;
};

struct LayerWeights {
  at::Tensor attn_norm;      // [d] f32
  at::Tensor wq, wk, wv;     // [n_head·hd, d], [n_kv·hd, d], [n_kv·hd, d]  compute dtype
  at::Tensor bq, bk, bv;     // [n_head·hd], [n_kv·hd], [n_kv·hd] f32 (Qwen2), else undefined
  at::Tensor q_norm, k_norm; // [hd] f32 per-head RMSNorm weights of q and k (Qwen3), else undefined
  at::Tensor wo;             // [d, n_head·hd]
  at::Tensor ffn_norm;       // [d] f32
  at::Tensor w_gate, w_up;   // [d_ff, d]
  at::Tensor w_down;         // [d, d_ff]
  StoredMatrices stored;     // quantized storage (see StoredMatrices), else empty
};

struct ModelWeights {
  at::Tensor embed;          // [V, d] compute dtype (rows gathered per token)
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;     // [d] f32
  at::Tensor lm_head;        // [V, d] compute dtype; aliases embed when tied
  at::Tensor rope_freq_factors;  // [hd/2] f32 divisor of each rotary frequency (GGUF rope_freqs), or undefined
  kernels::WeightMatrix embed_stored, lm_head_stored;  // quantized storage of embed / lm_head, else empty

  bool quantized() const { return !embed.defined() || !lm_head.defined() || (!layers.empty() && !layers[0].wq.defined()); }
};

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // float type of the large matrices when converting: kFloat or kBFloat16
  // Keep the large matrices in the type the file stores (f32, f16, bf16, q8_0, q4_0, q4_K, q5_K,
  // q6_K; DESIGN §5) instead of converting them to `dtype`. Inference keeps them; training needs
  // float tensors and converts (quantized types are dequantized then).
  bool keep_stored = false;
};

struct LoadedModel {
  ModelConfig config;
  ModelWeights weights;
  std::string path;
  std::string format;  // "safetensors" or "gguf"
  std::string file_dtype;  // dtype(s) found in the file, for `pad info`
  std::string tied_from;   // tied models: the stored tensor both embed and lm_head come from, for `pad info`
};

// `path` is a Hugging Face directory (config.json + safetensors) or a .gguf file.
// Throws std::invalid_argument / std::runtime_error naming the file, tensor and problem.
LoadedModel load_weights(const std::string& path, const LoadOptions& options);

// Writes a Hugging Face directory (config.json + model.safetensors, f32 or bf16 as stored), each
// file atomically. Creates `dir` if needed.
void save_hf_model(const std::string& dir, const ModelConfig& config, const ModelWeights& weights);

// Random weights for a config (benchmarks, tests); deterministic for a seed.
ModelWeights random_weights(const ModelConfig& config, at::ScalarType dtype, uint64_t seed);

}  // namespace pad

namespace pad {

// Which stored type each matrix of a GGUF file gets: one type for all ("f32", "f16", "bf16",
// "q8_0", "q4_0", "q4_K", "q5_K", "q6_K"), or llama.cpp's mixes "q4_K_M" / "q5_K_M" (q6_K for the
// output, and for attn_v and ffn_down in the layers llama.cpp gives more bits). save_gguf_model
// writes rows too short for the type's block in f16.
kernels::WType gguf_export_type(const std::string& mix, const std::string& gguf_name, int64_t layer, int64_t n_layer);

// Supplies the float tensor [rows, cols] (or [n] for norms) of one Hugging Face name.
using TensorSupplier = std::function<at::Tensor(const std::string& hf_name, const std::vector<int64_t>& shape)>;

// Writes a GGUF v3 model file (llama or qwen2 architecture, q/k rows permuted as llama.cpp's
// converter does) with `mix`'s types, atomically. Tensors are asked for one at a time, so a model
// far larger than memory in f32 can be written; `extra` metadata (a vocabulary) is merged in.
void save_gguf_model(const std::string& path, const ModelConfig& config, const TensorSupplier& tensors,
                     const std::string& mix, const std::map<std::string, GgufValue>& extra);

// The float tensors of `weights` by Hugging Face name (it must outlive the supplier).
TensorSupplier weights_supplier(const ModelWeights& weights);

// A SentencePiece-style ("llama") vocabulary of n tokens for random-weight models: <unk>, <s>,
// </s>, the 256 byte tokens, then distinct filler pieces.
std::map<std::string, GgufValue> synthetic_gguf_vocab(int64_t n);

}  // namespace pad
