// A weight matrix kept in the type its file stores (f32, f16, bf16, GGUF q8_0, q4_0, q4_K, q5_K,
// q6_K), the products over it for 1..M activation rows, and the bit-exact GGUF dequantization
// (DESIGN §5). Activations are f32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace pad::kernels {

// Element types, numbered as ggml numbers them (GGUF tensor type ids).
enum class WType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kBF16 = 30,
};

const char* wtype_name(WType type);          // "f32", "f16", "bf16", "q8_0", "q4_0", "q4_K", ...
bool is_known_wtype(uint32_t ggml_type);     // one of the types above
WType parse_wtype(const std::string& name);  // case-insensitive name; throws std::invalid_argument
int64_t block_elems(WType type);             // elements per block: 1, 32 or 256
size_t block_bytes(WType type);              // bytes per block
// Bytes of one row of k elements; throws std::invalid_argument (naming `context`) unless k is a
// multiple of block_elems(type).
size_t row_bytes(WType type, int64_t k, const std::string& context = "");

// How a matrix's bytes are ordered: GGUF's rows (row r at r · row_stride), or q8_0 / q4_K / q5_K /
// q6_K interleaved by 16 rows for the AVX-512 VNNI kernels (the same blocks reordered: q8_0 and q6_K
// the same size, q4_K 2.8% and q5_K 2.3% more with their 6-bit scales unpacked; nbytes() stays the
// GGUF size). Only src/kernels reads the bytes of the second.
enum class Layout : uint8_t { kRows, kInterleaved16 };

// An [n, k] matrix: n rows of row_bytes(type, k) bytes each, row-major. `owner` keeps the bytes
// alive (a tensor over a memory map, or a tensor holding a copy). Cheap to copy.
struct WeightMatrix {
  WType type = WType::kF32;
  int64_t n = 0, k = 0;
  const uint8_t* data = nullptr;
  at::Tensor owner;  // holds `data` alive: any dtype, any shape
  Layout layout = Layout::kRows;

  bool defined() const { return data != nullptr; }
  bool is_float() const { return type == WType::kF32 || type == WType::kF16 || type == WType::kBF16; }
  size_t row_stride() const { return row_bytes(type, k); }
  size_t nbytes() const { return row_stride() * static_cast<size_t>(n); }
  // A view of rows [begin, begin + count); interleaved matrices only at multiples of 16 rows.
  WeightMatrix rows(int64_t begin, int64_t count) const;

  // The layout this CPU's products read fastest, in a new buffer when it differs: q8_0 and k-quant
  // (q4_K, q5_K, q6_K) matrices of a multiple of 16 rows interleave where the integer kernels are
  // AVX-512 VNNI (unless PAD_INTERLEAVE=0); everything else is returned as it is. Model loaders call
  // it once.
  WeightMatrix for_kernels() const;
  // Row r as f32 (bit for bit the GGUF row's dequantization, whatever the layout).
  void dequantize_row(int64_t r, float* dst) const;

  // A float tensor [n, k] (f32/f16/bf16 contiguous) viewed as a WeightMatrix, sharing its storage.
  static WeightMatrix from_tensor(const at::Tensor& t);
  // Raw bytes of n rows of `type` (already in GGUF block layout) kept alive by `owner`.
  static WeightMatrix from_bytes(WType type, int64_t n, int64_t k, const uint8_t* data, at::Tensor owner);
  // Quantizes (or converts) a float [n, k] tensor to `type`, in a new buffer (uses the pool).
  static WeightMatrix quantize(const at::Tensor& t, WType type);

  // The stored tensor itself for f32/f16/bf16 (shares storage); throws for quantized types.
  at::Tensor float_tensor() const;
  // All rows dequantized: [n, k] f32 (a new tensor).
  at::Tensor dequantize() const;
  // Rows `ids` dequantized: [ids.size(), k] f32 (embedding lookups, lm_head rows of PAD candidates).
  at::Tensor gather_rows(const std::vector<int64_t>& ids) const;
};

// Reference (scalar, bit-exact to ggml's layouts) conversions of n elements, n a multiple of the block.
void dequantize_row_ref(WType type, const uint8_t* src, float* dst, int64_t n);
void quantize_row_ref(WType type, const float* src, uint8_t* dst, int64_t n);

// y[m, n] = x[m, k] · wᵀ + bias[n] (bias may be null). x: m rows of k f32 (row stride k);
// y: m rows of n f32 (row stride ldy ≥ n). Threads: pad::global_pool(), output rows split so every
// thread streams its own weight rows; each weight row is read once for all m rows when m ≤ 64,
// and larger m goes through a cache-blocked GEMM.
void matmul(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy);

// Quantized weights with at most 64 activation rows multiply 8-bit activations (quantized per
// block as ggml's q8_0/q8_K) in integers — the default. Off: the activations stay f32 and the
// weights are dequantized (slower; what tests and benchmarks compare against). Process-wide.
void set_int8_activations(bool on);
bool int8_activations();

// Tensor form of matmul: x [.., k] f32 → [.., n] f32; bias [n] f32 or undefined.
at::Tensor linear(const at::Tensor& x, const WeightMatrix& w, const at::Tensor& bias = at::Tensor());

// The oracle: dequantize_row_ref and a double-accumulated loop. Same shapes as linear().
at::Tensor linear_reference(const at::Tensor& x, const WeightMatrix& w, const at::Tensor& bias = at::Tensor());

}  // namespace pad::kernels
