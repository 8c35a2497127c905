// tokenizer_config.json and generation_config.json: BOS/EOS tokens and whether to add them, extra
// added tokens, the chat template, and the ids that end generation.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "pad/tokenizer/tokenizer_parts.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

using Json = nlohmann::json;

int find_token(const TokenizerParts& parts, const std::string& text) {
  for (const AddedToken& t : parts.added_tokens)
    if (t.content == text) return t.id;
  return parts.model->find(text);
}

// A special-token field: a string, {"content": ...} or null.
std::string token_content(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

Json parse_json_file(const std::string& path) {
  try {
    return Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    throw_invalid(path, ": not valid JSON: ", e.what());
  }
}

int resolve_token(const TokenizerParts& parts, const Json& cfg, const char* key, const std::string& path) {
  if (!cfg.contains(key)) return -2;  // not mentioned
  std::string text = token_content(cfg[key]);
  if (text.empty()) return -1;
  int id = find_token(parts, text);
  if (id < 0) throw_invalid(path, ": ", key, " '", text, "' is not a token of the vocabulary");
  return id;
}

// tokenizer_config.json's added_tokens_decoder: {"32000": {"content": ..., "special": true, ...}}.
void merge_added_tokens(TokenizerParts& parts, const Json& dec, const std::string& path) {
  for (auto it = dec.begin(); it != dec.end(); ++it) {
    int id = 0;
    try {
      id = std::stoi(it.key());
    } catch (const std::exception&) {
      throw_invalid(path, ": added_tokens_decoder key '", it.key(), "' is not a token id");
    }
    bool known = std::any_of(parts.added_tokens.begin(), parts.added_tokens.end(),
                             [&](const AddedToken& t) { return t.id == id; });
    if (known) continue;
    AddedToken a;
    a.id = id;
    a.content = it.value().at("content").get<std::string>();
    a.special = it.value().value("special", false);
    a.lstrip = it.value().value("lstrip", false);
    a.rstrip = it.value().value("rstrip", false);
    a.single_word = it.value().value("single_word", false);
    parts.added_tokens.push_back(std::move(a));
  }
}

void set_flag(std::vector<int>& ids, int id, bool on, bool front) {
  auto it = std::find(ids.begin(), ids.end(), id);
  if (on && it == ids.end()) ids.insert(front ? ids.begin() : ids.end(), id);
  if (!on && it != ids.end()) ids.erase(it);
}

std::optional<std::string> parse_chat_template(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) {  // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
    for (const Json& t : j)
      if (t.value("name", "") == "default") return t.at("template").get<std::string>();
    if (!j.empty()) return j[0].at("template").get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

void apply_tokenizer_config(TokenizerParts& parts, const std::string& config_path,
                            const std::string& generation_config_path) {
  if (!config_path.empty()) {
    Json cfg = parse_json_file(config_path);
    try {
      if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object())
        merge_added_tokens(parts, cfg["added_tokens_decoder"], config_path);
      int bos = resolve_token(parts, cfg, "bos_token", config_path);
      int eos = resolve_token(parts, cfg, "eos_token", config_path);
      if (bos != -2) parts.bos_id = bos;
      if (eos != -2) parts.eos_id = eos;
      if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean() && parts.bos_id >= 0)
        set_flag(parts.prefix_ids, parts.bos_id, cfg["add_bos_token"].get<bool>(), true);
      if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean() && parts.eos_id >= 0)
        set_flag(parts.suffix_ids, parts.eos_id, cfg["add_eos_token"].get<bool>(), false);
      if (cfg.contains("chat_template")) parts.chat_template = parse_chat_template(cfg["chat_template"]);
    } catch (const Json::exception& e) {
      throw_invalid(config_path, ": unexpected structure: ", e.what());
    }
    size_t slash = config_path.find_last_of('/');
    std::string jinja = (slash == std::string::npos ? std::string() : config_path.substr(0, slash + 1)) + "chat_template.jinja";
    if (!parts.chat_template && file_exists(jinja)) parts.chat_template = read_file(jinja);
  }
  if (!generation_config_path.empty()) {
    Json gen = parse_json_file(generation_config_path);
    const Json eos = gen.value("eos_token_id", Json());
    if (eos.is_number_integer()) parts.extra_eos_ids.push_back(eos.get<int>());
    if (eos.is_array())
      for (const Json& e : eos)
        if (e.is_number_integer()) parts.extra_eos_ids.push_back(e.get<int>());
  }
}

void add_known_eos_tokens(TokenizerParts& parts) {
  static const char* const kEndOfTurn[] = {"<|eot_id|>",   "<|eom_id|>", "<|im_end|>", "<end_of_turn>",
                                           "<|end|>",      "<|endoftext|>", "<|end_of_text|>", "</s>",
                                           "<|END_OF_TURN_TOKEN|>", "<EOT>"};
  for (const char* text : kEndOfTurn)
    for (const AddedToken& t : parts.added_tokens)
      if (t.special && t.content == text) parts.extra_eos_ids.push_back(t.id);
}

}  // namespace pad
