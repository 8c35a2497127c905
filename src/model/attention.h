// Attention of new query positions against a slot's cached keys/values (internal to the model layer).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace pad::detail {

// One row's view of the work: its queries and the cache it attends to.
struct AttentionRow {
  at::Tensor q;        // [n, n_head, hd] f32, the row's new positions
  at::Tensor k_cache;  // [n_kv, capacity, hd] f32 (the first `length` positions are valid)
  at::Tensor v_cache;  // [n_kv, capacity, hd] f32
  int64_t length = 0;  // cached positions including the n new ones
  at::Tensor out;      // [n, n_head, hd] f32, written
};

// Causal attention: new query i (absolute position length - n + i) sees cache positions ≤ its own.
// Single-token rows go through one threaded loop over (row, head); longer rows use batched products.
void attend(std::vector<AttentionRow>& rows, double scale);

}  // namespace pad::detail
