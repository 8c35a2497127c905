// PersRM adapters on a base model: LoRA (PEFT layout) applied per row, and the DPO value head
// (logits = lm_head(W_v h + b_v), DESIGN §1) applied to final-norm hidden states.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "pad/model/weights.h"

namespace pad {

// The projections LoRA may target, by their Hugging Face module names.
const std::vector<std::string>& lora_module_names();  // q_proj k_proj v_proj o_proj gate_proj up_proj down_proj

struct LoraModule {
  at::Tensor a;  // [r, in] f32
  at::Tensor b;  // [out, r] f32, already multiplied by the scale alpha / r (or alpha / √r with rsLoRA)
};

struct LoraAdapter {
  int64_t rank = 0;
  double alpha = 0;
  bool rslora = false;
  std::vector<std::string> targets;                         // module names, e.g. {"q_proj", "v_proj"}
  std::vector<std::map<std::string, LoraModule>> layers;    // per layer: module name → matrices
  double scale() const;

  // PEFT directory: adapter_config.json (r, lora_alpha, target_modules, use_rslora) and
  // adapter_model.safetensors. Checks every tensor against the base config; throws naming file and tensor.
  static LoraAdapter load(const std::string& dir, const ModelConfig& base);
  // Writes the PEFT layout (atomically, file by file).
  void save(const std::string& dir, const std::string& base_model_name) const;
  // Zero-initialised B (so the adapter starts as the identity), random A; for training and tests.
  static LoraAdapter create(const ModelConfig& base, int64_t rank, double alpha, const std::vector<std::string>& targets,
                            uint64_t seed);
};

// Base weights with the adapter merged in (W + scale·B·A): the equivalent full model.
ModelWeights merge_lora(const ModelWeights& base, const LoraAdapter& adapter);

struct ValueHead {
  at::Tensor weight;  // [d, d] f32 (nn.Linear layout: out × in)
  at::Tensor bias;    // [d] f32
  // safetensors with v_head.summary.weight / v_head.summary.bias; d must equal the base's hidden size.
  static ValueHead load(const std::string& file, int64_t d_model);
  static ValueHead identity(int64_t d_model);  // W = I, b = 0: the untrained head
  void save(const std::string& file) const;
  at::Tensor apply(const at::Tensor& hidden) const;  // [P, d] f32 → [P, d] f32
};

}  // namespace pad
