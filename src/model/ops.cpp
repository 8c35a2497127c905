// Plain loops for the decoder's per-position operations (see ops.h).
#include "ops.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>

namespace pad::ops {

PAD_SIMD_CLONES
void rms_norm(const float* x, int64_t x_stride, const float* weight, int64_t n_rows, int64_t d, double eps,
              float* y, int64_t y_stride) {
  for (int64_t t = 0; t < n_rows; ++t) {
    const float* xr = x + t * x_stride;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= d; i += 8)
      for (int j = 0; j < 8; ++j) acc[j] += xr[i + j] * xr[i + j];
    double sum = 0;
    for (int j = 0; j < 8; ++j) sum += acc[j];
    for (; i < d; ++i) sum += double(xr[i]) * xr[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum / double(d) + eps));
    float* yr = y + t * y_stride;
    for (int64_t k = 0; k < d; ++k) yr[k] = xr[k] * inv * weight[k];
  }
}

PAD_SIMD_CLONES
void rope(float* x, int64_t stride, int64_t n_rows, int64_t n_heads, int64_t hd, const float* cos, const float* sin) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < n_rows; ++t) {
    const float* c = cos + t * half;
    const float* s = sin + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* a = x + t * stride + h * hd;
      float* b = a + half;
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = a[i], x2 = b[i];
        a[i] = x1 * c[i] - x2 * s[i];
        b[i] = x2 * c[i] + x1 * s[i];
      }
    }
  }
}

void rope_tables(const int64_t* pos, int64_t n, const float* inv_freq, int64_t half, float* cos, float* sin) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < half; ++i) {
      // The angle in f32, as the reference path (positions · inv_freq in f32) computes it.
      const float angle = static_cast<float>(pos[t]) * inv_freq[i];
      cos[t * half + i] = std::cos(angle);
      sin[t * half + i] = std::sin(angle);
    }
}

PAD_SIMD_CLONES
void silu_mul(const float* gu, int64_t n_rows, int64_t d_ff, float* out) {
  for (int64_t t = 0; t < n_rows; ++t) {
    const float* g = gu + t * 2 * d_ff;
    const float* u = g + d_ff;
    float* o = out + t * d_ff;
    for (int64_t j = 0; j < d_ff; ++j) o[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
  }
}

PAD_SIMD_CLONES
void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void store_rows(const float* src, int64_t src_stride, int64_t n, int64_t width, at::ScalarType type, void* dst,
                int64_t dst_stride) {
  for (int64_t t = 0; t < n; ++t) {
    const float* s = src + t * src_stride;
    if (type == at::kFloat) {
      float* d = static_cast<float*>(dst) + t * dst_stride;
      for (int64_t i = 0; i < width; ++i) d[i] = s[i];
    } else if (type == at::kHalf) {
      c10::Half* d = static_cast<c10::Half*>(dst) + t * dst_stride;
      for (int64_t i = 0; i < width; ++i) d[i] = c10::Half(s[i]);
    } else {
      c10::BFloat16* d = static_cast<c10::BFloat16*>(dst) + t * dst_stride;
      for (int64_t i = 0; i < width; ++i) d[i] = c10::BFloat16(s[i]);
    }
  }
}

}  // namespace pad::ops
