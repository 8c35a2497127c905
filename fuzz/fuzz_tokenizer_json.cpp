// tokenizer.json (Hugging Face pipeline: normalizer, pre-tokenizer, model, decoder, added tokens),
// then a Tokenizer built from it encoding and decoding a fixed text.
#include <exception>

#include "fuzz_common.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/tokenizer_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = pad_fuzz::put_file("tokenizer.json", data, size);
  try {
    pad::Tokenizer tok(pad::load_hf_tokenizer(path, ""));
    std::vector<int> ids = tok.encode("Hello world, 123 <|im_start|>  ünïcode\n\ttabs");
    (void)tok.decode(ids);
    (void)tok.decode(ids, true);
  } catch (const std::exception&) {
  }
  return 0;
}
