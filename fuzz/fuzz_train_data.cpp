// Training data files, line by line: the first byte picks preference pairs (JSONL), SFT examples
// (JSONL) or SFT plain text, and strict or skipping mode; the rest is the file. Encoded with the tiny
// Qwen2 tokenizer and its chat template (fuzz/data/tokenizer.json); bad lines must be counted and
// reported, never crash. Every returned example must respect the length limit.
#include <cstdlib>
#include <exception>
#include <memory>

#include "fuzz_common.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/train/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<pad::Tokenizer> tok = pad::Tokenizer::load(pad_fuzz::data_file("tokenizer.json"));
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  pad::DataOptions o;
  o.strict = (mode & 4) != 0;
  o.max_length = (mode & 8) ? 24 : 1024;
  pad::DataReport report;
  try {
    switch (mode % 3) {
      case 0: {
        const std::string path = pad_fuzz::put_file("prefs.jsonl", data + 1, size - 1);
        for (const pad::PreferencePair& p : pad::load_preference_data(path, *tok, o, &report))
          if (p.prompts.empty() || p.chosen.empty() || p.rejected.empty()) std::abort();
        break;
      }
      case 1: {
        const std::string path = pad_fuzz::put_file("sft.jsonl", data + 1, size - 1);
        for (const pad::SftExample& e : pad::load_sft_data(path, *tok, o, &report))
          if (static_cast<int64_t>(e.sequence.ids.size()) > o.max_length || e.sequence.n_prompt < 1) std::abort();
        break;
      }
      default: {
        const std::string path = pad_fuzz::put_file("sft.txt", data + 1, size - 1);
        for (const pad::SftExample& e : pad::load_sft_data(path, *tok, o, &report))
          if (static_cast<int64_t>(e.sequence.ids.size()) > o.max_length || e.sequence.n_prompt < 1) std::abort();
        break;
      }
    }
  } catch (const std::exception&) {
  }
  (void)report.summary();
  return 0;
}
