// Prompt construction shared by `pad generate`, `pad eval` and training data (kept identical).
#include "pad/decode/prompts.h"

#include "pad/tokenizer/chat_template.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"

#include <algorithm>

namespace pad {

std::string guideline_text(const PromptSpec& spec, const std::string& principle) {
  if (principle.empty()) return spec.user;
  return apply_guideline(spec.guideline_template, principle, spec.user);
}

std::vector<int> encode_user_turn(const Tokenizer& tok, const PromptSpec& spec, const std::string& content) {
  const auto& tmpl = tok.chat_template();
  const bool have = tmpl.has_value() || !spec.chat_template_override.empty();
  if (spec.chat == ChatMode::kAlways && !have)
    throw_invalid(tok.source(), ": --chat needs a chat template; the tokenizer has none (name one with --chat-template)");
  if (spec.chat == ChatMode::kNever || !have) {
    if (spec.history.empty()) return tok.encode(content);
    std::string text;  // no template: the turns one after another
    for (const ChatMessage& m : spec.history) text += m.content + "\n";
    return tok.encode(text + content);
  }
  std::vector<ChatMessage> messages;
  if (!spec.system.empty()) messages.push_back({"system", spec.system});
  messages.insert(messages.end(), spec.history.begin(), spec.history.end());
  messages.push_back({"user", content});
  const std::string text =
      render_chat(tmpl.value_or(""), messages, /*add_generation_prompt=*/true, tok.bos_text(), tok.eos_text(),
                  spec.chat_template_override);
  return tok.encode(text, EncodeOptions{/*add_special=*/false, /*parse_special=*/true});  // BOS is in the text
}

RequestPrompts build_prompts(const Tokenizer& tok, const PromptSpec& spec, Strategy strategy) {
  spec.preference.validate();
  RequestPrompts p;
  const bool has_pref = !spec.preference.principles.empty();
  if (strategy == Strategy::kBase || !has_pref) {
    if (strategy == Strategy::kPad || strategy == Strategy::kBestOfN)
      throw_invalid("--strategy ", strategy_name(strategy), " needs a preference (--preference or --preference-weights)");
    p.base = encode_user_turn(tok, spec, spec.user);
    return p;
  }
  p.base = encode_user_turn(tok, spec, guideline_text(spec, spec.preference.joined()));
  if (strategy == Strategy::kPrompt) return p;
  if (spec.preference.weighted) {
    for (const Principle& pr : spec.preference.principles) {
      p.principles.push_back(encode_user_turn(tok, spec, guideline_text(spec, pr.text)));
      p.weights.push_back(pr.weight);
    }
  } else {
    p.principles.push_back(p.base);
    p.weights.push_back(1.0);
  }
  return p;
}

}  // namespace pad

namespace pad {

Strategy default_strategy(bool has_preference, bool has_persrm) {
  return has_preference && has_persrm ? Strategy::kPad : has_preference ? Strategy::kPrompt : Strategy::kBase;
}

std::vector<int> stop_ids(const ModelConfig& config, const Tokenizer* tok) {
  std::vector<int> ids = config.eos_ids;
  if (tok != nullptr)
    for (int id : tok->eos_ids())
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

}  // namespace pad
