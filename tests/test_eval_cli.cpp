// `pad eval` end to end on the tiny fixture model with an identity value head: one results line per
// (prompt, method, preference), all six judge scores in [0, 1], a table row per method, summary means
// that match the results, well-formed charts, and exit code 2 for bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pad/model/adapters.h"
#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

using test::CmdResult;
using test::pad_cmd;

// Every start tag has its end tag; comments, the declaration and self-closing tags allowed.
bool tags_balanced(const std::string& xml, std::string* why) {
  std::vector<std::string> stack;
  int roots = 0;
  for (size_t pos = 0; (pos = xml.find('<', pos)) != std::string::npos;) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (std::count(tag.begin(), tag.end(), '"') % 2) return *why = "odd quotes in <" + tag + ">", false;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return *why = "unexpected <" + tag + ">", false;
      stack.pop_back();
    } else if (tag.back() != '/') {
      if (stack.empty()) ++roots;
      stack.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
    }
  }
  if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
  if (roots != 1) return *why = "expected one root element", false;
  return true;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// PrefWorld with four evaluation prompts and a value head: identity plus a small bias, so the PersRM
// differs from the base and PAD changes something.
class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir("eval-cli"));
    CmdResult w = pad_cmd("world --out " + *dir_ + "/world --seed 3 --n-eval 4 --n-sft 8 --n-pairs 8");
    ASSERT_EQ(w.code, 0) << w.out;
    ValueHead h = ValueHead::identity(64);
    h.bias[3] = 0.5f;
    h.bias[7] = -0.25f;
    h.save(*dir_ + "/head.safetensors");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string common_args() {
    const std::string& d = *dir_;
    return "eval -m " + test::model_dir("tiny-llama") + " --persrm-head " + d + "/head.safetensors --eval " + d +
           "/world/eval.jsonl --kb " + d + "/world/kb.json";
  }
  static std::string* dir_;
};

std::string* EvalCli::dir_ = nullptr;

const std::vector<std::string> kScores = {"helpful", "harmless", "humor", "concise", "formal", "enthusiastic"};
using GroupKey = std::pair<std::string, std::string>;  // (method, preference)

// The groups `--principles helpful,humor --sweep 0,0.5,1` asks for (one pair: helpful+humor).
std::vector<GroupKey> expected_groups() {
  std::vector<GroupKey> g = {{"base", "none"}};
  for (const char* m : {"prompt", "best-of-n", "pad"})
    for (const char* p : {"helpful", "humor"}) g.emplace_back(m, p);
  g.emplace_back("pad-joined", "helpful and humor");
  g.emplace_back("pad-weighted", "helpful=0.5,humor=0.5");
  for (const char* s : {"helpful=0,humor=1", "helpful=0.5,humor=0.5", "helpful=1,humor=0"})
    g.emplace_back("pad-sweep", s);
  return g;
}

void check_results(const std::vector<nlohmann::json>& lines) {
  std::map<GroupKey, std::vector<std::string>> ids;
  for (const auto& j : lines) {
    ids[{j["method"], j["preference"]}].push_back(j["id"]);
    ASSERT_TRUE(j["text"].is_string());
    EXPECT_LE(j["n_tokens"].get<int>(), 8);
    for (const auto& a : kScores) {
      ASSERT_TRUE(j["scores"].contains(a)) << j.dump();
      const double s = j["scores"][a].get<double>();
      EXPECT_GE(s, 0.0) << a;
      EXPECT_LE(s, 1.0) << a;
    }
    // With a PersRM every output carries its sequence reward (base: one per principle).
    if (j["method"] == "base") EXPECT_EQ(j["sequence_rewards"].size(), 2u) << j.dump();
    else EXPECT_TRUE(j["sequence_reward"].is_number()) << j.dump();
  }
  const auto groups = expected_groups();
  EXPECT_EQ(lines.size(), 4 * groups.size());
  EXPECT_EQ(ids.size(), groups.size());
  for (const auto& g : groups) {
    std::vector<std::string> sorted = ids[g];
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::unique(sorted.begin(), sorted.end()) - sorted.begin(), 4) << g.first << " / " << g.second;
  }
}

void check_table(const std::string& table) {
  for (const auto& [m, p] : expected_groups()) {
    if (m == "pad-sweep") continue;  // the sweep is the frontier chart, not a table row
    const std::string row = "| " + (p == "none" ? m : m + " (" + p + ")") + " |";
    EXPECT_EQ(count_of(table, row), 1u) << row << "\n" << table;
  }
  EXPECT_NE(table.find("| helpful |"), std::string::npos) << table;
  EXPECT_NE(table.find("| persrm reward |"), std::string::npos) << table;
}

void check_summary(const nlohmann::json& summary, const std::vector<nlohmann::json>& lines) {
  std::map<GroupKey, std::map<std::string, std::vector<double>>> scores;
  for (const auto& j : lines)
    for (const auto& a : kScores) scores[{j["method"], j["preference"]}][a].push_back(j["scores"][a].get<double>());
  ASSERT_EQ(summary["groups"].size(), expected_groups().size());
  for (const auto& g : summary["groups"]) {
    const auto& xs = scores[{g["method"], g["preference"]}];
    ASSERT_EQ(xs.size(), kScores.size()) << g.dump();
    for (const auto& a : kScores) {
      const auto& v = xs.at(a);
      double mean = 0;
      for (double x : v) mean += x;
      mean /= v.size();
      // results.jsonl rounds scores to 4 decimals; the summary averages the unrounded ones.
      EXPECT_NEAR(g["scores"][a]["mean"].get<double>(), mean, 1e-4) << g["method"] << " " << a;
      EXPECT_EQ(g["scores"][a]["n"].get<size_t>(), v.size());
    }
  }
  EXPECT_EQ(summary["frontier"]["x"], "helpful");
  EXPECT_EQ(summary["frontier"]["y"], "humor");
  EXPECT_EQ(summary["frontier"]["points"].size(), 3u);
}

// One run (the slow part, ~15 s) checked from every side.
TEST_F(EvalCli, RunsEveryMethodAndWritesTheReports) {
  const std::string out = *dir_ + "/out";
  CmdResult r = pad_cmd(common_args() + " --out " + out + " -n 8 --limit 4 --principles helpful,humor --sweep 0,0.5,1");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_file(out + "/results.jsonl"));
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  {
    SCOPED_TRACE("results.jsonl");
    check_results(lines);
  }
  {
    SCOPED_TRACE("table.md");
    check_table(read_file(out + "/table.md"));
  }
  {
    SCOPED_TRACE("summary.json");
    check_summary(nlohmann::json::parse(read_file(out + "/summary.json")), lines);
  }
  {
    SCOPED_TRACE("personalization");
    const auto pers = nlohmann::json::parse(read_file(out + "/summary.json"))["personalization"];
    // Rows base, pad(helpful), pad(humor); every trained principle has a selectivity with lo <= est <= hi.
    EXPECT_EQ(pers["matrix"].size(), 3u) << pers.dump();
    for (const char* p : {"helpful", "humor"}) {
      const auto& s = pers["selectivity"][p]["selectivity"];
      EXPECT_LE(s["lo"].get<double>(), s["estimate"].get<double>()) << p;
      EXPECT_GE(s["hi"].get<double>(), s["estimate"].get<double>()) << p;
      const double own = pers["matrix"][p][p]["mean"].get<double>();
      const double rival = pers["matrix"][std::string(p) == "helpful" ? "humor" : "helpful"][p]["mean"].get<double>();
      EXPECT_NEAR(s["estimate"].get<double>(), own - rival, 1e-9) << p;
    }
    EXPECT_EQ(pers["frontier_monotonicity"]["n_points"], 3);
    const std::string table = read_file(out + "/table.md");
    EXPECT_NE(table.find("### Selectivity matrix"), std::string::npos) << table;
    EXPECT_NE(table.find("| PAD → humor |"), std::string::npos) << table;
    EXPECT_EQ(count_of(read_file(out + "/selectivity.svg"), "class=\"cell"), 3u * 6u);
    EXPECT_EQ(count_of(read_file(out + "/selectivity.svg"), "class=\"cell diag\""), 2u);
  }
  for (const char* name : {"scores.svg", "frontier.svg", "selectivity.svg"}) {
    const std::string svg = read_file(out + "/" + name);
    std::string why;
    EXPECT_TRUE(tags_balanced(svg, &why)) << name << ": " << why;
    EXPECT_NE(svg.find("<svg"), std::string::npos) << name;
  }
  EXPECT_EQ(count_of(read_file(out + "/frontier.svg"), "class=\"point\""), 3u);
  // 9 table rows × 6 attributes.
  EXPECT_EQ(count_of(read_file(out + "/scores.svg"), "class=\"bar\""), 9u * 6u);
}

// Held-out phrasings and unseen attributes become PAD targets and get their own report rows.
TEST_F(EvalCli, PhrasingsAndUnseenAttributesAreReported) {
  const std::string out = *dir_ + "/phr";
  CmdResult r = pad_cmd(common_args() + " --out " + out +
                        " -n 6 --limit 3 --methods base,pad --principles helpful,humor --no-frontier"
                        " --phrasings 'be funny=humor' --unseen concise --bootstrap 200");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto pers = nlohmann::json::parse(read_file(out + "/summary.json"))["personalization"];
  EXPECT_EQ(pers["phrasings"]["be funny"]["judge"], "humor") << pers.dump();
  EXPECT_TRUE(pers["unseen"]["concise"].contains("alone")) << pers.dump();
  EXPECT_TRUE(pers["unseen"]["concise"].contains("humor and concise")) << pers.dump();
  EXPECT_EQ(pers["bootstrap"]["n_resamples"], 200);
  EXPECT_TRUE(pers["matrix"].contains("be funny"));
  EXPECT_FALSE(pers.contains("frontier_monotonicity"));
  std::istringstream in(read_file(out + "/results.jsonl"));
  std::set<std::string> prefs;
  for (std::string line; std::getline(in, line);) prefs.insert(nlohmann::json::parse(line)["preference"]);
  for (const char* p : {"be funny", "concise", "helpful and concise", "humor and concise"})
    EXPECT_EQ(prefs.count(p), 1u) << p;
}

// eval-pairs: a pair and its swap get opposite margins (the margin is reward(chosen) - reward(rejected)
// under the same principle), so exactly one of them is right unless the margin is 0.
TEST_F(EvalCli, EvalPairsScoresAPairAndItsSwapOppositely) {
  const std::string& d = *dir_;
  const std::string a = "Certainly. It is a planet.", b = "Ha ha, knock knock! Who is there?";
  auto pair = [](const std::string& pref, const std::string& c, const std::string& r) {
    return nlohmann::json{{"prompt", "Tell me about Mimi."}, {"preference", pref}, {"chosen", c}, {"rejected", r}}.dump() + "\n";
  };
  write_file_atomic(d + "/pairs.jsonl", pair("humor", a, b) + pair("humor", b, a) + pair("helpful", a, b));
  CmdResult r = pad_cmd("eval-pairs -m " + test::model_dir("tiny-llama") + " --persrm-head " + d +
                        "/head.safetensors --data " + d + "/pairs.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<nlohmann::json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_NEAR(lines[0]["margin"].get<double>(), -lines[1]["margin"].get<double>(), 1e-4);
  EXPECT_NE(lines[0]["right"], lines[1]["right"]);
  EXPECT_NE(r.out.find("| humor | 2 | 0.500 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| all | 3 |"), std::string::npos) << r.out;
  write_file_atomic(d + "/badpairs.jsonl", "{\"prompt\": \"x\", \"chosen\": \"y\"}\n");
  CmdResult bad = pad_cmd("eval-pairs -m " + test::model_dir("tiny-llama") + " --persrm-head " + d +
                          "/head.safetensors --data " + d + "/badpairs.jsonl");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("badpairs.jsonl:1"), std::string::npos) << bad.out;
}

TEST_F(EvalCli, BadInputExitsTwo) {
  const std::string& d = *dir_;
  write_file_atomic(d + "/empty.jsonl", "\n");
  write_file_atomic(d + "/badkb.json", R"({"categories": []})");
  const std::string model = test::model_dir("tiny-llama");
  const std::string kb = " --kb " + d + "/world/kb.json --out " + d + "/bad";
  const std::string head = " --persrm-head " + d + "/head.safetensors";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"eval -m " + model + head + " --eval " + d + "/missing.jsonl" + kb, "missing.jsonl"},
      {"eval -m " + model + head + " --eval " + d + "/empty.jsonl" + kb, "no evaluation prompts"},
      {common_args() + " --out " + d + "/bad --methods base,beam", "beam"},
      {common_args() + " --out " + d + "/bad --principles helpful,sarcasm", "sarcasm"},
      {common_args() + " --out " + d + "/bad --pairs helpful+helpful", "helpful+helpful"},
      {"eval -m " + model + " --persrm-head " + d + "/nohead.safetensors --eval " + d + "/world/eval.jsonl" + kb,
       "nohead.safetensors"},
      {"eval -m " + model + " --eval " + d + "/world/eval.jsonl" + kb, "needs a PersRM"},
      {common_args() + " --out " + d + "/bad --decode-temp -1", "--decode-temp"},
      {common_args() + " --out " + d + "/bad --phrasings 'be funny'", "TEXT=ATTRIBUTE"},
      {common_args() + " --out " + d + "/bad --phrasings 'be funny=sarcasm'", "sarcasm"},
      {common_args() + " --out " + d + "/bad --unseen sarcasm", "sarcasm"},
      // read while the flags are checked, before any method generates
      {"eval -m " + model + head + " --eval " + d + "/world/eval.jsonl --kb " + d + "/badkb.json --out " + d + "/bad",
       "badkb.json: missing field \"subjects\""},
  };
  for (const auto& [args, what] : cases) {
    CmdResult r = pad_cmd(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("error:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(what), std::string::npos) << r.out;
    // None fails late: no method's phase line ("eval: base: N requests") comes before the error.
    EXPECT_EQ(r.out.find("eval: "), std::string::npos) << args << "\n" << r.out;
  }
}

// --decode-temp samples every method; the same seed gives the same bytes, the settings are recorded,
// and sampling changes at least one output from the greedy run.
TEST_F(EvalCli, SampledDecodingIsSeededAndRecorded) {
  const std::string args = common_args() + " -n 8 --limit 4 --methods base,pad --principles humor --no-frontier";
  auto texts = [](const std::string& dir) {
    std::vector<std::string> out;
    std::istringstream in(read_file(dir + "/results.jsonl"));
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line)["text"]);
    return out;
  };
  for (const char* run : {"t1a", "t1b"}) {
    CmdResult r = pad_cmd(args + " --decode-temp 1 --seed 5 --out " + *dir_ + "/" + run);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  CmdResult g = pad_cmd(args + " --out " + *dir_ + "/greedy");
  ASSERT_EQ(g.code, 0) << g.out;
  const auto a = texts(*dir_ + "/t1a"), b = texts(*dir_ + "/t1b"), greedy = texts(*dir_ + "/greedy");
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, greedy);
  auto settings = nlohmann::json::parse(read_file(*dir_ + "/t1a/summary.json"))["settings"];
  EXPECT_EQ(settings["decode_temp"].get<double>(), 1.0);
  EXPECT_EQ(settings["seed"].get<int>(), 5);
}

// The README's main command on the committed default models: three outputs, each judged, and PAD
// toward humor tells a joke where the base does not.
TEST(Demo, DefaultModelsSteerTowardHumor) {
  CmdResult r = pad_cmd(std::string("demo --threads 2 --models ") + PAD_SOURCE_DIR + "/models");
  ASSERT_EQ(r.code, 0) << r.out;
  const size_t base = r.out.find("base model (no preference):");
  const size_t prompt = r.out.find("preference in the prompt only:");
  const size_t pad = r.out.find("PAD (head PersRM");
  ASSERT_TRUE(base != std::string::npos && prompt != std::string::npos && pad != std::string::npos) << r.out;
  EXPECT_EQ(count_of(r.out, " enthusiastic "), 3u) << r.out;
  EXPECT_NE(r.out.substr(base, prompt - base).find("humor 0.00"), std::string::npos) << r.out;
  EXPECT_NE(r.out.substr(pad).find("humor 1.00"), std::string::npos) << r.out;
  CmdResult bad = pad_cmd("demo --models /nonexistent");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("/nonexistent/base"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace pad
