#pragma once
// quantize: symmetric uniform b-bit quantization of the weights (PyTorch per_tensor_symmetric /
// per_channel_symmetric observers), dequantized back to float32.
//   For each group G (granularity = tensor: a whole weight matrix; channel: one output row of a
//   [out, in] matrix; bias vectors, when biases = true, are always one group):
//     Q = 2^(b−1) − 1,  s = max_{w∈G} |w| / Q,
//     q(w) = clamp(round_half_away(w / s), −Q, Q),  w' = s·q(w),
//   with s, w / s and s·q in double and w' stored as float. s = 0 (an all-zero group) leaves the
//   group unchanged. Each group takes at most 2Q + 1 = 2^b − 1 distinct values and
//   |w' − w| ≤ s/2 (up to the final float rounding). Deterministic: no coins are used.
#include <cstdint>
#include <string>
#include <utility>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct QuantizeParams {
  std::int64_t bits = 8;               // in [2, 8]
  std::string granularity = "tensor";  // tensor | channel
  bool biases = false;                 // also quantize bias vectors (per tensor)

  static QuantizeParams from(const definitions::Params& params);
  void validate() const;
};

class Quantize final : public definitions::Remover {
 public:
  explicit Quantize(QuantizeParams params) : params_(std::move(params)) { params_.validate(); }
  [[nodiscard]] std::string id() const override { return "quantize"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

 private:
  QuantizeParams params_;
};

}  // namespace wrsec::attacks
