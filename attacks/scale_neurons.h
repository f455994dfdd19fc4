#pragma once
// scale_neurons: positive per-unit rescaling of a relu MLP, a functionality-equivalent
// transform (reference §5). relu is positively homogeneous, relu(d·z) = d·relu(z) for d > 0, so
// for every hidden layer ℓ (ℓ = 0..L−2), with D_ℓ = diag(d_ℓ),
//   W_ℓ ← D_ℓ·W_ℓ,  b_ℓ ← D_ℓ·b_ℓ,  W_{ℓ+1} ← W_{ℓ+1}·D_ℓ⁻¹
// leaves the function unchanged. d_{ℓ,i} = exp(u), u = log_range·(2·U − 1) uniform on
// [−log_range, log_range], U from coins.derive("layers.ℓ").uniform() in unit order. Each weight
// is transformed once from the original (w'_{ij} = w_{ij}·d_{ℓ,i}/d_{ℓ−1,j} in double, stored as
// float). Other activations (gelu, silu, and every swiglu block) are not homogeneous:
// InvalidArgument.
#include <string>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct ScaleNeuronsParams {
  double log_range = 1.3862943611198906;  // ln 4; in (0, 10]

  static ScaleNeuronsParams from(const definitions::Params& params);
  void validate() const;
};

class ScaleNeurons final : public definitions::Remover {
 public:
  explicit ScaleNeurons(ScaleNeuronsParams params) : params_(params) { params_.validate(); }
  [[nodiscard]] std::string id() const override { return "scale_neurons"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

 private:
  ScaleNeuronsParams params_;
};

}  // namespace wrsec::attacks
