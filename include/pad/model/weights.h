// The tensors of a Llama-family decoder in Hugging Face layout, loaded from safetensors or GGUF.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "pad/format/model_config.h"

namespace pad {

struct LayerWeights {
  at::Tensor attn_norm;      // [d] f32
  at::Tensor wq, wk, wv;     // [n_head·hd, d], [n_kv·hd, d], [n_kv·hd, d]  compute dtype
  at::Tensor bq, bk, bv;     // [n_head·hd], [n_kv·hd], [n_kv·hd] f32 (Qwen2), else undefined
  at::Tensor q_norm, k_norm; // [hd] f32 per-head RMSNorm weights of q and k (Qwen3), else undefined
  at::Tensor wo;             // [d, n_head·hd]
  at::Tensor ffn_norm;       // [d] f32
  at::Tensor w_gate, w_up;   // [d_ff, d]
  at::Tensor w_down;         // [d, d_ff]
};

struct ModelWeights {
  at::Tensor embed;          // [V, d] compute dtype (rows gathered per token)
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;     // [d] f32
  at::Tensor lm_head;        // [V, d] compute dtype; aliases embed when tied
  at::Tensor rope_freq_factors;  // [hd/2] f32 divisor of each rotary frequency (GGUF rope_freqs), or undefined
};

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype of the large matrices: kFloat or kBFloat16
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
