// Decoders: piece-sequence rewrites applied before pieces are joined into text.
#include "pad/tokenizer/decoder.h"

#include "pad/tokenizer/regex.h"
#include "pad/tokenizer/unicode.h"

namespace pad {
namespace {

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& pieces, bool) const override {
    std::string bytes;
    for (const std::string& p : pieces) {
      // Pieces with characters outside the byte map (added tokens) pass through unchanged.
      size_t start = bytes.size();
      bool mapped = true;
      size_t i = 0;
      while (i < p.size()) {
        int b = unicode_to_byte(utf8_decode(p, i));
        if (b < 0) {
          mapped = false;
          break;
        }
        bytes += static_cast<char>(b);
      }
      if (!mapped) {
        bytes.resize(start);
        bytes += p;
      }
    }
    pieces.assign(1, std::move(bytes));
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, PrependScheme scheme)
      : replacement_(std::move(replacement)), scheme_(scheme) {}
  void decode_chain(std::vector<std::string>& pieces, bool at_start) const override {
    for (size_t k = 0; k < pieces.size(); ++k) {
      std::string out;
      const std::string& p = pieces[k];
      for (size_t pos = 0; pos < p.size();) {
        if (p.compare(pos, replacement_.size(), replacement_) == 0) {
          out += ' ';
          pos += replacement_.size();
        } else {
          out += p[pos++];
        }
      }
      if (k == 0 && at_start && scheme_ != PrependScheme::kNever && !out.empty() && out[0] == ' ') out.erase(0, 1);
      pieces[k] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& pieces, bool) const override {
    for (std::string& p : pieces) {
      if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>') {
        int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
        if (hi >= 0 && lo >= 0) p.assign(1, static_cast<char>(hi * 16 + lo));
      }
    }
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& pieces, bool) const override {
    std::string all;
    for (const std::string& p : pieces) all += p;
    pieces.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int start, int stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& pieces, bool at_start) const override {
    if (content_.empty()) return;
    for (size_t k = 0; k < pieces.size(); ++k) {
      std::string& p = pieces[k];
      // A piece that continues earlier text (token_text) keeps its leading content.
      if (k > 0 || at_start)
        for (int n = 0; n < start_ && p.compare(0, content_.size(), content_) == 0; ++n) p.erase(0, content_.size());
      for (int n = 0; n < stop_ && p.size() >= content_.size() &&
                      p.compare(p.size() - content_.size(), content_.size(), content_) == 0;
           ++n)
        p.resize(p.size() - content_.size());
    }
  }

 private:
  std::string content_;
  int start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const TextPattern& pattern, std::string content)
      : normalizer_(make_replace_normalizer(pattern, std::move(content))) {}
  void decode_chain(std::vector<std::string>& pieces, bool) const override {
    for (std::string& p : pieces) p = normalizer_->normalize(p);
  }

 private:
  std::unique_ptr<Normalizer> normalizer_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& pieces, bool at_start) const override {
    for (const auto& s : steps_) s->decode_chain(pieces, at_start);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }
std::unique_ptr<Decoder> make_metaspace_decoder(std::string replacement, PrependScheme scheme) {
  return std::make_unique<MetaspaceDecoder>(std::move(replacement), scheme);
}
std::unique_ptr<Decoder> make_byte_fallback_decoder() { return std::make_unique<ByteFallbackDecoder>(); }
std::unique_ptr<Decoder> make_fuse_decoder() { return std::make_unique<FuseDecoder>(); }
std::unique_ptr<Decoder> make_strip_decoder(std::string content, int start, int stop) {
  return std::make_unique<StripDecoder>(std::move(content), start, stop);
}
std::unique_ptr<Decoder> make_replace_decoder(const TextPattern& pattern, std::string content) {
  return std::make_unique<ReplaceDecoder>(pattern, std::move(content));
}
std::unique_ptr<Decoder> make_sequence_decoder(std::vector<std::unique_ptr<Decoder>> steps) {
  return std::make_unique<SequenceDecoder>(std::move(steps));
}

}  // namespace pad
