// Round trips on seeded random UTF-8 text: decode(encode(s)) == s with and without special-token
// parsing, and the streaming decoder reproduces the full decode on every prefix.
#include <gtest/gtest.h>

#include <random>

#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/unicode.h"
#include "pad/tokenizer/unicode_norm.h"

namespace pad {

const Tokenizer& shared_tokenizer(const std::string& path);  // test_tokenizer_vectors.cpp

namespace {

const std::string kShared = PAD_SHARED_DIR;

std::string random_text(std::mt19937& rng, size_t n_chars) {
  // Code points from the ranges text really uses, plus whitespace runs and special-token text.
  static const std::vector<std::pair<uint32_t, uint32_t>> kRanges = {
      {0x20, 0x7E}, {0x20, 0x7E}, {0x20, 0x7E}, {0x0A, 0x0A}, {0x09, 0x0D}, {0xA0, 0x24F}, {0x300, 0x36F},
      {0x391, 0x3C9}, {0x410, 0x44F}, {0x4E00, 0x9FFF}, {0x3040, 0x30FF}, {0xAC00, 0xD7A3}, {0x1F300, 0x1FAFF},
      {0x2000, 0x206F}, {0x10000, 0x10FFFF}};
  static const char* const kSpecial[] = {"<|im_start|>", "<|endoftext|>", "<s>", "</s>", "<|begin_of_text|>", "   "};
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    if (rng() % 40 == 0) {
      s += kSpecial[rng() % 6];
      continue;
    }
    auto [lo, hi] = kRanges[rng() % kRanges.size()];
    uint32_t cp = lo + rng() % (hi - lo + 1);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    utf8_append(s, cp);
  }
  return s;
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, DecodeEncodeIsIdentity) {
  const Tokenizer* tok = &shared_tokenizer(kShared + "/testdata/" + GetParam());
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 60; ++trial) {
    std::string s = random_text(rng, 1 + rng() % 40);
    for (bool parse_special : {false, true}) {
      std::vector<int> ids = tok->encode(s, EncodeOptions{false, parse_special});
      // Qwen2's tokenizer normalizes to NFC first, so its round trip gives the NFC form.
      bool nfc = GetParam().find("qwen2.gguf") != std::string::npos;
      ASSERT_EQ(tok->decode(ids), nfc ? unicode_normalize(s, UnicodeForm::kNFC) : s)
          << GetParam() << " parse_special=" << parse_special;
    }
  }
}

TEST_P(RoundTrip, StreamingEqualsFullDecodeOnEveryPrefix) {
  const Tokenizer* tok = &shared_tokenizer(kShared + "/testdata/" + GetParam());
  std::mt19937 rng(99);
  for (int trial = 0; trial < 12; ++trial) {
    std::vector<int> ids = tok->encode(random_text(rng, 30), EncodeOptions{true, true});
    if (trial == 0) ids.push_back(tok->token_to_id("<0xE2>") >= 0 ? tok->token_to_id("<0xE2>") : 0);  // dangling byte
    StreamDecoder stream(*tok);
    std::string emitted;
    for (size_t k = 0; k < ids.size(); ++k) {
      std::string piece = stream.feed(ids[k]);
      ASSERT_EQ(utf8_find_invalid(piece), std::string::npos) << "emitted invalid UTF-8";
      emitted += piece;
      std::vector<int> prefix(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k + 1));
      StreamDecoder rest = stream;
      ASSERT_EQ(emitted + rest.flush(), tok->decode(prefix)) << GetParam() << " prefix " << k + 1;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, RoundTrip,
                         ::testing::Values("tokenizers/ggml-vocab-gpt-2.gguf", "tokenizers/ggml-vocab-llama-bpe.gguf",
                                           "tokenizers/ggml-vocab-llama-spm.gguf", "tokenizers/ggml-vocab-qwen2.gguf",
                                           "tokenizers/llama2-tokenizer.model", "models/tiny-llama/tokenizer.json",
                                           "models/tiny-qwen2/tokenizer.json"),
                         [](const auto& info) {
                           std::string n;
                           for (char c : info.param) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(StreamDecoder, HoldsPartialCharacters) {
  const Tokenizer* tok = &shared_tokenizer(kShared + "/testdata/tokenizers/ggml-vocab-gpt-2.gguf");
  std::vector<int> ids = tok->encode("🙂", EncodeOptions{false, false});
  ASSERT_GT(ids.size(), 1u);  // GPT-2 spells this emoji with byte tokens
  StreamDecoder stream(*tok);
  EXPECT_EQ(stream.feed(ids[0]), "");
  std::string out;
  for (size_t k = 1; k < ids.size(); ++k) out += stream.feed(ids[k]);
  EXPECT_EQ(out, "🙂");
  EXPECT_EQ(stream.flush(), "");
}

TEST(Decode, SkipsSpecialTokensOnRequest) {
  auto tok = Tokenizer::load(kShared + "/testdata/models/tiny-qwen2");
  std::vector<int> ids = tok->encode("<|im_start|>hi<|im_end|>");
  ASSERT_EQ(ids.front(), 510);
  EXPECT_TRUE(tok->is_special(510));
  EXPECT_EQ(tok->decode(ids), "<|im_start|>hi<|im_end|>");
  EXPECT_EQ(tok->decode(ids, true), "hi");
  std::vector<int> plain = tok->encode("<|im_start|>", EncodeOptions{false, false});
  EXPECT_GT(plain.size(), 1u);
}

TEST(Specials, BosEosAndEndOfTurnIds) {
  auto spm = Tokenizer::load(kShared + "/testdata/tokenizers/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(spm->bos_id(), 1);
  EXPECT_EQ(spm->eos_id(), 2);
  EXPECT_EQ(spm->encode("Hello").front(), 1);
  EXPECT_EQ(spm->bos_text(), "<s>");
  const Tokenizer* l3 = &shared_tokenizer(kShared + "/testdata/tokenizers/ggml-vocab-llama-bpe.gguf");
  EXPECT_EQ(l3->encode("Hello").front(), l3->bos_id());
  std::vector<int> eos = l3->eos_ids();
  EXPECT_NE(std::find(eos.begin(), eos.end(), l3->token_to_id("<|eot_id|>")), eos.end());
  auto qwen = Tokenizer::load(kShared + "/testdata/models/tiny-qwen2");
  EXPECT_EQ(qwen->bos_id(), -1);
  EXPECT_EQ(qwen->eos_text(), "<|im_end|>");
  EXPECT_EQ(qwen->encode("Hello", EncodeOptions{true, true}), qwen->encode("Hello", EncodeOptions{false, true}));
}

}  // namespace
}  // namespace pad

namespace pad {
namespace {

TEST(UnicodeNormalization, MatchesUnicodeExamples) {
  // Expected strings from Python's unicodedata.normalize (UCD 14.0).
  EXPECT_EQ(unicode_normalize("e\xCC\x81", UnicodeForm::kNFC), "\xC3\xA9");                       // e + U+0301 → é
  EXPECT_EQ(unicode_normalize("\xC3\xA9", UnicodeForm::kNFD), "e\xCC\x81");
  EXPECT_EQ(unicode_normalize("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", UnicodeForm::kNFC), "\xEA\xB0\x81");  // 각
  EXPECT_EQ(unicode_normalize("\xEA\xB0\x81", UnicodeForm::kNFD), "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8");
  EXPECT_EQ(unicode_normalize("\xEF\xAC\x81", UnicodeForm::kNFKC), "fi");                               // ﬁ ligature
  EXPECT_EQ(unicode_normalize("\xEF\xAC\x81", UnicodeForm::kNFC), "\xEF\xAC\x81");
  EXPECT_EQ(unicode_normalize("\xE2\x84\xAB", UnicodeForm::kNFC), "\xC3\x85");                          // Å (U+212B) → U+00C5
  // q + dot below (220) + dot above (230) in either order → the same canonical order.
  EXPECT_EQ(unicode_normalize("q\xCC\x87\xCC\xA3", UnicodeForm::kNFC), "q\xCC\xA3\xCC\x87");
  EXPECT_EQ(unicode_normalize("\xE2\x91\xA0 x\xC2\xB2", UnicodeForm::kNFKC), "1 x2");                  // ① x²
  EXPECT_EQ(unicode_normalize("plain ascii", UnicodeForm::kNFKC), "plain ascii");
}

}  // namespace
}  // namespace pad
