// The whole pipeline in miniature, through the `pad` command only: PrefWorld data → BPE tokenizer →
// SFT base from random weights → value-head PersRM → `pad eval`; PAD must raise the trained
// attribute (humor) over the base model. A reduced scripts/build-default-models (issue 6).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

void pad_ok(const std::string& args) {
  const std::string cmd = std::string(PAD_PAD_BIN) + " " + args + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
}

double mean_of(const nlohmann::json& summary, const std::string& method, const std::string& attribute) {
  for (const auto& g : summary["groups"])
    if (g["method"] == method) return g["scores"][attribute]["mean"].get<double>();
  ADD_FAILURE() << "no group for method " << method;
  return 0;
}

TEST(Pipeline, PadRaisesTheTrainedAttributeOverBase) {
  const std::string d = test::scratch_dir("pipeline");
  pad_ok("world --out " + d + "/world --seed 2 --n-sft 800 --n-pairs 600 --n-eval 24");
  pad_ok("train tokenizer " + d + "/world/corpus.txt --out " + d +
         "/tok --vocab-size 640 --special-tokens '<|endoftext|>,<|im_start|>,<|im_end|>' --eos '<|im_end|>'");
  write_file_atomic(d + "/config.json", R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 640,
    "hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 4, "max_position_embeddings": 512, "tie_word_embeddings": true, "hidden_act": "silu"})");
  pad_ok("train sft -q --threads 2 --init-config " + d + "/config.json --tokenizer " + d + "/tok --data " + d +
         "/world/sft.jsonl --epochs 2 --lr 4e-3 --warmup 20 --batch-size 16 --seed 1 --out " + d + "/base");
  pad_ok("train persrm -q --threads 2 -m " + d + "/base --form head --data " + d +
         "/world/prefs.jsonl --epochs 2 --lr 2e-3 --beta 0.1 --batch-size 16 --seed 1 --out " + d + "/head");
  pad_ok("eval --threads 2 -m " + d + "/base --persrm-head " + d + "/head/value_head.safetensors --eval " + d +
         "/world/eval.jsonl --kb " + d + "/world/kb.json --out " + d + "/eval --methods base,pad --principles humor " +
         "--no-frontier -n 32");
  auto summary = nlohmann::json::parse(read_file(d + "/eval/summary.json"));
  const double base = mean_of(summary, "base", "humor"), guided = mean_of(summary, "pad", "humor");
  std::printf("humor: base %.3f, PAD %.3f\n", base, guided);
  EXPECT_GT(guided, base + 0.2);
}

}  // namespace
}  // namespace pad
