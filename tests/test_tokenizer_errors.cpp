// Bad inputs give clear exceptions that name what is wrong, never a crash: malformed tokenizer.json,
// truncated or unsupported GGUF vocabularies, invalid UTF-8, out-of-range ids. Also `pad tokenize`.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "pad/tokenizer/tokenizer.h"
#include "pad/util/file.h"

namespace pad {

const Tokenizer& shared_tokenizer(const std::string& path);  // test_tokenizer_vectors.cpp

namespace {

namespace fs = std::filesystem;
const std::string kShared = PAD_SHARED_DIR;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("pad_tok_test_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& contents) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

 private:
  fs::path path_;
};

// Expects `fn` to throw E whose message contains every one of `parts`.
template <typename E, typename Fn>
void expect_error(Fn fn, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

const char* const kGoodModel =
    R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";

TEST(BadTokenizerJson, EachProblemIsNamed) {
  TempDir dir;
  std::string ok = dir.write("ok.json", std::string("{") + kGoodModel + "}");
  EXPECT_EQ(Tokenizer::load(ok)->encode("ab", {false, false}), std::vector<int>{2});
  expect_error<std::invalid_argument>([&] { Tokenizer::load(dir.write("t1.json", R"({"added_tokens": []})")); },
                                      {"t1.json", "model"});
  expect_error<std::invalid_argument>(
      [&] { Tokenizer::load(dir.write("t2.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}})")); },
      {"t2.json", "merges[0]", "'c'"});
  expect_error<std::invalid_argument>(
      [&] { Tokenizer::load(dir.write("t3.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["abc"]}})")); },
      {"t3.json", "merges[0]"});
  expect_error<std::invalid_argument>(
      [&] { Tokenizer::load(dir.write("t4.json", R"({"model": {"type": "BPE", "vocab": {"a": -5}, "merges": []}})")); },
      {"t4.json", "model.vocab['a']", "-5", "out of range"});
  expect_error<std::invalid_argument>(
      [&] {
        Tokenizer::load(dir.write("t5.json", std::string("{") + kGoodModel +
                                                 R"(, "added_tokens": [{"id": 99999999999, "content": "<x>"}]})"));
      },
      {"t5.json", "added_tokens[0].id", "out of range"});
  expect_error<std::invalid_argument>([&] { Tokenizer::load(dir.write("t6.json", "{\"model\": ")); },
                                      {"t6.json", "not valid JSON"});
  expect_error<std::invalid_argument>(
      [&] {
        Tokenizer::load(dir.write("t7.json", std::string("{") + kGoodModel + R"(, "pre_tokenizer": {"type": "Magic"}})"));
      },
      {"t7.json", "pre_tokenizer.type", "Magic", "ByteLevel"});
  expect_error<std::invalid_argument>(
      [&] {
        Tokenizer::load(dir.write("t8.json", std::string("{") + kGoodModel +
                                                 R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(["}}})"));
      },
      {"regex", "(["});
  expect_error<std::runtime_error>([&] { Tokenizer::load(dir.write("x", "") + "/missing.json"); }, {"missing.json"});
}

TEST(BadGguf, TruncatedCopiesFailWithAMessage) {
  TempDir dir;
  std::string full = read_file(kShared + "/testdata/tokenizers/ggml-vocab-gpt-2.gguf");
  for (size_t n : {size_t(0), size_t(3), size_t(10), size_t(100), full.size() / 3, full.size() - 7}) {
    std::string p = dir.write("cut" + std::to_string(n) + ".gguf", full.substr(0, n));
    try {
      Tokenizer::load(p);
      ADD_FAILURE() << "truncated at " << n << " loaded";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("cut"), std::string::npos) << e.what();
    }
  }
}

// A minimal GGUF v3 writer for vocabulary-only files.
struct GgufWriter {
  std::string out;
  uint64_t n_kv = 0;
  template <typename T>
  void raw(T v) { out.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void str(const std::string& s) { raw<uint64_t>(s.size()); out += s; }
  void kv_string(const std::string& k, const std::string& v) { str(k); raw<uint32_t>(8); str(v); ++n_kv; }
  void kv_strings(const std::string& k, const std::vector<std::string>& v) {
    str(k); raw<uint32_t>(9); raw<uint32_t>(8); raw<uint64_t>(v.size());
    for (const auto& s : v) str(s);
    ++n_kv;
  }
  std::string file() const {
    GgufWriter h;
    h.out = "GGUF";
    h.raw<uint32_t>(3); h.raw<uint64_t>(0); h.raw<uint64_t>(n_kv);
    return h.out + out;
  }
};

TEST(BadGguf, UnknownPreTokenizerListsKnownNames) {
  TempDir dir;
  GgufWriter w;
  w.kv_string("tokenizer.ggml.model", "gpt2");
  w.kv_string("tokenizer.ggml.pre", "martian");
  w.kv_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
  w.kv_strings("tokenizer.ggml.merges", {"a b"});
  std::string p = dir.write("vocab.gguf", w.file());
  expect_error<std::invalid_argument>([&] { Tokenizer::load(p); }, {"vocab.gguf", "martian", "llama-bpe", "qwen2", "command-r"});

  GgufWriter ok = w;
  ok.out.clear();
  ok.n_kv = 0;
  ok.kv_string("tokenizer.ggml.model", "gpt2");
  ok.kv_string("tokenizer.ggml.pre", "starcoder");
  ok.kv_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
  ok.kv_strings("tokenizer.ggml.merges", {"a b"});
  EXPECT_EQ(Tokenizer::load(dir.write("ok.gguf", ok.file()))->encode("abab", {false, false}), (std::vector<int>{2, 2}));

  GgufWriter bad_model;
  bad_model.kv_string("tokenizer.ggml.model", "rwkv");
  bad_model.kv_strings("tokenizer.ggml.tokens", {"a"});
  expect_error<std::invalid_argument>([&] { Tokenizer::load(dir.write("rwkv.gguf", bad_model.file())); },
                                      {"rwkv", "gpt2, llama"});
}

TEST(BadText, InvalidUtf8IsRejectedWithItsOffset) {
  auto tok = Tokenizer::load(kShared + "/testdata/models/tiny-llama/tokenizer.json");
  for (const char* bad : {"ok\xff", "ab\xC0\x80", "x\xED\xA0\x80", "abc\xE2\x82", "\x80"}) {
    expect_error<std::invalid_argument>([&] { tok->encode(bad); }, {"UTF-8", "offset"});
  }
  expect_error<std::invalid_argument>([&] { tok->decode({1, 512}); }, {"512", "outside"});
  expect_error<std::invalid_argument>([&] { tok->decode({-1}); }, {"-1"});
}

TEST(Cli, TokenizeNoSpecialPrintsIds) {
  const std::string bin = PAD_PAD_BIN;
  if (!fs::exists(bin)) GTEST_SKIP() << "pad binary not built: " << bin;
  std::string vocab = kShared + "/testdata/tokenizers/ggml-vocab-llama-bpe.gguf";
  std::string cmd = bin + " tokenize --no-special -m " + vocab + " 'Hello world<|eot_id|>' 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  ASSERT_EQ(pclose(pipe), 0) << out;
  std::vector<int> ids = shared_tokenizer(vocab).encode("Hello world<|eot_id|>", {false, false});
  std::string want;
  for (size_t i = 0; i < ids.size(); ++i) want += (i ? " " : "") + std::to_string(ids[i]);
  EXPECT_EQ(out, want + "\n");
  EXPECT_EQ(ids.front(), 9906);  // "Hello" in Llama 3, no BOS
}

}  // namespace
}  // namespace pad
