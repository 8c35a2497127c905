// Helpers for the training tests: tiny models, synthetic preference pairs, a scratch model directory.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "pad/model/model.h"
#include "pad/train/data.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad::test {

// Tiny models run fastest on one thread, and results are then reproducible across machines.
class OneThread : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(1); }
};

inline ModelConfig tiny_config(int64_t n_vocab = 512, int64_t n_layer = 2) {
  ModelConfig c;
  c.n_vocab = n_vocab;
  c.d_model = 32;
  c.n_layer = n_layer;
  c.n_head = 4;
  c.n_kv_head = 2;
  c.head_dim = 8;
  c.d_ff = 64;
  c.max_position = 512;
  c.eos_ids = {509};
  c.validate("tiny");
  return c;
}

inline ModelWeights to_dtype(const ModelWeights& w, at::ScalarType dt) {
  auto cv = [dt](const at::Tensor& t) { return t.defined() ? t.to(dt).clone() : at::Tensor(); };
  ModelWeights o;
  o.embed = cv(w.embed), o.final_norm = cv(w.final_norm), o.lm_head = cv(w.lm_head);
  for (const LayerWeights& l : w.layers) {
    LayerWeights c;
    c.attn_norm = cv(l.attn_norm), c.ffn_norm = cv(l.ffn_norm);
    c.wq = cv(l.wq), c.wk = cv(l.wk), c.wv = cv(l.wv), c.wo = cv(l.wo);
    c.w_gate = cv(l.w_gate), c.w_up = cv(l.w_up), c.w_down = cv(l.w_down);
    o.layers.push_back(c);
  }
  return o;
}

// A pair of random token sequences: prompts per principle (with weights), chosen, rejected.
inline PreferencePair random_pair(std::mt19937& rng, int64_t n_vocab, const std::vector<double>& weights) {
  auto ids = [&](int n) {
    std::vector<int> v(n);
    for (int& x : v) x = static_cast<int>(rng() % n_vocab);
    return v;
  };
  PreferencePair p;
  for (double w : weights) p.prompts.push_back({ids(3 + rng() % 4), w});
  p.chosen = ids(2 + rng() % 4);
  p.rejected = ids(2 + rng() % 4);
  return p;
}

inline std::string fixture_tokenizer() { return model_dir("tiny-llama") + "/tokenizer.json"; }

// A tiny random model directory with the fixture tokenizer (vocab 512).
inline std::string make_tiny_model_dir(const std::string& name, uint64_t seed = 3) {
  const std::string dir = scratch_dir(name);
  ModelConfig c = tiny_config();
  save_hf_model(dir, c, random_weights(c, at::kFloat, seed));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    write_file_atomic(dir + "/" + f, read_file(model_dir("tiny-llama") + "/" + f));
  return dir;
}

inline const std::vector<std::string> kGood = {"apple", "banana", "cherry", "grape", "melon"};
inline const std::vector<std::string> kBad = {"rock", "stone", "iron", "steel", "brick"};
inline const std::vector<std::string> kTopics = {"lunch", "a snack", "the market", "summer", "my garden", "dessert",
                                          "a picnic", "breakfast"};

inline std::string words(std::mt19937& rng, const std::vector<std::string>& from, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + from[rng() % from.size()];
  return s;
}

// "Fruit" responses are preferred over "mineral" ones under the principle "fruit".
inline std::string synthetic_jsonl(uint64_t seed, int n) {
  std::mt19937 rng(seed);
  std::string out;
  for (int i = 0; i < n; ++i) {
    nlohmann::json j = {{"prompt", "Tell me about " + kTopics[rng() % kTopics.size()] + "."},
                        {"preference", "fruit"},
                        {"chosen", words(rng, kGood, 2 + rng() % 3)},
                        {"rejected", words(rng, kBad, 2 + rng() % 3)}};
    out += j.dump() + "\n";
  }
  return out;
}

}  // namespace pad::test
