// The hyper-parameters of a Llama-family decoder, read from a Hugging Face config.json or from GGUF metadata.
#pragma once

#include <string>
#include <vector>

namespace pad {

class GgufFile;

enum class Arch { kLlama, kMistral, kQwen2, kQwen3 };
const char* arch_name(Arch a);

struct RopeScaling {
  std::string type;  // "" (none), "llama3" or "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  int64_t n_vocab = 0;
  int64_t d_model = 0;       // hidden_size
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_kv_head = 0;     // GQA: n_head is a multiple of it
  int64_t head_dim = 0;      // explicit head_dim, else d_model / n_head
  int64_t d_ff = 0;          // intermediate_size
  int64_t max_position = 4096;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  bool tie_embeddings = false;
  bool attn_bias = false;    // q/k/v biases (Qwen2)
  bool qk_norm = false;      // per-head RMSNorm of q and k before RoPE (Qwen3)
  RopeScaling rope_scaling;
  std::vector<int> bos_ids;  // usually one
  std::vector<int> eos_ids;  // may be several (Llama 3.1 lists three)

  // Throws std::invalid_argument naming `origin` and the field that is out of range.
  void validate(const std::string& origin) const;
  int64_t n_params() const;  // parameter count implied by the shapes
};

// config.json of LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM or Qwen3ForCausalLM.
ModelConfig read_hf_config(const std::string& config_json_path);
ModelConfig parse_hf_config(const std::string& json_text, const std::string& origin);
// The same from GGUF metadata (general.architecture = llama | qwen2 | qwen3).
ModelConfig read_gguf_config(const GgufFile& gguf);
// Writes config.json for a ModelConfig (training outputs, test models).
std::string hf_config_json(const ModelConfig& c);

}  // namespace pad
