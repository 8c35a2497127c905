// `pad tokenize`, `pad detokenize`, `pad chat-template`: text ⇄ ids and chat rendering from the command line.
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "pad/tokenizer/chat_template.h"
#include "pad/tokenizer/tokenizer.h"
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
  std::string model, messages, name, bos, eos;
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

std::vector<ChatMessage> read_messages(const std::string& path) {
  Json j;
  try {
    j = Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    throw_invalid(path, ": not valid JSON: ", e.what());
  }
  if (!j.is_array()) throw_invalid(path, ": expected a JSON list of {\"role\", \"content\"} messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& m = j[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      throw_invalid(path, ": message [", i, "] needs string fields \"role\" and \"content\"");
    out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
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
    else if (t.is_array() && !t.empty()) text = t[0].value("template", "");
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
  std::vector<ChatMessage> messages = read_messages(f.messages);
  std::string text, bos, eos;
  bool have_specials = true;
  load_template(f.model, text, bos, eos, have_specials);
  if (text.empty() && f.name.empty())
    throw_invalid(f.model, ": no chat template found; choose a built-in one with --chat-template NAME (known: ",
                  join(chat_template_names(), ", "), ")");
  if (!have_specials) {  // a bare .jinja file: the family's usual BOS/EOS texts
    std::string family = f.name.empty() ? detect_chat_template(text) : f.name;
    std::tie(bos, eos) = default_special_texts(family);
  }
  if (f.bos_set) bos = f.bos;
  if (f.eos_set) eos = f.eos;
  std::cout << render_chat(text, messages, f.add_generation_prompt, bos, eos, f.name);
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
  chat->add_option("--chat-template", cf->name, "built-in renderer: chatml, llama3, llama2, mistral, gemma, zephyr");
  chat->add_option("--bos", cf->bos, "BOS text (default: the tokenizer's)")->each([cf](const std::string&) { cf->bos_set = true; });
  chat->add_option("--eos", cf->eos, "EOS text (default: the tokenizer's)")->each([cf](const std::string&) { cf->eos_set = true; });
  chat->callback([cf] { run_chat_template(*cf); });
}

}  // namespace pad::cli
