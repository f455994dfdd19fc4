#include "attacks/weight_shift.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace wrsec::attacks {

WeightShiftParams WeightShiftParams::from(const definitions::Params& params) {
  WeightShiftParams p;
  p.lambda = params.get_double("lambda", p.lambda);
  p.noise = params.get_double("noise", p.noise);
  const std::string layers = params.get_string("layers", "all");
  if (layers == "all") {
    p.layers = WeightShiftLayers::all;
  } else if (layers == "hidden") {
    p.layers = WeightShiftLayers::hidden;
  } else {
    throw InvalidArgument("weight_shift: layers must be all or hidden, got '" + layers + "'");
  }
  p.train = RemovalTraining::from(params, "weight_shift", p.train);
  p.validate();
  return p;
}

void WeightShiftParams::validate() const {
  if (!std::isfinite(lambda)) throw InvalidArgument("weight_shift: lambda must be finite");
  if (!(noise >= 0.0) || !std::isfinite(noise))
    throw InvalidArgument("weight_shift: noise must be >= 0 and finite");
  train.validate("weight_shift", 0);
}

WeightShift::WeightShift(WeightShiftParams params) : params_(std::move(params)) {
  params_.validate();
}

nn::Model WeightShift::remove(const nn::Model& marked, const definitions::RemovalContext& context,
                              Rng& coins) const {
  marked.validate();
  const nn::Dataset* all =
      params_.train.epochs > 0 ? &require_attacker_data(context, id()) : nullptr;
  const std::vector<std::string> output = output_layer_tensors(marked.arch);
  const Rng noise_coins = coins.derive("noise");
  nn::Model out = marked;
  for (const auto& [name, shape] : marked.arch.tensor_shapes()) {
    if (shape.size() != 2) continue;
    if (params_.layers == WeightShiftLayers::hidden &&
        std::find(output.begin(), output.end(), name) != output.end())
      continue;
    nn::MatrixMap w = out.tensors.at(name).matrix();
    const Eigen::Index rows = w.rows(), cols = w.cols();
    const Eigen::MatrixXd wd = w.cast<double>();
    const Eigen::RowVectorXd mean_row = wd.colwise().sum() / static_cast<double>(rows);
    const double mean = wd.mean();
    const double sd =
        std::sqrt((wd.array() - mean).square().sum() / static_cast<double>(wd.size()));
    Rng eps = noise_coins.derive(name);
    for (Eigen::Index o = 0; o < rows; ++o)
      for (Eigen::Index c = 0; c < cols; ++c) {
        double v = wd(o, c) - params_.lambda * mean_row(c);
        if (params_.noise > 0.0) v -= params_.noise * sd * eps.normal();
        w(o, c) = static_cast<float>(v);
      }
  }
  if (all != nullptr) {
    nn::Dataset storage;
    const nn::Dataset& data =
        take_samples(*all, params_.train.samples, coins.derive("samples"), storage);
    (void)nn::train(out, data.images, data.labels, params_.train.config(), coins.derive("train"));
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
