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
  LoadedModel m = load_weights(f.model, LoadOptions{parse_dtype(f.dtype)});
  const ModelConfig& c = m.config;
  nlohmann::json j = {
      {"path", m.path}, {"format", m.format}, {"architecture", arch_name(c.arch)},
      {"n_params", c.n_params()}, {"n_vocab", c.n_vocab}, {"d_model", c.d_model}, {"n_layer", c.n_layer},
      {"n_head", c.n_head}, {"n_kv_head", c.n_kv_head}, {"head_dim", c.head_dim}, {"d_ff", c.d_ff},
      {"rope_theta", c.rope_theta}, {"rope_scaling", c.rope_scaling.type.empty() ? "none" : c.rope_scaling.type},
      {"rms_norm_eps", c.rms_norm_eps}, {"tie_embeddings", c.tie_embeddings}, {"attn_bias", c.attn_bias},
      {"qk_norm", c.qk_norm}, {"tied_from", m.tied_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.tied_from)},
      {"file_dtype", m.file_dtype}, {"compute_dtype", f.dtype}, {"tokenizer", tokenizer_kind(f.model)}};
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
  } else {
    throw_invalid("--preset '", name, "' is not known (expected tiny, small or 100m)");
  }
  c.head_dim = c.d_model / c.n_head;
  return c;
}

void run_create(const CreateFlags& f) {
  ModelConfig c = preset_config(f.preset);
  if (f.n_vocab > 0) c.n_vocab = f.n_vocab;
  c.validate("--preset " + f.preset);
  save_hf_model(f.out, c, random_weights(c, at::kFloat, f.seed));
  std::cout << "wrote " << f.out << " (" << c.n_params() << " parameters, random weights, seed " << f.seed << ")\n";
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = app.add_subcommand("create-model", "Write a Llama model with random weights (HF directory)");
  create->add_option("--out", cf->out, "output directory")->required();
  create->add_option("--preset", cf->preset, "tiny | small | 100m");
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
