// GGUF tensor types f16, bf16 and q8_0: a copy of the f32 fixture re-encoded by the test loads, its
// q8_0 weights dequantize exactly as the format defines, and its logits stay near the f32 model's.
#include <gtest/gtest.h>

#include <cmath>

#include "pad/format/gguf.h"
#include "pad/model/model.h"
#include "test_util.h"

namespace pad {
namespace {

// q8_0: blocks of 32 consecutive values, an f16 scale d = max|x| / 127 and int8 q = round(x / d).
std::string quantize_q8_0(const float* x, int64_t n, std::vector<float>* dequantized) {
  std::string out;
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float d = amax / 127.0f;
    const c10::Half dh(d);
    const float dq = static_cast<float>(dh);
    uint16_t bits = dh.x;
    out.append(reinterpret_cast<const char*>(&bits), 2);
    for (int i = 0; i < 32; ++i) {
      const int8_t q = static_cast<int8_t>(d == 0 ? 0 : std::lround(x[b * 32 + i] / d));
      out.push_back(static_cast<char>(q));
      dequantized->push_back(dq * q);
    }
  }
  return out;
}

std::string reencode(GgmlType type, std::vector<float>* attn_output_0) {
  GgufFile src(test::model_dir("tiny-llama") + "/model.gguf");
  std::vector<GgufTensorBytes> tensors;
  for (const GgufTensor& t : src.tensors()) {
    GgufTensorBytes o{t.name, t.shape, t.type, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)};
    // q8_0 blocks never straddle rows: ffn_down's rows of 172 stay f32 (a mixed file, as real ones are).
    const bool fits = type != GgmlType::kQ8_0 || t.shape.back() % 32 == 0;
    if (t.shape.size() == 2 && t.type == static_cast<uint32_t>(GgmlType::kF32) && fits) {
      at::Tensor f = at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kFloat);
      o.type = static_cast<uint32_t>(type);
      if (type == GgmlType::kQ8_0) {
        std::vector<float> deq;
        o.bytes = quantize_q8_0(f.data_ptr<float>(), f.numel(), &deq);
        if (t.name == "blk.0.attn_output.weight") *attn_output_0 = deq;
      } else {
        at::Tensor c = f.to(type == GgmlType::kF16 ? at::kHalf : at::kBFloat16).contiguous();
        o.bytes.assign(static_cast<const char*>(c.data_ptr()), c.numel() * 2);
      }
    }
    tensors.push_back(std::move(o));
  }
  std::string path = test::scratch_dir(std::string("gguf-") + ggml_type_name(static_cast<uint32_t>(type))) + "/m.gguf";
  write_gguf(path, src.metadata(), tensors);
  return path;
}

double max_logit_gap(const std::string& a, const std::string& b) {
  std::vector<int> ids = {84, 104, 101, 420, 32, 341, 386, 115, 306, 265, 284, 268};
  auto ma = Model::load(a), mb = Model::load(b);
  int sa = ma->create_slot(), sb = mb->create_slot();
  return (ma->forward({Row{sa, ids, true}}).logits - mb->forward({Row{sb, ids, true}}).logits).abs().max().item<double>();
}

TEST(GgufTypes, RewrittenF32FileIsIdentical) {
  GgufFile src(test::model_dir("tiny-llama") + "/model.gguf");
  std::vector<GgufTensorBytes> tensors;
  for (const GgufTensor& t : src.tensors())
    tensors.push_back({t.name, t.shape, t.type, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
  std::string path = test::scratch_dir("gguf-f32") + "/m.gguf";
  write_gguf(path, src.metadata(), tensors);
  EXPECT_EQ(max_logit_gap(path, test::model_dir("tiny-llama") + "/model.gguf"), 0.0);
}

TEST(GgufTypes, Q8_0DequantizesExactly) {
  std::vector<float> want;
  std::string path = reencode(GgmlType::kQ8_0, &want);
  auto m = Model::load(path);
  at::Tensor wo = m->weights().layers[0].wo.contiguous();  // attn_output: not permuted
  ASSERT_EQ(wo.numel(), static_cast<int64_t>(want.size()));
  EXPECT_TRUE(at::equal(wo.reshape({-1}), at::tensor(want)));
  // A guard against layout errors (a wrong block order moves logits by ~10): 8-bit weights moved this
  // random-weight model's logits by 0.93 at most when measured; bound 2.
  const double gap = max_logit_gap(path, test::model_dir("tiny-llama") + "/model.gguf");
  RecordProperty("q8_0_gap", std::to_string(gap));
  EXPECT_LT(gap, 2.0);
}

TEST(GgufTypes, F16AndBf16Load) {
  std::vector<float> unused;
  // f16 keeps 11 significant bits, bf16 8: measured gaps 0.043 and 0.17 on this random-weight model.
  const double f16 = max_logit_gap(reencode(GgmlType::kF16, &unused), test::model_dir("tiny-llama") + "/model.gguf");
  const double bf16 = max_logit_gap(reencode(GgmlType::kBF16, &unused), test::model_dir("tiny-llama") + "/model.gguf");
  std::printf("max logit gap: f16 %.4f, bf16 %.4f\n", f16, bf16);
  EXPECT_LT(f16, 0.1);
  EXPECT_LT(bf16, 0.5);
  EXPECT_LT(f16, bf16);  // more mantissa bits, closer to f32
}

}  // namespace
}  // namespace pad
