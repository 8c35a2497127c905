// From a user's text and preference to the token ids each engine row sees (DESIGN §1, step 1):
// the guideline template carries the principle, the chat template wraps the user turn.
#pragma once

#include <string>
#include <vector>

#include "pad/decode/engine.h"
#include "pad/decode/preference.h"
#include "pad/tokenizer/chat_template.h"
#include "pad/model/model.h"

namespace pad {

class Tokenizer;

enum class ChatMode { kAuto, kAlways, kNever };  // auto: when the tokenizer has a chat template

struct PromptSpec {
  std::string user;                                      // the user's request
  std::string system;                                    // optional system message (chat only)
  Preference preference;                                 // may be empty (base strategy)
  std::string guideline_template = kDefaultGuidelineTemplate;
  ChatMode chat = ChatMode::kAuto;
  std::string chat_template_override;                    // --chat-template NAME
  std::vector<ChatMessage> history;                      // earlier turns (chat only), after the system message
};

// The user-turn text for one principle ("" = no preference: the plain request).
std::string guideline_text(const PromptSpec& spec, const std::string& principle);

// Encodes one user turn, chat-wrapped according to spec.chat.
std::vector<int> encode_user_turn(const Tokenizer& tok, const PromptSpec& spec, const std::string& content);

// Rows for a strategy. base: the plain request. prompt/pad/best-of-n: the base row sees the joined
// preference; PersRM rows get one prompt per principle when the preference is weighted, else the
// joined one (which then equals the base row's prompt, so the engine shares that row).
RequestPrompts build_prompts(const Tokenizer& tok, const PromptSpec& spec, Strategy strategy);

// The strategy a request gets when it names none: PAD with a preference and a PersRM, preference
// prompting with a preference alone, else plain decoding.
Strategy default_strategy(bool has_preference, bool has_persrm);

// Ids that end generation: the model config's eos ids plus the tokenizer's (may be null).
std::vector<int> stop_ids(const ModelConfig& config, const Tokenizer* tok);

}  // namespace pad
