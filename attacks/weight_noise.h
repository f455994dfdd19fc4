#pragma once
// weight_noise: additive Gaussian noise scaled to each tensor's spread (WRT "Gaussian weight
// noise"; reference §5: suggested scales 0.01–0.2).
//   For every weight matrix W (and every bias vector when biases = true), with n entries,
//     σ_W = sqrt((1/n)·Σ (w − mean W)²)   (population std, in double),
//     w'_k = w_k + scale·σ_W·z_k,   z_k ~ N(0, 1) i.i.d.,
//   z drawn in row-major order from coins.derive(tensor name).normal(); w' stored as float.
//   scale = 0 or a constant tensor (σ_W = 0) leaves W unchanged.
#include <string>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct WeightNoiseParams {
  double scale = 0.05;  // finite, >= 0
  bool biases = false;  // also perturb bias vectors

  static WeightNoiseParams from(const definitions::Params& params);
  void validate() const;
};

class WeightNoise final : public definitions::Remover {
 public:
  explicit WeightNoise(WeightNoiseParams params) : params_(params) { params_.validate(); }
  [[nodiscard]] std::string id() const override { return "weight_noise"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

 private:
  WeightNoiseParams params_;
};

}  // namespace wrsec::attacks
