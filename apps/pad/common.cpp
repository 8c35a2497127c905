// Shared flag handling for the `pad` subcommands.
#include "common.h"

#include <ATen/Parallel.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <thread>

#include "pad/format/gguf.h"
#include "pad/model/adapters.h"
#include "pad/tokenizer/chat_template.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/thread_pool.h"

namespace pad::cli {

void add_runtime_flags(CLI::App& app, ModelFlags& f) {
  app.add_option("--device", f.device, "cpu (default), cuda or cuda:N: where the weights, caches and PAD step live");
  app.add_option("--dtype", f.dtype,
                 "convert the weights at load to f32 or bf16 (default: keep the type the file stores; on cuda: bf16, "
                 "or f16/f32 on request, quantized types dequantized)")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  app.add_option("--kv-type", f.kv_type, "key/value cache type: f32 (default on the CPU), f16 or bf16 (default on cuda: the weight type)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  app.add_option("--threads", f.threads, "threads (0 = all cores)")->check(CLI::NonNegativeNumber);
}

void add_model_flags(CLI::App& app, ModelFlags& f) {
  app.add_option("-m,--model", f.model, "Hugging Face directory or .gguf file")->required();
  add_runtime_flags(app, f);
}

void add_prompt_flags(CLI::App& app, PromptFlags& f) {
  app.add_option("-p,--prompt", f.text, "prompt text (else --file, else standard input)");
  app.add_option("--file", f.file, "read the prompt text from this file");
  app.add_option("--ids", f.ids, "comma-separated prompt token ids (no template, no tokenizer)");
  app.add_flag("--chat", f.chat, "wrap the prompt in the model's chat template as a user turn");
  app.add_option("--chat-template", f.chat_template, kChatTemplateHelp);
  app.add_option("--system", f.system, "system message for --chat");
}

void add_sampling_flags(CLI::App& app, SamplingOptions& s) {
  app.add_option("--temp", s.temperature, "temperature; 0 = greedy (default)");
  app.add_option("--top-k", s.top_k, "keep the k most likely tokens (0 = off)");
  app.add_option("--top-p", s.top_p, "nucleus sampling threshold (1 = off)");
  app.add_option("--min-p", s.min_p, "drop tokens below min_p × the top probability (0 = off)");
  app.add_option("--seed", s.seed, "sampling seed");
}

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "f32") return at::kFloat;
  if (name == "bf16") return at::kBFloat16;
  throw_invalid("--dtype '", name, "' is not supported (expected f32 or bf16)");
}

LoadOptions load_options(const ModelFlags& f) {
  LoadOptions o;
  // Off the CPU the model converts once at to_device(), from the stored types.
  o.keep_stored = f.dtype.empty() || f.device != "cpu";
  if (!o.keep_stored) o.dtype = parse_dtype(f.dtype);
  return o;
}

void apply_threads(const ModelFlags& f, bool inference) {
  int n = f.threads > 0 ? f.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(inference ? 1 : n);  // ATen's ops: training's autograd, LoRA terms, samplers
  pad::set_num_threads(n);  // pad's pool: products, attention
}

DeviceOptions device_options(const ModelFlags& f) {
  DeviceOptions o;
  o.device = parse_device(f.device);
  if (o.device.is_cpu() && f.dtype == "f16") throw_invalid("--dtype f16 needs --device cuda (the CPU keeps f32 or bf16)");
  if (!o.device.is_cpu() && !f.dtype.empty()) o.dtype = f.dtype == "f16" ? at::kHalf : parse_dtype(f.dtype);
  o.validate();
  return o;
}

std::shared_ptr<Model> load_model_at(const std::string& path, const ModelFlags& f) {
  const DeviceOptions place = device_options(f);
  auto m = Model::load(path, load_options(f));
  const std::string kv = !f.kv_type.empty() ? f.kv_type : place.device.is_cpu() ? "f32" : float_type_name(place.resolved_dtype());
  m->set_kv_type(kv == "f16" ? at::kHalf : kv == "bf16" ? at::kBFloat16 : at::kFloat);
  if (!place.device.is_cpu() || generic_ops_requested()) m->to_device(place);
  return m;
}

std::shared_ptr<Model> load_model(const ModelFlags& f) {
  apply_threads(f, /*inference=*/true);
  return load_model_at(f.model, f);
}

bool has_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path))
    return fs::exists(fs::path(path) / "tokenizer.json") || fs::exists(fs::path(path) / "tokenizer.model");
  if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") return GgufFile(path).has("tokenizer.ggml.tokens");
  return false;
}

std::string read_prompt_text(const PromptFlags& f) {
  if (!f.text.empty()) return f.text;
  if (!f.file.empty()) return read_file(f.file);
  if (isatty(STDIN_FILENO)) throw_invalid("no prompt: give -p TEXT, --file F, --ids, or pipe text on standard input");
  return std::string(std::istreambuf_iterator<char>(std::cin), {});
}

bool vocabulary_differs(const Tokenizer& base, const Tokenizer& other) {
  if (other.n_vocab() != base.n_vocab()) return true;
  for (int id = 0; id < base.n_vocab(); ++id)
    if (other.token_piece(id) != base.token_piece(id)) return true;
  return false;
}

std::shared_ptr<const Tokenizer> tokenizer_of(const std::string& model_path) {
  if (!has_tokenizer(model_path)) return nullptr;
  return Tokenizer::load(model_path);
}

PersRm load_persrm(const PersRmFlags& f, const ModelFlags& model, Model& base,
                   const std::shared_ptr<const Tokenizer>& tok) {
  const int n_forms = !f.persrm.empty() + !f.persrm_lora.empty() + !f.persrm_head.empty();
  if (n_forms > 1) throw_invalid("give one of --persrm, --persrm-lora, --persrm-head");
  PersRm rm;
  if (!f.persrm.empty()) {
    std::shared_ptr<const Tokenizer> own = tok ? tokenizer_of(f.persrm) : nullptr;
    if (own && vocabulary_differs(*tok, *own)) {
      if (!f.allow_vocab_mismatch)
        throw_invalid(f.persrm, ": vocabulary differs from the base model's (a PersRM must share it, or pass ",
                      "--allow-vocab-mismatch to map each candidate through its text)");
      rm.bridge = std::make_shared<VocabBridge>();
      rm.bridge->base = tok;
      rm.bridge->persrm = own;
    }
    rm.form = PersRm::Form::kFull;
    rm.model = load_model_at(f.persrm, model);
    const std::string head = f.persrm + "/value_head.safetensors";
    if (std::filesystem::is_directory(f.persrm) && file_exists(head))  // LLaMA-Factory layout (DESIGN §1)
      rm.head = std::make_shared<ValueHead>(ValueHead::load(head, rm.model->config().d_model));
  } else if (!f.persrm_lora.empty()) {
    rm.form = PersRm::Form::kLora;
    rm.adapter = base.add_adapter(LoraAdapter::load(f.persrm_lora, base.config()));
  } else if (!f.persrm_head.empty()) {
    rm.form = PersRm::Form::kHead;
    rm.head = std::make_shared<ValueHead>(ValueHead::load(f.persrm_head, base.config().d_model));
  }
  if (rm.head) {  // the head multiplies the backbone's hidden states where they are
    const at::Device dev = rm.model ? rm.model->device() : base.device();
    rm.head->weight = rm.head->weight.to(dev), rm.head->bias = rm.head->bias.to(dev);
  }
  return rm;
}

BenchPersrms bench_persrms(Model& base, int lora_rank) {
  const ModelConfig& c = base.config();
  LoraAdapter lora = LoraAdapter::create(c, lora_rank, 2.0 * lora_rank, {"q_proj", "k_proj", "v_proj", "o_proj"}, 3);
  for (auto& layer : lora.layers)
    for (auto& [name, m] : layer) m.b = at::randn(m.b.sizes()) * 0.01;
  BenchPersrms out{base.add_adapter(std::move(lora)), std::make_shared<ValueHead>(ValueHead::identity(c.d_model))};
  out.head->weight += 0.01 * at::randn({c.d_model, c.d_model});
  out.head->weight = out.head->weight.to(base.device()), out.head->bias = out.head->bias.to(base.device());
  return out;
}

}  // namespace pad::cli
