#include "attacks/scale_neurons.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/errors.h"

namespace wrsec::attacks {

ScaleNeuronsParams ScaleNeuronsParams::from(const definitions::Params& params) {
  ScaleNeuronsParams p;
  p.log_range = params.get_double("log_range", p.log_range);
  p.validate();
  return p;
}

void ScaleNeuronsParams::validate() const {
  if (!(log_range > 0.0 && log_range <= 10.0))
    throw InvalidArgument("scale_neurons: log_range must lie in (0, 10]");
}

nn::Model ScaleNeurons::remove(const nn::Model& marked,
                               const definitions::RemovalContext& /*context*/, Rng& coins) const {
  marked.validate();
  if (marked.arch.kind != nn::Architecture::Kind::mlp ||
      marked.arch.activation != nn::Activation::relu)
    throw InvalidArgument("scale_neurons needs a relu mlp (positive homogeneity), got " +
                          marked.arch.to_spec());
  const std::size_t layers = marked.arch.sizes.size() - 1;
  // d[ℓ] for every hidden layer; d[L−1] (the logits) stays empty = factor 1.
  std::vector<std::vector<double>> d(layers);
  for (std::size_t l = 0; l + 1 < layers; ++l) {
    Rng r = coins.derive("layers." + std::to_string(l));
    d[l].resize(static_cast<std::size_t>(marked.arch.sizes[l + 1]));
    for (double& v : d[l]) v = std::exp(params_.log_range * (2.0 * r.uniform() - 1.0));
  }
  nn::Model out = marked;
  for (std::size_t l = 0; l < layers; ++l) {
    const std::string prefix = "layers." + std::to_string(l) + ".";
    nn::Tensor& w = out.tensors.at(prefix + "weight");
    nn::Tensor& b = out.tensors.at(prefix + "bias");
    const auto rows = static_cast<std::size_t>(w.shape[0]);
    const auto cols = static_cast<std::size_t>(w.shape[1]);
    for (std::size_t i = 0; i < rows; ++i) {
      const double row = d[l].empty() ? 1.0 : d[l][i];
      for (std::size_t j = 0; j < cols; ++j) {
        const double factor = l == 0 ? row : row / d[l - 1][j];
        float& v = w.data[i * cols + j];
        v = static_cast<float>(double(v) * factor);
      }
      b.data[i] = static_cast<float>(double(b.data[i]) * row);
    }
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
