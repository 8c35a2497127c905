// Chat templates: built-in renderers for the families pad serves (ChatML/Qwen, Llama 3, Llama 2,
// Mistral [INST], Gemma, Zephyr/Phi-3), chosen by recognizing markers in the model's Jinja template
// text; details that vary between releases (default system prompt, spacing around [INST], the
// Llama 3.1 date preamble) are read from that text too.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pad {

struct ChatMessage {
  std::string role, content;
};

// Renders `messages` as the template would. `override_name` (one of chat_template_names()) skips
// recognition. Throws std::invalid_argument when the template is not recognized (naming
// --chat-template NAME and the known names) or when the template itself would refuse the
// conversation (e.g. Gemma's "System role not supported").
std::string render_chat(const std::string& template_text, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& bos_text, const std::string& eos_text,
                        const std::string& override_name = "");

// The built-in renderer for `template_text`, or "" when none is recognized.
std::string detect_chat_template(const std::string& template_text);

std::vector<std::string> chat_template_names();

// BOS and EOS texts a family's tokenizer uses, for templates given without a tokenizer (.jinja files).
std::pair<std::string, std::string> default_special_texts(const std::string& name);

}  // namespace pad
