// Causal attention over per-slot caches: a threaded dot-product loop for decode rows (one query,
// where ATen's per-op overhead would dominate), batched matrix products for prefill rows.
#include "attention.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace pad::detail {
namespace {

float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// One query vector against `length` cached positions of one kv head.
void attend_one(const float* q, const float* k, const float* v, int64_t length, int64_t hd, float scale,
                float* scores, float* out) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < length; ++j) {
    scores[j] = dot(q, k + j * hd, hd) * scale;
    max_score = std::max(max_score, scores[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j < length; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < hd; ++d) out[d] = 0;
  for (int64_t j = 0; j < length; ++j) {
    const float p = scores[j] * inv;
    const float* vj = v + j * hd;
    for (int64_t d = 0; d < hd; ++d) out[d] += p * vj[d];
  }
}

void attend_decode(std::vector<AttentionRow*>& rows, double scale) {
  if (rows.empty()) return;
  const int64_t n_head = rows[0]->q.size(1), hd = rows[0]->q.size(2), n_kv = rows[0]->k_cache.size(0);
  const int64_t group = n_head / n_kv;
  int64_t max_len = 0;
  for (auto* r : rows) max_len = std::max(max_len, r->length);
  const int64_t n_tasks = static_cast<int64_t>(rows.size()) * n_head;
  at::parallel_for(0, n_tasks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(max_len);
    for (int64_t t = begin; t < end; ++t) {
      AttentionRow& r = *rows[t / n_head];
      const int64_t h = t % n_head, kvh = h / group, cap = r.k_cache.size(1);
      const float* q = r.q.data_ptr<float>() + h * hd;
      const float* k = r.k_cache.data_ptr<float>() + kvh * cap * hd;
      const float* v = r.v_cache.data_ptr<float>() + kvh * cap * hd;
      attend_one(q, k, v, r.length, hd, static_cast<float>(scale), scores.data(), r.out.data_ptr<float>() + h * hd);
    }
  });
}

void attend_prefill(AttentionRow& r, double scale) {
  const int64_t n = r.q.size(0), n_head = r.q.size(1), hd = r.q.size(2), n_kv = r.k_cache.size(0);
  const int64_t group = n_head / n_kv, L = r.length;
  at::Tensor k = r.k_cache.narrow(1, 0, L);                                   // [n_kv, L, hd]
  at::Tensor v = r.v_cache.narrow(1, 0, L);                                   // [n_kv, L, hd]
  at::Tensor q = r.q.view({n, n_kv, group, hd}).permute({1, 2, 0, 3}).reshape({n_kv, group * n, hd});
  at::Tensor scores = at::bmm(q, k.transpose(1, 2)).mul_(scale).view({n_kv, group, n, L});
  // Query i sits at absolute position L - n + i and may see positions ≤ that.
  at::Tensor qpos = at::arange(L - n, L, at::kLong).view({n, 1});
  at::Tensor kpos = at::arange(0, L, at::kLong).view({1, L});
  scores.masked_fill_(kpos > qpos, -INFINITY);
  at::Tensor probs = at::softmax(scores, -1).view({n_kv, group * n, L});
  at::Tensor out = at::bmm(probs, v).view({n_kv, group, n, hd}).permute({2, 0, 1, 3}).reshape({n, n_head, hd});
  r.out.copy_(out);
}

}  // namespace

void attend(std::vector<AttentionRow>& rows, double scale) {
  std::vector<AttentionRow*> decode_rows;
  for (AttentionRow& r : rows) {
    if (r.q.size(0) == 1) decode_rows.push_back(&r);
    else attend_prefill(r, scale);
  }
  attend_decode(decode_rows, scale);
}

}  // namespace pad::detail
