// The decoder forward: packed rows, fused q/k/v and gate/up products, per-slot caches.
#include "pad/model/model.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "attention.h"
#include "pad/kernels/linear.h"
#include "pad/util/error.h"

namespace pad {
namespace {

// pad's kernels exist to beat OpenBLAS's small-batch paths (DESIGN §4). A libtorch built with MKL
// (the official wheels) was 4× faster than them at batch 1 on a 16-core machine, so there they stay off.
std::atomic<bool> g_small_batch_kernels{!at::hasMKL()};

// x [T, K] f32 · w [N, K]ᵀ (+ b) → [T, N] f32, through the small-batch kernels (or at::linear when
// they are switched off, for comparison).
at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  c10::optional<at::Tensor> bias = b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt;
  if (g_small_batch_kernels) return kernels::linear(x, w, bias);
  return kernels::detail::linear_with_max_rows(x, w, bias, 0);
}

}  // namespace

void set_small_batch_kernels(bool enabled) { g_small_batch_kernels = enabled; }

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
    // Fuse the products that share an input; keep the per-module tensors as views of the fused ones.
    at::Tensor qkv = at::cat({l.wq, l.wk, l.wv}, 0).contiguous();
    const int64_t q = l.wq.size(0), kv = l.wk.size(0);
    l.wq = qkv.narrow(0, 0, q);
    l.wk = qkv.narrow(0, q, kv);
    l.wv = qkv.narrow(0, q + kv, kv);
    wqkv_.push_back(qkv);
    bqkv_.push_back(l.bq.defined() ? at::cat({l.bq, l.bk, l.bv}, 0).contiguous() : at::Tensor());
    at::Tensor gate_up = at::cat({l.w_gate, l.w_up}, 0).contiguous();
    l.w_gate = gate_up.narrow(0, 0, config_.d_ff);
    l.w_up = gate_up.narrow(0, config_.d_ff, config_.d_ff);
    w_gate_up_.push_back(gate_up);
  }
  inv_freq_ = rope_inv_freq(config_, weights_.rope_freq_factors);
}

std::vector<at::Tensor> Model::enable_training() {
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
  // One gather, two thin products and one scatter-add per adapter and module, whatever the number
  // of rows using the adapter.
  for (size_t id = 0; id < adapters_.size(); ++id) {
    std::vector<int64_t> tokens;  // packed token positions of the rows using this adapter
    for (size_t r = 0; r < rows.size(); ++r)
      if (rows[r].adapter == static_cast<int>(id))
        for (int64_t t = row_start[r]; t < row_start[r + 1]; ++t) tokens.push_back(t);
    if (tokens.empty()) continue;
    const auto& mods = adapters_[id].layers[layer];
    at::Tensor idx = at::tensor(tokens, at::kLong);
    at::Tensor x = in.index_select(0, idx);  // [n, in]
    for (const auto& [name, offset] : modules) {
      auto it = mods.find(name);
      if (it == mods.end()) continue;
      at::Tensor delta = at::matmul(at::matmul(x, it->second.a.t()), it->second.b.t());  // [n, out]
      out.narrow(1, offset, delta.size(1)).index_add_(0, idx, delta);
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
  const int64_t cap = std::max({needed, 2 * cache.capacity, int64_t{32}});
  const int64_t n_kv = config_.n_kv_head, hd = config_.head_dim;
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    at::Tensor k = at::empty({n_kv, cap, hd}, at::kFloat);  // [n_kv, cap, hd] f32
    at::Tensor v = at::empty({n_kv, cap, hd}, at::kFloat);
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

at::Tensor Model::rope_angles(const at::Tensor& positions) const {
  return positions.to(at::kFloat).unsqueeze(1) * inv_freq_.unsqueeze(0);  // [T, hd/2]
}

ForwardOutput Model::forward(const std::vector<Row>& rows, bool want_logits) {
  if (rows.empty()) throw_invalid("forward: no rows");
  const ModelConfig& c = config_;
  std::vector<int64_t> ids, positions, row_start;
  std::vector<bool> seen(slots_.size(), false);
  for (const Row& r : rows) {
    SlotCache& s = slot_ref(r.slot);
    if (seen[r.slot]) throw_invalid("forward: slot ", r.slot, " appears in more than one row");
    seen[r.slot] = true;
    if (r.tokens.empty()) throw_invalid("forward: row for slot ", r.slot, " has no tokens");
    if (r.adapter >= static_cast<int>(adapters_.size())) throw_invalid("forward: no LoRA adapter with id ", r.adapter);
    row_start.push_back(static_cast<int64_t>(ids.size()));
    for (size_t j = 0; j < r.tokens.size(); ++j) {
      if (r.tokens[j] < 0 || r.tokens[j] >= c.n_vocab)
        throw_invalid("forward: token id ", r.tokens[j], " is outside the vocabulary [0, ", c.n_vocab, ")");
      ids.push_back(r.tokens[j]);
      positions.push_back(s.length + static_cast<int64_t>(j));
    }
    reserve(s, s.length + static_cast<int64_t>(r.tokens.size()));
  }
  row_start.push_back(static_cast<int64_t>(ids.size()));
  const int64_t T = static_cast<int64_t>(ids.size()), hd = c.head_dim;
  const int64_t q_dim = c.n_head * hd, kv_dim = c.n_kv_head * hd;
  at::Tensor id_t = at::tensor(ids, at::kLong);                          // [T]
  at::Tensor angles = rope_angles(at::tensor(positions, at::kLong));     // [T, hd/2]
  at::Tensor cos = angles.cos(), sin = angles.sin();
  at::Tensor x = weights_.embed.index_select(0, id_t).to(at::kFloat);    // [T, d] f32
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const bool any_adapter = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.adapter >= 0; });

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = weights_.layers[l];
    at::Tensor h = rms_norm(x, w.attn_norm, c.rms_norm_eps);
    at::Tensor qkv = project(h, wqkv_[l], bqkv_[l]);                    // [T, q_dim + 2·kv_dim]
    if (any_adapter) add_lora(qkv, h, rows, row_start, l, {{"q_proj", 0}, {"k_proj", q_dim}, {"v_proj", q_dim + kv_dim}});
    at::Tensor q = qkv.narrow(1, 0, q_dim).view({T, c.n_head, hd});
    at::Tensor k = qkv.narrow(1, q_dim, kv_dim).reshape({T, c.n_kv_head, hd});
    if (w.q_norm.defined()) {  // Qwen3: per-head RMSNorm of q and k, before RoPE
      q = rms_norm(q, w.q_norm, c.rms_norm_eps);
      k = rms_norm(k, w.k_norm, c.rms_norm_eps);
    }
    q = apply_rope(q, cos, sin).contiguous();
    k = apply_rope(k, cos, sin);
    at::Tensor v = qkv.narrow(1, q_dim + kv_dim, kv_dim).reshape({T, c.n_kv_head, hd});
    at::Tensor attn = at::empty({T, c.n_head, hd}, at::kFloat);         // [T, n_head, hd]
    std::vector<detail::AttentionRow> work(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      SlotCache& s = slots_[rows[r].slot];
      const int64_t n = row_start[r + 1] - row_start[r];
      s.k[l].narrow(1, s.length, n).copy_(k.narrow(0, row_start[r], n).transpose(0, 1));
      s.v[l].narrow(1, s.length, n).copy_(v.narrow(0, row_start[r], n).transpose(0, 1));
      work[r] = {q.narrow(0, row_start[r], n), s.k[l], s.v[l], s.length + n, attn.narrow(0, row_start[r], n)};
    }
    detail::attend(work, scale);
    at::Tensor attn_flat = attn.view({T, q_dim});
    at::Tensor o = project(attn_flat, w.wo, at::Tensor());               // [T, d]
    if (any_adapter) add_lora(o, attn_flat, rows, row_start, l, {{"o_proj", 0}});
    x = x + o;
    h = rms_norm(x, w.ffn_norm, c.rms_norm_eps);
    at::Tensor gu = project(h, w_gate_up_[l], at::Tensor());             // [T, 2·d_ff]
    if (any_adapter) add_lora(gu, h, rows, row_start, l, {{"gate_proj", 0}, {"up_proj", c.d_ff}});
    at::Tensor act = at::silu(gu.narrow(1, 0, c.d_ff)) * gu.narrow(1, c.d_ff, c.d_ff);
    at::Tensor down = project(act, w.w_down, at::Tensor());              // [T, d]
    if (any_adapter) add_lora(down, act, rows, row_start, l, {{"down_proj", 0}});
    x = x + down;
  }
  for (size_t r = 0; r < rows.size(); ++r) slots_[rows[r].slot].length += row_start[r + 1] - row_start[r];

  std::vector<int64_t> pick;
  ForwardOutput out;
  for (size_t r = 0; r < rows.size(); ++r) {
    out.row_begin.push_back(static_cast<int64_t>(pick.size()));
    if (rows[r].all_logits) {
      for (int64_t i = row_start[r]; i < row_start[r + 1]; ++i) pick.push_back(i);
    } else {
      pick.push_back(row_start[r + 1] - 1);
    }
  }
  out.row_begin.push_back(static_cast<int64_t>(pick.size()));
  at::Tensor sel = static_cast<int64_t>(pick.size()) == T ? x : x.index_select(0, at::tensor(pick, at::kLong));
  out.hidden = rms_norm(sel, weights_.final_norm, c.rms_norm_eps);
  if (want_logits) out.logits = logits_from_hidden(out.hidden);
  return out;
}

at::Tensor Model::logits_from_hidden(const at::Tensor& hidden) const {
  return project(hidden, weights_.lm_head, at::Tensor());
}

at::Tensor Model::hidden_sequence(const at::Tensor& tokens, at::ScalarType ct, const LoraAdapter* lora) const {
  const ModelConfig& c = config_;
  const int64_t B = tokens.size(0), T = tokens.size(1), hd = c.head_dim, group = c.n_head / c.n_kv_head;
  at::Tensor angles = at::arange(T, at::kLong).to(ct).unsqueeze(1) * inv_freq_.to(ct).unsqueeze(0);
  at::Tensor cos = angles.cos(), sin = angles.sin();                             // [T, hd/2]
  at::Tensor x = weights_.embed.index_select(0, tokens.reshape({-1})).to(ct).view({B, T, c.d_model});
  at::Tensor causal = at::ones({T, T}, at::kBool).triu(1);                       // true = masked
  auto lin = [ct](const at::Tensor& a, const at::Tensor& w, const at::Tensor& b) {
    at::Tensor y = at::matmul(a, w.to(ct).t());
    return b.defined() ? y + b.to(ct) : y;
  };
  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    const LayerWeights& w = weights_.layers[l];
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
  return at::matmul(hidden_sequence(tokens, ct, lora), weights_.lm_head.to(ct).t());
}

}  // namespace pad
