#include "schemes/scale_morph.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/permutation.h"

namespace wrsec::schemes {
namespace {

using nn::Matrix;

std::string morph_weight_name(std::int64_t i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string morph_bias_name(std::int64_t i) {
  return "layers." + std::to_string(i) + ".bias";
}

std::vector<std::int64_t> tee_layers_of(const definitions::Artifact& artifact,
                                        std::int64_t layers) {
  std::vector<std::int64_t> held;
  const auto it = artifact.metadata.find("tee_layers");
  if (it == artifact.metadata.end() || !it->is_array())
    throw InvalidArgument("scale_morph artifact has no 'tee_layers' metadata");
  for (const auto& v : *it) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= layers)
      throw InvalidArgument("scale_morph artifact: 'tee_layers' names a layer out of range");
    held.push_back(v.get<std::int64_t>());
  }
  return held;
}

class ScaleMorphTee final : public definitions::TeeDevice {
 public:
  // `model` holds the morphed layers as released and the held layers in the clear.
  ScaleMorphTee(nn::Model model, std::vector<double> scale, std::vector<bool> held)
      : model_(std::move(model)), scale_(std::move(scale)), held_(std::move(held)) {
    for (std::size_t l = 0; l < held_.size(); ++l)
      work_ += held_[l] ? static_cast<double>(model_.arch.sizes[l] * model_.arch.sizes[l + 1])
                        : static_cast<double>(model_.arch.sizes[l + 1]);
  }

  Matrix host_view(const Matrix& x, Rng& coins) const override { return infer(x, coins); }

  Matrix infer(const Matrix& x, Rng& /*coins*/) const override {
    if (x.cols() != model_.arch.input_size())
      throw InvalidArgument("scale_morph TEE: input has " + std::to_string(x.cols()) +
                            " features, expected " + std::to_string(model_.arch.input_size()));
    Matrix a = x;
    Matrix z;
    for (std::size_t l = 0; l < held_.size(); ++l) {
      const auto i = static_cast<std::int64_t>(l);
      if (l > 0) a = nn::activation_forward<float>(model_.arch.activation, z);
      z = nn::linear_forward<float>(a, model_.tensors.at(morph_weight_name(i)).matrix(),
                                    model_.tensors.at(morph_bias_name(i)).vector());
      if (!held_[l]) z /= static_cast<float>(scale_[l]);
    }
    return z;
  }

  double work_per_row() const override { return work_; }
  std::string mode() const override {
    std::int64_t n = 0;
    for (bool h : held_) n += h ? 1 : 0;
    return "scale morph (" + std::to_string(n) + " of " + std::to_string(held_.size()) +
           " layers held)";
  }

 private:
  nn::Model model_;
  std::vector<double> scale_;
  std::vector<bool> held_;
  double work_ = 0;
};

}  // namespace

ScaleMorphParams ScaleMorphParams::from(const definitions::Params& params) {
  ScaleMorphParams p;
  p.fraction = params.get_double("fraction", p.fraction);
  p.scale_min = params.get_double("scale_min", p.scale_min);
  p.scale_max = params.get_double("scale_max", p.scale_max);
  p.validate();
  return p;
}

void ScaleMorphParams::validate() const {
  if (!(fraction >= 0 && fraction <= 1))
    throw InvalidArgument("scale_morph: fraction must lie in [0, 1]");
  if (!(scale_min >= 1e-6) || !(scale_max >= scale_min) || !(scale_max <= 1e6))
    throw InvalidArgument("scale_morph: need 1e-6 <= scale_min <= scale_max <= 1e6");
}

ScaleMorph::ScaleMorph(ScaleMorphParams params) : params_(std::move(params)) {
  params_.validate();
}

definitions::Release ScaleMorph::release(const nn::Model& model, Rng& coins) const {
  if (model.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("scale_morph: only MLP models are supported, got " +
                          model.arch.to_spec());
  model.validate();
  const auto layers = static_cast<std::int64_t>(model.arch.sizes.size()) - 1;
  const auto morphed =
      static_cast<std::int64_t>(std::llround(params_.fraction * static_cast<double>(layers)));
  Rng pick = coins.derive("layers");
  const auto order = nn::random_permutation(layers, pick);
  std::vector<bool> held(static_cast<std::size_t>(layers), true);
  for (std::int64_t j = 0; j < morphed; ++j) held[static_cast<std::size_t>(order[j])] = false;

  nn::Model released = model;
  Rng scale_rng = coins.derive("scale");
  nn::Tensor scale({layers});
  definitions::Release rel;
  nlohmann::json tee_layers = nlohmann::json::array();
  for (std::int64_t l = 0; l < layers; ++l) {
    auto& w = released.tensors.at(morph_weight_name(l));
    auto& b = released.tensors.at(morph_bias_name(l));
    if (held[static_cast<std::size_t>(l)]) {
      rel.secret.tensors[morph_weight_name(l)] = w;
      rel.secret.tensors[morph_bias_name(l)] = b;
      std::fill(w.data.begin(), w.data.end(), 0.0F);
      std::fill(b.data.begin(), b.data.end(), 0.0F);
      tee_layers.push_back(l);
      scale.data[static_cast<std::size_t>(l)] = 1.0F;
    } else {
      const auto s = static_cast<float>(
          params_.scale_min + (params_.scale_max - params_.scale_min) * scale_rng.uniform());
      for (float& v : w.data) v *= s;
      for (float& v : b.data) v *= s;
      scale.data[static_cast<std::size_t>(l)] = s;
    }
  }
  rel.secret.tensors["scale"] = std::move(scale);
  rel.artifact = definitions::model_artifact(released, id());
  rel.artifact.metadata["tee_layers"] = tee_layers;  // public: the held layers are zeros
  return rel;
}

std::shared_ptr<const definitions::TeeDevice> ScaleMorph::provision_tee(
    const definitions::Release& release) const {
  nn::Model model = definitions::artifact_model(release.artifact);
  if (model.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("scale_morph: the release is not an MLP (" + model.arch.to_spec() + ")");
  const auto layers = static_cast<std::int64_t>(model.arch.sizes.size()) - 1;
  const auto it = release.secret.tensors.find("scale");
  if (it == release.secret.tensors.end() || it->second.numel() != layers)
    throw InvalidArgument("scale_morph: the secret holds no scale factor per layer");
  std::vector<double> scale(static_cast<std::size_t>(layers));
  std::vector<bool> held(static_cast<std::size_t>(layers), false);
  for (std::int64_t l : tee_layers_of(release.artifact, layers)) {
    held[static_cast<std::size_t>(l)] = true;
    for (const std::string& name : {morph_weight_name(l), morph_bias_name(l)}) {
      const auto t = release.secret.tensors.find(name);
      if (t == release.secret.tensors.end() || t->second.shape != model.tensors.at(name).shape)
        throw InvalidArgument("scale_morph: the secret does not hold TEE layer " +
                              std::to_string(l));
      model.tensors.at(name) = t->second;
    }
  }
  model.validate();  // the held layers' weights must be finite
  for (std::int64_t l = 0; l < layers; ++l) {
    scale[static_cast<std::size_t>(l)] = it->second.data[static_cast<std::size_t>(l)];
    if (!held[static_cast<std::size_t>(l)] && !(scale[static_cast<std::size_t>(l)] > 0 &&
                                                std::isfinite(scale[static_cast<std::size_t>(l)])))
      throw InvalidArgument("scale_morph: a scale factor is not a positive finite number");
  }
  return std::make_shared<const ScaleMorphTee>(std::move(model), std::move(scale), std::move(held));
}

double ScaleMorph::infer_macs(const definitions::Artifact& artifact) const {
  const auto arch = definitions::artifact_architecture(artifact);
  if (arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("scale_morph: the release is not an MLP (" + arch.to_spec() + ")");
  const auto layers = static_cast<std::int64_t>(arch.sizes.size()) - 1;
  std::vector<bool> held(static_cast<std::size_t>(layers), false);
  for (std::int64_t l : tee_layers_of(artifact, layers)) held[static_cast<std::size_t>(l)] = true;
  double macs = 0;
  for (std::size_t l = 0; l < held.size(); ++l)
    if (!held[l]) macs += static_cast<double>(arch.sizes[l] * arch.sizes[l + 1]);
  return macs;
}

}  // namespace wrsec::schemes
