// SentencePiece tokenizer.model files, read directly from their protobuf wire format (ModelProto:
// pieces with scores and types, trainer and normalizer specs). libsentencepiece is not linked: its
// bundled protobuf clashes with libtorch's libprotobuf at load time and crashes `pad` on startup.
// BPE models encode with the same score-ranked merges as GGUF "llama" vocabularies.
#include <cstring>

#include "pad/tokenizer/tokenizer_parts.h"
#include "pad/util/error.h"
#include "pad/util/file.h"

namespace pad {
namespace {

// Minimal protobuf reader: varints, 32-bit floats, length-delimited fields; bounds-checked.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& path) : data_(data), path_(path) {}
  bool done() const { return pos_ >= data_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("varint");
      auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint");
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (n > data_.size() - pos_) fail("length-delimited field");
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  float f32() {
    if (data_.size() - pos_ < 4) fail("float");
    float f;
    std::memcpy(&f, data_.data() + pos_, 4);
    pos_ += 4;
    return f;
  }
  void skip(uint32_t wire) {
    if (wire == 0) varint();
    else if (wire == 2) bytes();
    else if (wire == 5 && data_.size() - pos_ >= 4) pos_ += 4;
    else if (wire == 1 && data_.size() - pos_ >= 8) pos_ += 8;
    else fail("field of wire type " + std::to_string(wire));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_invalid(path_, ": not a SentencePiece model (bad or truncated ", what, " at byte ", pos_, ")");
  }
  std::string_view data_;
  const std::string& path_;
  size_t pos_ = 0;
};

// ModelProto.SentencePiece.Type values.
enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct SpModel {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int> types;
  int model_type = 1;  // 1 unigram, 2 BPE, 3 word, 4 char
  bool byte_fallback = false;
  int unk_id = 0, bos_id = 1, eos_id = 2;
  std::string normalizer = "nmt_nfkc";
  bool add_dummy_prefix = true, remove_extra_whitespaces = true;
};

void read_piece(std::string_view msg, const std::string& path, SpModel& m) {
  ProtoReader r(msg, path);
  std::string piece;
  float score = 0;
  int type = kNormal;
  while (!r.done()) {
    uint64_t key = r.varint();
    uint32_t field = static_cast<uint32_t>(key >> 3), wire = key & 7;
    if (field == 1 && wire == 2) piece = std::string(r.bytes());
    else if (field == 2 && wire == 5) score = r.f32();
    else if (field == 3 && wire == 0) type = static_cast<int>(r.varint());
    else r.skip(wire);
  }
  m.pieces.push_back(std::move(piece));
  m.scores.push_back(score);
  m.types.push_back(type);
}

void read_spec(std::string_view msg, const std::string& path, bool trainer, SpModel& m) {
  ProtoReader r(msg, path);
  while (!r.done()) {
    uint64_t key = r.varint();
    uint32_t field = static_cast<uint32_t>(key >> 3), wire = key & 7;
    if (wire == 0) {
      auto v = static_cast<int>(static_cast<int32_t>(r.varint()));
      if (trainer && field == 3) m.model_type = v;
      if (trainer && field == 35) m.byte_fallback = v != 0;
      if (trainer && field == 40) m.unk_id = v;
      if (trainer && field == 41) m.bos_id = v;
      if (trainer && field == 42) m.eos_id = v;
      if (!trainer && field == 3) m.add_dummy_prefix = v != 0;
      if (!trainer && field == 4) m.remove_extra_whitespaces = v != 0;
    } else if (!trainer && field == 1 && wire == 2) {
      m.normalizer = std::string(r.bytes());
    } else {
      r.skip(wire);
    }
  }
}

SpModel read_model(const std::string& path) {
  if (!file_exists(path)) throw_runtime(path, ": no such file");
  std::string data = read_file(path);
  SpModel m;
  ProtoReader r(data, path);
  while (!r.done()) {
    uint64_t key = r.varint();
    uint32_t field = static_cast<uint32_t>(key >> 3), wire = key & 7;
    if (wire == 2 && field == 1) read_piece(r.bytes(), path, m);
    else if (wire == 2 && (field == 2 || field == 3)) read_spec(r.bytes(), path, field == 2, m);
    else r.skip(wire);
  }
  if (m.pieces.empty()) throw_invalid(path, ": not a SentencePiece model (no pieces)");
  if (m.model_type != 2) {
    static const char* const kTypes[] = {"?", "unigram", "BPE", "word", "char"};
    const char* type = m.model_type >= 1 && m.model_type <= 4 ? kTypes[m.model_type] : "unknown";
    throw_invalid(path, ": SentencePiece model type ", m.model_type, " (", type,
                  ") is not supported: pad reads BPE models (type 2), which is what Llama-family models "
                  "publish (Llama 2, Mistral); unigram models belong to T5-style encoders");
  }
  return m;
}

}  // namespace

TokenizerParts load_sentencepiece_tokenizer(const std::string& model_path, const std::string& config_path) {
  SpModel m = read_model(model_path);
  const int n = static_cast<int>(m.pieces.size());
  TokenizerParts parts;
  parts.source = model_path;
  std::vector<bool> mergeable(m.pieces.size());
  for (int i = 0; i < n; ++i) {
    int t = m.types[static_cast<size_t>(i)];
    mergeable[static_cast<size_t>(i)] = t == kNormal || t == kUserDefined;
    if (t != kControl && t != kUnknown && t != kUserDefined) continue;
    AddedToken a;
    a.id = i;
    a.content = m.pieces[static_cast<size_t>(i)];
    a.special = t != kUserDefined;
    parts.added_tokens.push_back(std::move(a));
  }
  const char* const space = "\xE2\x96\x81";  // ▁
  std::vector<std::unique_ptr<Normalizer>> norm;
  if (m.normalizer != "identity") norm.push_back(make_unicode_normalizer(UnicodeForm::kNFKC));  // approximates nmt_nfkc
  if (m.remove_extra_whitespaces) {
    norm.push_back(make_strip_normalizer(true, true));
    norm.push_back(make_replace_normalizer({" {2,}", true}, " "));
  }
  if (m.add_dummy_prefix) norm.push_back(make_prepend_normalizer(space));
  norm.push_back(make_replace_normalizer({" ", false}, space));
  parts.normalizer = make_sequence_normalizer(std::move(norm));
  std::vector<std::unique_ptr<Decoder>> dec;
  dec.push_back(make_replace_decoder({space, false}, " "));
  dec.push_back(make_byte_fallback_decoder());
  dec.push_back(make_fuse_decoder());
  if (m.add_dummy_prefix) dec.push_back(make_strip_decoder(" ", 1, 0));
  parts.decoder = make_sequence_decoder(std::move(dec));
  parts.restart_after_special = m.add_dummy_prefix;
  auto in_range = [n](int id) { return id >= 0 && id < n ? id : -1; };
  BpeOptions opt;
  opt.byte_fallback = m.byte_fallback;
  opt.unk_id = in_range(m.unk_id);
  parts.bos_id = in_range(m.bos_id);
  parts.eos_id = in_range(m.eos_id);
  if (parts.bos_id >= 0) parts.prefix_ids.push_back(parts.bos_id);  // Llama convention; config may override
  parts.model = BpeModel::from_scores(std::move(m.pieces), std::move(m.scores), std::move(mergeable), opt);
  size_t slash = model_path.find_last_of('/');
  std::string dir = slash == std::string::npos ? std::string() : model_path.substr(0, slash + 1);
  std::string gen = file_exists(dir + "generation_config.json") ? dir + "generation_config.json" : std::string();
  apply_tokenizer_config(parts, config_path, gen);
  add_known_eos_tokens(parts);
  return parts;
}

}  // namespace pad
