// Flags and helpers shared by the `pad` subcommands: model loading, threads, prompts, sampling.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "pad/decode/sampler.h"
#include "pad/model/model.h"

namespace pad {
class Tokenizer;
}

namespace pad::cli {

struct ModelFlags {
  std::string model;        // HF directory or .gguf
  std::string dtype = "f32";  // compute dtype: f32 | bf16
  int threads = 0;          // 0 = all cores
};

struct PromptFlags {
  std::string text;            // -p
  std::string file;            // --file
  std::string ids;             // --ids (raw ids, no template)
  bool chat = false;           // wrap in the model's chat template
  std::string chat_template;   // --chat-template NAME override
  std::string system;          // optional system message with --chat
};

void add_runtime_flags(CLI::App& app, ModelFlags& f);  // --dtype, --threads
void add_model_flags(CLI::App& app, ModelFlags& f);    // -m plus runtime flags
void add_prompt_flags(CLI::App& app, PromptFlags& f);
void add_sampling_flags(CLI::App& app, SamplingOptions& s);

at::ScalarType parse_dtype(const std::string& name);
void apply_threads(const ModelFlags& f);
std::shared_ptr<Model> load_model(const ModelFlags& f);

bool has_tokenizer(const std::string& model_path);
std::string read_prompt_text(const PromptFlags& f);  // -p, else --file, else stdin
std::vector<int> encode_prompt(const Tokenizer& tok, const std::string& text, const PromptFlags& f);
std::vector<int> stop_ids(const ModelConfig& config, const Tokenizer* tok);

}  // namespace pad::cli
