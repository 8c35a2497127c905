// Decoders of Hugging Face tokenizer.json (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
// Sequence): they turn the pieces of a token sequence back into text. Outputs may hold raw bytes;
// the tokenizer repairs invalid UTF-8 once at the end (see Tokenizer::decode).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pad/tokenizer/pre_tokenizer.h"

namespace pad {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // `at_start`: the first piece starts the sequence (Metaspace and Strip drop a leading space there).
  virtual void decode_chain(std::vector<std::string>& pieces, bool at_start) const = 0;
};

std::unique_ptr<Decoder> make_byte_level_decoder();
std::unique_ptr<Decoder> make_metaspace_decoder(std::string replacement, PrependScheme scheme);
// Pieces "<0xNN>" become the raw byte NN (invalid sequences are repaired later, per maximal subpart,
// rather than tokenizers' one U+FFFD per byte, so that streaming reproduces the full decode).
std::unique_ptr<Decoder> make_byte_fallback_decoder();
std::unique_ptr<Decoder> make_fuse_decoder();
// Removes up to `start` copies of `content` from the front of each piece and `stop` from the back
// (Llama's decoder fuses first, so this drops the leading space SentencePiece text starts with).
std::unique_ptr<Decoder> make_strip_decoder(std::string content, int start, int stop);
std::unique_ptr<Decoder> make_replace_decoder(const TextPattern& pattern, std::string content);
std::unique_ptr<Decoder> make_sequence_decoder(std::vector<std::unique_ptr<Decoder>> steps);

}  // namespace pad
