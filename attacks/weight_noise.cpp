#include "attacks/weight_noise.h"

#include <cmath>
#include <vector>

#include "core/errors.h"

namespace wrsec::attacks {

WeightNoiseParams WeightNoiseParams::from(const definitions::Params& params) {
  WeightNoiseParams p;
  p.scale = params.get_double("scale", p.scale);
  p.biases = params.get_bool("biases", p.biases);
  p.validate();
  return p;
}

void WeightNoiseParams::validate() const {
  if (!(scale >= 0.0 && std::isfinite(scale)))
    throw InvalidArgument("weight_noise: scale must be finite and >= 0");
}

nn::Model WeightNoise::remove(const nn::Model& marked,
                              const definitions::RemovalContext& /*context*/, Rng& coins) const {
  marked.validate();
  nn::Model out = marked;
  for (auto& [name, t] : out.tensors) {
    if (t.rank() != 2 && !params_.biases) continue;
    const double sigma = params_.scale * nn::population_std(t.data);
    if (sigma == 0.0) continue;
    Rng noise = coins.derive(name);
    for (float& v : t.data) v = static_cast<float>(double(v) + sigma * noise.normal());
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
