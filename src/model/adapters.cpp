// LoRA adapters in PEFT layout and the value head: loading, checking, saving, merging.
#include "pad/model/adapters.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "pad/format/safetensors.h"
#include "pad/kernels/weight.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

// (in, out) sizes of a module in a layer of `c`.
std::pair<int64_t, int64_t> module_shape(const ModelConfig& c, const std::string& m) {
  const int64_t d = c.d_model, q = c.n_head * c.head_dim, kv = c.n_kv_head * c.head_dim;
  if (m == "q_proj") return {d, q};
  if (m == "k_proj" || m == "v_proj") return {d, kv};
  if (m == "o_proj") return {q, d};
  if (m == "gate_proj" || m == "up_proj") return {d, c.d_ff};
  if (m == "down_proj") return {c.d_ff, d};
  throw_invalid("unknown module '", m, "'");
}

std::string module_prefix(const std::string& m) {
  return (m == "gate_proj" || m == "up_proj" || m == "down_proj") ? "mlp." : "self_attn.";
}

at::Tensor to_tensor(const TensorView& t) {
  at::ScalarType st = t.dtype == DType::kF32 ? at::kFloat : t.dtype == DType::kF16 ? at::kHalf : at::kBFloat16;
  return at::from_blob(const_cast<uint8_t*>(t.data), t.shape, st).to(at::kFloat).clone();
}

TensorBytes to_bytes(const std::string& name, const at::Tensor& t) {
  at::Tensor x = t.to(at::kFloat).contiguous();
  return {name, DType::kF32, x.sizes().vec(), std::string(static_cast<const char*>(x.data_ptr()), x.numel() * 4)};
}

std::vector<std::string> parse_targets(const nlohmann::json& j, const std::string& origin) {
  const auto& known = lora_module_names();
  std::vector<std::string> out;
  if (j.is_string() && j.get<std::string>() == "all-linear") return known;
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
  } else if (j.is_array()) {
    for (const auto& x : j) out.push_back(x.get<std::string>());
  } else {
    throw_invalid(origin, ": target_modules must be a list of module names");
  }
  for (const std::string& t : out)
    if (std::find(known.begin(), known.end(), t) == known.end())
      throw_invalid(origin, ": target module '", t, "' does not exist in a Llama-family model (known: q_proj, k_proj, ",
                    "v_proj, o_proj, gate_proj, up_proj, down_proj)");
  if (out.empty()) throw_invalid(origin, ": target_modules is empty");
  return out;
}

}  // namespace

const std::vector<std::string>& lora_module_names() {
  static const std::vector<std::string> kNames = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return kNames;
}

double LoraAdapter::scale() const { return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / rank; }

LoraAdapter LoraAdapter::load(const std::string& dir, const ModelConfig& c) {
  namespace fs = std::filesystem;
  const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
  const std::string st_path = (fs::path(dir) / "adapter_model.safetensors").string();
  if (!fs::exists(cfg_path)) throw_invalid(dir, ": no adapter_config.json (expected a PEFT LoRA directory)");
  if (!fs::exists(st_path)) throw_invalid(dir, ": no adapter_model.safetensors");
  nlohmann::json j = nlohmann::json::parse(read_file(cfg_path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw_invalid(cfg_path, ": not valid JSON");
  LoraAdapter a;
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0)
    throw_invalid(cfg_path, ": field 'r' must be a positive integer");
  a.rank = j["r"].get<int64_t>();
  a.alpha = j.value("lora_alpha", static_cast<double>(a.rank));
  a.rslora = j.value("use_rslora", false);
  if (!j.contains("target_modules")) throw_invalid(cfg_path, ": missing field 'target_modules'");
  a.targets = parse_targets(j["target_modules"], cfg_path);
  SafetensorsFile st(st_path);
  const double s = a.scale();
  a.layers.resize(c.n_layer);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    for (const std::string& m : a.targets) {
      const std::string base = "base_model.model.model.layers." + std::to_string(l) + "." + module_prefix(m) + m;
      auto find = [&](const std::string& which) {
        const TensorView* t = st.find(base + "." + which + ".weight");
        if (t == nullptr) t = st.find(base + "." + which + ".default.weight");
        if (t == nullptr) throw_invalid(st_path, ": missing tensor '", base, ".", which, ".weight'");
        return t;
      };
      auto [in, out] = module_shape(c, m);
      at::Tensor A = to_tensor(*find("lora_A")), B = to_tensor(*find("lora_B"));
      if (A.sizes() != at::IntArrayRef({a.rank, in}) || B.sizes() != at::IntArrayRef({out, a.rank}))
        throw_invalid(st_path, ": ", base, " has lora_A ", A.sizes(), " and lora_B ", B.sizes(), "; the base model needs [",
                      a.rank, ", ", in, "] and [", out, ", ", a.rank, "]");
      a.layers[l][m] = {A, B * s};
    }
  }
  return a;
}

void LoraAdapter::save(const std::string& dir, const std::string& base_model_name) const {
  std::filesystem::create_directories(dir);
  std::vector<TensorBytes> tensors;
  const double s = scale();
  for (size_t l = 0; l < layers.size(); ++l)
    for (const auto& [m, mod] : layers[l]) {
      const std::string base = "base_model.model.model.layers." + std::to_string(l) + "." + module_prefix(m) + m;
      tensors.push_back(to_bytes(base + ".lora_A.weight", mod.a));
      tensors.push_back(to_bytes(base + ".lora_B.weight", mod.b / s));
    }
  write_safetensors(dir + "/adapter_model.safetensors", tensors);
  nlohmann::json cfg = {{"peft_type", "LORA"}, {"task_type", "CAUSAL_LM"}, {"r", rank}, {"lora_alpha", alpha},
                        {"use_rslora", rslora}, {"target_modules", targets}, {"lora_dropout", 0.0},
                        {"bias", "none"}, {"base_model_name_or_path", base_model_name}};
  write_file_atomic(dir + "/adapter_config.json", cfg.dump(2) + "\n");
}

LoraAdapter LoraAdapter::create(const ModelConfig& c, int64_t rank, double alpha, const std::vector<std::string>& targets,
                                uint64_t seed) {
  if (rank <= 0) throw_invalid("LoRA rank ", rank, " is out of range (expected > 0)");
  LoraAdapter a;
  a.rank = rank;
  a.alpha = alpha;
  a.targets = parse_targets(nlohmann::json(targets), "--lora-targets");
  at::Generator gen = at::detail::createCPUGenerator(seed);
  a.layers.resize(c.n_layer);
  for (auto& layer : a.layers)
    for (const std::string& m : a.targets) {
      auto [in, out] = module_shape(c, m);
      layer[m] = {at::randn({rank, in}, gen, at::kFloat) / std::sqrt(static_cast<double>(in)), at::zeros({out, rank})};
    }
  return a;
}

ModelWeights merge_lora(const ModelWeights& base, const LoraAdapter& a) {
  ModelWeights w = base;
  for (size_t l = 0; l < w.layers.size(); ++l) {
    LayerWeights& L = w.layers[l];
    std::map<std::string, at::Tensor*> slots = {{"q_proj", &L.wq}, {"k_proj", &L.wk}, {"v_proj", &L.wv},
                                                {"o_proj", &L.wo}, {"gate_proj", &L.w_gate}, {"up_proj", &L.w_up},
                                                {"down_proj", &L.w_down}};
    for (const auto& [m, mod] : a.layers[l]) {
      at::Tensor& W = *slots.at(m);
      W = (W.to(at::kFloat) + at::matmul(mod.b, mod.a)).to(W.scalar_type()).contiguous();
    }
  }
  return w;
}

ValueHead ValueHead::load(const std::string& file, int64_t d) {
  SafetensorsFile st(file);
  const TensorView* w = st.find("v_head.summary.weight");
  const TensorView* b = st.find("v_head.summary.bias");
  if (w == nullptr) throw_invalid(file, ": missing tensor 'v_head.summary.weight'");
  if (b == nullptr) throw_invalid(file, ": missing tensor 'v_head.summary.bias'");
  ValueHead h{to_tensor(*w), to_tensor(*b)};
  if (h.weight.sizes() != at::IntArrayRef({d, d}) || h.bias.sizes() != at::IntArrayRef({d}))
    throw_invalid(file, ": value head is ", h.weight.sizes(), " + ", h.bias.sizes(), " but the base model's hidden size is ",
                  d, " (expected [", d, ", ", d, "] + [", d, "])");
  return h;
}

ValueHead ValueHead::identity(int64_t d) { return {at::eye(d, at::kFloat), at::zeros({d}, at::kFloat)}; }

void ValueHead::save(const std::string& file) const {
  write_safetensors(file, {to_bytes("v_head.summary.weight", weight), to_bytes("v_head.summary.bias", bias)});
}

// Training goes through at::linear (autograd); decoding through pad's kernels on the pool (ATen runs
// single-threaded during inference, and this d×d product is read once per step).
at::Tensor ValueHead::apply(const at::Tensor& hidden) const {
  const bool autograd = at::GradMode::is_enabled() && (hidden.requires_grad() || weight.requires_grad() ||
                                                     (bias.defined() && bias.requires_grad()));
  if (autograd || hidden.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat || !weight.is_contiguous() ||
      !weight.device().is_cpu() || !hidden.device().is_cpu())
    return at::linear(hidden, weight, bias);
  return kernels::linear(hidden, kernels::WeightMatrix::from_tensor(weight), bias);
}

}  // namespace pad
