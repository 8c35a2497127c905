// The pre-tokenizer regexes of GGUF "gpt2" vocabularies, by tokenizer.ggml.pre name. The patterns are
// those the families' own tokenizer.json files use (as llama.cpp writes them, with the case-insensitive
// contractions spelled out); they are data, matched by PCRE2 in UTF + UCP mode.
#include <map>

#include "pad/tokenizer/tokenizer_parts.h"
#include "pad/util/error.h"
#include "pad/util/strings.h"

namespace pad {
namespace {

const char* const kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Qwen3.5: Qwen2's split with combining marks (\p{M}) kept in words and out of punctuation runs.
const char* const kQwen35 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kCjk = "[一-龥ࠀ-一가-퟿]+";
const char* const kDeepseekLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-"
    "ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-"
    "ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

const std::map<std::string, GgufPreTokenizer>& table() {
  static const std::map<std::string, GgufPreTokenizer> t = [] {
    std::map<std::string, GgufPreTokenizer> m;
    GgufPreTokenizer llama3{{kLlama3}, true, true};
    for (const char* n : {"llama-bpe", "llama3", "llama-v3", "falcon3", "dbrx", "smaug-bpe"}) m[n] = llama3;
    m["dbrx"].add_bos = m["smaug-bpe"].add_bos = false;
    m["dbrx"].ignore_merges = m["smaug-bpe"].ignore_merges = false;
    for (const char* n : {"qwen2", "stablelm2"}) m[n] = {{kQwen2}, false, false, false};
    m["qwen2"].nfc = true;
    m["qwen35"] = {{kQwen35}, false, false, false};  // no NFC: combining marks stay as written
    for (const char* n : {"gpt-2", "mpt", "olmo", "jais", "phi-2"}) m[n] = {{kGpt2}, false, false};
    for (const char* n : {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone"})
      m[n] = {{"\\p{N}", kGpt2}, false, false};
    m["deepseek-llm"] = {{"[\\r\\n]", kDeepseekLetters, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", kCjk, "\\p{N}+"},
                         false, false};
    m["deepseek-coder"] = {{"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"}, false, false};
    m["falcon"] = {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}, false, false};
    m["default"] = {{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false};
    return m;
  }();
  return t;
}

}  // namespace

std::vector<std::string> gguf_pre_tokenizer_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : table()) names.push_back(name);
  return names;
}

GgufPreTokenizer gguf_pre_tokenizer(const std::string& name, const std::string& path) {
  auto it = table().find(name);
  if (it == table().end())
    throw_invalid(path, ": tokenizer.ggml.pre '", name, "' is not a known pre-tokenizer (known: ",
                  join(gguf_pre_tokenizer_names(), ", "), ")");
  return it->second;
}

}  // namespace pad
