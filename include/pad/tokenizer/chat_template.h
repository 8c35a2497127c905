// Chat templates: a model's own Jinja template (tokenizer_config.json, chat_template.jinja, GGUF
// tokenizer.chat_template) rendered by pad's Jinja engine (jinja.h) the way transformers'
// apply_chat_template renders it; and built-in renderers for the families pad serves (ChatML/Qwen,
// Llama 3, Llama 2, Mistral [INST], Gemma, Zephyr/Phi-3), kept as named fallbacks
// (`--chat-template NAME`) for files that carry no template.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pad {

struct ChatMessage {
  std::string role, content;
};

// Variables beyond messages, add_generation_prompt, bos_token and eos_token.
struct ChatOptions {
  nlohmann::ordered_json tools;           // list of tool schemas; null: `tools` is undefined, as
                                          // the reference renderer (tests/chat_render.py) leaves it
  std::optional<bool> enable_thinking;    // Qwen3-style switch; unset: undefined
  nlohmann::ordered_json extra;           // more top-level variables (an object), e.g. documents
};

// Renders `messages` with the model's template. `override_name` is --chat-template FILE|NAME: a
// built-in renderer's name (chat_template_names()) or a Jinja file rendered instead of the model's
// template. Throws std::invalid_argument when there is no template (naming --chat-template NAME),
// when the template does not parse or render (naming its line), or when the template itself refuses
// the conversation through raise_exception (e.g. Gemma's "System role not supported").
std::string render_chat(const std::string& template_text, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& bos_text, const std::string& eos_text,
                        const std::string& override_name = "");

// The Jinja engine alone, with messages as JSON (role, content, tool_calls, ... as the template
// reads them). `template_name` names the template in errors.
std::string render_chat_jinja(const std::string& template_text, const nlohmann::ordered_json& messages,
                              bool add_generation_prompt, const std::string& bos_text, const std::string& eos_text,
                              const ChatOptions& options = {}, const std::string& template_name = "chat template");

// A built-in renderer by name, ignoring any template (`template_text` only tunes details such as a
// default system prompt).
std::string render_chat_builtin(const std::string& name, const std::string& template_text,
                                const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                const std::string& bos_text, const std::string& eos_text);

// The built-in renderer whose family `template_text` looks like, or "" when none is recognized
// (used for a bare .jinja file's BOS/EOS texts).
std::string detect_chat_template(const std::string& template_text);

std::vector<std::string> chat_template_names();
bool is_builtin_chat_template(const std::string& name);

// BOS and EOS texts a family's tokenizer uses, for templates given without a tokenizer (.jinja files).
std::pair<std::string, std::string> default_special_texts(const std::string& name);

}  // namespace pad
