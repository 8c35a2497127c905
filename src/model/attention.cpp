// Causal attention over per-slot caches (see attention.h). Each item is one query position of one
// head: scores against its visible keys, a softmax, the weighted sum of values. Items are dealt
// to threads round-robin, so the longer late queries of a prompt spread evenly.
#include "attention.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "ops.h"
#include "pad/kernels/linear.h"
#include "pad/util/thread_pool.h"

namespace pad::detail {
namespace {

inline float to_f32(float v) { return v; }
inline float to_f32(c10::Half v) { return static_cast<float>(v); }
inline float to_f32(c10::BFloat16 v) { return static_cast<float>(v); }

template <typename KV>
constexpr kernels::FloatBits kv_bits() {
  if constexpr (std::is_same_v<KV, c10::Half>) return kernels::FloatBits::kF16;
  else if constexpr (std::is_same_v<KV, c10::BFloat16>) return kernels::FloatBits::kBF16;
  else return kernels::FloatBits::kF32;
}

// One query against `length` keys/values of one kv head (cache rows of hd elements). The scores are
// the products' one-row kernel over the key rows (four keys per register tile, one reduction for
// the four), the weighted sum of values a plain loop the compiler vectorizes.
template <typename KV>
inline void attend_query(const float* q, const KV* k, const KV* v, int64_t length, int64_t hd, float scale,
                         float* scores, float* out) {
  kernels::dot_rows_float(q, k, kv_bits<KV>(), length, hd, scores);
  float max_score = -INFINITY;
  for (int64_t j = 0; j < length; ++j) {
    scores[j] *= scale;
    max_score = std::max(max_score, scores[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j < length; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  for (int64_t i = 0; i < hd; ++i) out[i] = 0;
  for (int64_t j = 0; j < length; ++j) {
    const float p = scores[j];
    const KV* vj = v + j * hd;
    for (int64_t i = 0; i < hd; ++i) out[i] += p * to_f32(vj[i]);
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < hd; ++i) out[i] *= inv;
}

PAD_SIMD_CLONES
void query_f32(const float* q, const void* k, const void* v, int64_t length, int64_t hd, float scale, float* scores,
               float* out) {
  attend_query(q, static_cast<const float*>(k), static_cast<const float*>(v), length, hd, scale, scores, out);
}
PAD_SIMD_CLONES
void query_f16(const float* q, const void* k, const void* v, int64_t length, int64_t hd, float scale, float* scores,
               float* out) {
  attend_query(q, static_cast<const c10::Half*>(k), static_cast<const c10::Half*>(v), length, hd, scale, scores, out);
}
PAD_SIMD_CLONES
void query_bf16(const float* q, const void* k, const void* v, int64_t length, int64_t hd, float scale, float* scores,
                float* out) {
  attend_query(q, static_cast<const c10::BFloat16*>(k), static_cast<const c10::BFloat16*>(v), length, hd, scale,
               scores, out);
}

}  // namespace

void attend(const std::vector<AttentionRow>& rows, const AttentionShape& sh) {
  using QueryFn = void (*)(const float*, const void*, const void*, int64_t, int64_t, float, float*, float*);
  const QueryFn query = sh.kv_type == at::kHalf ? query_f16 : sh.kv_type == at::kBFloat16 ? query_bf16 : query_f32;
  const size_t elem = sh.kv_type == at::kFloat ? 4 : 2;
  const int64_t group = sh.n_head / sh.n_kv;
  std::vector<int64_t> first_item(rows.size() + 1, 0);  // items of row r: [first_item[r], first_item[r + 1])
  int64_t max_len = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    first_item[r + 1] = first_item[r] + rows[r].n * sh.n_head;
    max_len = std::max(max_len, rows[r].length);
  }
  const int64_t n_items = first_item.back();
  global_pool().run([&](int thread, int n_threads) {
    std::vector<float> scores(static_cast<size_t>(max_len));
    size_t r = 0;
    for (int64_t item = thread; item < n_items; item += n_threads) {
      while (item >= first_item[r + 1]) ++r;
      const AttentionRow& row = rows[r];
      const int64_t local = item - first_item[r], i = local / sh.n_head, h = local % sh.n_head;
      const int64_t visible = row.length - row.n + i + 1;
      const size_t head_offset = static_cast<size_t>((h / group) * row.capacity * sh.hd) * elem;
      query(row.q + i * row.q_stride + h * sh.hd, static_cast<const uint8_t*>(row.k_cache) + head_offset,
            static_cast<const uint8_t*>(row.v_cache) + head_offset, visible, sh.hd, sh.scale, scores.data(),
            row.out + i * row.out_stride + h * sh.hd);
    }
  });
}

}  // namespace pad::detail
