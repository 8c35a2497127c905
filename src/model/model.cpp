// The decoder: weights as stored, per-slot caches, the reference path. forward() is in forward.cpp.
#include "pad/model/model.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>

#include "ops.h"
#include "pad/util/error.h"

namespace pad {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor var = x.pow(2).mean(-1, /*keepdim=*/true);
  return x * at::rsqrt(var + eps) * weight;
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // Hugging Face's rotate_half convention: pairs are (i, i + hd/2).
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  at::Tensor c = cos.unsqueeze(-2), s = sin.unsqueeze(-2);  // broadcast over heads
  return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
}

at::Tensor rope_inv_freq(const ModelConfig& c, const at::Tensor& freq_factors) {
  const int64_t hd = c.head_dim;
  at::Tensor inv = 1.0 / at::pow(at::scalar_tensor(c.rope_theta, at::kFloat),
                                 at::arange(0, hd, 2, at::kLong).to(at::kFloat) / static_cast<double>(hd));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == "llama3") {
    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, a smooth ramp between.
    const double old_len = static_cast<double>(rs.original_max_position_embeddings);
    const double low_wavelen = old_len / rs.low_freq_factor, high_wavelen = old_len / rs.high_freq_factor;
    auto acc = inv.accessor<float, 1>();
    for (int64_t i = 0; i < inv.size(0); ++i) {
      const double freq = acc[i], wavelen = 2 * M_PI / freq;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        acc[i] = static_cast<float>(freq / rs.factor);
      } else {
        const double smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        acc[i] = static_cast<float>((1 - smooth) * freq / rs.factor + smooth * freq);
      }
    }
  } else if (rs.type == "linear") {
    inv = inv / rs.factor;
  }
  if (freq_factors.defined()) inv = inv / freq_factors;
  return inv.contiguous();
}

Model::Model(ModelConfig config, ModelWeights weights, std::string name)
    : config_(std::move(config)), weights_(std::move(weights)), name_(std::move(name)) {
  for (LayerWeights& l : weights_.layers) {
    // Float layers: fuse the products that share an input; the per-module tensors become views of
    // the fused ones (training's leaves). Quantized layers keep their stored matrices apart.
    at::Tensor qkv, gate_up;
    if (l.wq.defined() && l.wk.defined() && l.wv.defined() && l.wq.scalar_type() == l.wk.scalar_type() &&
        l.wk.scalar_type() == l.wv.scalar_type()) {
      qkv = at::cat({l.wq, l.wk, l.wv}, 0).contiguous();
      const int64_t q = l.wq.size(0), kv = l.wk.size(0);
      l.wq = qkv.narrow(0, 0, q);
      l.wk = qkv.narrow(0, q, kv);
      l.wv = qkv.narrow(0, q + kv, kv);
    }
    if (l.w_gate.defined() && l.w_up.defined() && l.w_gate.scalar_type() == l.w_up.scalar_type()) {
      gate_up = at::cat({l.w_gate, l.w_up}, 0).contiguous();
      l.w_gate = gate_up.narrow(0, 0, config_.d_ff);
      l.w_up = gate_up.narrow(0, config_.d_ff, config_.d_ff);
    }
    wqkv_.push_back(qkv);
    bqkv_.push_back(l.bq.defined() ? at::cat({l.bq, l.bk, l.bv}, 0).contiguous() : at::Tensor());
    w_gate_up_.push_back(gate_up);
  }
  inv_freq_ = rope_inv_freq(config_, weights_.rope_freq_factors);
  if (weights_.embed.defined() && !weights_.embed.device().is_cpu()) {  // built on a device: device.cpp
    adopt_device_weights();
    return;
  }
  build_projections();
#if defined(__GLIBC__)
  // The loader's per-tensor copies were freed after fusing; hand their heap pages back so resident
  // memory is the weights, not the weights twice.
  malloc_trim(0);
#endif
}

namespace {
// The stored matrix of one module: the loader's quantized one, else a view of the float tensor.
kernels::WeightMatrix stored_or_view(const kernels::WeightMatrix& stored, const at::Tensor& t) {
  if (stored.defined()) return stored;
  PAD_CHECK(t.defined(), "weight is neither stored nor a tensor");
  return kernels::WeightMatrix::from_tensor(t.contiguous());
}
}  // namespace

void Model::build_projections() {
  proj_.clear();
  // f64 weights (the gradient tests' oracles) run the reference path only.
  if (weights_.embed.defined() && weights_.embed.scalar_type() == at::kDouble) return;
  for (size_t i = 0; i < weights_.layers.size(); ++i) {
    const LayerWeights& l = weights_.layers[i];
    const StoredMatrices& s = l.stored;
    LayerProjections p;
    auto one = [](kernels::WeightMatrix m) { return Projection{{m}, m.n}; };
    if (wqkv_[i].defined()) {
      p.qkv = one(kernels::WeightMatrix::from_tensor(wqkv_[i]));
    } else {
      p.qkv.parts = {stored_or_view(s.wq, l.wq), stored_or_view(s.wk, l.wk), stored_or_view(s.wv, l.wv)};
      for (const auto& m : p.qkv.parts) p.qkv.n_out += m.n;
    }
    if (w_gate_up_[i].defined()) {
      p.gate_up = one(kernels::WeightMatrix::from_tensor(w_gate_up_[i]));
    } else {
      p.gate_up.parts = {stored_or_view(s.w_gate, l.w_gate), stored_or_view(s.w_up, l.w_up)};
      p.gate_up.n_out = 2 * config_.d_ff;
    }
    p.o = one(stored_or_view(s.wo, l.wo));
    p.down = one(stored_or_view(s.w_down, l.w_down));
    proj_.push_back(std::move(p));
  }
  embed_ = stored_or_view(weights_.embed_stored, weights_.embed);
  lm_head_ = config_.tie_embeddings ? embed_ : stored_or_view(weights_.lm_head_stored, weights_.lm_head);
}

std::string Model::weight_types() const {
  if (proj_.empty() && generic_) return float_type_name(dense_type_);  // stored matrices dropped at to_device()
  std::string out;
  auto note = [&](const kernels::WeightMatrix& m) {
    const std::string n = kernels::wtype_name(m.type);
    if (("," + out + ",").find("," + n + ",") == std::string::npos) out += (out.empty() ? "" : ",") + n;
  };
  for (const LayerProjections& p : proj_)
    for (const Projection* q : {&p.qkv, &p.o, &p.gate_up, &p.down})
      for (const auto& m : q->parts) note(m);
  note(lm_head_);
  return out;
}

size_t Model::weight_bytes() const {
  size_t bytes = lm_head_.nbytes();
  for (const LayerProjections& p : proj_)
    for (const Projection* q : {&p.qkv, &p.o, &p.gate_up, &p.down})
      for (const auto& m : q->parts) bytes += m.nbytes();
  return bytes;
}

void Model::set_kv_type(at::ScalarType type) {
  if (type != at::kFloat && type != at::kHalf && type != at::kBFloat16)
    throw_invalid("key/value cache type must be f32, f16 or bf16");
  for (const SlotCache& s : slots_)
    if (s.capacity > 0) throw_invalid("set_kv_type: the cache type can only change before any slot holds tokens");
  kv_type_ = type;
}

at::Tensor Model::lm_head_rows(const std::vector<int64_t>& ids) const {
  if (generic_) return dense_lm_head_.index_select(0, at::tensor(ids, at::kLong).to(device_)).to(at::kFloat);  // on device_
  if (!lm_head_.defined()) return weights_.lm_head.index_select(0, at::tensor(ids, at::kLong)).to(at::kFloat);
  return lm_head_.gather_rows(ids);
}

at::Tensor Model::embed_rows(const std::vector<int64_t>& ids) const {
  if (generic_) return dense_embed_.index_select(0, at::tensor(ids, at::kLong).to(device_)).to(at::kFloat);  // on device_
  if (weights_.embed.defined()) return weights_.embed.index_select(0, at::tensor(ids, at::kLong)).to(at::kFloat).contiguous();
  return embed_.gather_rows(ids);
}

std::vector<at::Tensor> Model::enable_training() {
  if (weights_.quantized())
    throw_invalid(name_, ": training needs float weights, but this model keeps quantized ones (", weight_types(),
                  "); load it with a float dtype");
  std::vector<at::Tensor> params = {weights_.embed};
  weights_.embed.requires_grad_(true);
  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    LayerWeights& w = weights_.layers[l];
    // Re-create the per-module views after requires_grad_ so that they carry the autograd link.
    wqkv_[l].requires_grad_(true);
    w_gate_up_[l].requires_grad_(true);
    const int64_t q = w.wq.size(0), kv = w.wk.size(0);
    w.wq = wqkv_[l].narrow(0, 0, q);
    w.wk = wqkv_[l].narrow(0, q, kv);
    w.wv = wqkv_[l].narrow(0, q + kv, kv);
    w.w_gate = w_gate_up_[l].narrow(0, 0, config_.d_ff);
    w.w_up = w_gate_up_[l].narrow(0, config_.d_ff, config_.d_ff);
    params.insert(params.end(), {wqkv_[l], w_gate_up_[l], w.wo, w.w_down, w.attn_norm, w.ffn_norm});
    for (at::Tensor* t : {&w.wo, &w.w_down, &w.attn_norm, &w.ffn_norm}) t->requires_grad_(true);
    if (bqkv_[l].defined()) {
      bqkv_[l].requires_grad_(true);
      w.bq = bqkv_[l].narrow(0, 0, q);
      w.bk = bqkv_[l].narrow(0, q, kv);
      w.bv = bqkv_[l].narrow(0, q + kv, kv);
      params.push_back(bqkv_[l]);
    }
  }
  weights_.final_norm.requires_grad_(true);
  params.push_back(weights_.final_norm);
  if (!config_.tie_embeddings) {
    weights_.lm_head.requires_grad_(true);
    params.push_back(weights_.lm_head);
  }
  return params;
}

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  LoadedModel m = load_weights(path, options);
  return std::make_shared<Model>(std::move(m.config), std::move(m.weights), path);
}

int Model::create_slot() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].in_use) {
      slots_[i].in_use = true;
      slots_[i].length = 0;
      return static_cast<int>(i);
    }
  }
  slots_.emplace_back();
  slots_.back().in_use = true;
  return static_cast<int>(slots_.size() - 1);
}

Model::SlotCache& Model::slot_ref(int slot) {
  if (slot < 0 || slot >= static_cast<int>(slots_.size()) || !slots_[slot].in_use)
    throw_invalid("slot ", slot, " is not an active cache slot");
  return slots_[slot];
}
const Model::SlotCache& Model::slot_ref(int slot) const { return const_cast<Model*>(this)->slot_ref(slot); }

void Model::free_slot(int slot) {
  SlotCache& s = slot_ref(slot);
  if (generic_) {  // device caches stay allocated for the slot's next user: no reallocation per request
    s.in_use = false;
    s.length = 0;
    return;
  }
  s = SlotCache();  // releases the cache memory
}

void Model::reset_slot(int slot) { slot_ref(slot).length = 0; }

int Model::fork_slot(int source) {
  const int64_t len = slot_ref(source).length;
  int dst = create_slot();
  SlotCache& d = slots_[dst];
  const SlotCache& s = slots_[source];
  reserve(d, len);
  for (size_t l = 0; l < s.k.size(); ++l) {
    d.k[l].narrow(1, 0, len).copy_(s.k[l].narrow(1, 0, len));
    d.v[l].narrow(1, 0, len).copy_(s.v[l].narrow(1, 0, len));
  }
  d.length = len;
  return dst;
}

int64_t Model::slot_length(int slot) const { return slot_ref(slot).length; }

void Model::truncate_slot(int slot, int64_t length) {
  SlotCache& s = slot_ref(slot);
  if (length < 0 || length > s.length) throw_invalid("truncate_slot: length ", length, " outside [0, ", s.length, "]");
  s.length = length;  // caches are append-only: later positions are simply overwritten
}

int Model::add_adapter(LoraAdapter adapter) {
  PAD_CHECK(static_cast<int64_t>(adapter.layers.size()) == config_.n_layer, "adapter layer count");
  if (generic_) adapters_dev_.push_back(lora_on(adapter, device_, dense_type_));
  adapters_.push_back(std::move(adapter));
  return static_cast<int>(adapters_.size() - 1);
}

const LoraAdapter& Model::adapter(int id) const {
  if (id < 0 || id >= static_cast<int>(adapters_.size())) throw_invalid("no LoRA adapter with id ", id);
  return adapters_[id];
}

void Model::add_lora(at::Tensor& out, const at::Tensor& in, const std::vector<Row>& rows,
                     const std::vector<int64_t>& row_start, int64_t layer,
                     const std::vector<std::pair<std::string, int64_t>>& modules) const {
  // One gather, two thin products (pad's kernels: at decode ATen's per-call cost would exceed the
  // arithmetic) and one scatter-add per adapter and module, whatever the number of rows using it.
  const int64_t k_in = in.size(1), ld_out = out.size(1);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (size_t id = 0; id < adapters_.size(); ++id) {
    std::vector<int64_t> tokens;  // packed token positions of the rows using this adapter
    for (size_t r = 0; r < rows.size(); ++r)
      if (rows[r].adapter == static_cast<int>(id))
        for (int64_t t = row_start[r]; t < row_start[r + 1]; ++t) tokens.push_back(t);
    if (tokens.empty()) continue;
    const int64_t n = static_cast<int64_t>(tokens.size());
    const auto& mods = adapters_[id].layers[layer];
    std::vector<float> x(static_cast<size_t>(n * k_in));  // [n, in] the rows' inputs
    for (int64_t i = 0; i < n; ++i) std::copy_n(src + tokens[i] * k_in, k_in, x.data() + i * k_in);
    for (const auto& [name, offset] : modules) {
      auto it = mods.find(name);
      if (it == mods.end()) continue;
      const at::Tensor a = it->second.a.to(at::kFloat).contiguous();  // [r, in]
      const at::Tensor b = it->second.b.to(at::kFloat).contiguous();  // [out, r]
      const int64_t rank = a.size(0), n_out = b.size(0);
      std::vector<float> low(static_cast<size_t>(n * rank)), delta(static_cast<size_t>(n * n_out));
      kernels::matmul(x.data(), n, kernels::WeightMatrix::from_tensor(a), nullptr, low.data(), rank);
      kernels::matmul(low.data(), n, kernels::WeightMatrix::from_tensor(b), nullptr, delta.data(), n_out);
      for (int64_t i = 0; i < n; ++i)
        ops::add_inplace(dst + tokens[i] * ld_out + offset, delta.data() + i * n_out, n_out);
    }
  }
}

int Model::n_active_slots() const {
  int n = 0;
  for (const SlotCache& s : slots_) n += s.in_use;
  return n;
}

void Model::reserve(SlotCache& cache, int64_t needed) {
  if (needed <= cache.capacity) return;
  // Device slots start with a larger block so that a request rarely grows its cache mid-decode.
  const int64_t cap = std::max({needed, 2 * cache.capacity, int64_t{device_.is_cpu() ? 32 : 512}});
  const int64_t n_kv = config_.n_kv_head, hd = config_.head_dim;
  const at::TensorOptions kv = at::TensorOptions().dtype(kv_type_).device(device_);
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    at::Tensor k = at::empty({n_kv, cap, hd}, kv);  // [n_kv, cap, hd] kv_type_ on device_
    at::Tensor v = at::empty({n_kv, cap, hd}, kv);
    if (cache.length > 0) {
      k.narrow(1, 0, cache.length).copy_(cache.k[l].narrow(1, 0, cache.length));
      v.narrow(1, 0, cache.length).copy_(cache.v[l].narrow(1, 0, cache.length));
    }
    if (static_cast<int64_t>(cache.k.size()) <= l) {
      cache.k.push_back(k);
      cache.v.push_back(v);
    } else {
      cache.k[l] = k;
      cache.v[l] = v;
    }
  }
  cache.capacity = cap;
}

at::Tensor Model::hidden_sequence(const at::Tensor& tokens, at::ScalarType ct, const LoraAdapter* lora) const {
  const ModelConfig& c = config_;
  const int64_t B = tokens.size(0), T = tokens.size(1), hd = c.head_dim, group = c.n_head / c.n_kv_head;
  const at::TensorOptions on = at::TensorOptions().device(inv_freq_.device());  // the model's device
  at::Tensor angles = at::arange(T, on.dtype(at::kLong)).to(ct).unsqueeze(1) * inv_freq_.to(ct).unsqueeze(0);
  at::Tensor cos = angles.cos(), sin = angles.sin();                             // [T, hd/2]
  // Quantized models run the reference on their dequantized weights.
  auto dense = [](const at::Tensor& t, const kernels::WeightMatrix& m) { return t.defined() ? t : m.dequantize(); };
  const at::Tensor embed = dense(weights_.embed, embed_);
  at::Tensor x = embed.index_select(0, tokens.reshape({-1}).to(on.device())).to(ct).view({B, T, c.d_model});
  at::Tensor causal = at::ones({T, T}, on.dtype(at::kBool)).triu(1);                       // true = masked
  auto lin = [ct](const at::Tensor& a, const at::Tensor& w, const at::Tensor& b) {
    at::Tensor y = at::matmul(a, w.to(ct).t());
    return b.defined() ? y + b.to(ct) : y;
  };
  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    const LayerWeights& lw = weights_.layers[l];
    LayerWeights w = lw;  // float views (dequantized copies for stored matrices)
    w.wq = dense(lw.wq, lw.stored.wq), w.wk = dense(lw.wk, lw.stored.wk), w.wv = dense(lw.wv, lw.stored.wv);
    w.wo = dense(lw.wo, lw.stored.wo), w.w_gate = dense(lw.w_gate, lw.stored.w_gate);
    w.w_up = dense(lw.w_up, lw.stored.w_up), w.w_down = dense(lw.w_down, lw.stored.w_down);
    // Base projection plus, when an adapter is given, its low-rank term (x·Aᵀ)·Bᵀ.
    auto proj = [&](const at::Tensor& a, const at::Tensor& W, const at::Tensor& b, const char* module) {
      at::Tensor y = lin(a, W, b);
      if (lora == nullptr) return y;
      auto it = lora->layers[l].find(module);
      if (it == lora->layers[l].end()) return y;
      return y + at::matmul(at::matmul(a, it->second.a.to(ct).t()), it->second.b.to(ct).t());
    };
    at::Tensor h = rms_norm(x, w.attn_norm.to(ct), c.rms_norm_eps);
    at::Tensor q = proj(h, w.wq, w.bq, "q_proj").view({B, T, c.n_head, hd});
    at::Tensor k = proj(h, w.wk, w.bk, "k_proj").view({B, T, c.n_kv_head, hd});
    at::Tensor v = proj(h, w.wv, w.bv, "v_proj").view({B, T, c.n_kv_head, hd});
    if (w.q_norm.defined()) {  // Qwen3: per-head RMSNorm of q and k, before RoPE
      q = rms_norm(q, w.q_norm.to(ct), c.rms_norm_eps);
      k = rms_norm(k, w.k_norm.to(ct), c.rms_norm_eps);
    }
    q = apply_rope(q, cos, sin).transpose(1, 2);                                 // [B, n_head, T, hd]
    k = apply_rope(k, cos, sin).transpose(1, 2).repeat_interleave(group, 1);     // [B, n_head, T, hd]
    v = v.transpose(1, 2).repeat_interleave(group, 1);
    at::Tensor scores = at::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(hd));
    at::Tensor probs = at::softmax(scores.masked_fill(causal, -INFINITY), -1);
    at::Tensor attn = at::matmul(probs, v).transpose(1, 2).reshape({B, T, c.n_head * hd});
    x = x + proj(attn, w.wo, at::Tensor(), "o_proj");
    h = rms_norm(x, w.ffn_norm.to(ct), c.rms_norm_eps);
    at::Tensor act = at::silu(proj(h, w.w_gate, at::Tensor(), "gate_proj")) * proj(h, w.w_up, at::Tensor(), "up_proj");
    x = x + proj(act, w.w_down, at::Tensor(), "down_proj");
  }
  return rms_norm(x, weights_.final_norm.to(ct), c.rms_norm_eps);
}

at::Tensor Model::forward_sequence(const at::Tensor& tokens, at::ScalarType ct, const LoraAdapter* lora) const {
  const at::Tensor head = weights_.lm_head.defined() ? weights_.lm_head : lm_head_.dequantize();
  return at::matmul(hidden_sequence(tokens, ct, lora), head.to(ct).t());
}

}  // namespace pad
