// config.json and GGUF metadata → ModelConfig, with checks that name the field and its value.
#include "pad/format/model_config.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "pad/format/gguf.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

using nlohmann::json;

// An integer JSON value (or a float with an integral value) within [lo, hi]. nlohmann's get<int64_t>
// casts a float such as 5e122 (what a too-long integer literal parses to) to int64, which is
// undefined behaviour (found by fuzz_config_json, UBSan).
std::optional<int64_t> integer_in(const json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {  // may exceed INT64_MAX
    const uint64_t u = v.get<uint64_t>();
    if (hi < 0 || u > uint64_t(hi)) return std::nullopt;
    return int64_t(u) >= lo ? std::optional<int64_t>(int64_t(u)) : std::nullopt;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    return i >= lo && i <= hi ? std::optional<int64_t>(i) : std::nullopt;
  }
  if (v.is_number_float()) {
    // |d| < 9e18 as well: double(INT64_MAX) rounds up to 2^63, which does not convert.
    const double d = v.get<double>();
    if (!(d >= double(lo) && d <= double(hi)) || std::floor(d) != d || !(std::fabs(d) < 9.0e18)) return std::nullopt;
    return int64_t(d);
  }
  return std::nullopt;
}

// bos/eos_token_id: one id or a list of them (null or absent: none).
std::vector<int> id_list(const json& j, const char* key, const std::string& origin) {
  if (j.is_null()) return {};
  std::vector<int> ids;
  for (const json& v : j.is_array() ? j : json::array({j})) {
    const auto i = integer_in(v, INT32_MIN, INT32_MAX);
    if (!i) throw_invalid(origin, ": field '", key, "' holds ", v.dump(), " (expected integer token ids)");
    ids.push_back(int(*i));
  }
  return ids;
}

template <typename T>
T field(const json& j, const char* key, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) throw_invalid(origin, ": missing field '", key, "'");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const auto i = integer_in(j[key], int64_t(std::numeric_limits<T>::min()), int64_t(std::numeric_limits<T>::max()));
    if (!i) throw_invalid(origin, ": field '", key, "' has value ", j[key].dump(), " (expected an integer within ",
                          std::numeric_limits<T>::min(), "..", std::numeric_limits<T>::max(), ")");
    return T(*i);
  } else {
    try {
      return j[key].get<T>();
    } catch (const json::exception&) {
      throw_invalid(origin, ": field '", key, "' has value ", j[key].dump(), " of the wrong type");
    }
  }
}

// An optional integer field: the fallback when absent or null, else as field<int64_t> checks it.
int64_t integer_or(const json& j, const char* key, int64_t fallback, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return field<int64_t>(j, key, origin);
}

}  // namespace

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::kLlama: return "llama";
    case Arch::kMistral: return "mistral";
    case Arch::kQwen2: return "qwen2";
    case Arch::kQwen3: return "qwen3";
  }
  return "?";
}

void ModelConfig::validate(const std::string& origin) const {
  auto positive = [&](int64_t v, const char* name) {
    if (v <= 0) throw_invalid(origin, ": ", name, " = ", v, " (expected > 0)");
  };
  positive(n_vocab, "vocab_size");
  positive(d_model, "hidden_size");
  positive(n_layer, "num_hidden_layers");
  positive(n_head, "num_attention_heads");
  positive(n_kv_head, "num_key_value_heads");
  positive(head_dim, "head_dim");
  positive(d_ff, "intermediate_size");
  if (n_head % n_kv_head != 0)
    throw_invalid(origin, ": num_attention_heads = ", n_head, " is not a multiple of num_key_value_heads = ", n_kv_head);
  if (head_dim % 2 != 0) throw_invalid(origin, ": head_dim = ", head_dim, " (rotary embeddings need an even size)");
  if (!(rope_theta > 0)) throw_invalid(origin, ": rope_theta = ", rope_theta, " (expected > 0)");
  if (!(rms_norm_eps > 0)) throw_invalid(origin, ": rms_norm_eps = ", rms_norm_eps, " (expected > 0)");
  if (!rope_scaling.type.empty() && rope_scaling.type != "llama3" && rope_scaling.type != "linear")
    throw_invalid(origin, ": rope_scaling type '", rope_scaling.type, "' is not supported (expected llama3 or linear)");
  if (!rope_scaling.type.empty() && !(rope_scaling.factor > 0))
    throw_invalid(origin, ": rope_scaling factor = ", rope_scaling.factor, " (expected > 0)");
}

int64_t ModelConfig::n_params() const {
  // In long double (exact for any real model: a 64-bit mantissa), saturated to int64: validate()
  // bounds no dimension from above, and the int64 products overflowed for absurd files (found by
  // fuzz_gguf, UBSan).
  using F = long double;
  F attn = F(d_model) * n_head * head_dim * 2 + F(d_model) * n_kv_head * head_dim * 2;
  F mlp = F(3) * d_model * d_ff;
  F per_layer = attn + mlp + F(2) * d_model + (qk_norm ? F(2) * head_dim : F(0));
  F n = F(n_vocab) * d_model * (tie_embeddings ? 1 : 2) + F(n_layer) * per_layer + d_model;
  if (!(n < F(INT64_MAX))) return INT64_MAX;
  if (!(n > F(INT64_MIN))) return INT64_MIN;
  return static_cast<int64_t>(n);
}

ModelConfig parse_hf_config(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid(origin, ": not valid JSON: ", e.what());
  }
  ModelConfig c;
  std::string arch = j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty()
                         ? j["architectures"][0].get<std::string>()
                         : j.value("model_type", std::string());
  if (arch == "LlamaForCausalLM" || arch == "llama") c.arch = Arch::kLlama;
  else if (arch == "MistralForCausalLM" || arch == "mistral") c.arch = Arch::kMistral;
  else if (arch == "Qwen2ForCausalLM" || arch == "qwen2") c.arch = Arch::kQwen2;
  else if (arch == "Qwen3ForCausalLM" || arch == "qwen3") c.arch = Arch::kQwen3;
  else
    throw_invalid(origin, ": architecture '", arch,
                  "' is not supported (expected LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM or "
                  "Qwen3ForCausalLM)");
  c.n_vocab = field<int64_t>(j, "vocab_size", origin);
  c.d_model = field<int64_t>(j, "hidden_size", origin);
  c.n_layer = field<int64_t>(j, "num_hidden_layers", origin);
  c.n_head = field<int64_t>(j, "num_attention_heads", origin);
  c.n_kv_head = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                    ? field<int64_t>(j, "num_key_value_heads", origin)
                    : c.n_head;
  c.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? field<int64_t>(j, "head_dim", origin)
                                                                   : (c.n_head > 0 ? c.d_model / c.n_head : 0);
  c.d_ff = field<int64_t>(j, "intermediate_size", origin);
  c.max_position = integer_or(j, "max_position_embeddings", 4096, origin);
  c.rope_theta = j.value("rope_theta", 10000.0);
  c.rms_norm_eps = j.value("rms_norm_eps", 1e-5);
  c.tie_embeddings = j.value("tie_word_embeddings", c.arch == Arch::kQwen2);
  c.attn_bias = c.arch == Arch::kQwen2 || j.value("attention_bias", false);
  c.qk_norm = c.arch == Arch::kQwen3;
  if (j.contains("hidden_act") && j["hidden_act"] != "silu")
    throw_invalid(origin, ": hidden_act '", j["hidden_act"].get<std::string>(), "' is not supported (expected silu)");
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    c.rope_scaling.type = rs.value("rope_type", rs.value("type", std::string()));
    c.rope_scaling.factor = rs.value("factor", 1.0);
    c.rope_scaling.low_freq_factor = rs.value("low_freq_factor", 1.0);
    c.rope_scaling.high_freq_factor = rs.value("high_freq_factor", 4.0);
    c.rope_scaling.original_max_position_embeddings = integer_or(rs, "original_max_position_embeddings", 8192, origin + " rope_scaling");
    if (c.rope_scaling.type == "default") c.rope_scaling.type.clear();
  }
  if (j.contains("bos_token_id")) c.bos_ids = id_list(j["bos_token_id"], "bos_token_id", origin);
  if (j.contains("eos_token_id")) c.eos_ids = id_list(j["eos_token_id"], "eos_token_id", origin);
  c.validate(origin);
  return c;
}

ModelConfig read_hf_config(const std::string& path) { return parse_hf_config(read_file(path), path); }

ModelConfig read_gguf_config(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  ModelConfig c;
  if (arch == "llama") c.arch = Arch::kLlama;
  else if (arch == "qwen2") c.arch = Arch::kQwen2;
  else if (arch == "qwen3") c.arch = Arch::kQwen3;
  else throw_invalid(g.path(), ": general.architecture '", arch, "' is not supported (expected llama, qwen2 or qwen3)");
  const std::string p = arch + ".";
  c.d_model = g.get_int(p + "embedding_length");
  c.n_layer = g.get_int(p + "block_count");
  c.n_head = g.get_int(p + "attention.head_count");
  c.n_kv_head = g.get_int_opt(p + "attention.head_count_kv").value_or(c.n_head);
  c.head_dim = g.get_int_opt(p + "attention.key_length").value_or(c.n_head > 0 ? c.d_model / c.n_head : 0);
  c.d_ff = g.get_int(p + "feed_forward_length");
  c.max_position = g.get_int_opt(p + "context_length").value_or(4096);
  c.rope_theta = g.get_float_opt(p + "rope.freq_base").value_or(10000.0);
  c.rms_norm_eps = g.get_float_opt(p + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  c.attn_bias = c.arch == Arch::kQwen2 || g.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = c.arch == Arch::kQwen3;
  const GgufTensor* embd = g.find_tensor("token_embd.weight");
  if (embd == nullptr) throw_invalid(g.path(), ": missing tensor 'token_embd.weight'");
  c.n_vocab = g.get_int_opt(p + "vocab_size").value_or(embd->shape[0]);
  c.tie_embeddings = g.find_tensor("output.weight") == nullptr;
  if (auto type = g.get_string_opt(p + "rope.scaling.type"); type && *type == "linear") {
    c.rope_scaling.type = "linear";
    c.rope_scaling.factor = g.get_float(p + "rope.scaling.factor");
  }
  // llama3-style scaling is carried by the rope_freqs.weight tensor, applied by the model loader.
  if (auto bos = g.get_int_opt("tokenizer.ggml.bos_token_id")) c.bos_ids = {static_cast<int>(*bos)};
  if (auto eos = g.get_int_opt("tokenizer.ggml.eos_token_id")) c.eos_ids = {static_cast<int>(*eos)};
  if (auto eot = g.get_int_opt("tokenizer.ggml.eot_token_id"); eot && (c.eos_ids.empty() || c.eos_ids[0] != *eot))
    c.eos_ids.push_back(static_cast<int>(*eot));
  c.validate(g.path());
  return c;
}

std::string hf_config_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {c.arch == Arch::kQwen2   ? "Qwen2ForCausalLM"
                        : c.arch == Arch::kQwen3 ? "Qwen3ForCausalLM"
                        : c.arch == Arch::kMistral ? "MistralForCausalLM"
                                                   : "LlamaForCausalLM"};
  j["model_type"] = arch_name(c.arch);
  j["vocab_size"] = c.n_vocab;
  j["hidden_size"] = c.d_model;
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.n_kv_head;
  j["head_dim"] = c.head_dim;
  j["intermediate_size"] = c.d_ff;
  j["max_position_embeddings"] = c.max_position;
  j["rope_theta"] = c.rope_theta;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["hidden_act"] = "silu";
  j["torch_dtype"] = "float32";
  if (c.arch != Arch::kQwen2 && c.attn_bias) j["attention_bias"] = true;
  if (!c.rope_scaling.type.empty()) {
    j["rope_scaling"] = {{"rope_type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  if (c.bos_ids.size() == 1) j["bos_token_id"] = c.bos_ids[0];
  if (c.eos_ids.size() == 1) j["eos_token_id"] = c.eos_ids[0];
  else if (!c.eos_ids.empty()) j["eos_token_id"] = c.eos_ids;
  return j.dump(2) + "\n";
}

}  // namespace pad
