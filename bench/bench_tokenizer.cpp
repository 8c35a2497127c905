// Encode throughput of a tokenizer on a few MB of mixed text (English, code, numbers, CJK, emoji):
// first pass (cold word cache) and second pass (warm), plus decode, measured in the same run.
//   bench_tokenizer [TOKENIZER_PATH] [MEGABYTES]   (default: the Llama 3 GGUF vocabulary, 4 MB)
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "pad/tokenizer/tokenizer.h"

namespace {

std::string mixed_text(size_t n_bytes) {
  static const char* const kWords[] = {
      "the", "model", "decoding", "reward", "preference", "token", "alignment", "personalized", "humor", "concise",
      "Because", "However,", "it's", "we'll", "don't", "I'm", "they've", "Hello", "world", "tokenizer", "cache",
      "éléphant", "naïve", "Straße", "Ελληνικά", "русский", "日本語の文章", "中文文本", "한국어", "🙂", "🚀🚀",
      "int", "main()", "{", "}", "return", "x+=1;", "std::vector<int>", "0x1F", "3.14159", "2024", "1234567",
      "https://example.com/a?b=c", "\t", "    ", "\n", "\n\n", "—", "«quoted»", "(parenthesis)", "[list]"};
  std::mt19937 rng(42);
  std::string s;
  s.reserve(n_bytes + 64);
  while (s.size() < n_bytes) {
    s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    s += rng() % 7 == 0 ? "" : " ";
    if (rng() % 2000 == 0) s += std::to_string(rng());  // numbers the cache has not seen
  }
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : std::string(PAD_SHARED_DIR) + "/testdata/tokenizers/ggml-vocab-llama-bpe.gguf";
  double mb = argc > 2 ? std::stod(argv[2]) : 4.0;
  auto t_load = std::chrono::steady_clock::now();
  auto tok = pad::Tokenizer::load(path);
  double load_s = seconds_since(t_load);
  std::string text = mixed_text(static_cast<size_t>(mb * 1e6));
  const double n_mb = static_cast<double>(text.size()) / 1e6;
  pad::EncodeOptions opt{false, false};

  auto t0 = std::chrono::steady_clock::now();
  std::vector<int> ids = tok->encode(text, opt);
  double cold_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  std::vector<int> again = tok->encode(text, opt);
  double warm_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  std::string back = tok->decode(ids);
  double dec_s = seconds_since(t0);

  std::printf("tokenizer  %s (n_vocab %d, load %.2f s)\n", path.c_str(), tok->n_vocab(), load_s);
  std::printf("text       %.2f MB -> %zu tokens (%.2f bytes/token)\n", n_mb, ids.size(),
              static_cast<double>(text.size()) / static_cast<double>(ids.size()));
  std::printf("encode     cold cache %.1f MB/s, warm cache %.1f MB/s (warm/cold %.2fx)\n", n_mb / cold_s,
              n_mb / warm_s, cold_s / warm_s);
  std::printf("decode     %.1f MB/s\n", n_mb / dec_s);
  std::printf("check      round trip %s, passes agree %s\n", back == text ? "ok" : "MISMATCH",
              ids == again ? "ok" : "MISMATCH");
  return back == text && ids == again ? 0 : 1;
}
