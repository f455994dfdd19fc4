#include "nn/low_precision.h"

#include <cmath>

#include "core/errors.h"
#include "nn/safetensors.h"
#include "nn/taylor.h"

namespace wrsec::nn {

LowPrecision parse_low_precision(const std::string& name) {
  if (name == "bf16") return LowPrecision::bf16;
  if (name == "f16") return LowPrecision::f16;
  throw InvalidArgument("low-precision type must be bf16 or f16, got '" + name + "'");
}

std::string to_string(LowPrecision t) {
  return t == LowPrecision::bf16 ? "bf16" : "f16";
}

float round_to(LowPrecision t, float x) noexcept {
  return t == LowPrecision::bf16 ? bf16_to_float(float_to_bf16(x))
                                 : half_to_float(float_to_half(x));
}

namespace {

// C(n, k), exact in double for n <= 32.
double binomial(int n, int k) {
  double c = 1.0;
  for (int i = 1; i <= k; ++i) c = c * double(n - k + i) / double(i);
  return std::round(c);
}

}  // namespace

float lowp_sigmoid(LowPrecision t, float x) noexcept {
  return round_to(t, 1.0f / (1.0f + std::exp(-x)));
}

float lowp_silu(LowPrecision t, float x) noexcept {
  const float e = round_to(t, std::exp(-x));
  return round_to(t, x / round_to(t, 1.0f + e));
}

std::vector<float> official_silu_derivatives(LowPrecision t, float x, int order) {
  if (order < 1 || order > kMaxTaylorOrder)
    throw InvalidArgument("official_silu_derivatives: order must be in [1, 32], got " +
                          std::to_string(order));
  if (!std::isfinite(x) || round_to(t, x) != x)
    throw InvalidArgument("official_silu_derivatives: x must be a finite " + to_string(t) +
                          " value");
  const auto R = [t](float v) { return round_to(t, v); };
  // A scalar multiplier is first cast to T (PyTorch casts a wrapped number to the tensor's type).
  const auto scaled = [&](double c, float v) { return R(R(static_cast<float>(c)) * v); };
  const auto n_order = static_cast<std::size_t>(order);
  std::vector<float> y(n_order, 0.0f);  // y_n = s^{(n+1)}, the official y__n_buf
  std::vector<float> grad(n_order, 0.0f);
  const float s = lowp_sigmoid(t, x);
  y[0] = R(s * R(1.0f - s));
  grad[0] = R(R(x * y[0]) + s);
  for (int g = 1; g < order; ++g) {
    const auto ug = static_cast<std::size_t>(g);
    if (g == 1) {
      y[1] = R(y[0] - R(R(2.0f * s) * y[0]));
    } else {
      float acc = 0.0f;
      for (int idx = 0; idx <= g; ++idx) {
        const double c = binomial(g, idx);
        float term;
        if (idx == 0) {
          term = R(scaled(-c, s) * y[ug - 1]);
        } else if (idx == g) {
          term = scaled(c, R(y[ug - 1] - R(y[ug - 1] * s)));
        } else {
          term = R(scaled(-c, y[static_cast<std::size_t>(idx - 1)]) *
                   y[static_cast<std::size_t>(g - idx - 1)]);
        }
        acc = R(acc + term);
      }
      y[ug] = acc;
    }
    grad[ug] = R(R(x * y[ug]) + scaled(double(g + 1), y[ug - 1]));
  }
  return grad;
}

}  // namespace wrsec::nn
