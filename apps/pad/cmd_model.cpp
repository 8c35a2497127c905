// `pad info`, `pad logits`, `pad generate`: inspect a model, print its logits, generate text or ids.
#include <ATen/Parallel.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "demo_command.h"
#include "generate_command.h"
#include "common.h"
#include "pad/decode/generate.h"
#include "pad/format/gguf.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/log.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

std::string tokenizer_kind(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(path)) {
    GgufFile g(path);
    auto model = g.get_string_opt("tokenizer.ggml.model");
    if (!model) return "none";
    auto pre = g.get_string_opt("tokenizer.ggml.pre");
    return "gguf " + *model + (pre ? " (pre-tokenizer " + *pre + ")" : "");
  }
  if (fs::exists(fs::path(path) / "tokenizer.json")) {
    auto j = nlohmann::json::parse(read_file((fs::path(path) / "tokenizer.json").string()), nullptr, false);
    std::string type = j.is_object() && j.contains("model") ? j["model"].value("type", "?") : "?";
    return "tokenizer.json " + type;
  }
  if (fs::exists(fs::path(path) / "tokenizer.model")) return "sentencepiece tokenizer.model";
  return "none";
}

void run_info(const ModelFlags& f) {
  apply_threads(f);
  LoadedModel m = load_weights(f.model, load_options(f));
  const ModelConfig c = m.config;
  const DeviceOptions place = device_options(f);
  Model model(m.config, std::move(m.weights), m.path);
  if (!place.device.is_cpu() || generic_ops_requested()) model.to_device(place);  // "placement" states the conversion
  nlohmann::json j = {
      {"path", m.path}, {"format", m.format}, {"architecture", arch_name(c.arch)},
      {"n_params", c.n_params()}, {"n_vocab", c.n_vocab}, {"d_model", c.d_model}, {"n_layer", c.n_layer},
      {"n_head", c.n_head}, {"n_kv_head", c.n_kv_head}, {"head_dim", c.head_dim}, {"d_ff", c.d_ff},
      {"rope_theta", c.rope_theta}, {"rope_scaling", c.rope_scaling.type.empty() ? "none" : c.rope_scaling.type},
      {"rms_norm_eps", c.rms_norm_eps}, {"tie_embeddings", c.tie_embeddings}, {"attn_bias", c.attn_bias},
      {"qk_norm", c.qk_norm}, {"tied_from", m.tied_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.tied_from)},
      {"file_dtype", m.file_dtype}, {"weight_types", model.weight_types()}, {"placement", model.placement()}, {"weight_bytes", model.weight_bytes()},
      {"converted_at_load", f.dtype.empty() ? "no" : f.dtype}, {"tokenizer", tokenizer_kind(f.model)}};
  std::cout << j.dump(2) << "\n";
}

void run_logits(const ModelFlags& f, const std::string& ids_text, int top) {
  if (top <= 0) throw_invalid("--top ", top, " is out of range (expected ≥ 1)");
  auto model = load_model(f);
  std::vector<int> ids = parse_int_list(ids_text, "--ids");
  int slot = model->create_slot();
  ForwardOutput out = model->forward({Row{slot, ids, true}});
  at::Tensor logits = out.logits;  // [T, V] f32
  const int64_t k = std::min<int64_t>(top, logits.size(1));
  auto [values, indices] = logits.topk(k, 1);
  for (int64_t p = 0; p < logits.size(0); ++p) {
    nlohmann::json row = {{"pos", p}, {"top", nlohmann::json::array()}};
    for (int64_t i = 0; i < k; ++i)
      row["top"].push_back({indices[p][i].item<int64_t>(), values[p][i].item<float>()});
    std::cout << row.dump() << "\n";
  }
}

struct CreateFlags {
  std::string out;
  std::string preset = "tiny";
  std::string type = "f32";  // stored type of the matrices (GGUF output: any pad reads, or q4_K_M / q5_K_M)
  uint64_t seed = 1;
  int64_t n_vocab = 0;  // 0 = the preset's
};

ModelConfig preset_config(const std::string& name) {
  ModelConfig c;
  if (name == "tiny") {
    c.n_vocab = 512, c.d_model = 64, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2, c.d_ff = 172;
  } else if (name == "small") {
    c.n_vocab = 4096, c.d_model = 256, c.n_layer = 4, c.n_head = 8, c.n_kv_head = 4, c.d_ff = 704;
  } else if (name == "100m") {
    c.n_vocab = 32000, c.d_model = 768, c.n_layer = 12, c.n_head = 12, c.n_kv_head = 12, c.d_ff = 2048;
    c.tie_embeddings = true;
  } else if (name == "98m") {  // the llama.cpp comparison model of docs/benchmarks.md
    c.n_vocab = 8192, c.d_model = 768, c.n_layer = 12, c.n_head = 12, c.n_kv_head = 12, c.d_ff = 2048;
  } else if (name == "llama-3.2-1b" || name == "llama-3-8b") {
    const bool small = name == "llama-3.2-1b";
    c.n_vocab = 128256, c.n_head = 32, c.n_kv_head = 8, c.rope_theta = 500000, c.max_position = 8192;
    c.d_model = small ? 2048 : 4096, c.n_layer = small ? 16 : 32, c.d_ff = small ? 8192 : 14336;
    c.tie_embeddings = small;
    if (small) c.rope_scaling = RopeScaling{"llama3", 32.0, 1.0, 4.0, 8192};
  } else {
    throw_invalid("--preset '", name, "' is not known (expected tiny, small, 100m, 98m, llama-3.2-1b or llama-3-8b)");
  }
  c.head_dim = c.d_model / c.n_head;
  return c;
}

// Random tensors generated one at a time from a seed and the tensor's name, so a model larger than
// memory in f32 can be written (the 8B GGUF) and every tensor is the same whatever the output type.
at::Tensor random_tensor(const ModelConfig& c, uint64_t seed, const std::string& name, const std::vector<int64_t>& shape) {
  at::Generator gen = at::detail::createCPUGenerator(seed ^ std::hash<std::string>{}(name));
  if (shape.size() == 1) {
    if (name.find("bias") != std::string::npos) return 0.1 * at::randn(shape, gen, at::kFloat);
    return at::ones(shape, at::kFloat) + 0.1 * at::randn(shape, gen, at::kFloat);
  }
  return at::randn(shape, gen, at::kFloat) * (1.0 / std::sqrt(static_cast<double>(c.d_model)));
}

void run_create(const CreateFlags& f) {
  ModelConfig c = preset_config(f.preset);
  if (f.n_vocab > 0) c.n_vocab = f.n_vocab;
  c.validate("--preset " + f.preset);
  const bool gguf = f.out.size() > 5 && f.out.substr(f.out.size() - 5) == ".gguf";
  if (gguf) {
    gguf_export_type(f.type, "blk.0.attn_q.weight", 0, c.n_layer);  // validates --type before any work
    auto supply = [&](const std::string& name, const std::vector<int64_t>& shape) { return random_tensor(c, f.seed, name, shape); };
    save_gguf_model(f.out, c, supply, f.type, synthetic_gguf_vocab(c.n_vocab));
    std::cout << "wrote " << f.out << " (" << c.n_params() << " parameters, " << f.type << ", random weights, seed "
              << f.seed << ")\n";
    return;
  }
  if (f.type != "f32" && f.type != "bf16")
    throw_invalid("--type ", f.type, " needs a .gguf output (Hugging Face directories are written as f32 or bf16)");
  ModelWeights w = random_weights(c, f.type == "bf16" ? at::kBFloat16 : at::kFloat, f.seed);
  save_hf_model(f.out, c, w);
  std::cout << "wrote " << f.out << " (" << c.n_params() << " parameters, random weights, seed " << f.seed << ")\n";
}

struct ConvertFlags {
  ModelFlags model;
  std::string out;
  std::string type = "q4_K_M";
};

// Any model pad reads (HF directory or GGUF) as a GGUF file of another type: its float weights
// (quantized inputs are dequantized first) re-encoded, its GGUF vocabulary carried over.
void run_convert(const ConvertFlags& f) {
  apply_threads(f.model, /*inference=*/true);
  gguf_export_type(f.type, "blk.0.attn_q.weight", 0, 1);  // validates --type before loading
  LoadedModel m = load_weights(f.model.model, LoadOptions{at::kFloat, false});
  std::map<std::string, GgufValue> vocab;
  if (!is_directory(f.model.model)) {
    const GgufFile file(f.model.model);  // a named file: metadata() refers into it
    for (const auto& [key, value] : file.metadata())
      if (key.rfind("tokenizer.", 0) == 0) vocab[key] = value;
  }
  save_gguf_model(f.out, m.config, weights_supplier(m.weights), f.type, vocab);
  std::cout << "wrote " << f.out << " (" << f.type << ")\n";
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto cv = std::make_shared<ConvertFlags>();
  CLI::App* convert = app.add_subcommand("convert", "Write a model as a GGUF file of another type (quantize, dequantize)");
  convert->add_option("-m,--model", cv->model.model, "Hugging Face directory or .gguf file")->required();
  convert->add_option("--out", cv->out, "output .gguf file")->required();
  convert->add_option("--type", cv->type, "f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K, q4_K_M (default), q5_K_M");
  convert->add_option("--threads", cv->model.threads, "threads (0 = all cores)");
  convert->callback([cv] { run_convert(*cv); });

  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = app.add_subcommand("create-model", "Write a Llama model with random weights (HF directory, or GGUF for --out *.gguf)");
  create->add_option("--out", cf->out, "output directory")->required();
  create->add_option("--preset", cf->preset, "tiny | small | 100m | 98m | llama-3.2-1b | llama-3-8b");
  create->add_option("--type", cf->type,
                     "stored type: f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K, q4_K_M, q5_K_M (all but f32/bf16 need --out *.gguf)");
  create->add_option("--vocab", cf->n_vocab, "vocabulary size (default: the preset's)");
  create->add_option("--seed", cf->seed, "weight seed");
  create->callback([cf] { run_create(*cf); });

  auto info_flags = std::make_shared<ModelFlags>();
  CLI::App* info = app.add_subcommand("info", "Describe a model: architecture, sizes, dtypes, tokenizer");
  info->add_option("model", info_flags->model, "Hugging Face directory or .gguf file")->required();
  add_runtime_flags(*info, *info_flags);
  info->callback([info_flags] { run_info(*info_flags); });

  auto logits_flags = std::make_shared<ModelFlags>();
  auto ids = std::make_shared<std::string>();
  auto top = std::make_shared<int>(5);
  CLI::App* logits = app.add_subcommand("logits", "Print the top logits at every position of an id sequence");
  add_model_flags(*logits, *logits_flags);
  logits->add_option("--ids", *ids, "comma-separated token ids")->required();
  logits->add_option("--top", *top, "how many (id, logit) pairs per position");
  logits->callback([=] { run_logits(*logits_flags, *ids, *top); });

  add_generate_command(app);
  add_demo_command(app);
}

}  // namespace pad::cli
