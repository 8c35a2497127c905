// The three PersRM forms as trainable policies over one frozen base model.
#include "pad/train/policy.h"

#include <algorithm>

#include "pad/util/error.h"

namespace pad {
namespace {

at::ScalarType param_dtype(const Model& m) { return m.dtype() == at::kDouble ? at::kDouble : at::kFloat; }

at::Tensor leaf(const at::Tensor& t, at::ScalarType dtype) {
  return t.detach().to(dtype).clone().requires_grad_(true);
}

// Value head W_v h + b_v on the frozen backbone's final-norm hidden state; the reference is the backbone.
class HeadPolicy : public Policy {
 public:
  HeadPolicy(std::shared_ptr<Model> base, const std::string& init_from) {
    base_ = std::move(base);
    const int64_t d = base_->config().d_model;
    ValueHead h = init_from.empty() ? ValueHead::identity(d) : ValueHead::load(init_from, d);
    weight_ = leaf(h.weight, param_dtype(*base_));
    bias_ = leaf(h.bias, param_dtype(*base_));
  }
  Form form() const override { return Form::kHead; }
  std::pair<at::Tensor, at::Tensor> score(const TokenBatch& b, at::ScalarType ct, bool want_ref) override {
    at::Tensor hidden;  // [N, T, d] ct, no gradient: the backbone is frozen
    {
      at::NoGradGuard no_grad;
      hidden = base_->hidden_sequence(b.tokens, ct);
    }
    const at::Tensor lm_head = base_->weights().lm_head.to(ct);  // [V, d]
    at::Tensor policy = token_logprobs(at::linear(hidden, weight_.to(ct), bias_.to(ct)), lm_head, b);
    at::Tensor ref;
    if (want_ref) {
      at::NoGradGuard no_grad;
      ref = token_logprobs(hidden, lm_head, b);
    }
    return {policy, ref};
  }
  at::Tensor logits(const at::Tensor& tokens) override {
    at::NoGradGuard no_grad;
    at::Tensor h = base_->hidden_sequence(tokens, at::kFloat);  // [B, T, d]
    return at::matmul(at::linear(h, weight_.to(at::kFloat), bias_.to(at::kFloat)), base_->weights().lm_head.to(at::kFloat).t());
  }
  std::vector<NamedTensor> parameters() override {
    return {{"v_head.summary.weight", weight_}, {"v_head.summary.bias", bias_}};
  }
  void save(const std::string& dir) const override {
    at::NoGradGuard no_grad;
    ValueHead{weight_.detach().to(at::kFloat), bias_.detach().to(at::kFloat)}.save(dir + "/value_head.safetensors");
  }

 private:
  at::Tensor weight_;  // [d, d] f32 leaf (identity init)
  at::Tensor bias_;    // [d] f32 leaf (zero init)
};

// LoRA on the frozen base; the reference is the base without the adapter. The leaves are PEFT's
// unscaled A and B (so learning rates mean what they mean in PEFT); the scale is applied per forward.
class LoraPolicy : public Policy {
 public:
  LoraPolicy(std::shared_ptr<Model> base, const LoraOptions& o, uint64_t seed) {
    base_ = std::move(base);
    o.validate();
    LoraAdapter init = o.init_from.empty() ? LoraAdapter::create(base_->config(), o.rank, o.alpha, o.targets, seed)
                                           : LoraAdapter::load(o.init_from, base_->config());
    shape_ = init;
    const at::ScalarType dt = param_dtype(*base_);
    for (size_t l = 0; l < init.layers.size(); ++l)
      for (auto& [m, mod] : init.layers[l]) {
        shape_.layers[l][m] = {leaf(mod.a, dt), leaf(mod.b / init.scale(), dt)};
      }
  }
  Form form() const override { return Form::kLora; }
  LoraAdapter adapter() const {  // b carries the scale, as LoraAdapter expects; differentiable
    LoraAdapter a = shape_;
    for (size_t l = 0; l < a.layers.size(); ++l)
      for (auto& [m, mod] : a.layers[l]) mod.b = shape_.layers[l].at(m).b * shape_.scale();
    return a;
  }
  std::pair<at::Tensor, at::Tensor> score(const TokenBatch& b, at::ScalarType ct, bool want_ref) override {
    const at::Tensor lm_head = base_->weights().lm_head.to(ct);  // [V, d]
    LoraAdapter a = adapter();
    at::Tensor policy = token_logprobs(base_->hidden_sequence(b.tokens, ct, &a), lm_head, b);
    at::Tensor ref;
    if (want_ref) {
      at::NoGradGuard no_grad;
      ref = token_logprobs(base_->hidden_sequence(b.tokens, ct), lm_head, b);
    }
    return {policy, ref};
  }
  at::Tensor logits(const at::Tensor& tokens) override {
    at::NoGradGuard no_grad;
    LoraAdapter a = adapter();
    return base_->forward_sequence(tokens, at::kFloat, &a);
  }
  std::vector<NamedTensor> parameters() override {
    std::vector<NamedTensor> out;
    for (size_t l = 0; l < shape_.layers.size(); ++l)
      for (auto& [m, mod] : shape_.layers[l]) {
        const std::string base = "layers." + std::to_string(l) + "." + m;
        out.push_back({base + ".lora_A", mod.a});
        out.push_back({base + ".lora_B", mod.b});
      }
    return out;
  }
  void save(const std::string& dir) const override {
    at::NoGradGuard no_grad;
    LoraAdapter a = adapter();
    for (auto& layer : a.layers)
      for (auto& [m, mod] : layer) mod = {mod.a.detach().to(at::kFloat), mod.b.detach().to(at::kFloat)};
    a.save(dir, base_->name());
  }

 private:
  LoraAdapter shape_;  // rank/alpha/targets; layers hold the leaves: a [r, in], b [out, r] unscaled
};

// All weights of a copy of the base; the reference is the untouched base.
class FullPolicy : public Policy {
 public:
  explicit FullPolicy(std::shared_ptr<Model> base) {
    base_ = std::move(base);
    const ModelConfig& c = base_->config();
    if (base_->dtype() != at::kFloat && base_->dtype() != at::kDouble)
      throw_invalid("--form full needs f32 weights (load the base with --dtype f32)");
    model_ = std::make_shared<Model>(c, clone_weights(base_->weights(), c.tie_embeddings), base_->name());
    std::vector<at::Tensor> leaves = model_->enable_training();
    std::vector<std::string> names = {"embed"};
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      for (const char* n : {"qkv", "gate_up", "o_proj", "down_proj", "attn_norm", "ffn_norm"}) names.push_back(p + n);
      if (model_->weights().layers[l].bq.defined()) names.push_back(p + "qkv_bias");
    }
    names.push_back("final_norm");
    if (!c.tie_embeddings) names.push_back("lm_head");
    PAD_CHECK(names.size() == leaves.size(), "full form: ", leaves.size(), " leaves, ", names.size(), " names");
    for (size_t i = 0; i < leaves.size(); ++i) params_.push_back({names[i], leaves[i]});
  }
  Form form() const override { return Form::kFull; }
  std::pair<at::Tensor, at::Tensor> score(const TokenBatch& b, at::ScalarType ct, bool want_ref) override {
    at::Tensor policy =
        token_logprobs(model_->hidden_sequence(b.tokens, ct), model_->weights().lm_head.to(ct), b);
    at::Tensor ref;
    if (want_ref) {
      at::NoGradGuard no_grad;
      ref = token_logprobs(base_->hidden_sequence(b.tokens, ct), base_->weights().lm_head.to(ct), b);
    }
    return {policy, ref};
  }
  at::Tensor logits(const at::Tensor& tokens) override {
    at::NoGradGuard no_grad;
    return model_->forward_sequence(tokens, at::kFloat);
  }
  std::vector<NamedTensor> parameters() override { return params_; }
  void save(const std::string& dir) const override {
    at::NoGradGuard no_grad;
    save_hf_model(dir, model_->config(), clone_weights(model_->weights(), model_->config().tie_embeddings));
  }

 private:
  std::shared_ptr<Model> model_;     // the trained copy
  std::vector<NamedTensor> params_;  // its leaves (fused qkv and gate_up)
};

}  // namespace

Form parse_form(const std::string& name) {
  if (name == "head") return Form::kHead;
  if (name == "lora") return Form::kLora;
  if (name == "full") return Form::kFull;
  throw_invalid("--form '", name, "' is not a PersRM form (expected head, lora or full)");
}

const char* form_name(Form f) { return f == Form::kHead ? "head" : f == Form::kLora ? "lora" : "full"; }

void LoraOptions::validate() const {
  if (rank <= 0) throw_invalid("--lora-r ", rank, " must be > 0");
  if (!(alpha > 0)) throw_invalid("--lora-alpha ", alpha, " must be > 0");
  if (targets.empty()) throw_invalid("--lora-targets is empty");
}

TokenBatch make_token_batch(const std::vector<const Sequence*>& seqs) {
  PAD_CHECK(!seqs.empty(), "empty batch");
  TokenBatch b;
  b.n_sequences = static_cast<int64_t>(seqs.size());
  int64_t T = 0;
  for (const Sequence* s : seqs) T = std::max<int64_t>(T, static_cast<int64_t>(s->ids.size()));
  b.tokens = at::zeros({b.n_sequences, T}, at::kLong);
  auto tok = b.tokens.accessor<int64_t, 2>();
  std::vector<int64_t> positions, targets, sequence;
  for (int64_t n = 0; n < b.n_sequences; ++n) {
    const Sequence& s = *seqs[n];
    const int64_t len = static_cast<int64_t>(s.ids.size());
    PAD_CHECK(s.n_prompt >= 1 && s.n_prompt <= len, "sequence with ", len, " tokens and n_prompt ", s.n_prompt);
    for (int64_t t = 0; t < len; ++t) tok[n][t] = s.ids[t];
    for (int64_t t = s.n_prompt; t < len; ++t) {
      positions.push_back(n * T + t - 1);
      targets.push_back(s.ids[t]);
      sequence.push_back(n);
    }
    b.n_tokens += len;
  }
  auto vec = [](const std::vector<int64_t>& v) { return at::tensor(v, at::kLong); };
  b.positions = vec(positions);
  b.targets = vec(targets);
  b.sequence = vec(sequence);
  return b;
}

at::Tensor token_logprobs(const at::Tensor& hidden, const at::Tensor& lm_head, const TokenBatch& b) {
  const int64_t d = hidden.size(-1);
  at::Tensor h = hidden.reshape({-1, d}).index_select(0, b.positions);  // [P, d]
  at::Tensor logp = at::log_softmax(at::matmul(h, lm_head.t()), -1);    // [P, V]
  return logp.gather(1, b.targets.unsqueeze(1)).squeeze(1);             // [P]
}

at::Tensor per_sequence(const at::Tensor& per_token, const TokenBatch& b) {
  return at::zeros({b.n_sequences}, per_token.options()).index_add(0, b.sequence, per_token);  // [N]
}

ModelWeights clone_weights(const ModelWeights& w, bool tied) {
  auto copy = [](const at::Tensor& t) { return t.defined() ? t.detach().clone() : at::Tensor(); };
  ModelWeights out;
  out.embed = copy(w.embed);
  out.final_norm = copy(w.final_norm);
  out.lm_head = tied ? out.embed : copy(w.lm_head);
  out.rope_freq_factors = copy(w.rope_freq_factors);
  for (const LayerWeights& l : w.layers) {
    LayerWeights c;
    c.attn_norm = copy(l.attn_norm);
    c.wq = copy(l.wq), c.wk = copy(l.wk), c.wv = copy(l.wv);
    c.bq = copy(l.bq), c.bk = copy(l.bk), c.bv = copy(l.bv);
    c.wo = copy(l.wo);
    c.ffn_norm = copy(l.ffn_norm);
    c.w_gate = copy(l.w_gate), c.w_up = copy(l.w_up), c.w_down = copy(l.w_down);
    out.layers.push_back(std::move(c));
  }
  return out;
}

std::unique_ptr<Policy> Policy::create(Form form, std::shared_ptr<Model> base, const LoraOptions& lora, uint64_t seed) {
  PAD_CHECK(base != nullptr, "no base model");
  switch (form) {
    case Form::kHead: return std::make_unique<HeadPolicy>(std::move(base), lora.init_from);
    case Form::kLora: return std::make_unique<LoraPolicy>(std::move(base), lora, seed);
    case Form::kFull:
      if (!lora.init_from.empty()) throw_invalid("--init-from is for the head and lora forms");
      return std::make_unique<FullPolicy>(std::move(base));
  }
  throw_invalid("unknown form");
}

}  // namespace pad
