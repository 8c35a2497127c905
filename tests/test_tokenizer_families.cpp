// Every GGUF pre-tokenizer regex pad knows (llama.cpp's tokenizer.ggml.pre names) compiles under PCRE2
// and splits known texts as the families' tokenizer.json regexes do, Unicode ranges included; and
// vocabulary types pad does not read (SentencePiece unigram, GGUF t5) are refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pad/format/gguf.h"
#include "pad/tokenizer/regex.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/tokenizer_parts.h"

namespace pad {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> matches(const std::string& pattern, const std::string& text) {
  Regex re(pattern, "test");
  std::vector<std::pair<size_t, size_t>> spans;
  re.find_all(text, spans);
  std::vector<std::string> out;
  for (const auto& [b, e] : spans) out.push_back(text.substr(b, e - b));
  return out;
}

std::vector<std::string> first_regex(const std::string& name, const std::string& text) {
  return matches(gguf_pre_tokenizer(name, "test").regexes.at(0), text);
}

using V = std::vector<std::string>;

TEST(PreTokenizerRegexes, EveryKnownNameCompilesAndCoversMixedText) {
  // Latin, digits, contractions, Greek, CJK, Hangul, combining marks, emoji, newlines.
  const std::string text = "Hello world's 12345 \xCE\xA9mega \xE4\xBD\xA0\xE5\xA5\xBD \xEA\xB0\x80 e\xCC\x81 \xF0\x9F\x98\x80!\n\n  x \n";
  const auto names = gguf_pre_tokenizer_names();
  ASSERT_GE(names.size(), 20u);
  for (const std::string& name : names) {
    const GgufPreTokenizer pre = gguf_pre_tokenizer(name, "test");
    ASSERT_FALSE(pre.regexes.empty()) << name;
    for (const std::string& re : pre.regexes) {
      std::vector<std::string> m;
      ASSERT_NO_THROW(m = matches(re, text)) << name << ": " << re;
      EXPECT_FALSE(m.empty()) << name << ": " << re;
    }
  }
  EXPECT_THROW(gguf_pre_tokenizer("no-such-family", "f.gguf"), std::invalid_argument);
}

TEST(PreTokenizerRegexes, KnownSplits) {
  EXPECT_EQ(first_regex("gpt-2", "Hello world's"), (V{"Hello", " world", "'s"}));
  EXPECT_EQ(first_regex("llama-bpe", "12345 I'LL go"), (V{"123", "45", " I", "'LL", " go"}));
  EXPECT_EQ(first_regex("qwen2", "123"), (V{"1", "2", "3"}));
  EXPECT_EQ(first_regex("tekken", "HelloWorld ABCdef"), (V{"Hello", "World", " ABCdef"}));
  EXPECT_EQ(first_regex("deepseek-v3", "12345"), (V{"123", "45"}));
  // Qwen3.5 keeps a combining mark (U+0301) inside its word; Qwen2's regex cuts the word there.
  const std::string nfd = "re\xCC\x81sume\xCC\x81";
  EXPECT_EQ(first_regex("qwen35", nfd), (V{nfd}));
  EXPECT_GT(first_regex("qwen2", nfd).size(), 1u);
  EXPECT_EQ(first_regex("qwen35", "a\xCC\x81!!"), (V{"a\xCC\x81", "!!"}));
  // DeepSeek's explicit letter ranges (Greek Ω U+03A9 inside Σ-ϵ) and CJK ranges.
  const auto& ds = gguf_pre_tokenizer("deepseek-llm", "test").regexes;
  EXPECT_EQ(matches(ds.at(1), " \xCE\xA9mega"), (V{" \xCE\xA9mega"}));
  EXPECT_EQ(matches(ds.at(4), "ab\xE4\xBD\xA0\xE5\xA5\xBD\xEA\xB0\x80x"), (V{"\xE4\xBD\xA0\xE5\xA5\xBD\xEA\xB0\x80"}));
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("pad_fam_test_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

template <typename Fn>
void expect_refusal(Fn fn, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// A hand-made SentencePiece ModelProto: three pieces and trainer_spec.model_type = 1 (unigram).
std::string unigram_model_proto() {
  auto piece = [](const std::string& text) {
    std::string p = "\x0a" + std::string(1, static_cast<char>(text.size())) + text;  // 1: piece
    p += std::string("\x15\x00\x00\x80\xbf", 5);                                      // 2: score -1.0f
    std::string msg = "\x0a" + std::string(1, static_cast<char>(p.size())) + p;       // ModelProto.pieces
    return msg;
  };
  std::string out = piece("<unk>") + piece("a") + piece("b");
  out += std::string("\x12\x02\x18\x01", 4);  // 2: trainer_spec { 3: model_type = 1 }
  return out;
}

TEST(UnsupportedVocabularies, SentencePieceUnigramIsRefusedByName) {
  TempDir dir;
  const std::string p = dir.path("tokenizer.model");
  std::ofstream(p, std::ios::binary) << unigram_model_proto();
  expect_refusal([&] { Tokenizer::load(p); }, {"tokenizer.model", "type 1", "unigram", "not supported"});
}

TEST(UnsupportedVocabularies, GgufT5IsRefusedByName) {
  TempDir dir;
  const std::string p = dir.path("t5.gguf");
  std::map<std::string, GgufValue> kv;
  GgufValue model{GgufType::kString, false, {}, {}, {"t5"}};
  GgufValue tokens{GgufType::kString, true, {}, {}, {"<pad>", "</s>", "a"}};
  kv["tokenizer.ggml.model"] = model;
  kv["tokenizer.ggml.tokens"] = tokens;
  write_gguf(p, kv, {});
  expect_refusal([&] { Tokenizer::load(p); }, {"t5.gguf", "'t5'", "unigram", "not supported"});
}

}  // namespace
}  // namespace pad
