// `pad eval`'s prompts file (--eval) and `pad eval-pairs`' preference pairs (--data). Their own file,
// free of the CLI, so fuzz/fuzz_eval_items.cpp and fuzz/fuzz_eval_pairs.cpp can build the readers alone.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pad::cli {

// One evaluation prompt (a line of PrefWorld's eval.jsonl).
struct EvalItem {
  std::string id, prompt, subject;
  std::optional<bool> harmful;  // unset: the knowledge base decides
};

// One preference pair eval-pairs scores.
struct EvalPair {
  std::string prompt, principle, chosen, rejected;
};

// One prompt per non-blank line: a JSON object with a string "prompt" and optionally a string "id"
// (else "eval-LINE"), a string "subject" and a boolean "harmful"; other fields, and an "id" or
// "subject" that is not a string, are ignored. Reads the first `limit` prompts (≤ 0: all); returns at
// least one. Throws std::invalid_argument naming FILE:LINE and the field, or FILE when it holds no
// prompt; std::runtime_error when it cannot be read.
std::vector<EvalItem> read_eval_items(const std::string& path, int limit);

// One pair per non-blank line: a JSON object of strings "prompt", "preference" (PrefWorld's
// prefs.jsonl; "principle" is read when there is no "preference"), "chosen" and "rejected". Reads
// the first `limit` pairs (≤ 0: all); returns at least one. Errors as read_eval_items'.
std::vector<EvalPair> read_pairs(const std::string& path, int limit);

}  // namespace pad::cli
