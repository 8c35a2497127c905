// Weight types (names, block sizes, row sizes) and WeightMatrix: views over stored bytes,
// quantization of float tensors, dequantization of whole matrices or of gathered rows.
#include "pad/kernels/weight.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "interleaved.h"
#include "pad/util/error.h"
#include "pad/util/thread_pool.h"

namespace pad::kernels {
namespace {

constexpr WType kAllTypes[] = {WType::kF32,  WType::kF16,  WType::kBF16, WType::kQ8_0,
                               WType::kQ4_0, WType::kQ4_K, WType::kQ5_K, WType::kQ6_K};

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

WType dtype_to_wtype(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return WType::kF32;
    case at::kHalf: return WType::kF16;
    case at::kBFloat16: return WType::kBF16;
    default: throw_invalid("WeightMatrix: float tensor must be f32, f16 or bf16, got ", dtype);
  }
}

at::ScalarType wtype_to_dtype(WType type) {
  switch (type) {
    case WType::kF32: return at::kFloat;
    case WType::kF16: return at::kHalf;
    case WType::kBF16: return at::kBFloat16;
    default: throw_invalid("WeightMatrix: ", wtype_name(type), " is not a float type");
  }
}

}  // namespace

const char* wtype_name(WType type) {
  switch (type) {
    case WType::kF32: return "f32";
    case WType::kF16: return "f16";
    case WType::kBF16: return "bf16";
    case WType::kQ8_0: return "q8_0";
    case WType::kQ4_0: return "q4_0";
    case WType::kQ4_K: return "q4_K";
    case WType::kQ5_K: return "q5_K";
    case WType::kQ6_K: return "q6_K";
  }
  return "unknown";
}

bool is_known_wtype(uint32_t ggml_type) {
  for (WType t : kAllTypes)
    if (uint32_t(t) == ggml_type) return true;
  return false;
}

WType parse_wtype(const std::string& name) {
  const std::string want = lower(name);
  for (WType t : kAllTypes)
    if (lower(wtype_name(t)) == want) return t;
  throw_invalid("unknown weight type '", name, "' (expected f32, f16, bf16, q8_0, q4_0, q4_K, q5_K or q6_K)");
}

int64_t block_elems(WType type) {
  switch (type) {
    case WType::kF32: case WType::kF16: case WType::kBF16: return 1;
    case WType::kQ8_0: case WType::kQ4_0: return 32;
    case WType::kQ4_K: case WType::kQ5_K: case WType::kQ6_K: return 256;
  }
  throw_invalid("unknown weight type id ", uint32_t(type));
}

size_t block_bytes(WType type) {
  switch (type) {
    case WType::kF32: return 4;
    case WType::kF16: case WType::kBF16: return 2;
    case WType::kQ8_0: return 34;
    case WType::kQ4_0: return 18;
    case WType::kQ4_K: return 144;
    case WType::kQ5_K: return 176;
    case WType::kQ6_K: return 210;
  }
  throw_invalid("unknown weight type id ", uint32_t(type));
}

size_t row_bytes(WType type, int64_t k, const std::string& context) {
  const int64_t block = block_elems(type);
  if (k < 0 || k % block != 0)
    throw_invalid(context.empty() ? "" : context + ": ", "row length ", k, " is not a multiple of the ",
                  wtype_name(type), " block of ", block, " elements");
  return size_t(k / block) * block_bytes(type);
}

WeightMatrix WeightMatrix::rows(int64_t begin, int64_t count) const {
  if (begin < 0 || count < 0 || begin + count > n)
    throw_invalid("WeightMatrix::rows: rows [", begin, ", ", begin + count, ") outside [0, ", n, ")");
  if (layout == Layout::kInterleaved16 && (begin % detail::kInterleave != 0 || count % detail::kInterleave != 0))
    throw_invalid("WeightMatrix::rows: rows [", begin, ", ", begin + count, ") of an interleaved matrix must start and end at multiples of ",
                  detail::kInterleave);
  WeightMatrix view = *this;
  view.n = count;
  view.data = data + (layout == Layout::kInterleaved16
                          ? size_t(begin / detail::kInterleave) * detail::interleaved_group_bytes(type, k)
                          : size_t(begin) * row_stride());
  return view;
}

WeightMatrix WeightMatrix::from_tensor(const at::Tensor& t) {
  if (t.dim() != 2) throw_invalid("WeightMatrix::from_tensor: expected [n, k], got ", t.sizes());
  if (!t.device().is_cpu() || !t.is_contiguous())
    throw_invalid("WeightMatrix::from_tensor: tensor must be a contiguous CPU tensor");
  WeightMatrix w;
  w.type = dtype_to_wtype(t.scalar_type());
  w.n = t.size(0);
  w.k = t.size(1);
  w.data = static_cast<const uint8_t*>(t.data_ptr());
  w.owner = t;
  return w;
}

WeightMatrix WeightMatrix::from_bytes(WType type, int64_t n, int64_t k, const uint8_t* data, at::Tensor owner) {
  if (!is_known_wtype(uint32_t(type))) throw_invalid("WeightMatrix::from_bytes: unknown type id ", uint32_t(type));
  if (n < 0) throw_invalid("WeightMatrix::from_bytes: negative row count ", n);
  (void)row_bytes(type, k, "WeightMatrix::from_bytes");
  if (data == nullptr && n > 0 && k > 0) throw_invalid("WeightMatrix::from_bytes: null data");
  WeightMatrix w;
  w.type = type;
  w.n = n;
  w.k = k;
  w.data = data;
  w.owner = std::move(owner);
  return w;
}

WeightMatrix WeightMatrix::quantize(const at::Tensor& t, WType type) {
  if (t.dim() != 2) throw_invalid("WeightMatrix::quantize: expected [n, k], got ", t.sizes());
  const int64_t n = t.size(0), k = t.size(1);
  const size_t stride = row_bytes(type, k, "WeightMatrix::quantize");
  const at::Tensor src = t.to(at::kFloat).contiguous();  // [n, k] f32
  at::Tensor bytes = at::empty({int64_t(stride * size_t(n))}, at::kByte);  // [n · stride] u8
  const float* x = src.data_ptr<float>();
  uint8_t* dst = bytes.data_ptr<uint8_t>();
  global_pool().parallel_for(n, 1, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) quantize_row_ref(type, x + r * k, dst + size_t(r) * stride, k);
  });
  return from_bytes(type, n, k, dst, bytes);
}

namespace {
bool interleave_enabled() {
  const char* env = std::getenv("PAD_INTERLEAVE");
  return env == nullptr || std::strcmp(env, "0") != 0;
}
}  // namespace

WeightMatrix WeightMatrix::for_kernels() const {
  if (!detail::interleaves(type) || layout != Layout::kRows || n % detail::kInterleave != 0 || n == 0 ||
      !detail::interleaved_kernels_are_simd(type) || !interleave_enabled())
    return *this;
  const int64_t groups = n / detail::kInterleave;
  const size_t in_bytes = row_stride() * size_t(detail::kInterleave), out_bytes = detail::interleaved_group_bytes(type, k);
  at::Tensor bytes = at::empty({int64_t(out_bytes * size_t(groups))}, at::kByte);  // [n/16 groups] u8
  uint8_t* dst = bytes.data_ptr<uint8_t>();
  global_pool().parallel_for(groups, 16, [&](int64_t g0, int64_t g1, int) {
    detail::interleave_rows(type, data + size_t(g0) * in_bytes, (g1 - g0) * detail::kInterleave, k,
                            dst + size_t(g0) * out_bytes);
  });
  WeightMatrix out = from_bytes(type, n, k, dst, bytes);
  out.layout = Layout::kInterleaved16;
  return out;
}

void WeightMatrix::dequantize_row(int64_t r, float* dst) const {
  if (layout == Layout::kInterleaved16) return detail::dequantize_interleaved_row(type, data, r, k, dst);
  dequantize_row_ref(type, data + size_t(r) * row_stride(), dst, k);
}

at::Tensor WeightMatrix::float_tensor() const {
  if (!is_float()) throw_invalid("WeightMatrix::float_tensor: ", wtype_name(type), " is quantized");
  const at::ScalarType dtype = wtype_to_dtype(type);
  if (owner.defined() && owner.scalar_type() == dtype && owner.data_ptr() == data && owner.dim() == 2 &&
      owner.size(0) == n && owner.size(1) == k && owner.is_contiguous())
    return owner;
  at::Tensor keep = owner;  // the view keeps the owner's storage alive through its deleter
  return at::from_blob(const_cast<uint8_t*>(data), {n, k}, [keep](void*) mutable { keep.reset(); },
                       at::TensorOptions().dtype(dtype));
}

at::Tensor WeightMatrix::dequantize() const {
  at::Tensor out = at::empty({n, k}, at::kFloat);  // [n, k] f32
  float* y = out.data_ptr<float>();
  global_pool().parallel_for(n, 16, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) dequantize_row(r, y + r * k);
  });
  return out;
}

at::Tensor WeightMatrix::gather_rows(const std::vector<int64_t>& ids) const {
  at::Tensor out = at::empty({int64_t(ids.size()), k}, at::kFloat);  // [ids, k] f32
  float* y = out.data_ptr<float>();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n) throw_invalid("WeightMatrix::gather_rows: row ", ids[i], " outside [0, ", n, ")");
    dequantize_row(ids[i], y + int64_t(i) * k);
  }
  return out;
}

}  // namespace pad::kernels
