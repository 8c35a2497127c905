// Reading and encoding training data; every skipped line is recorded with its number and reason.
#include "pad/train/data.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "pad/tokenizer/chat_template.h"
#include "pad/tokenizer/tokenizer.h"
#include "pad/util/error.h"
#include "pad/util/log.h"
#include "pad/util/strings.h"

namespace pad {
namespace {

using Json = nlohmann::json;

// A bad line: thrown inside the per-line parsers, caught by the reading loop.
struct BadData {
  std::string reason;
};

std::string text_field(const Json& j, const char* name) {
  if (!j.contains(name)) throw BadData{str_cat("missing field '", name, "'")};
  if (!j[name].is_string()) throw BadData{str_cat("field '", name, "' is not a string")};
  std::string s = j[name].get<std::string>();
  if (s.empty()) throw BadData{str_cat("field '", name, "' is empty")};
  return s;
}

// Reads `path` line by line, calling `parse` on each non-blank line; collects bad lines.
template <typename T, typename Parse>
std::vector<T> read_lines(const std::string& path, const DataOptions& opt, DataReport* report, Parse parse) {
  std::ifstream in(path);
  if (!in) throw_runtime(path, ": cannot open the data file");
  DataReport local;
  DataReport& r = report != nullptr ? *report : local;
  r = DataReport{};
  r.file = path;
  std::vector<T> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ++r.n_lines;
    try {
      T item = parse(line);
      item.line = n;
      out.push_back(std::move(item));
    } catch (const BadData& e) {
      if (opt.strict) throw_invalid(path, ":", n, ": ", e.reason, " (--strict)");
      r.bad.push_back({n, e.reason});
    } catch (const std::invalid_argument& e) {  // e.g. invalid UTF-8 from the tokenizer
      if (opt.strict) throw_invalid(path, ":", n, ": ", e.what(), " (--strict)");
      r.bad.push_back({n, e.what()});
    }
  }
  r.n_used = static_cast<int64_t>(out.size());
  if (!r.bad.empty()) log_warn(r.summary());
  if (out.empty()) throw_invalid(path, ": no usable examples (", r.n_lines, " non-blank lines, ", r.bad.size(), " bad)");
  return out;
}

Json parse_object(const std::string& line) {
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded()) throw BadData{"invalid JSON"};
  if (!j.is_object()) throw BadData{"not a JSON object"};
  return j;
}

void check_length(size_t n, const DataOptions& opt, const char* what) {
  if (static_cast<int64_t>(n) > opt.max_length)
    throw BadData{str_cat(what, " is ", n, " tokens, over --max-length ", opt.max_length)};
}

}  // namespace

std::string DataReport::summary(size_t max_listed) const {
  std::string s = str_cat(file, ": ", n_used, " of ", n_lines, " lines used");
  if (bad.empty()) return s;
  s += str_cat(", ", bad.size(), " skipped: ");
  for (size_t i = 0; i < bad.size() && i < max_listed; ++i)
    s += str_cat(i ? "; " : "", "line ", bad[i].line, ": ", bad[i].reason);
  if (bad.size() > max_listed) s += str_cat("; ... (", bad.size() - max_listed, " more)");
  return s;
}

void DataOptions::validate() const {
  if (max_length < 2) throw_invalid("--max-length ", max_length, " is out of range (expected ≥ 2)");
  if (guideline_template.find("{prompt}") == std::string::npos)
    throw_invalid("--pref-template must contain {prompt}; got '", guideline_template, "'");
}

PromptEncoder::PromptEncoder(const Tokenizer& tok, std::string guideline_template)
    : tok_(tok), template_(std::move(guideline_template)) {}

std::vector<int> PromptEncoder::chat_prompt(const std::string& content) const {
  const auto& tmpl = tok_.chat_template();
  if (!tmpl) return tok_.encode(content);
  std::string text = render_chat(*tmpl, {{"user", content}}, true, tok_.bos_text(), tok_.eos_text());
  return tok_.encode(text, EncodeOptions{false, true});
}

std::vector<int> PromptEncoder::preference_prompt(const std::string& principle, const std::string& prompt) const {
  return chat_prompt(apply_guideline(template_, principle, prompt));
}

std::vector<int> PromptEncoder::response(const std::string& text) const {
  std::vector<int> ids = tok_.encode(text, EncodeOptions{false, false});
  const int eos = tok_.eos_id() >= 0 ? tok_.eos_id() : (tok_.eos_ids().empty() ? -1 : tok_.eos_ids().front());
  if (eos >= 0) ids.push_back(eos);
  return ids;
}

int64_t PreferencePair::n_tokens() const {
  int64_t n = 0;
  for (const Prompt& p : prompts) n += 2 * static_cast<int64_t>(p.ids.size()) + chosen.size() + rejected.size();
  return n;
}

std::vector<PreferencePair> load_preference_data(const std::string& path, const Tokenizer& tok,
                                                 const DataOptions& opt, DataReport* report) {
  opt.validate();
  PromptEncoder enc(tok, opt.guideline_template);
  return read_lines<PreferencePair>(path, opt, report, [&](const std::string& line) {
    Json j = parse_object(line);
    PreferencePair p;
    const std::string prompt = text_field(j, "prompt");
    const std::string chosen = text_field(j, "chosen"), rejected = text_field(j, "rejected");
    if (j.contains("weights")) {
      // w_p over named principles: one conditioned prompt per principle (DESIGN §1).
      const Json& w = j["weights"];
      if (!w.is_object() || w.empty()) throw BadData{"field 'weights' must be a non-empty object {name: number}"};
      for (const auto& [name, value] : w.items()) {
        if (name.empty()) throw BadData{"field 'weights' has an empty principle name"};
        if (!value.is_number() || !std::isfinite(value.get<double>()))
          throw BadData{str_cat("weights['", name, "'] is not a finite number")};
        p.prompts.push_back({enc.preference_prompt(name, prompt), value.get<double>()});
      }
    } else {
      p.prompts.push_back({enc.preference_prompt(text_field(j, "preference"), prompt), 1.0});
    }
    if (j.contains("group")) {
      const Json& g = j["group"];
      if (g.is_string() && !g.get<std::string>().empty()) p.group = g.get<std::string>();
      else if (g.is_number_integer()) p.group = std::to_string(g.get<int64_t>());
      else throw BadData{"field 'group' must be a non-empty string or an integer"};
    }
    p.chosen = enc.response(chosen);
    p.rejected = enc.response(rejected);
    for (const auto& c : p.prompts) {
      check_length(c.ids.size() + p.chosen.size(), opt, "prompt + chosen");
      check_length(c.ids.size() + p.rejected.size(), opt, "prompt + rejected");
      if (c.ids.empty()) throw BadData{"the prompt encodes to no tokens"};
    }
    return p;
  });
}

std::vector<SftExample> load_sft_data(const std::string& path, const Tokenizer& tok, const DataOptions& opt,
                                      DataReport* report) {
  opt.validate();
  PromptEncoder enc(tok, opt.guideline_template);
  const bool jsonl = ends_with(path, ".jsonl") || ends_with(path, ".json");
  return read_lines<SftExample>(path, opt, report, [&](const std::string& line) {
    SftExample ex;
    if (jsonl) {
      Json j = parse_object(line);
      std::vector<int> prompt = enc.chat_prompt(text_field(j, "prompt"));
      std::vector<int> response = enc.response(text_field(j, "response"));
      if (prompt.empty()) throw BadData{"the prompt encodes to no tokens"};
      ex.sequence.n_prompt = static_cast<int64_t>(prompt.size());
      ex.sequence.ids = std::move(prompt);
      ex.sequence.ids.insert(ex.sequence.ids.end(), response.begin(), response.end());
    } else {
      ex.sequence.ids = tok.encode(line);
      const int eos = tok.eos_id();
      if (eos >= 0) ex.sequence.ids.push_back(eos);
      ex.sequence.n_prompt = 1;
    }
    if (ex.sequence.ids.size() < 2) throw BadData{"fewer than 2 tokens"};
    check_length(ex.sequence.ids.size(), opt, "the example");
    return ex;
  });
}

std::vector<std::vector<int64_t>> plan_epoch(const std::vector<int64_t>& lengths, int64_t batch_size, uint64_t seed,
                                             int64_t epoch, bool bucket) {
  PAD_CHECK(batch_size > 0, "batch size ", batch_size);
  const int64_t n = static_cast<int64_t>(lengths.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Our own Fisher–Yates on mt19937_64: std::shuffle's algorithm is not specified across libraries.
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch) + 1);
  auto shuffle = [&rng](auto& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
  };
  shuffle(order);
  if (bucket) {
    const int64_t window = batch_size * 32;
    for (int64_t b = 0; b < n; b += window)
      std::stable_sort(order.begin() + b, order.begin() + std::min(n, b + window),
                       [&](int64_t x, int64_t y) { return lengths[x] < lengths[y]; });
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t b = 0; b < n; b += batch_size)
    batches.emplace_back(order.begin() + b, order.begin() + std::min(n, b + batch_size));
  if (bucket) shuffle(batches);
  return batches;
}

}  // namespace pad
