// The model on a device (DESIGN §5): dense weights converted once by to_device(), and the generic
// ATen forward that runs whenever the tensors are not pad's CPU kernels' (CUDA, or the CPU with
// PAD_GENERIC_OPS=1, which is how CI proves this code path against the kernel path).
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "pad/model/model.h"
#include "pad/util/error.h"

namespace pad {

const char* float_type_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "f32";
    case at::kHalf: return "f16";
    case at::kBFloat16: return "bf16";
    case at::kDouble: return "f64";
    default: return "?";
  }
}

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda") return at::Device(at::kCUDA, 0);
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9 &&
      std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(name.substr(5))));
  throw_invalid("--device '", name, "' is not known (expected cpu, cuda or cuda:N)");
}

bool generic_ops_requested() {
  const char* v = std::getenv("PAD_GENERIC_OPS");
  return v != nullptr && std::string(v) == "1";
}

at::ScalarType DeviceOptions::resolved_dtype() const {
  if (dtype != at::ScalarType::Undefined) return dtype;
  return device.is_cpu() ? at::kFloat : at::kBFloat16;
}

void DeviceOptions::validate() const {
  const at::ScalarType t = resolved_dtype();
  if (t != at::kFloat && t != at::kHalf && t != at::kBFloat16)
    throw_invalid("--dtype ", float_type_name(t), " is not a device weight type (expected f32, f16 or bf16)");
  if (device.is_cpu()) return;
  if (!device.is_cuda()) throw_invalid("--device: only cpu and cuda[:N] are supported");
  if (!torch::cuda::is_available()) {
    if (!at::globalContext().hasCUDA())
      throw_runtime("--device cuda: this pad was built against a libtorch without CUDA (build with Torch_DIR "
                    "pointing at a CUDA libtorch, see docs/gpu.md)");
    throw_runtime("--device cuda: no CUDA device (the driver reports none)");
  }
  const int64_t n = static_cast<int64_t>(torch::cuda::device_count());
  if (device.index() >= n)
    throw_runtime("--device cuda:", static_cast<int>(device.index()), ": no such CUDA device (found ", n, ")");
}

LoraAdapter lora_on(const LoraAdapter& adapter, at::Device device, at::ScalarType dtype) {
  LoraAdapter out = adapter;
  for (auto& layer : out.layers)
    for (auto& [name, m] : layer) m = {m.a.to(device, dtype).contiguous(), m.b.to(device, dtype).contiguous()};
  return out;
}

namespace {
// One product's matrices as one dense tensor [n_out, k] in `t` on `dev`; quantized parts dequantized.
at::Tensor dense_of(const std::vector<kernels::WeightMatrix>& parts, at::Device dev, at::ScalarType t) {
  std::vector<at::Tensor> ts;
  for (const kernels::WeightMatrix& m : parts) ts.push_back((m.is_float() ? m.float_tensor() : m.dequantize()).to(dev, t));
  return (ts.size() == 1 ? ts[0] : at::cat(ts, 0)).contiguous();
}
at::Tensor on(const at::Tensor& x, at::Device dev, at::ScalarType t) { return x.defined() ? x.to(dev, t) : x; }
}  // namespace

void Model::to_device(const DeviceOptions& o) {
  o.validate();
  if (generic_) throw_invalid(name_, ": to_device() was already called");
  for (const SlotCache& s : slots_)
    if (s.capacity > 0) throw_invalid("to_device: call it before any slot holds tokens");
  if (proj_.empty()) throw_invalid("to_device: the model has no cached-forward weights (f64 models run the reference only)");
  const at::Device dev = o.device;
  const at::ScalarType ct = o.resolved_dtype();
  stored_types_ = weight_types();
  const int64_t q_dim = config_.n_head * config_.head_dim, kv_dim = config_.n_kv_head * config_.head_dim;
  dense_.clear();
  for (size_t l = 0; l < proj_.size(); ++l) {
    const LayerProjections& p = proj_[l];
    dense_.push_back({dense_of(p.qkv.parts, dev, ct), on(bqkv_[l], dev, ct), dense_of(p.o.parts, dev, ct),
                      dense_of(p.gate_up.parts, dev, ct), dense_of(p.down.parts, dev, ct)});
  }
  dense_embed_ = dense_of({embed_}, dev, ct);
  dense_lm_head_ = config_.tie_embeddings ? dense_embed_ : dense_of({lm_head_}, dev, ct);
  if (!dev.is_cpu()) {
    // Off the CPU pad's kernels cannot read the weights: every tensor moves, the stored matrices go,
    // and the per-module tensors become views of the dense ones (the reference and training paths).
    for (size_t l = 0; l < dense_.size(); ++l) {
      LayerWeights& w = weights_.layers[l];
      const DenseLayer& d = dense_[l];
      wqkv_[l] = d.qkv;
      w.wq = d.qkv.narrow(0, 0, q_dim), w.wk = d.qkv.narrow(0, q_dim, kv_dim), w.wv = d.qkv.narrow(0, q_dim + kv_dim, kv_dim);
      bqkv_[l] = d.bqkv;
      if (d.bqkv.defined())
        w.bq = d.bqkv.narrow(0, 0, q_dim), w.bk = d.bqkv.narrow(0, q_dim, kv_dim), w.bv = d.bqkv.narrow(0, q_dim + kv_dim, kv_dim);
      w_gate_up_[l] = d.gate_up;
      w.w_gate = d.gate_up.narrow(0, 0, config_.d_ff), w.w_up = d.gate_up.narrow(0, config_.d_ff, config_.d_ff);
      w.wo = d.o, w.w_down = d.down;
      for (at::Tensor* t : {&w.attn_norm, &w.ffn_norm, &w.q_norm, &w.k_norm}) *t = on(*t, dev, at::kFloat);
      w.stored = StoredMatrices();
    }
    weights_.embed = dense_embed_, weights_.lm_head = dense_lm_head_;
    weights_.final_norm = on(weights_.final_norm, dev, at::kFloat);
    weights_.rope_freq_factors = on(weights_.rope_freq_factors, dev, at::kFloat);
    weights_.embed_stored = kernels::WeightMatrix(), weights_.lm_head_stored = kernels::WeightMatrix();
    inv_freq_ = inv_freq_.to(dev);
    proj_.clear();
    embed_ = kernels::WeightMatrix(), lm_head_ = kernels::WeightMatrix();
  }
  device_ = dev;
  dense_type_ = ct;
  generic_ = true;
  adapters_dev_.clear();
  for (const LoraAdapter& a : adapters_) adapters_dev_.push_back(lora_on(a, dev, ct));
}

void Model::adopt_device_weights() {
  device_ = weights_.embed.device();
  dense_type_ = weights_.embed.scalar_type();
  DeviceOptions{device_, dense_type_}.validate();
  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    const LayerWeights& w = weights_.layers[l];
    PAD_CHECK(wqkv_[l].defined() && w_gate_up_[l].defined(), "device weights must be float tensors of one type");
    dense_.push_back({wqkv_[l], on(bqkv_[l], device_, dense_type_), w.wo, w_gate_up_[l], w.w_down});
  }
  dense_embed_ = weights_.embed;
  dense_lm_head_ = weights_.lm_head.defined() ? weights_.lm_head : weights_.embed;
  inv_freq_ = inv_freq_.to(device_);
  stored_types_ = float_type_name(dense_type_);
  generic_ = true;
}

std::string Model::placement() const {
  if (!generic_) return "cpu (pad kernels, weights as stored: " + weight_types() + ")";
  const bool converted = stored_types_ != float_type_name(dense_type_);
  return device_.str() + " " + float_type_name(dense_type_) + " dense, generic ATen ops" +
         (converted ? " (converted from " + stored_types_ + " at load)" : "");
}

namespace {

// x [T, K] f32 · wᵀ (+ b) in w's type → [T, N] f32.
at::Tensor lin(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = at::Tensor()) {
  return at::linear(x.to(w.scalar_type()), w, b).to(at::kFloat);
}

// Attention of one row's n new queries against its L cached positions, grouped-query heads folded
// into the batch: q [n_kv, group·n, hd], k/v [n_kv, L, hd]; query g·n + i sees positions ≤ L − n + i.
at::Tensor attend_row(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t n, int64_t group, double scale) {
  const int64_t L = k.size(1);
  at::Tensor mask;  // [group·n, L] bool, true = visible; none for a single new position (it sees all)
  if (n > 1) {
    const at::TensorOptions lo = at::TensorOptions().dtype(at::kLong).device(q.device());
    mask = at::arange(L, lo).unsqueeze(0) <= (at::arange(n, lo) + (L - n)).unsqueeze(1);
    mask = mask.repeat({group, 1});
  }
#if TORCH_VERSION_MAJOR >= 2
  // libtorch 2.x: the fused kernels (flash / memory-efficient on CUDA); its default scale is 1/√hd.
  (void)scale;
  return at::scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0),
                                          mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt)
      .squeeze(0);
#else
  // libtorch 1.13 (Debian) has no public fused attention: the same arithmetic in three calls.
  at::Tensor s = at::matmul(q, k.transpose(1, 2)) * scale;  // [n_kv, group·n, L]
  if (mask.defined()) s = s.masked_fill(mask.logical_not(), -INFINITY);
  return at::matmul(at::softmax(s, -1), v);
#endif
}

}  // namespace

ForwardOutput Model::forward_generic(const std::vector<Row>& rows, const std::vector<int64_t>& ids,
                                     const std::vector<int64_t>& positions, const std::vector<int64_t>& row_start,
                                     bool want_logits) {
  const ModelConfig& c = config_;
  const int64_t T = static_cast<int64_t>(ids.size()), hd = c.head_dim, H = c.n_head, n_kv = c.n_kv_head;
  const int64_t group = H / n_kv, q_dim = H * hd, kv_dim = n_kv * hd;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const at::Tensor pos = at::tensor(positions, at::kLong).to(device_);                    // [T] int64
  const at::Tensor angles = pos.to(at::kFloat).unsqueeze(1) * inv_freq_.to(device_).unsqueeze(0);  // [T, hd/2] f32
  const at::Tensor cos = angles.cos(), sin = angles.sin();
  at::Tensor x = embed_rows(ids);  // [T, d] f32 on device_, the residual stream
  const bool any_adapter = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.adapter >= 0; });
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = weights_.layers[l];
    const DenseLayer& dl = dense_[l];
    at::Tensor h = rms_norm(x, w.attn_norm.to(device_), c.rms_norm_eps);  // [T, d] f32
    at::Tensor qkv = lin(h, dl.qkv, dl.bqkv);                            // [T, q_dim + 2·kv_dim] f32
    if (any_adapter) add_lora_generic(qkv, h, rows, row_start, l, {{"q_proj", 0}, {"k_proj", q_dim}, {"v_proj", q_dim + kv_dim}});
    at::Tensor q = qkv.narrow(1, 0, q_dim).reshape({T, H, hd});
    at::Tensor k = qkv.narrow(1, q_dim, kv_dim).reshape({T, n_kv, hd});
    at::Tensor v = qkv.narrow(1, q_dim + kv_dim, kv_dim).reshape({T, n_kv, hd});
    if (w.q_norm.defined()) {  // Qwen3: per-head RMSNorm of q and k, before RoPE
      q = rms_norm(q, w.q_norm.to(device_), c.rms_norm_eps);
      k = rms_norm(k, w.k_norm.to(device_), c.rms_norm_eps);
    }
    q = apply_rope(q, cos, sin);  // [T, H, hd] f32
    k = apply_rope(k, cos, sin);  // [T, n_kv, hd] f32
    at::Tensor attn = at::empty({T, H, hd}, x.options());  // [T, H, hd] f32
    for (size_t r = 0; r < rows.size(); ++r) {
      SlotCache& s = slots_[rows[r].slot];
      const int64_t n = row_start[r + 1] - row_start[r], t0 = row_start[r], L = s.length + n;
      s.k[l].narrow(1, s.length, n).copy_(k.narrow(0, t0, n).transpose(0, 1));  // cache [n_kv, cap, hd]
      s.v[l].narrow(1, s.length, n).copy_(v.narrow(0, t0, n).transpose(0, 1));
      // [n, H, hd] → [n_kv, group·n, hd]: each kv head's query group shares its keys without a copy of them.
      at::Tensor qr = q.narrow(0, t0, n).reshape({n, n_kv, group, hd}).permute({1, 2, 0, 3}).reshape({n_kv, group * n, hd});
      at::Tensor o = attend_row(qr.to(kv_type_), s.k[l].narrow(1, 0, L), s.v[l].narrow(1, 0, L), n, group, scale);
      attn.narrow(0, t0, n).copy_(o.reshape({n_kv, group, n, hd}).permute({2, 0, 1, 3}).reshape({n, H, hd}));
    }
    at::Tensor a2 = attn.reshape({T, q_dim});
    at::Tensor out = lin(a2, dl.o);
    if (any_adapter) add_lora_generic(out, a2, rows, row_start, l, {{"o_proj", 0}});
    x = x + out;
    h = rms_norm(x, w.ffn_norm.to(device_), c.rms_norm_eps);
    at::Tensor gu = lin(h, dl.gate_up);  // [T, 2·d_ff] f32
    if (any_adapter) add_lora_generic(gu, h, rows, row_start, l, {{"gate_proj", 0}, {"up_proj", c.d_ff}});
    at::Tensor act = at::silu(gu.narrow(1, 0, c.d_ff)) * gu.narrow(1, c.d_ff, c.d_ff);  // [T, d_ff] f32
    out = lin(act, dl.down);
    if (any_adapter) add_lora_generic(out, act, rows, row_start, l, {{"down_proj", 0}});
    x = x + out;
  }
  for (size_t r = 0; r < rows.size(); ++r) slots_[rows[r].slot].length += row_start[r + 1] - row_start[r];

  std::vector<int64_t> pick;
  ForwardOutput result;
  for (size_t r = 0; r < rows.size(); ++r) {
    result.row_begin.push_back(static_cast<int64_t>(pick.size()));
    for (int64_t i = rows[r].all_logits ? row_start[r] : row_start[r + 1] - 1; i < row_start[r + 1]; ++i) pick.push_back(i);
  }
  result.row_begin.push_back(static_cast<int64_t>(pick.size()));
  at::Tensor last = x.index_select(0, at::tensor(pick, at::kLong).to(device_));  // [P, d] f32
  result.hidden = rms_norm(last, weights_.final_norm.to(device_), c.rms_norm_eps).contiguous();  // [P, d] f32 on device_
  if (want_logits) result.logits = logits_from_hidden(result.hidden);
  return result;
}

void Model::add_lora_generic(at::Tensor& out, const at::Tensor& in, const std::vector<Row>& rows,
                             const std::vector<int64_t>& row_start, int64_t layer,
                             const std::vector<std::pair<std::string, int64_t>>& modules) const {
  // Per adapter and module: one gather of the rows using it, two thin products, one index_add.
  for (size_t id = 0; id < adapters_dev_.size(); ++id) {
    std::vector<int64_t> tokens;
    for (size_t r = 0; r < rows.size(); ++r)
      if (rows[r].adapter == static_cast<int>(id))
        for (int64_t t = row_start[r]; t < row_start[r + 1]; ++t) tokens.push_back(t);
    if (tokens.empty()) continue;
    const at::Tensor idx = at::tensor(tokens, at::kLong).to(device_);
    const at::Tensor xin = in.index_select(0, idx).to(dense_type_);  // [n, in]
    const auto& mods = adapters_dev_[id].layers[layer];
    for (const auto& [name, offset] : modules) {
      auto it = mods.find(name);
      if (it == mods.end()) continue;
      at::Tensor delta = at::linear(at::linear(xin, it->second.a), it->second.b).to(at::kFloat);  // [n, out] f32
      out.narrow(1, offset, delta.size(1)).index_add_(0, idx, delta);
    }
  }
}

}  // namespace pad
