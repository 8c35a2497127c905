// `pad tokenize`, `pad detokenize`, `pad chat-template`: text ⇄ ids and chat rendering from the command line.
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "pad/tokenizer/chat_template.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad::cli {
namespace {

using Json = nlohmann::json;

struct TokenizeFlags {
  std::string model, file, text;
  bool no_special = false;
};

struct DetokenizeFlags {
  std::string model;
  std::vector<std::string> ids;
  bool skip_special = false;
};

struct ChatFlags {
  std::string model, messages, name, bos, eos, tools, thinking;
  bool add_generation_prompt = false;
  bool bos_set = false, eos_set = false;
};

std::string read_stdin() { return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()}; }

void run_tokenize(const TokenizeFlags& f) {
  if (!f.file.empty() && !f.text.empty()) throw_invalid("tokenize: give either TEXT or --file, not both");
  std::string text = !f.file.empty() ? read_file(f.file) : !f.text.empty() ? f.text : read_stdin();
  auto tok = Tokenizer::load(f.model);
  std::vector<int> ids = tok->encode(text, EncodeOptions{!f.no_special, !f.no_special});
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::cout << line << "\n";
}

void run_detokenize(const DetokenizeFlags& f) {
  std::vector<int> ids;
  for (const std::string& arg : f.ids)
    for (int id : parse_int_list(arg, "detokenize IDS")) ids.push_back(id);
  auto tok = Tokenizer::load(f.model);
  std::cout << tok->decode(ids, f.skip_special) << "\n";
}

// The messages file as JSON: a list of objects with a string "role"; "content" is a string, or null
// on an assistant turn that only carries tool_calls. Other fields go to the template unchanged.
nlohmann::ordered_json read_messages(const std::string& path) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(read_file(path));
  } catch (const nlohmann::ordered_json::exception& e) {
    throw_invalid(path, ": not valid JSON: ", e.what());
  }
  if (!j.is_array()) throw_invalid(path, ": expected a JSON list of {\"role\", \"content\"} messages");
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !(m["content"].is_string() || (m["content"].is_null() && m.contains("tool_calls"))))
      throw_invalid(path, ": message [", i, "] needs a string \"role\" and a string \"content\" (or null content with \"tool_calls\")");
  }
  return j;
}

std::vector<ChatMessage> plain_messages(const nlohmann::ordered_json& j, const std::string& path) {
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i]["content"].is_string())
      throw_invalid(path, ": message [", i, "] has no text content, which a built-in renderer needs");
    out.push_back({j[i]["role"].get<std::string>(), j[i]["content"].get<std::string>()});
  }
  return out;
}

std::string config_token(const Json& cfg, const char* key) {
  if (!cfg.contains(key)) return {};
  const Json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

// Template text and BOS/EOS texts from a .jinja file, a tokenizer_config.json, a model directory or a .gguf.
void load_template(const std::string& path, std::string& text, std::string& bos, std::string& eos, bool& have_specials) {
  std::string config = is_directory(path) ? path + "/tokenizer_config.json" : path;
  if (ends_with(path, ".jinja")) {
    text = read_file(path);
    have_specials = false;
    return;
  }
  if (ends_with(config, "tokenizer_config.json") && file_exists(config)) {
    Json cfg;
    try {
      cfg = Json::parse(read_file(config));
    } catch (const Json::exception& e) {
      throw_invalid(config, ": not valid JSON: ", e.what());
    }
    const Json& t = cfg.contains("chat_template") ? cfg["chat_template"] : Json();
    if (t.is_string()) text = t.get<std::string>();
    else if (t.is_array()) {  // named templates: "default" is the one transformers uses
      for (const Json& named : t)
        if (named.is_object() && named.value("name", "") == "default") text = named.value("template", "");
      if (text.empty() && !t.empty() && t[0].is_object()) text = t[0].value("template", "");
    }
    bos = config_token(cfg, "bos_token");
    eos = config_token(cfg, "eos_token");
    std::string jinja = config.substr(0, config.size() - 21) + "chat_template.jinja";
    if (text.empty() && file_exists(jinja)) text = read_file(jinja);
    return;
  }
  auto tok = Tokenizer::load(path);
  text = tok->chat_template().value_or("");
  bos = tok->bos_text();
  eos = tok->eos_text();
}

void run_chat_template(const ChatFlags& f) {
  nlohmann::ordered_json messages = read_messages(f.messages);
  std::string text, bos, eos;
  bool have_specials = true;
  load_template(f.model, text, bos, eos, have_specials);
  const bool builtin = is_builtin_chat_template(f.name);
  if (!f.name.empty() && !builtin) {
    if (!file_exists(f.name))
      throw_invalid("--chat-template '", f.name, "' is neither a built-in chat template (known: ",
                    join(chat_template_names(), ", "), ") nor a Jinja template file");
    text = read_file(f.name);
  }
  if (text.empty() && !builtin)
    throw_invalid(f.model, ": no chat template found; choose a built-in one with --chat-template NAME (known: ",
                  join(chat_template_names(), ", "), ") or a Jinja file with --chat-template FILE");
  if (!have_specials) {  // a bare .jinja file: the family's usual BOS/EOS texts
    std::string family = builtin ? f.name : detect_chat_template(text);
    std::tie(bos, eos) = default_special_texts(family);
  }
  if (f.bos_set) bos = f.bos;
  if (f.eos_set) eos = f.eos;
  if (builtin) {
    std::cout << render_chat_builtin(f.name, text, plain_messages(messages, f.messages), f.add_generation_prompt, bos, eos);
    return;
  }
  ChatOptions options;
  if (!f.tools.empty()) {
    try {
      options.tools = nlohmann::ordered_json::parse(read_file(f.tools));
    } catch (const nlohmann::ordered_json::exception& e) {
      throw_invalid(f.tools, ": not valid JSON: ", e.what());
    }
    if (!options.tools.is_array()) throw_invalid(f.tools, ": expected a JSON list of tool schemas");
  }
  if (f.thinking == "true" || f.thinking == "false") options.enable_thinking = f.thinking == "true";
  for (const auto& m : messages)
    if (m["content"].is_string()) utf8_require_valid(m["content"].get<std::string>(), "chat message content");
  std::cout << render_chat_jinja(text, messages, f.add_generation_prompt, bos, eos, options,
                                 f.name.empty() ? f.model : f.name);
}

}  // namespace

void add_tokenizer_commands(CLI::App& app) {
  auto tf = std::make_shared<TokenizeFlags>();
  CLI::App* tokenize = app.add_subcommand("tokenize", "print the token ids of a text on one line");
  tokenize->add_option("-m,--model", tf->model, "model directory, tokenizer.json, tokenizer.model or .gguf")->required();
  tokenize->add_flag("--no-special", tf->no_special, "no BOS/EOS; special-token text is plain text");
  tokenize->add_option("--file", tf->file, "read the text from this file");
  tokenize->add_option("text", tf->text, "the text (default: --file or stdin)");
  tokenize->callback([tf] { run_tokenize(*tf); });

  auto df = std::make_shared<DetokenizeFlags>();
  CLI::App* detok = app.add_subcommand("detokenize", "print the text of token ids");
  detok->add_option("-m,--model", df->model, "model directory, tokenizer.json, tokenizer.model or .gguf")->required();
  detok->add_flag("--skip-special", df->skip_special, "leave out special tokens");
  detok->add_option("ids", df->ids, "token ids (separated by spaces or commas)")->required();
  detok->callback([df] { run_detokenize(*df); });

  auto cf = std::make_shared<ChatFlags>();
  CLI::App* chat = app.add_subcommand("chat-template", "render messages with a model's chat template");
  chat->add_option("-m,--model", cf->model, "model directory, tokenizer_config.json, .gguf or .jinja file")->required();
  chat->add_option("--messages", cf->messages, "JSON list of {\"role\", \"content\"} messages")->required();
  chat->add_flag("--add-generation-prompt", cf->add_generation_prompt, "end with the assistant turn's opening");
  chat->add_option("--chat-template", cf->name,
                   "FILE|NAME: a Jinja file, or a built-in renderer (chatml, llama3, llama2, mistral, gemma, zephyr)");
  chat->add_option("--tools", cf->tools, "JSON list of tool schemas the template sees as `tools`");
  chat->add_option("--enable-thinking", cf->thinking, "set the template's enable_thinking (Qwen3)")
      ->check(CLI::IsMember({"true", "false"}));
  chat->add_option("--bos", cf->bos, "BOS text (default: the tokenizer's)")->each([cf](const std::string&) { cf->bos_set = true; });
  chat->add_option("--eos", cf->eos, "EOS text (default: the tokenizer's)")->each([cf](const std::string&) { cf->eos_set = true; });
  chat->callback([cf] { run_chat_template(*cf); });
}

}  // namespace pad::cli
