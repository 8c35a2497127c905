// Loader for Hugging Face tokenizer.json: model BPE, normalizers, pre-tokenizers, post-processors,
// decoders and added tokens, each validated with the file and field named in errors.
#include <nlohmann/json.hpp>

#include "pad/tokenizer/tokenizer_parts.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

using Json = nlohmann::json;
constexpr int64_t kMaxTokenId = 1 << 24;

struct Ctx {
  const std::string& path;
};

bool opt_bool(const Json& j, const char* key, bool def) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? def : it->get<bool>();
}

std::string opt_string(const Json& j, const char* key, const std::string& def) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? def : it->get<std::string>();
}

const std::string& type_of(const Json& j, const Ctx& c, const std::string& field) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw_invalid(c.path, ": ", field, " has no string field 'type'");
  return j["type"].get_ref<const std::string&>();
}

TextPattern parse_pattern(const Json& j, const Ctx& c, const std::string& field) {
  if (j.is_object() && j.contains("Regex")) return {j["Regex"].get<std::string>(), true};
  if (j.is_object() && j.contains("String")) return {j["String"].get<std::string>(), false};
  throw_invalid(c.path, ": ", field, ".pattern must be {\"String\": ...} or {\"Regex\": ...}, got ", j.dump());
}

PrependScheme parse_prepend_scheme(const Json& j, const Ctx& c, const std::string& field) {
  if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
    std::string s = j["prepend_scheme"].get<std::string>();
    if (s == "always") return PrependScheme::kAlways;
    if (s == "first") return PrependScheme::kFirst;
    if (s == "never") return PrependScheme::kNever;
    throw_invalid(c.path, ": ", field, ".prepend_scheme is '", s, "' (expected always, first or never)");
  }
  return opt_bool(j, "add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
}

std::unique_ptr<Normalizer> parse_normalizer(const Json& j, const Ctx& c, const std::string& field) {
  if (j.is_null()) return nullptr;
  const std::string& t = type_of(j, c, field);
  if (t == "NFC") return make_unicode_normalizer(UnicodeForm::kNFC);
  if (t == "NFD") return make_unicode_normalizer(UnicodeForm::kNFD);
  if (t == "NFKC") return make_unicode_normalizer(UnicodeForm::kNFKC);
  if (t == "NFKD") return make_unicode_normalizer(UnicodeForm::kNFKD);
  if (t == "Lowercase") return make_lowercase_normalizer();
  if (t == "Prepend") return make_prepend_normalizer(j.at("prepend").get<std::string>());
  if (t == "Replace")
    return make_replace_normalizer(parse_pattern(j.at("pattern"), c, field), j.at("content").get<std::string>());
  if (t == "Strip") return make_strip_normalizer(opt_bool(j, "strip_left", true), opt_bool(j, "strip_right", true));
  if (t == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    const Json& list = j.at("normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto n = parse_normalizer(list[i], c, field + ".normalizers[" + std::to_string(i) + "]")) steps.push_back(std::move(n));
    return make_sequence_normalizer(std::move(steps));
  }
  throw_invalid(c.path, ": ", field, ".type '", t,
                "' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence)");
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& j, const Ctx& c, const std::string& field) {
  if (j.is_null()) return nullptr;
  const std::string& t = type_of(j, c, field);
  if (t == "ByteLevel")
    return make_byte_level_pre_tokenizer(opt_bool(j, "add_prefix_space", false), opt_bool(j, "use_regex", true));
  if (t == "Split")
    return make_split_pre_tokenizer(parse_pattern(j.at("pattern"), c, field),
                                    parse_split_behavior(opt_string(j, "behavior", "Isolated")),
                                    opt_bool(j, "invert", false));
  if (t == "Metaspace")
    return make_metaspace_pre_tokenizer(opt_string(j, "replacement", "\xE2\x96\x81"),
                                        parse_prepend_scheme(j, c, field), opt_bool(j, "split", true));
  if (t == "Digits") return make_digits_pre_tokenizer(opt_bool(j, "individual_digits", false));
  if (t == "Punctuation") return make_punctuation_pre_tokenizer(parse_split_behavior(opt_string(j, "behavior", "Isolated")));
  if (t == "Whitespace") return make_whitespace_pre_tokenizer();
  if (t == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
  if (t == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    const Json& list = j.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto p = parse_pre_tokenizer(list[i], c, field + ".pretokenizers[" + std::to_string(i) + "]"))
        steps.push_back(std::move(p));
    return make_sequence_pre_tokenizer(std::move(steps));
  }
  throw_invalid(c.path, ": ", field, ".type '", t,
                "' is not supported (supported: ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace, "
                "WhitespaceSplit, Sequence)");
}

std::unique_ptr<Decoder> parse_decoder(const Json& j, const Ctx& c, const std::string& field) {
  if (j.is_null()) return nullptr;
  const std::string& t = type_of(j, c, field);
  if (t == "ByteLevel") return make_byte_level_decoder();
  if (t == "Metaspace")
    return make_metaspace_decoder(opt_string(j, "replacement", "\xE2\x96\x81"), parse_prepend_scheme(j, c, field));
  if (t == "ByteFallback") return make_byte_fallback_decoder();
  if (t == "Fuse") return make_fuse_decoder();
  if (t == "Strip")
    return make_strip_decoder(j.at("content").get<std::string>(), j.value("start", 0), j.value("stop", 0));
  if (t == "Replace")
    return make_replace_decoder(parse_pattern(j.at("pattern"), c, field), j.at("content").get<std::string>());
  if (t == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    const Json& list = j.at("decoders");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto d = parse_decoder(list[i], c, field + ".decoders[" + std::to_string(i) + "]")) steps.push_back(std::move(d));
    return make_sequence_decoder(std::move(steps));
  }
  throw_invalid(c.path, ": ", field, ".type '", t,
                "' is not supported (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence)");
}

// Post-processors reduce, for a single sequence, to ids before and after the text.
void parse_post_processor(const Json& j, const Ctx& c, const std::string& field, TokenizerParts& parts) {
  if (j.is_null()) return;
  const std::string& t = type_of(j, c, field);
  if (t == "ByteLevel") return;
  if (t == "Sequence") {
    const Json& list = j.at("processors");
    for (size_t i = 0; i < list.size(); ++i)
      parse_post_processor(list[i], c, field + ".processors[" + std::to_string(i) + "]", parts);
    return;
  }
  if (t == "RobertaProcessing" || t == "BertProcessing") {
    parts.prefix_ids = {j.at("cls").at(1).get<int>()};
    parts.suffix_ids = {j.at("sep").at(1).get<int>()};
    return;
  }
  if (t != "TemplateProcessing")
    throw_invalid(c.path, ": ", field, ".type '", t,
                  "' is not supported (supported: TemplateProcessing, ByteLevel, Sequence, RobertaProcessing, BertProcessing)");
  parts.prefix_ids.clear();
  parts.suffix_ids.clear();
  bool seen_text = false;
  for (const Json& item : j.at("single")) {
    if (item.contains("Sequence")) {
      seen_text = true;
      continue;
    }
    std::string name = item.at("SpecialToken").at("id").get<std::string>();
    const Json& st = j.at("special_tokens");
    if (!st.contains(name))
      throw_invalid(c.path, ": ", field, ".single uses '", name, "', which is not in ", field, ".special_tokens");
    for (const Json& id : st[name].at("ids")) {
      int64_t v = id.get<int64_t>();
      if (v < 0 || v >= kMaxTokenId) throw_invalid(c.path, ": ", field, ".special_tokens['", name, "'] id ", v, " is out of range");
      (seen_text ? parts.suffix_ids : parts.prefix_ids).push_back(static_cast<int>(v));
    }
  }
}

std::vector<std::pair<std::string, std::string>> parse_merges(const Json& j, const Ctx& c) {
  std::vector<std::pair<std::string, std::string>> merges;
  if (!j.is_array()) throw_invalid(c.path, ": model.merges must be an array");
  merges.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& m = j[i];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos)
        throw_invalid(c.path, ": model.merges[", i, "] = \"", s, "\" is not two tokens separated by one space");
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw_invalid(c.path, ": model.merges[", i, "] = ", m.dump(), " (expected \"a b\" or [\"a\", \"b\"])");
    }
  }
  return merges;
}

std::unique_ptr<TokenModel> parse_model(const Json& j, const Ctx& c) {
  if (!j.is_object()) throw_invalid(c.path, ": missing field 'model' (expected an object with type BPE)");
  std::string type = j.contains("type") ? j["type"].get<std::string>() : "BPE";
  if (type != "BPE") throw_invalid(c.path, ": model.type '", type, "' is not supported (supported: BPE)");
  if (!j.contains("vocab") || !j["vocab"].is_object()) throw_invalid(c.path, ": model.vocab is missing or not an object");
  const Json& v = j["vocab"];
  std::vector<std::string> vocab(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer()) throw_invalid(c.path, ": model.vocab['", it.key(), "'] is not an integer id");
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= kMaxTokenId)
      throw_invalid(c.path, ": model.vocab['", it.key(), "'] = ", id, " is out of range [0, ", kMaxTokenId, ")");
    if (static_cast<size_t>(id) >= vocab.size()) vocab.resize(static_cast<size_t>(id) + 1);
    if (!vocab[static_cast<size_t>(id)].empty())
      throw_invalid(c.path, ": model.vocab id ", id, " is used by both '", vocab[static_cast<size_t>(id)], "' and '", it.key(), "'");
    vocab[static_cast<size_t>(id)] = it.key();
  }
  BpeOptions opt;
  opt.byte_fallback = opt_bool(j, "byte_fallback", false);
  opt.ignore_merges = opt_bool(j, "ignore_merges", false);
  opt.fuse_unk = opt_bool(j, "fuse_unk", false);
  opt.continuing_subword_prefix = opt_string(j, "continuing_subword_prefix", "");
  opt.end_of_word_suffix = opt_string(j, "end_of_word_suffix", "");
  std::string unk = opt_string(j, "unk_token", "");
  if (!unk.empty()) {
    auto it = v.find(unk);
    if (it == v.end()) throw_invalid(c.path, ": model.unk_token '", unk, "' is not in model.vocab");
    opt.unk_id = it.value().get<int>();
  }
  if (!j.contains("merges")) throw_invalid(c.path, ": model.merges is missing");
  return BpeModel::from_merges(std::move(vocab), parse_merges(j["merges"], c), std::move(opt), c.path);
}

std::vector<AddedToken> parse_added_tokens(const Json& j, const Ctx& c) {
  std::vector<AddedToken> out;
  if (j.is_null()) return out;
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& t = j[i];
    AddedToken a;
    int64_t id = t.at("id").get<int64_t>();
    if (id < 0 || id >= kMaxTokenId)
      throw_invalid(c.path, ": added_tokens[", i, "].id = ", id, " is out of range [0, ", kMaxTokenId, ")");
    a.id = static_cast<int>(id);
    a.content = t.at("content").get<std::string>();
    a.special = opt_bool(t, "special", false);
    a.lstrip = opt_bool(t, "lstrip", false);
    a.rstrip = opt_bool(t, "rstrip", false);
    a.single_word = opt_bool(t, "single_word", false);
    a.normalized = opt_bool(t, "normalized", !a.special);
    out.push_back(std::move(a));
  }
  return out;
}

// A Prepend normalizer or a Metaspace that always prepends adds "▁" to every segment between added
// tokens (tokenizers' Llama and Gemma conversions).
bool prefixes_each_segment(const Json& j) {
  if (j.is_array()) {
    for (const Json& e : j)
      if (prefixes_each_segment(e)) return true;
    return false;
  }
  if (!j.is_object()) return false;
  std::string type = j.value("type", "");
  if (type == "Prepend") return true;
  if (type == "Metaspace")
    return j.value("prepend_scheme", j.value("add_prefix_space", true) ? "always" : "never") == "always";
  for (const char* key : {"normalizers", "pretokenizers"})
    if (j.contains(key) && prefixes_each_segment(j[key])) return true;
  return false;
}

}  // namespace

TokenizerParts load_hf_tokenizer(const std::string& path, const std::string& config_path) {
  Json j;
  try {
    j = Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    throw_invalid(path, ": not valid JSON: ", e.what());
  }
  Ctx c{path};
  TokenizerParts parts;
  parts.source = path;
  try {
    if (!j.is_object() || !j.contains("model")) throw_invalid(path, ": missing field 'model' (expected a tokenizer.json)");
    parts.model = parse_model(j["model"], c);
    parts.added_tokens = parse_added_tokens(j.value("added_tokens", Json()), c);
    parts.normalizer = parse_normalizer(j.value("normalizer", Json()), c, "normalizer");
    parts.pre_tokenizer = parse_pre_tokenizer(j.value("pre_tokenizer", Json()), c, "pre_tokenizer");
    parts.decoder = parse_decoder(j.value("decoder", Json()), c, "decoder");
    parse_post_processor(j.value("post_processor", Json()), c, "post_processor", parts);
  } catch (const Json::exception& e) {
    throw_invalid(path, ": unexpected structure: ", e.what());
  }
  parts.restart_after_special = prefixes_each_segment(j.value("normalizer", Json())) ||
                                prefixes_each_segment(j.value("pre_tokenizer", Json()));
  if (!parts.prefix_ids.empty()) parts.bos_id = parts.prefix_ids.front();
  if (!parts.suffix_ids.empty()) parts.eos_id = parts.suffix_ids.back();
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  std::string gen = file_exists(dir + "generation_config.json") ? dir + "generation_config.json" : std::string();
  apply_tokenizer_config(parts, config_path, gen);
  add_known_eos_tokens(parts);
  return parts;
}

}  // namespace pad
