// tokenizer_config.json (bos/eos tokens, add_*_token flags, added_tokens_decoder, chat_template)
// applied to a fixed small byte-level BPE tokenizer (fuzz/data/small_tokenizer.json: loading the
// 14 KB tiny Qwen2 one every run held the target to ~40 runs/s).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "fuzz_common.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/tokenizer/tokenizer_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = pad_fuzz::put_file("tokenizer_config.json", data, size);
  try {
    pad::TokenizerParts parts = pad::load_hf_tokenizer(pad_fuzz::data_file("small_tokenizer.json"), "");
    pad::apply_tokenizer_config(parts, path, "");
    pad::add_known_eos_tokens(parts);
    pad::Tokenizer tok(std::move(parts));
    std::vector<int> ids = tok.encode("<|im_start|>user\nHello<|im_end|>");
    (void)tok.decode(ids);
    (void)tok.eos_ids();
    (void)tok.bos_text();
  } catch (const std::exception& e) {
    if (std::getenv("PAD_FUZZ_VERBOSE")) std::fprintf(stderr, "refused: %s\n", e.what());
  }
  return 0;
}
