// Chat rendering: the model's Jinja template through pad's engine, or a built-in renderer by name.
// Each built-in mirrors the whitespace of its family's published template (HF renders with
// trim_blocks and lstrip_blocks).
#include "pad/tokenizer/chat_template.h"

#include <functional>
#include <map>
#include <memory>

#include "pad/tokenizer/jinja.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"
#include "pad/util/file.h"
#include "pad/util/strings.h"

namespace pad {
namespace {

using Messages = std::vector<ChatMessage>;

bool contains(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

// Python's str.strip(), which Jinja's trim filter uses.
std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t i = b;
    if (!is_unicode_whitespace(utf8_decode(s, i))) break;
    b = i;
  }
  while (e > b) {
    size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!is_unicode_whitespace(utf8_decode(s, i))) break;
    e = start;
  }
  return std::string(s.substr(b, e - b));
}

std::string jinja_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
  }
  return out;
}

// The quoted string literal of the template that contains the occurrence of `needle` at `pos`
// (unescaped), or "" when `pos` is not inside a literal on one line.
std::string literal_at(const std::string& t, size_t pos, size_t needle_len) {
  size_t l = pos;
  while (l > 0 && t[l - 1] != '\'' && t[l - 1] != '"' && t[l - 1] != '\n') --l;
  if (l == 0 || t[l - 1] == '\n') return {};
  char q = t[l - 1];
  size_t r = pos + needle_len;
  while (r < t.size() && t[r] != q && t[r] != '\n') r += t[r] == '\\' ? 2 : 1;
  if (r >= t.size() || t[r] != q) return {};
  return jinja_unescape(std::string_view(t).substr(l, r - l));
}

std::string first_literal_with(const std::string& t, std::string_view needle) {
  for (size_t p = t.find(needle); p != std::string::npos; p = t.find(needle, p + 1)) {
    std::string lit = literal_at(t, p, needle.size());
    if (!lit.empty()) return lit;
  }
  return {};
}

// The message of a raise_exception(...) call whose text contains `needle`, else `fallback`.
std::string raised_message(const std::string& t, std::string_view needle, const std::string& fallback) {
  for (size_t p = t.find("raise_exception("); p != std::string::npos; p = t.find("raise_exception(", p + 1)) {
    std::string lit = literal_at(t, p + 17, 0);
    if (contains(lit, needle)) return lit;
  }
  return fallback;
}

[[noreturn]] void refuse(const std::string& family, const std::string& message) {
  throw_invalid(message, " (raised by the ", family, " chat template)");
}

void check_alternation(const Messages& msgs, size_t from, const std::string& family, const std::string& message) {
  for (size_t i = from; i < msgs.size(); ++i)
    if ((msgs[i].role == "user") != ((i - from) % 2 == 0)) refuse(family, message);
}

// ChatML (Qwen): <|im_start|>role\ncontent<|im_end|>\n, with the template's default system prompt.
std::string render_chatml(const std::string& t, const Messages& msgs, bool gen, const std::string&, const std::string&) {
  std::string default_system;
  const std::string head = "<|im_start|>system\n";
  for (size_t p = t.find("<|im_start|>system"); p != std::string::npos; p = t.find("<|im_start|>system", p + 1)) {
    std::string lit = literal_at(t, p, 18);
    size_t end = lit.find("<|im_end|>");
    if (starts_with(lit, head) && end != std::string::npos && end > head.size()) {
      default_system = lit.substr(head.size(), end - head.size());
      break;
    }
  }
  std::string out;
  if (!default_system.empty() && (msgs.empty() || msgs[0].role != "system"))
    out += head + default_system + "<|im_end|>\n";
  for (const ChatMessage& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

// Llama 3 / 3.1 / 3.2: headers around each trimmed message; 3.1+ always open with a system block
// carrying the knowledge cutoff and today's date.
std::string render_llama3(const std::string& t, const Messages& msgs, bool gen, const std::string& bos, const std::string&) {
  auto turn = [](const std::string& role, const std::string& content) {
    return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content + "<|eot_id|>";
  };
  std::string out = bos;
  size_t first = 0;
  std::string cutoff = first_literal_with(t, "Cutting Knowledge Date: ");
  if (!cutoff.empty()) {
    std::string date = "26 Jul 2024";
    size_t p = t.find("date_string = \"");
    if (p != std::string::npos) {
      size_t b = p + 15, e = t.find('"', b);
      if (e != std::string::npos) date = t.substr(b, e - b);
    }
    std::string system;
    if (!msgs.empty() && msgs[0].role == "system") {
      system = trim(msgs[0].content);
      first = 1;
    }
    out += turn("system", cutoff + "Today Date: " + date + "\n\n" + system);
  }
  for (size_t i = first; i < msgs.size(); ++i) out += turn(msgs[i].role, trim(msgs[i].content));
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Llama 2: <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s> per exchange.
std::string render_llama2(const std::string& t, const Messages& msgs, bool, const std::string& bos, const std::string& eos) {
  size_t first = !msgs.empty() && msgs[0].role == "system" ? 1 : 0;
  check_alternation(msgs, first, "llama2",
                    raised_message(t, "alternate", "Conversation roles must alternate user/assistant/user/assistant/..."));
  std::string out;
  for (size_t i = first; i < msgs.size(); ++i) {
    std::string content = msgs[i].content;
    if (i == first && first == 1) content = "<<SYS>>\n" + msgs[0].content + "\n<</SYS>>\n\n" + content;
    if (msgs[i].role == "user") out += bos + "[INST] " + trim(content) + " [/INST]";
    else if (msgs[i].role == "assistant") out += " " + trim(content) + " " + eos;
  }
  return out;
}

// Mistral [INST] templates: spacing around [INST]/[/INST] and where the system prompt goes differ
// by release (v0.1 refuses it, v0.2 puts it in the first user turn, v0.3/Nemo in the last).
std::string render_mistral(const std::string& t, const Messages& msgs, bool, const std::string& bos, const std::string& eos) {
  std::string open = first_literal_with(t, "[INST]"), close = first_literal_with(t, "[/INST]");
  if (open.empty()) open = "[INST] ";
  if (close.empty()) close = " [/INST]";
  bool answer_space = contains(t, "' ' + message") || contains(t, "' '  + message") || contains(t, "\" \" + message");
  enum { kRefuse, kFirstUser, kLastUser } sys_mode = kRefuse;
  if (contains(t, "system_message")) sys_mode = contains(t, "loop.last and system_message") ? kLastUser : kFirstUser;
  std::string alternate = raised_message(t, "alternate", "Conversation roles must alternate user/assistant/user/assistant/...");
  size_t first = 0;
  std::string system;
  if (!msgs.empty() && msgs[0].role == "system" && sys_mode != kRefuse) {
    system = msgs[0].content;
    first = 1;
  }
  check_alternation(msgs, first, "mistral", alternate);
  std::string out = bos;
  for (size_t i = first; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    if (m.role == "user") {
      bool with_system = first == 1 && (sys_mode == kLastUser ? i + 1 == msgs.size() : i == first);
      out += open + (with_system ? system + "\n\n" : std::string()) + m.content + close;
    } else if (m.role == "assistant") {
      out += (answer_space ? " " : "") + m.content + eos;
    } else {
      refuse("mistral", raised_message(t, "roles are supported", "Only user and assistant roles are supported!"));
    }
  }
  return out;
}

// Gemma: <start_of_turn>user|model\ntrimmed<end_of_turn>\n. Gemma 1/2 refuse a system role; Gemma 3
// puts the system prompt at the head of the first user turn.
std::string render_gemma(const std::string& t, const Messages& msgs, bool gen, const std::string& bos, const std::string&) {
  size_t first = 0;
  std::string prefix;
  if (!msgs.empty() && msgs[0].role == "system") {
    if (!contains(t, "first_user_prefix") && contains(t, "System role not supported"))
      refuse("gemma", raised_message(t, "System role", "System role not supported"));
    prefix = msgs[0].content + "\n\n";
    first = 1;
  }
  check_alternation(msgs, first, "gemma",
                    raised_message(t, "alternate", "Conversation roles must alternate user/assistant/user/assistant/..."));
  std::string out = bos;
  for (size_t i = first; i < msgs.size(); ++i) {
    std::string role = msgs[i].role == "assistant" ? "model" : msgs[i].role;
    std::string content = (i == first ? prefix : std::string()) + msgs[i].content;
    out += "<start_of_turn>" + role + "\n" + trim(content) + "<end_of_turn>\n";
  }
  if (gen) out += "<start_of_turn>model\n";
  return out;
}

// Zephyr (and Phi-3, which ends turns with <|end|> instead of the EOS token).
std::string render_zephyr(const std::string& t, const Messages& msgs, bool gen, const std::string&, const std::string& eos) {
  std::string end = contains(t, "<|end|>") ? "<|end|>" : eos;
  std::string out;
  for (const ChatMessage& m : msgs) out += "<|" + m.role + "|>\n" + m.content + end + "\n";
  if (gen) out += "<|assistant|>\n";
  return out;
}

using Renderer = std::function<std::string(const std::string&, const Messages&, bool, const std::string&, const std::string&)>;

const std::map<std::string, Renderer>& renderers() {
  static const std::map<std::string, Renderer> r = {
      {"chatml", render_chatml}, {"llama3", render_llama3}, {"llama2", render_llama2},
      {"mistral", render_mistral}, {"gemma", render_gemma}, {"zephyr", render_zephyr}};
  return r;
}

}  // namespace

std::vector<std::string> chat_template_names() { return {"chatml", "llama3", "llama2", "mistral", "gemma", "zephyr"}; }

std::string detect_chat_template(const std::string& t) {
  if (contains(t, "<|im_start|>")) return "chatml";
  if (contains(t, "<|start_header_id|>")) return "llama3";
  if (contains(t, "<start_of_turn>")) return "gemma";
  if (contains(t, "[INST]")) return contains(t, "<<SYS>>") ? "llama2" : "mistral";
  if (contains(t, "<|user|>")) return "zephyr";
  return {};
}

std::pair<std::string, std::string> default_special_texts(const std::string& name) {
  if (name == "chatml") return {"", "<|im_end|>"};
  if (name == "llama3") return {"<|begin_of_text|>", "<|eot_id|>"};
  if (name == "gemma") return {"<bos>", "<eos>"};
  return {"<s>", "</s>"};  // llama2, mistral, zephyr
}

bool is_builtin_chat_template(const std::string& name) { return renderers().count(name) > 0; }

namespace {

void check_messages(const std::vector<ChatMessage>& messages) {
  for (const ChatMessage& m : messages) {
    utf8_require_valid(m.content, "chat message content");
    if (m.role.empty()) throw_invalid("chat message has an empty role (expected system, user or assistant)");
  }
}

// Parsing is cheap but not free; training renders one template thousands of times.
const jinja::Template& parsed_template(const std::string& text, const std::string& name) {
  thread_local std::string cached_text, cached_name;
  thread_local std::unique_ptr<jinja::Template> cached;
  if (!cached || cached_text != text || cached_name != name) {
    cached.reset();
    cached = std::make_unique<jinja::Template>(text, name);
    cached_text = text;
    cached_name = name;
  }
  return *cached;
}

}  // namespace

std::string render_chat_builtin(const std::string& name, const std::string& template_text,
                                const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                const std::string& bos_text, const std::string& eos_text) {
  auto it = renderers().find(name);
  if (it == renderers().end())
    throw_invalid("'", name, "' is not a built-in chat template (known: ", join(chat_template_names(), ", "), ")");
  check_messages(messages);
  return it->second(template_text, messages, add_generation_prompt, bos_text, eos_text);
}

std::string render_chat_jinja(const std::string& template_text, const nlohmann::ordered_json& messages,
                              bool add_generation_prompt, const std::string& bos_text, const std::string& eos_text,
                              const ChatOptions& options, const std::string& template_name) {
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  vars["messages"] = messages;
  vars["add_generation_prompt"] = add_generation_prompt;
  vars["bos_token"] = bos_text;
  vars["eos_token"] = eos_text;
  if (!options.tools.is_null()) vars["tools"] = options.tools;
  if (options.enable_thinking) vars["enable_thinking"] = *options.enable_thinking;
  if (options.extra.is_object())
    for (auto it = options.extra.begin(); it != options.extra.end(); ++it) vars[it.key()] = it.value();
  return parsed_template(template_text, template_name).render(vars);
}

std::string render_chat(const std::string& template_text, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& bos_text, const std::string& eos_text,
                        const std::string& override_name) {
  if (is_builtin_chat_template(override_name))
    return render_chat_builtin(override_name, template_text, messages, add_generation_prompt, bos_text, eos_text);
  std::string text = template_text, name = "chat template";
  if (!override_name.empty()) {
    if (!file_exists(override_name))
      throw_invalid("--chat-template '", override_name, "' is neither a built-in chat template (known: ",
                    join(chat_template_names(), ", "), ") nor a Jinja template file");
    text = read_file(override_name);
    name = override_name;
  }
  if (text.empty())
    throw_invalid("no chat template: the model carries none; name a built-in one with --chat-template NAME (known: ",
                  join(chat_template_names(), ", "), ") or a Jinja file with --chat-template FILE");
  check_messages(messages);
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  return render_chat_jinja(text, msgs, add_generation_prompt, bos_text, eos_text, {}, name);
}

}  // namespace pad
