// tokenizer.model (SentencePiece ModelProto, read by pad's own protobuf reader), then a Tokenizer
// built from it encoding and decoding a fixed text.
#include <exception>

#include "fuzz_common.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/tokenizer_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = pad_fuzz::put_file("tokenizer.model", data, size);
  try {
    pad::Tokenizer tok(pad::load_sentencepiece_tokenizer(path, ""));
    std::vector<int> ids = tok.encode("Hello world, 123  ünïcode\n\ttabs");
    (void)tok.decode(ids);
  } catch (const std::exception&) {
  }
  return 0;
}
