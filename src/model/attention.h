// Causal attention of new query positions against a slot's cached keys/values (internal to the
// model layer): one loop over (row, position, head) items on pad's thread pool, streaming each
// query's keys once (no [T, T] score matrix, whatever the prompt length).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace pad::detail {

// One row's view of the work: its new queries and the cache it attends to.
struct AttentionRow {
  const float* q = nullptr;   // [n, n_head, hd] f32, row stride q_stride floats
  int64_t q_stride = 0;
  const void* k_cache = nullptr;  // [n_kv, capacity, hd] in the cache type
  const void* v_cache = nullptr;  // [n_kv, capacity, hd]
  int64_t capacity = 0;
  int64_t n = 0;       // new positions
  int64_t length = 0;  // cached positions including the n new ones
  float* out = nullptr;  // [n, n_head, hd] f32, row stride out_stride floats
  int64_t out_stride = 0;
};

struct AttentionShape {
  int64_t n_head = 0, n_kv = 0, hd = 0;
  float scale = 1;
  at::ScalarType kv_type = at::kFloat;  // f32, f16 or bf16
};

// New query i of a row (absolute position length - n + i) sees cache positions ≤ its own.
void attend(const std::vector<AttentionRow>& rows, const AttentionShape& shape);

}  // namespace pad::detail
