#include "attacks/quantize.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace wrsec::attacks {

namespace {

// Quantizes values[0, n) in place as one group with q_max = 2^(b−1) − 1.
void quantize_group(float* values, std::int64_t n, double q_max) {
  double max_abs = 0.0;
  for (std::int64_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(double(values[i])));
  if (max_abs == 0.0) return;
  const double s = max_abs / q_max;
  for (std::int64_t i = 0; i < n; ++i) {
    const double q = std::clamp(std::round(double(values[i]) / s), -q_max, q_max);
    values[i] = static_cast<float>(s * q);
  }
}

}  // namespace

QuantizeParams QuantizeParams::from(const definitions::Params& params) {
  QuantizeParams p;
  p.bits = params.get_int("bits", p.bits);
  p.granularity = params.get_string("granularity", p.granularity);
  p.biases = params.get_bool("biases", p.biases);
  p.validate();
  return p;
}

void QuantizeParams::validate() const {
  if (bits < 2 || bits > 8) throw InvalidArgument("quantize: bits must lie in [2, 8]");
  if (granularity != "tensor" && granularity != "channel")
    throw InvalidArgument("quantize: granularity must be tensor or channel, got '" + granularity +
                          "'");
}

nn::Model Quantize::remove(const nn::Model& marked, const definitions::RemovalContext& /*context*/,
                           Rng& /*coins*/) const {
  marked.validate();
  nn::Model out = marked;
  const double q_max = std::ldexp(1.0, static_cast<int>(params_.bits) - 1) - 1.0;
  for (auto& [name, t] : out.tensors) {
    if (t.rank() == 2) {
      if (params_.granularity == "tensor") {
        quantize_group(t.data.data(), t.numel(), q_max);
      } else {
        const std::int64_t rows = t.shape[0], cols = t.shape[1];
        for (std::int64_t r = 0; r < rows; ++r)
          quantize_group(t.data.data() + r * cols, cols, q_max);
      }
    } else if (params_.biases) {
      quantize_group(t.data.data(), t.numel(), q_max);
    }
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
