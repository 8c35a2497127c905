// Shared model fixtures for the decode tests: the small random-weight config the PAD and
// online-engine tests both run on.
#pragma once

#include "pad/format/model_config.h"

namespace pad::test {

// 2 layers, d 32, 4 heads over 2 kv heads, vocabulary 61: fast enough for token-by-token oracles.
inline ModelConfig small_decode_config() {
  ModelConfig c;
  c.n_vocab = 61;
  c.d_model = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = 2;
  c.head_dim = 8;
  c.d_ff = 48;
  return c;
}

}  // namespace pad::test
