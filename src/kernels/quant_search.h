// Scale searches for the k-quant reference quantizers: a few candidate grids around the range
// of a sub-block, each refit by weighted least squares, keeping the one with the least weighted
// squared error (the idea of ggml's make_qkx2_quants / make_qx_quants, written afresh and with
// fewer candidates so an 8B model quantizes in minutes on two cores). Internal to src/kernels.
#pragma once

#include <algorithm>
#include <cmath>

#include "blocks.h"

namespace pad::kernels::detail {

// x[0..n) ≈ scale · L − min_out with L in 0..n_max, scale ≥ 0, min_out ≥ 0 (the sub-block's
// minimum is clamped to ≤ 0, as k-quants store it). Weights |x| + rms(x) favour large values.
inline void fit_scale_min(const float* x, int n, int n_max, float* scale, float* min_out) {
  constexpr int kSteps = 10;           // candidate grids: n_max − 1 .. n_max + 1 levels over the range
  constexpr float kStepLevels = 0.2f;  // level spacing between candidates
  float lo = 0, hi = x[0], sum_x2 = 0;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_x2 += x[i] * x[i];
  }
  if (hi <= lo) {
    *scale = 0;
    *min_out = -lo;
    return;
  }
  const float rms = std::sqrt(sum_x2 / float(n));
  float w[kQKK], sum_w = 0, sum_wx = 0;
  for (int i = 0; i < n; ++i) {
    w[i] = rms + std::fabs(x[i]);
    sum_w += w[i];
    sum_wx += w[i] * x[i];
  }
  float best_err = INFINITY, best_scale = (hi - lo) / float(n_max), best_min = lo;
  for (int step = 0; step <= kSteps; ++step) {
    const float iscale = (float(n_max) - 1.0f + kStepLevels * float(step)) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    int L[kQKK];
    for (int i = 0; i < n; ++i) {
      L[i] = std::clamp(nearest_int(iscale * (x[i] - lo)), 0, n_max);
      sum_l += w[i] * float(L[i]);
      sum_l2 += w[i] * float(L[i]) * float(L[i]);
      sum_xl += w[i] * float(L[i]) * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float s = (sum_w * sum_xl - sum_wx * sum_l) / det;  // least squares for x ≈ s·L + m
    float m = (sum_l2 * sum_wx - sum_l * sum_xl) / det;
    if (m > 0) {  // k-quants subtract a non-negative min: refit the scale alone
      m = 0;
      s = sum_l2 > 0 ? sum_xl / sum_l2 : 0;
    }
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = s * float(L[i]) + m - x[i];
      err += w[i] * diff * diff;
    }
    if (err < best_err && s >= 0) {
      best_err = err;
      best_scale = s;
      best_min = m;
    }
  }
  *scale = best_scale;
  *min_out = -best_min;
}

// x[0..n) ≈ scale · q with q in −n_half..n_half−1; the value of largest magnitude lands near
// −n_half (the grid's longer end). Weights x² (an rms fit), as ggml does for q6_K.
inline float fit_symmetric_scale(const float* x, int n, int n_half) {
  constexpr int kSteps = 6;  // candidates n_half ± 0.15·step levels
  float vmax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
  if (vmax == 0) return 0;
  float best_score = -1, best_scale = vmax / -float(n_half);
  for (int step = -kSteps; step <= kSteps; ++step) {
    const float iscale = -(float(n_half) + 0.15f * float(step)) / vmax;
    float sum_xl = 0, sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
      const float l = float(std::clamp(nearest_int(iscale * x[i]), -n_half, n_half - 1));
      const float w = x[i] * x[i];
      sum_xl += w * x[i] * l;
      sum_l2 += w * l * l;
    }
    // The refit scale sum_xl / sum_l2 leaves error Σw·x² − sum_xl²/sum_l2: maximize the second term.
    if (sum_l2 > 0 && sum_xl * sum_xl / sum_l2 > best_score) {
      best_score = sum_xl * sum_xl / sum_l2;
      best_scale = sum_xl / sum_l2;
    }
  }
  return best_scale;
}

}  // namespace pad::kernels::detail
