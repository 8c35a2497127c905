// A Llama-family decoder with per-slot key/value caches and a batched forward over rows of
// different lengths (prefill and decode are the same call), plus the no-cache reference path.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard for callers (ATen.h alone lacks it in libtorch 2.x)

#include <memory>
#include <string>
#include <vector>

#include "pad/model/adapters.h"
#include "pad/model/weights.h"

namespace pad {

// One row of a batched forward: new tokens appended to one slot's cache.
struct Row {
  int slot = 0;
  std::vector<int> tokens;  // at least one
  bool all_logits = false;  // return every new position, not only the last
  int adapter = -1;         // LoRA adapter (from add_adapter) applied to this row, or -1 for none
};

// Where the model runs (DESIGN §5). On the CPU pad's own kernels read the weights as stored; any
// other device (or the CPU with generic ops, the test switch) runs the generic ATen path on dense
// weights converted once at to_device().
struct DeviceOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::ScalarType::Undefined;  // dense weight type: Undefined = bf16 on CUDA, f32 on the CPU
  at::ScalarType resolved_dtype() const;
  // Throws std::invalid_argument for a dtype other than f32/f16/bf16, and std::runtime_error naming
  // "--device cuda" when this libtorch has no CUDA or the device index does not exist.
  void validate() const;
};
// "cpu", "cuda" or "cuda:N" (the --device flag); throws std::invalid_argument naming the value.
at::Device parse_device(const std::string& name);
// True when PAD_GENERIC_OPS=1: CPU models run the generic ATen path (how CI tests the device code).
bool generic_ops_requested();
const char* float_type_name(at::ScalarType type);  // "f32", "f16", "bf16", "f64"
// A copy of `adapter` with its matrices on `device` in `dtype` (device models, GPU training).
LoraAdapter lora_on(const LoraAdapter& adapter, at::Device device, at::ScalarType dtype);

struct ForwardOutput {
  at::Tensor hidden;  // [P, d] f32: final-norm hidden state of each returned position
  at::Tensor logits;  // [P, V] f32 (undefined when logits were not requested)
  std::vector<int64_t> row_begin;  // row r owns positions [row_begin[r], row_begin[r + 1]) of P
};

class Model {
 public:
  // Float weights on a device other than the CPU start on the generic path there (see to_device).
  Model(ModelConfig config, ModelWeights weights, std::string name = "");
  static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const std::string& name() const { return name_; }

  // Converts the weights to dense `options.dtype` on `options.device` (quantized types dequantized)
  // and switches forward() to the generic ATen path. Off the CPU the stored matrices are dropped and
  // every tensor (weights, norms, caches, adapters) lives on the device. Call before any slot exists.
  void to_device(const DeviceOptions& options);
  at::Device device() const { return device_; }
  bool generic_ops() const { return generic_; }
  // "cpu (pad kernels, stored types)" or "cuda:0 bf16 dense (dequantized from q4_K,q6_K at load)", for `pad info`.
  std::string placement() const;
  // Float type of the weights for the reference and training paths (f32 when stored quantized).
  at::ScalarType dtype() const { return weights_.embed.defined() ? weights_.embed.scalar_type() : at::kFloat; }
  // "f32", "bf16", "q4_K,q6_K", ...: the stored types of the large matrices, for `pad info` and benchmarks.
  std::string weight_types() const;
  size_t weight_bytes() const;  // bytes of the large matrices as stored (what one decode step reads)

  // Element type of the key/value caches: f32 (default), f16 or bf16. Set before any slot exists.
  void set_kv_type(at::ScalarType type);
  at::ScalarType kv_type() const { return kv_type_; }

  // Key/value cache slots. Ids are small integers, reused after free_slot.
  int create_slot();
  void free_slot(int slot);
  void reset_slot(int slot);      // forget the cached tokens, keep the slot
  int fork_slot(int source);      // a new slot holding a copy of source's cache
  int64_t slot_length(int slot) const;
  void truncate_slot(int slot, int64_t length);  // keep only the first `length` cached tokens
  int n_active_slots() const;

  // Registers a LoRA adapter that rows can name; returns its id. Its shapes were checked at load.
  int add_adapter(LoraAdapter adapter);
  const LoraAdapter& adapter(int id) const;

  // Appends each row's tokens to its slot and returns hidden states (and logits) of each row's last
  // position, or of all its new positions when row.all_logits. A slot may appear in one row only.
  ForwardOutput forward(const std::vector<Row>& rows, bool want_logits = true);

  // lm_head applied to final-norm hidden states: [P, d] f32 → [P, V] f32.
  at::Tensor logits_from_hidden(const at::Tensor& hidden) const;
  // Rows `ids` of lm_head as f32 [ids.size(), d] (PAD scores candidates by their dot products).
  at::Tensor lm_head_rows(const std::vector<int64_t>& ids) const;

  // Reference path: whole sequences, no cache, plain ATen ops (differentiable).
  // tokens: [B, T] int64 → final-norm hidden [B, T, d] in `precision` (f32, or f64 as a numerical oracle).
  // `lora`, when given, adds its low-rank terms (differentiable through the adapter's tensors).
  // Right-padded batches are fine: causal attention never lets a real position see a later pad.
  at::Tensor hidden_sequence(const at::Tensor& tokens, at::ScalarType precision = at::kFloat,
                             const LoraAdapter* lora = nullptr) const;
  at::Tensor forward_sequence(const at::Tensor& tokens, at::ScalarType precision = at::kFloat,
                              const LoraAdapter* lora = nullptr) const;  // [B, T, V]

  // Full fine-tuning: marks every weight as requiring gradients (f32 models) and returns the leaf
  // tensors to optimize. Fused tensors are the leaves; the per-module views are rebuilt on them.
  std::vector<at::Tensor> enable_training();

 private:
  // One product whose output columns come from one or more stored matrices, side by side.
  struct Projection {
    std::vector<kernels::WeightMatrix> parts;
    int64_t n_out = 0;
  };
  struct LayerProjections {
    Projection qkv, o, gate_up, down;
  };
  void project(const at::Tensor& x, const Projection& p, const at::Tensor& bias, at::Tensor& y) const;
  // The generic ATen forward (forward_generic.cpp): rows already validated, caches reserved.
  ForwardOutput forward_generic(const std::vector<Row>& rows, const std::vector<int64_t>& ids,
                                const std::vector<int64_t>& positions, const std::vector<int64_t>& row_start,
                                bool want_logits);
  void add_lora_generic(at::Tensor& out, const at::Tensor& in, const std::vector<Row>& rows,
                        const std::vector<int64_t>& row_start, int64_t layer,
                        const std::vector<std::pair<std::string, int64_t>>& modules) const;
  // Dense weights of the generic path, on device_ in dense_type_ (fused as the products read them).
  struct DenseLayer {
    at::Tensor qkv;      // [q_dim + 2·kv_dim, d]
    at::Tensor bqkv;     // [q_dim + 2·kv_dim] or undefined
    at::Tensor o;        // [d, q_dim]
    at::Tensor gate_up;  // [2·d_ff, d]
    at::Tensor down;     // [d, d_ff]
  };
  void adopt_device_weights();  // the constructor given tensors already on a device (e.g. random ones built there)
  std::vector<DenseLayer> dense_;
  at::Tensor dense_embed_, dense_lm_head_;  // [V, d] dense_type_ on device_
  std::vector<LoraAdapter> adapters_dev_;   // adapters_ on device_ in dense_type_
  at::Device device_ = at::kCPU;
  bool generic_ = false;
  at::ScalarType dense_type_ = at::kFloat;
  std::string stored_types_;  // weight_types() before to_device(), for placement()
  at::Tensor embed_rows(const std::vector<int64_t>& ids) const;  // [T, d] f32
  void build_projections();

  struct SlotCache {
    std::vector<at::Tensor> k, v;  // per layer [n_kv, capacity, hd] kv_type_
    int64_t length = 0;
    int64_t capacity = 0;
    bool in_use = false;
  };
  SlotCache& slot_ref(int slot);
  const SlotCache& slot_ref(int slot) const;
  void reserve(SlotCache& cache, int64_t needed);

  ModelConfig config_;
  ModelWeights weights_;
  std::string name_;
  std::vector<at::Tensor> wqkv_;     // per layer [q_dim + 2·kv_dim, d]: one product for q, k and v
  std::vector<at::Tensor> bqkv_;     // per layer [q_dim + 2·kv_dim] f32, or undefined
  std::vector<at::Tensor> w_gate_up_;  // per layer [2·d_ff, d]
  std::vector<LayerProjections> proj_;  // what forward() multiplies by, as stored
  kernels::WeightMatrix embed_, lm_head_;
  at::ScalarType kv_type_ = at::kFloat;
  at::Tensor inv_freq_;              // [hd/2] f32 rotary frequencies (scaling applied)
  void add_lora(at::Tensor& out, const at::Tensor& in, const std::vector<Row>& rows,
                const std::vector<int64_t>& row_start, int64_t layer,
                const std::vector<std::pair<std::string, int64_t>>& modules) const;

  std::vector<SlotCache> slots_;
  std::vector<LoraAdapter> adapters_;
};

// Products go through pad's kernels (default) or plain at::linear (benchmark baseline; float weights only).
void set_small_batch_kernels(bool enabled);
// Profiling for `pad bench runtime`: while on, forward() adds the wall time of its weight products
// to product_seconds() (reset when switched on).
void set_product_profiling(bool enabled);
double product_seconds();

// Shared building blocks (also used by training and the reference path).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);       // x [.., d] f32
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);  // x [T, H, hd]; cos/sin [T, hd/2]
at::Tensor rope_inv_freq(const ModelConfig& config, const at::Tensor& freq_factors);  // [hd/2] f32

}  // namespace pad
