// Model::forward: the batched, cached decoder pass. Products read the weights as stored (pad's
// kernels); norms, RoPE, SiLU·gate, residual adds and cache appends are plain loops (ops.h), and
// attention runs on the thread pool, so a decode step makes few ATen calls.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "attention.h"
#include "ops.h"
#include "pad/kernels/linear.h"
#include "pad/model/model.h"
#include "pad/util/error.h"

namespace pad {
namespace {

// pad's kernels are the default; at::linear (float weights only) stays as the benchmark baseline.
std::atomic<bool> g_small_batch_kernels{true};

std::atomic<bool> g_profile{false};
std::atomic<int64_t> g_product_ns{0};

float* f32(at::Tensor& t) { return t.data_ptr<float>(); }

}  // namespace

void set_small_batch_kernels(bool enabled) { g_small_batch_kernels = enabled; }
void set_product_profiling(bool enabled) {
  g_product_ns = 0;
  g_profile = enabled;
}
double product_seconds() { return static_cast<double>(g_product_ns.load()) * 1e-9; }

// y[T, n_out] = x[T, K] · [parts]ᵀ + bias, each part writing its own columns.
void Model::project(const at::Tensor& x, const Projection& p, const at::Tensor& bias, at::Tensor& y) const {
  const auto t0 = g_profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  const int64_t T = x.size(0);
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  int64_t col = 0;
  for (const kernels::WeightMatrix& m : p.parts) {
    if (!g_small_batch_kernels && m.is_float()) {
      at::Tensor part_bias = b != nullptr ? bias.narrow(0, col, m.n) : at::Tensor();
      y.narrow(1, col, m.n).copy_(at::linear(x, m.float_tensor().to(at::kFloat), part_bias));
    } else {
      kernels::matmul(x.data_ptr<float>(), T, m, b != nullptr ? b + col : nullptr, y.data_ptr<float>() + col, p.n_out);
    }
    col += m.n;
  }
  if (g_profile)
    g_product_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

ForwardOutput Model::forward(const std::vector<Row>& rows, bool want_logits) {
  if (rows.empty()) throw_invalid("forward: no rows");
  if (proj_.empty() && !generic_)
    throw_invalid("forward: the cached forward reads f32, f16, bf16 or quantized weights; this model holds ",
                  c10::toString(dtype()), " (use hidden_sequence)");
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
  }
  for (const Row& r : rows) reserve(slots_[r.slot], slots_[r.slot].length + static_cast<int64_t>(r.tokens.size()));
  row_start.push_back(static_cast<int64_t>(ids.size()));
  if (generic_) return forward_generic(rows, ids, positions, row_start, want_logits);  // off pad's kernels: ATen

  const int64_t T = static_cast<int64_t>(ids.size()), d = c.d_model, hd = c.head_dim, half = hd / 2;
  const int64_t q_dim = c.n_head * hd, kv_dim = c.n_kv_head * hd, qkv_dim = q_dim + 2 * kv_dim;
  at::Tensor cos = at::empty({T, half}, at::kFloat), sin = at::empty({T, half}, at::kFloat);  // [T, hd/2] f32
  ops::rope_tables(positions.data(), T, inv_freq_.data_ptr<float>(), half, f32(cos), f32(sin));
  at::Tensor x = embed_rows(ids);                   // [T, d] f32, the residual stream
  at::Tensor h = at::empty({T, d}, at::kFloat);     // [T, d] f32, normed input of a block
  at::Tensor qkv = at::empty({T, qkv_dim}, at::kFloat);
  at::Tensor attn = at::empty({T, q_dim}, at::kFloat);
  at::Tensor gu = at::empty({T, 2 * c.d_ff}, at::kFloat);
  at::Tensor act = at::empty({T, c.d_ff}, at::kFloat);
  at::Tensor out = at::empty({T, d}, at::kFloat);   // [T, d] f32, a block's output before the residual add
  const bool any_adapter = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.adapter >= 0; });
  const detail::AttentionShape shape{c.n_head, c.n_kv_head, hd, static_cast<float>(1.0 / std::sqrt(double(hd))), kv_type_};
  const size_t kv_elem = kv_type_ == at::kFloat ? 4 : 2;

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = weights_.layers[l];
    const LayerProjections& p = proj_[l];
    ops::rms_norm(f32(x), d, w.attn_norm.data_ptr<float>(), T, d, c.rms_norm_eps, f32(h), d);
    project(h, p.qkv, bqkv_[l], qkv);
    if (any_adapter) add_lora(qkv, h, rows, row_start, l, {{"q_proj", 0}, {"k_proj", q_dim}, {"v_proj", q_dim + kv_dim}});
    if (w.q_norm.defined()) {  // Qwen3: per-head RMSNorm of q and k, before RoPE (heads are rows of hd)
      for (int64_t t = 0; t < T; ++t) {
        float* row = f32(qkv) + t * qkv_dim;
        ops::rms_norm(row, hd, w.q_norm.data_ptr<float>(), c.n_head, hd, c.rms_norm_eps, row, hd);
        ops::rms_norm(row + q_dim, hd, w.k_norm.data_ptr<float>(), c.n_kv_head, hd, c.rms_norm_eps, row + q_dim, hd);
      }
    }
    ops::rope(f32(qkv), qkv_dim, T, c.n_head, hd, f32(cos), f32(sin));
    ops::rope(f32(qkv) + q_dim, qkv_dim, T, c.n_kv_head, hd, f32(cos), f32(sin));
    std::vector<detail::AttentionRow> work(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      SlotCache& s = slots_[rows[r].slot];
      const int64_t n = row_start[r + 1] - row_start[r], t0 = row_start[r];
      auto* kc = static_cast<uint8_t*>(s.k[l].data_ptr());
      auto* vc = static_cast<uint8_t*>(s.v[l].data_ptr());
      for (int64_t g = 0; g < c.n_kv_head; ++g) {  // cache [n_kv, cap, hd]: append the n new positions of head g
        const size_t at_pos = static_cast<size_t>((g * s.capacity + s.length) * hd) * kv_elem;
        ops::store_rows(f32(qkv) + t0 * qkv_dim + q_dim + g * hd, qkv_dim, n, hd, kv_type_, kc + at_pos, hd);
        ops::store_rows(f32(qkv) + t0 * qkv_dim + q_dim + kv_dim + g * hd, qkv_dim, n, hd, kv_type_, vc + at_pos, hd);
      }
      work[r] = {f32(qkv) + t0 * qkv_dim, qkv_dim, kc, vc, s.capacity, n, s.length + n, f32(attn) + t0 * q_dim, q_dim};
    }
    detail::attend(work, shape);
    project(attn, p.o, at::Tensor(), out);
    if (any_adapter) add_lora(out, attn, rows, row_start, l, {{"o_proj", 0}});
    ops::add_inplace(f32(x), f32(out), T * d);
    ops::rms_norm(f32(x), d, w.ffn_norm.data_ptr<float>(), T, d, c.rms_norm_eps, f32(h), d);
    project(h, p.gate_up, at::Tensor(), gu);
    if (any_adapter) add_lora(gu, h, rows, row_start, l, {{"gate_proj", 0}, {"up_proj", c.d_ff}});
    ops::silu_mul(f32(gu), T, c.d_ff, f32(act));
    project(act, p.down, at::Tensor(), out);
    if (any_adapter) add_lora(out, act, rows, row_start, l, {{"down_proj", 0}});
    ops::add_inplace(f32(x), f32(out), T * d);
  }
  for (size_t r = 0; r < rows.size(); ++r) slots_[rows[r].slot].length += row_start[r + 1] - row_start[r];

  std::vector<int64_t> pick;
  ForwardOutput result;
  for (size_t r = 0; r < rows.size(); ++r) {
    result.row_begin.push_back(static_cast<int64_t>(pick.size()));
    if (rows[r].all_logits) {
      for (int64_t i = row_start[r]; i < row_start[r + 1]; ++i) pick.push_back(i);
    } else {
      pick.push_back(row_start[r + 1] - 1);
    }
  }
  result.row_begin.push_back(static_cast<int64_t>(pick.size()));
  const int64_t P = static_cast<int64_t>(pick.size());
  result.hidden = at::empty({P, d}, at::kFloat);  // [P, d] f32
  for (int64_t i = 0; i < P; ++i)
    ops::rms_norm(f32(x) + pick[i] * d, d, weights_.final_norm.data_ptr<float>(), 1, d, c.rms_norm_eps,
                  f32(result.hidden) + i * d, d);
  if (want_logits) result.logits = logits_from_hidden(result.hidden);
  return result;
}

at::Tensor Model::logits_from_hidden(const at::Tensor& hidden) const {
  if (generic_) return at::linear(hidden.to(device_, dense_type_), dense_lm_head_).to(at::kFloat);  // [P, V] f32 on device_
  if (!lm_head_.defined()) return at::matmul(hidden, weights_.lm_head.to(hidden.scalar_type()).t());
  at::Tensor h = hidden.to(at::kFloat).contiguous();
  at::Tensor logits = at::empty({h.size(0), lm_head_.n}, at::kFloat);  // [P, V] f32
  project(h, Projection{{lm_head_}, lm_head_.n}, at::Tensor(), logits);
  return logits;
}

}  // namespace pad
