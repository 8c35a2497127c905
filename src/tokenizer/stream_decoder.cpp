// Streaming detokenization by differences of window decodes: the text of ids [prefix, read) is known
// to be complete and final; new text is what decoding [prefix, end) adds beyond it.
#include "pad/tokenizer/tokenizer.h"

#include "pad/util/strings.h"

namespace pad {
namespace {

const char* const kReplacement = "\xEF\xBF\xBD";
constexpr size_t kTrimAfter = 4096;

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special) : tok_(tok), skip_special_(skip_special) {}

std::string StreamDecoder::window(size_t end) const {
  bool at_start = prefix_ == 0 || (tok_.restarts_after_special() && tok_.is_special(ids_[prefix_ - 1]));
  return tok_.decode_range(ids_, prefix_, end, skip_special_, at_start);
}

std::string StreamDecoder::feed(int id) {
  if (id < 0 || id >= tok_.n_vocab()) tok_.token_piece(id);  // throws the standard range error
  ids_.push_back(id);
  std::string before = window(read_);
  std::string now = window(ids_.size());
  // A trailing U+FFFD may be the first bytes of a character the next token completes: hold it.
  if (now.size() <= before.size() || ends_with(now, kReplacement)) return {};
  std::string out = now.substr(before.size());
  prefix_ = read_;
  read_ = ids_.size();
  if (prefix_ > kTrimAfter) {  // keep memory bounded on long generations
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_ - 1));
    read_ -= prefix_ - 1;
    prefix_ = 1;
  }
  return out;
}

std::string StreamDecoder::flush() {
  std::string before = window(read_);
  std::string now = window(ids_.size());
  std::string out = now.size() > before.size() ? now.substr(before.size()) : std::string();
  prefix_ = read_ = ids_.size();
  return out;
}

void StreamDecoder::reset() {
  ids_.clear();
  prefix_ = read_ = 0;
}

}  // namespace pad
