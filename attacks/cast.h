#pragma once
// cast: the low-precision round trip of deploying a model in half precision.
//   For every tensor entry w (weights and biases):
//     w' = widen(clamp_finite(narrow(w))),
//   narrow = IEEE binary16 (format = fp16) or bfloat16 (format = bf16) rounding, to nearest with
//   ties to even, subnormal results kept; an overflow to ±inf is replaced by the format's largest
//   finite value of that sign (fp16 ±65504, bf16 ±(2 − 2^-7)·2^127 ≈ ±3.39e38), so the result
//   still passes Model::validate(). Widening back to float32 is exact. Deterministic: no coins.
//   The conversions are nn::float_to_half / float_to_bf16 (nn/safetensors.h), shared with the
//   F16/BF16 safetensors writer.
#include <cstdint>
#include <string>
#include <utility>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct CastParams {
  std::string format = "bf16";  // fp16 | bf16

  static CastParams from(const definitions::Params& params);
  void validate() const;
};

// One value through the round trip (exposed for tests).
[[nodiscard]] float cast_round_trip(float value, const std::string& format);

class Cast final : public definitions::Remover {
 public:
  explicit Cast(CastParams params) : params_(std::move(params)) { params_.validate(); }
  [[nodiscard]] std::string id() const override { return "cast"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

 private:
  CastParams params_;
};

}  // namespace wrsec::attacks
