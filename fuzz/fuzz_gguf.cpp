// A GGUF file: header, metadata key/values, tensor directory; then the model config and the
// tokenizer read from its metadata, as `pad` does for a .gguf model.
#include <exception>

#include "fuzz_common.h"
#include "pad/format/gguf.h"
#include "pad/format/model_config.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/tokenizer_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = pad_fuzz::put_file("model.gguf", data, size);
  try {
    pad::GgufFile f(path);
    volatile uint8_t sum = 0;
    for (const pad::GgufTensor& t : f.tensors())
      if (t.nbytes) sum = sum + t.data[0] + t.data[t.nbytes - 1];
    try {
      pad::ModelConfig c = pad::read_gguf_config(f);
      (void)c.n_params();
    } catch (const std::exception&) {
    }
    pad::Tokenizer tok(pad::load_gguf_tokenizer(path));
    std::vector<int> ids = tok.encode("Hello world, 123 <|im_start|> ünïcode");
    (void)tok.decode(ids);
  } catch (const std::exception&) {
  }
  return 0;
}
