// Training end to end: a learnable synthetic preference task for each form, artifacts that load and
// reproduce the trained logits, exact resume, bad data, SFT and the BPE trainer.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "pad/tokenizer/tokenizer.h"
#include "pad/train/bpe_trainer.h"
#include "pad/train/persrm.h"
#include "pad/train/sft.h"
#include "pad/train/dist.h"
#include "test_train_util.h"

namespace pad {
namespace {

namespace fs = std::filesystem;

using test::synthetic_jsonl;

struct Fixture {
  std::string model_dir, train_file, eval_file;
  std::unique_ptr<Tokenizer> tok;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.model_dir = test::make_tiny_model_dir("train-base");
    x.train_file = x.model_dir + "/train.jsonl";
    x.eval_file = x.model_dir + "/eval.jsonl";
    write_file_atomic(x.train_file, synthetic_jsonl(1, 64));
    write_file_atomic(x.eval_file, synthetic_jsonl(2, 40));
    x.tok = Tokenizer::load(x.model_dir);
    return x;
  }();
  return f;
}

TrainOptions quick_options(const std::string& out, int64_t steps, double lr) {
  TrainOptions o;
  o.out_dir = out;
  o.steps = steps;
  o.batch_size = 8;
  o.schedule.lr = lr;
  o.schedule.warmup_steps = 2;
  o.seed = 4;
  o.eval_every = steps;
  return o;
}

at::Tensor probe_tokens() { return at::tensor({5, 17, 200, 33, 91, 7, 300, 12}, at::kLong).view({2, 4}); }

class LearnsSyntheticTask : public ::testing::TestWithParam<Form> {};

TEST_P(LearnsSyntheticTask, HeldOutAccuracyAndArtifactRoundTrip) {
  Fixture& f = fixture();
  const Form form = GetParam();
  auto base = Model::load(f.model_dir);
  DataOptions data;
  auto train_pairs = load_preference_data(f.train_file, *f.tok, data, nullptr);
  auto eval_pairs = load_preference_data(f.eval_file, *f.tok, data, nullptr);
  LoraOptions lora{8, 16, {"q_proj", "v_proj", "o_proj", "down_proj"}};
  PersRmTask task(Policy::create(form, base, lora, 1), train_pairs, eval_pairs, PersRmOptions{0.5});
  const double before = task.evaluate()["eval_accuracy"];
  const std::string out = test::scratch_dir(std::string("persrm-") + form_name(form));
  const double lr = form == Form::kHead ? 2e-2 : form == Form::kLora ? 1e-2 : 3e-3;
  TrainResult r = train(task, quick_options(out, 40, lr));
  ASSERT_EQ(r.steps_done, 40);
  EXPECT_GE(r.eval["eval_accuracy"], 0.95) << form_name(form) << " (before training: " << before << ")";
  EXPECT_GT(r.eval["eval_margin"], 0);

  // metrics.jsonl: one line per step, evaluation fields on the last.
  std::ifstream in(out + "/metrics.jsonl");
  std::string line, last;
  int n = 0;
  while (std::getline(in, line)) ++n, last = line;
  EXPECT_EQ(n, 40);
  auto j = nlohmann::json::parse(last);
  EXPECT_EQ(j["step"], 40);
  EXPECT_TRUE(j.contains("loss") && j.contains("eval_accuracy") && j.contains("eval_margin")) << last;

  // The written artifact loads and reproduces the in-memory policy's logits.
  const at::Tensor tokens = probe_tokens();
  const at::Tensor expected = task.policy().logits(tokens);  // [2, 4, V] f32
  at::Tensor got;
  if (form == Form::kHead) {
    ValueHead h = ValueHead::load(out + "/value_head.safetensors", base->config().d_model);
    got = base->logits_from_hidden(h.apply(base->hidden_sequence(tokens).view({-1, 32}))).view({2, 4, -1});
  } else if (form == Form::kLora) {
    LoraAdapter a = LoraAdapter::load(out, base->config());
    got = base->forward_sequence(tokens, at::kFloat, &a);
  } else {
    auto loaded = Model::load(out);
    got = loaded->forward_sequence(tokens);
  }
  EXPECT_TRUE(at::allclose(got, expected, 1e-4, 1e-4)) << (got - expected).abs().max();  // f32, kernels may differ
}

INSTANTIATE_TEST_SUITE_P(Forms, LearnsSyntheticTask, ::testing::Values(Form::kHead, Form::kLora, Form::kFull),
                         [](const auto& info) { return std::string(form_name(info.param)); });

// (step, loss) of every metrics line; tokens/s differs between runs.
std::vector<std::pair<int64_t, double>> step_losses(const std::string& path) {
  std::vector<std::pair<int64_t, double>> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    out.emplace_back(j["step"].get<int64_t>(), j["loss"].get<double>());
  }
  return out;
}

TEST(Resume, StopAndResumeEqualsAnUninterruptedRun) {
  Fixture& f = fixture();
  auto base = Model::load(f.model_dir);
  auto pairs = load_preference_data(f.train_file, *f.tok, DataOptions{}, nullptr);
  auto run = [&](const std::string& out, int64_t stop_after, bool resume) {
    PersRmTask task(Policy::create(Form::kLora, base, LoraOptions{}, 1), pairs, {}, PersRmOptions{});
    TrainOptions o = quick_options(out, 8, 1e-2);
    o.grad_accum = 2;
    o.stop_after = stop_after;
    o.resume = resume;
    o.save_every = 3;
    o.keep_checkpoints = 2;
    TrainResult r = train(task, o);
    std::vector<at::Tensor> params;
    for (const NamedTensor& p : task.policy().parameters()) params.push_back(p.tensor.detach().clone());
    return std::make_pair(r, params);
  };
  const std::string a = test::scratch_dir("resume-a"), b = test::scratch_dir("resume-b");
  auto [ra, pa] = run(a, 0, false);
  auto [rb1, pb1] = run(b, 3, false);
  EXPECT_TRUE(rb1.stopped);
  EXPECT_EQ(rb1.steps_done, 3);
  EXPECT_FALSE(fs::exists(b + "/adapter_model.safetensors"));  // no artifact from an unfinished run
  auto [rb, pb] = run(b, 0, true);
  EXPECT_EQ(rb.steps_done, 8);
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i])) << "parameter " << i;  // bit-exact
  EXPECT_EQ(read_file(a + "/adapter_model.safetensors"), read_file(b + "/adapter_model.safetensors"));
  // Checkpoints: only the newest 2 kept, no temporary directories left.
  int n = 0;
  for (const auto& e : fs::directory_iterator(b + "/checkpoints")) {
    ++n;
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos);
  }
  EXPECT_EQ(n, 2);
  EXPECT_EQ(step_losses(a + "/metrics.jsonl"), step_losses(b + "/metrics.jsonl"));  // resumed log continues it
}

TEST(BadData, ReportedWithLineNumbersAndStrictFails) {
  Fixture& f = fixture();
  const std::string dir = test::scratch_dir("bad-data");
  std::string good = synthetic_jsonl(5, 3);
  std::string text = good.substr(0, good.find('\n') + 1) +                                   // 1 ok
                     "{\"prompt\": \"x\", \"preference\": \"fruit\", \"chosen\": \"a\"\n" +  // 2 invalid JSON
                     "\n" +                                                                  // 3 blank: ignored
                     "{\"prompt\": \"x\", \"preference\": \"fruit\", \"chosen\": \"a\"}\n" + // 4 missing rejected
                     "{\"prompt\": \"x\", \"preference\": \"fruit\", \"chosen\": \"\", \"rejected\": \"b\"}\n" +  // 5 empty
                     "{\"prompt\": \"" + std::string(400, 'z') + " \", \"preference\": \"f\", \"chosen\": \"a\", \"rejected\": \"b\"}\n" +  // 6 long
                     "[1, 2]\n" +                                                            // 7 not an object
                     "{\"prompt\": \"x\", \"weights\": {\"fruit\": \"high\"}, \"chosen\": \"a\", \"rejected\": \"b\"}\n";  // 8
  write_file_atomic(dir + "/bad.jsonl", text);
  DataOptions opt;
  opt.max_length = 200;  // the guideline template alone is ~80 tokens
  DataReport report;
  auto pairs = load_preference_data(dir + "/bad.jsonl", *f.tok, opt, &report);
  EXPECT_EQ(pairs.size(), 1u);
  EXPECT_EQ(report.n_lines, 7);
  ASSERT_EQ(report.bad.size(), 6u);
  const std::vector<int64_t> lines = {2, 4, 5, 6, 7, 8};
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(report.bad[i].line, lines[i]) << report.summary();
  EXPECT_NE(report.bad[1].reason.find("rejected"), std::string::npos);
  EXPECT_NE(report.bad[3].reason.find("max-length"), std::string::npos);
  EXPECT_NE(report.summary().find("line 2: invalid JSON"), std::string::npos) << report.summary();
  opt.strict = true;
  try {
    load_preference_data(dir + "/bad.jsonl", *f.tok, opt, nullptr);
    FAIL() << "--strict accepted bad data";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2:"), std::string::npos) << e.what();
  }
}

// The CLI: bad lines reported on stderr with numbers, --strict exits 2, a weighted head run works.
TEST(Cli, PersRmCommandReportsBadDataAndStrictFails) {
  Fixture& f = fixture();
  const std::string dir = test::scratch_dir("cli");
  std::string data = synthetic_jsonl(9, 8) + "not json\n" +
                     "{\"prompt\": \"p\", \"weights\": {\"fruit\": 1.0, \"brevity\": 0.5}, \"chosen\": \"apple\", \"rejected\": \"rock\"}\n";
  write_file_atomic(dir + "/d.jsonl", data);
  const std::string cmd = std::string(PAD_PAD_BIN) + " train persrm -q --threads 1 -m " + f.model_dir + " --data " + dir +
                          "/d.jsonl --form head --steps 3 --batch-size 4 --out " + dir + "/out";
  const std::string log = dir + "/log.txt";
  EXPECT_EQ(std::system((cmd + " > " + log + " 2>&1").c_str()), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("line 9: invalid JSON"), std::string::npos) << read_file(log);
  EXPECT_TRUE(fs::exists(dir + "/out/value_head.safetensors"));
  const int rc = std::system((cmd + " --strict > " + log + " 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2) << read_file(log);
  EXPECT_NE(read_file(log).find("d.jsonl:9:"), std::string::npos) << read_file(log);
}

// Two processes on localhost (Gloo all-reduce) equal one process over the same global batch.
TEST(DataParallel, TwoProcessesEqualOne) {
  if (!data_parallel_available()) GTEST_SKIP() << "this libtorch has no Gloo headers; data-parallel is not built";
  Fixture& f = fixture();
  const std::string dir = test::scratch_dir("dp");
  const std::string base = std::string(PAD_PAD_BIN) + " train persrm -q --threads 1 -m " + f.model_dir + " --data " +
                           f.train_file + " --form lora --steps 3 --batch-size 8 --lr 1e-2 --seed 4";
  ASSERT_EQ(std::system((base + " --out " + dir + "/one > " + dir + "/one.log 2>&1").c_str()), 0) << read_file(dir + "/one.log");
  const std::string port = std::to_string(20000 + ::getpid() % 20000);
  const std::string dp = base + " --out " + dir + "/two --world-size 2 --master-port " + port;
  const std::string both = "(" + dp + " --rank 1 > " + dir + "/r1.log 2>&1 &) ; " + dp + " --rank 0 > " + dir + "/r0.log 2>&1";
  ASSERT_EQ(std::system(both.c_str()), 0) << read_file(dir + "/r0.log");
  auto base_model = Model::load(f.model_dir);
  LoraAdapter one = LoraAdapter::load(dir + "/one", base_model->config());
  LoraAdapter two = LoraAdapter::load(dir + "/two", base_model->config());
  for (size_t l = 0; l < one.layers.size(); ++l)
    for (const auto& [m, mod] : one.layers[l]) {
      // f32 gradients summed in a different order: agreement to ~1e-7, asserted at 1e-5.
      EXPECT_TRUE(at::allclose(mod.a, two.layers[l].at(m).a, 0, 1e-5)) << l << " " << m;
      EXPECT_TRUE(at::allclose(mod.b, two.layers[l].at(m).b, 0, 1e-5)) << l << " " << m;
      EXPECT_GT(mod.b.abs().max().item<double>(), 1e-4);  // it trained
    }
}

TEST(Sft, LowersHeldOutLoss) {
  Fixture& f = fixture();
  const std::string dir = test::scratch_dir("sft");
  std::mt19937 rng(3);
  const std::vector<std::string> subjects = {"the cat", "the dog", "a bird", "my friend"};
  const std::vector<std::string> verbs = {"sat on", "looked at", "ran to", "jumped over"};
  const std::vector<std::string> objects = {"the mat", "the tree", "the house", "the fence"};
  auto corpus = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
      s += subjects[rng() % 4] + " " + verbs[rng() % 4] + " " + objects[rng() % 4] + ".\n";
    return s;
  };
  write_file_atomic(dir + "/train.txt", corpus(96));
  write_file_atomic(dir + "/eval.txt", corpus(24));
  DataReport report;
  auto train_ex = load_sft_data(dir + "/train.txt", *f.tok, DataOptions{}, &report);
  auto eval_ex = load_sft_data(dir + "/eval.txt", *f.tok, DataOptions{}, nullptr);
  EXPECT_EQ(report.n_used, 96);
  ModelConfig c = test::tiny_config();
  auto init = std::make_shared<Model>(c, random_weights(c, at::kFloat, 8), "init");
  SftTask task(Policy::create(Form::kFull, init, LoraOptions{}, 0), train_ex, eval_ex);
  const double before = task.evaluate()["eval_loss"];
  TrainResult r = train(task, quick_options(dir + "/out", 30, 3e-3));
  EXPECT_LT(r.eval["eval_loss"], before - 1.0) << "before " << before;
  EXPECT_NEAR(r.eval["eval_perplexity"], std::exp(r.eval["eval_loss"]), 1e-6 * r.eval["eval_perplexity"]);
  // JSONL {"prompt", "response"}: only the response is scored.
  write_file_atomic(dir + "/chat.jsonl", "{\"prompt\": \"hello there\", \"response\": \"the cat sat\"}\n");
  auto chat = load_sft_data(dir + "/chat.jsonl", *f.tok, DataOptions{}, nullptr);
  ASSERT_EQ(chat.size(), 1u);
  EXPECT_EQ(chat[0].sequence.n_prompt, static_cast<int64_t>(f.tok->encode("hello there").size()));
  EXPECT_EQ(chat[0].sequence.ids.back(), 509);  // EOS ends the response
}

TEST(BpeTrainer, TokenizerRoundTripsItsCorpus) {
  const std::string dir = test::scratch_dir("bpe");
  std::vector<std::string> texts = {
      "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n",
      "Naïve café owners serve crème brûlée — 日本語のテキスト and emoji 🙂 too.\n",
      "numbers 12345 and 2024-06-01, tabs\tand  double  spaces\n  indented line\n",
      "the the the there these those then than that thing things thinking\n"};
  for (int i = 0; i < 20; ++i) texts.push_back("the fox and the dog met again at the river, said the fox.\n");
  BpeTrainerOptions opt;
  opt.vocab_size = 320;
  opt.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  BpeTokenizerFiles files = train_bpe(texts, opt);
  EXPECT_GT(files.n_merges, 20);
  EXPECT_LE(files.vocab_size, 320);
  EXPECT_EQ(train_bpe(texts, opt).tokenizer_json, files.tokenizer_json);  // deterministic
  write_tokenizer_files(dir, files);
  auto tok = Tokenizer::load(dir);
  EXPECT_EQ(tok->n_vocab(), files.vocab_size);
  EXPECT_EQ(tok->eos_id(), 0);
  for (const std::string& t : texts) {
    std::vector<int> ids = tok->encode(t);
    EXPECT_EQ(tok->decode(ids), t);
    EXPECT_LT(ids.size(), t.size());  // merges are used
  }
  EXPECT_EQ(tok->encode("<|im_start|>", EncodeOptions{false, true}), std::vector<int>({1}));
  ASSERT_TRUE(tok->chat_template().has_value());
}

}  // namespace
}  // namespace pad
