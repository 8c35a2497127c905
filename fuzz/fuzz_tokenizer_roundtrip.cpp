// The tokenizer on arbitrary bytes: invalid UTF-8 must be refused with an error; valid UTF-8 must
// round-trip exactly through the byte-level BPE tokenizer (fuzz/data/tokenizer.json, tiny Qwen2,
// no normalizer), with special-token text parsed or not; every id also decodes through the
// StreamDecoder to the same text.
#include <cstdlib>
#include <cstdio>
#include <exception>

#include "fuzz_common.h"
#include "pad/tokenizer/tokenizer.h"

namespace {
const pad::Tokenizer& tokenizer() {
  static const std::unique_ptr<pad::Tokenizer> tok = pad::Tokenizer::load(pad_fuzz::data_file("tokenizer.json"));
  return *tok;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const pad::Tokenizer& tok = tokenizer();
  std::string text(reinterpret_cast<const char*>(data), size);
  for (bool parse_special : {false, true}) {
    std::vector<int> ids;
    try {
      ids = tok.encode(text, {/*add_special=*/false, parse_special});
    } catch (const std::invalid_argument&) {
      return 0;  // not UTF-8: refused, as documented
    }
    std::string back = tok.decode(ids);
    if (back != text) {
      std::fprintf(stderr, "round trip failed (parse_special=%d): %zu bytes in, %zu out\n", parse_special,
                   text.size(), back.size());
      std::abort();
    }
    pad::StreamDecoder sd(tok);
    std::string streamed;
    for (int id : ids) streamed += sd.feed(id);
    streamed += sd.flush();
    if (streamed != back) {
      std::fprintf(stderr, "stream decode differs from decode (parse_special=%d)\n", parse_special);
      std::abort();
    }
  }
  return 0;
}
