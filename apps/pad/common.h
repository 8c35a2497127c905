// Flags and helpers shared by the `pad` subcommands: model loading, threads, prompts, sampling.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "pad/decode/engine.h"
#include "pad/decode/prompts.h"  // stop_ids, default_strategy
#include "pad/decode/sampler.h"
#include "pad/model/model.h"

namespace pad {
class Tokenizer;
}

namespace pad::cli {

struct ModelFlags {
  std::string model;        // HF directory or .gguf
  std::string dtype;        // "" keeps the stored type (DESIGN §5); f32 | bf16 converts at load; on cuda also f16
  std::string kv_type;      // key/value cache type: f32 | f16 | bf16; "" = f32 on the CPU, the weight type on cuda
  std::string device = "cpu";  // cpu | cuda | cuda:N (DESIGN §5)
  int threads = 0;          // 0 = all cores
};

// The PersRM in one of its forms (DESIGN §1); at most one of the three paths is set.
struct PersRmFlags {
  std::string persrm;               // --persrm: full model (HF directory or .gguf)
  std::string persrm_lora;          // --persrm-lora: PEFT LoRA directory on the base model
  std::string persrm_head;          // --persrm-head: value head safetensors on the base backbone
  bool allow_vocab_mismatch = false;  // full form only: bridge a different vocabulary through text
  bool given() const { return !persrm.empty() || !persrm_lora.empty() || !persrm_head.empty(); }
};

struct PromptFlags {
  std::string text;            // -p
  std::string file;            // --file
  std::string ids;             // --ids (raw ids, no template)
  bool chat = false;           // wrap in the model's chat template
  std::string chat_template;   // --chat-template FILE|NAME override
  std::string system;          // optional system message with --chat
};

void add_runtime_flags(CLI::App& app, ModelFlags& f);  // --device, --dtype, --kv-type, --threads
void add_model_flags(CLI::App& app, ModelFlags& f);    // -m plus runtime flags
void add_prompt_flags(CLI::App& app, PromptFlags& f);
inline constexpr const char* kChatTemplateHelp =
    "FILE|NAME: render with this Jinja file, or a built-in renderer (chatml, llama3, llama2, mistral, gemma, "
    "zephyr), instead of the model's own template";
void add_sampling_flags(CLI::App& app, SamplingOptions& s);

at::ScalarType parse_dtype(const std::string& name);
LoadOptions load_options(const ModelFlags& f);  // --dtype: stored types unless a conversion is asked for
// --threads for pad's pool and ATen's. Inference keeps ATen to one thread: pad's pool runs every
// hot loop, and two thread pools spinning on the same cores slow each other down.
void apply_threads(const ModelFlags& f, bool inference = false);
std::shared_ptr<Model> load_model(const ModelFlags& f);
// --device and --dtype as the model's placement (PAD_GENERIC_OPS=1 turns the CPU into the generic
// path); validated, so `--device cuda` without CUDA fails here, before anything is loaded.
DeviceOptions device_options(const ModelFlags& f);
// Another model (a full PersRM, a reference) with the same runtime flags as the base: kv type, device.
std::shared_ptr<Model> load_model_at(const std::string& path, const ModelFlags& f);

bool has_tokenizer(const std::string& model_path);
std::string read_prompt_text(const PromptFlags& f);  // -p, else --file, else stdin

// True when `other_path` has a tokenizer whose vocabulary differs from the base's.
bool vocabulary_differs(const Tokenizer& base, const Tokenizer& other);
std::shared_ptr<const Tokenizer> tokenizer_of(const std::string& model_path);  // null when it has none
// Loads the PersRM the flags name (Form::kNone when none); a LoRA is registered on `base`. A full
// PersRM directory carrying value_head.safetensors gets that head too (LLaMA-Factory layout).
PersRm load_persrm(const PersRmFlags& f, const ModelFlags& model, Model& base,
                   const std::shared_ptr<const Tokenizer>& tok);

// The PersRMs `pad bench pad` and `pad bench gpu` time on a base: a rank-r LoRA on q/k/v/o with small
// random B, added to `base` (its index returned), and a value head near the identity on base's device.
struct BenchPersrms {
  int adapter;
  std::shared_ptr<ValueHead> head;
};
BenchPersrms bench_persrms(Model& base, int lora_rank);

}  // namespace pad::cli
