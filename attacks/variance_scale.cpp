#include "attacks/variance_scale.h"

#include <cmath>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/model.h"

namespace wrsec::attacks {

VarianceScaleParams VarianceScaleParams::from(const definitions::Params& params) {
  VarianceScaleParams p;
  p.base = params.get_string("base", "");
  p.estimator = params.get_string("estimator", p.estimator);
  p.train = QueryTraining::from(params, "variance_scale");
  if (p.base.empty() && p.estimator == "projection")
    throw InvalidArgument("variance_scale: estimator=projection needs base (a public model)");
  if (p.estimator != "variance" && p.estimator != "projection")
    throw InvalidArgument("variance_scale: estimator must be variance or projection, got '" +
                          p.estimator + "'");
  return p;
}

VarianceScale::VarianceScale(VarianceScaleParams params) : params_(std::move(params)) {
  if (!params_.base.empty()) base_ = definitions::ModelSource::parse(params_.base);
}

nn::Model VarianceScale::extract(const definitions::Artifact& release,
                                 definitions::OracleAccess& oracles, Rng& coins) const {
  nn::Model model = definitions::artifact_model(release);
  if (model.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("variance_scale: only MLP releases are supported");
  Rng base_coins = coins.derive(base_ ? "base" : "init");
  // Without a public model the initialisation stands in for it (its layers, its variances).
  const nn::Model base = base_ ? base_->draw(base_coins) : nn::Model::init(model.arch, base_coins);
  if (!(base.arch == model.arch))
    throw InvalidArgument("variance_scale: the base is " + base.arch.to_spec() + ", the release " +
                          model.arch.to_spec());
  const auto layers = static_cast<std::int64_t>(model.arch.sizes.size()) - 1;
  std::vector<bool> held(static_cast<std::size_t>(layers), false);
  const auto it = release.metadata.find("tee_layers");
  if (it == release.metadata.end() || !it->is_array())
    throw InvalidArgument("variance_scale: the release names no 'tee_layers'");
  for (const auto& v : *it) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= layers)
      throw InvalidArgument("variance_scale: 'tee_layers' names a layer out of range");
    held[v.get<std::size_t>()] = true;
  }
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::string w = "layers." + std::to_string(l) + ".weight";
    const std::string b = "layers." + std::to_string(l) + ".bias";
    if (held[static_cast<std::size_t>(l)]) {
      model.tensors.at(w) = base.tensors.at(w);
      model.tensors.at(b) = base.tensors.at(b);
      continue;
    }
    const auto released = model.tensors.at(w).matrix().cast<double>();
    const auto pub = base.tensors.at(w).matrix().cast<double>();
    const auto variance = [](const Eigen::MatrixXd& m) {
      return (m.array() - m.mean()).square().mean();
    };
    double s = 1;
    if (params_.estimator == "variance") {
      const double fan_in = static_cast<double>(model.arch.sizes[static_cast<std::size_t>(l)]);
      const double vb = base_ ? variance(pub) : (l + 1 < layers ? 2.0 : 1.0) / fan_in;
      if (vb > 0) s = std::sqrt(variance(released) / vb);
    } else {
      const double dot = (pub.array() * released.array()).sum();
      if (dot > 0) s = dot / pub.squaredNorm();
    }
    if (!(s > 0) || !std::isfinite(s)) s = 1;
    for (float& v : model.tensors.at(w).data) v = static_cast<float>(v / s);
    for (float& v : model.tensors.at(b).data) v = static_cast<float>(v / s);
  }
  (void)finetune_on_queries(model, oracles, params_.train, coins.derive("finetune"));
  return model;
}

}  // namespace wrsec::attacks
