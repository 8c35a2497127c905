// What training changes: the PersRM forms of DESIGN §1 (value head on a frozen backbone, LoRA
// adapters, all weights) behind one interface that scores token sequences under the trained policy
// and under the frozen reference, and writes the artifact decoding loads.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pad/model/model.h"
#include "pad/train/data.h"
#include "pad/train/optim.h"

namespace pad {

enum class Form { kHead, kLora, kFull };
Form parse_form(const std::string& name);  // "head" | "lora" | "full"; throws std::invalid_argument
const char* form_name(Form form);

struct LoraOptions {
  int64_t rank = 8;                                  // --lora-r
  double alpha = 16;                                 // --lora-alpha (scale alpha / r)
  std::vector<std::string> targets = {"q_proj", "v_proj"};  // --lora-targets
  // --init-from: start from a trained PEFT adapter directory (its rank, alpha and targets replace
  // the three above) instead of B = 0; for the head form, a value_head.safetensors.
  std::string init_from;
  void validate() const;
};

// Right-padded sequences and the positions whose next token is scored.
struct TokenBatch {
  at::Tensor tokens;     // [N, T] int64, padded with 0 (causal attention never lets a real position see a pad)
  at::Tensor positions;  // [P] int64: flat index n·T + t of the position that predicts each scored token
  at::Tensor targets;    // [P] int64: the scored token ids
  at::Tensor sequence;   // [P] int64: which of the N sequences each scored token belongs to
  int64_t n_sequences = 0;
  int64_t n_tokens = 0;  // real (unpadded) tokens, for tokens/s
};
TokenBatch make_token_batch(const std::vector<const Sequence*>& sequences);

// log softmax(hidden · lm_headᵀ)[target] at each scored position: hidden [N, T, d], lm_head [V, d] →
// [P] in hidden's dtype. Only scored positions reach the vocabulary product.
at::Tensor token_logprobs(const at::Tensor& hidden, const at::Tensor& lm_head, const TokenBatch& batch);
// Per-token values [P] summed over each sequence → [N].
at::Tensor per_sequence(const at::Tensor& per_token, const TokenBatch& batch);

class Policy {
 public:
  virtual ~Policy() = default;
  // Log-probs of the scored tokens [P] in `precision` (per_sequence sums them): the trained policy
  // (differentiable) and, when `want_ref`, the frozen reference (no gradient; undefined otherwise).
  virtual std::pair<at::Tensor, at::Tensor> score(const TokenBatch& batch, at::ScalarType precision,
                                                  bool want_ref) = 0;
  // The trained policy's logits [B, T, V] f32 for tokens [B, T] int64, without gradient (checks, tests).
  virtual at::Tensor logits(const at::Tensor& tokens) = 0;
  // The trainable leaves, named stably (checkpoints key on the names).
  virtual std::vector<NamedTensor> parameters() = 0;
  // head → out_dir/value_head.safetensors; lora → PEFT files in out_dir; full → HF model files.
  virtual void save(const std::string& out_dir) const = 0;
  virtual Form form() const = 0;
  const Model& base() const { return *base_; }

  // `base` is the frozen model (and the reference). The full form trains a copy of its weights;
  // `seed` initializes LoRA's A. Head and LoRA parameters are f64 when the base is f64 (gradient checks), else f32.
  static std::unique_ptr<Policy> create(Form form, std::shared_ptr<Model> base, const LoraOptions& lora, uint64_t seed);

 protected:
  std::shared_ptr<Model> base_;
};

// A deep copy of a model's weights (tied lm_head stays tied), e.g. the trainable copy of the full form.
ModelWeights clone_weights(const ModelWeights& w, bool tied);

}  // namespace pad
