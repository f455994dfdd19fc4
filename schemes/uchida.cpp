#include "schemes/uchida.h"

#include <cmath>

#include "core/errors.h"
#include "nn/train.h"

namespace wrsec::schemes {

namespace {

OwnerDataSpec read_data_spec(const definitions::Params& params, OwnerDataSpec spec) {
  const std::int64_t seed =
      params.get_int("split_seed", static_cast<std::int64_t>(spec.split_seed));
  if (seed < 0) throw InvalidArgument("parameter 'split_seed' must be >= 0");
  spec.split_seed = static_cast<std::uint64_t>(seed);
  spec.samples = params.get_int("samples", spec.samples);
  if (spec.samples < 0) throw InvalidArgument("parameter 'samples' must be >= 0");
  spec.dir = params.get_string("data", spec.dir);
  return spec;
}

}  // namespace

Eigen::VectorXd mean_row(const nn::Tensor& weight) {
  const auto w = weight.matrix();
  return w.cast<double>().colwise().mean().transpose();
}

UchidaParams UchidaParams::from(const definitions::Params& params) {
  UchidaParams p;
  MarkParams defaults;
  defaults.layers = {1};
  p.mark = MarkParams::from(params, defaults);
  p.lambda = params.get_double("lambda", p.lambda);
  p.lr = params.get_double("lr", p.lr);
  p.epochs = params.get_int("epochs", p.epochs);
  p.max_epochs = params.get_int("max_epochs", p.max_epochs);
  p.batch = params.get_int("batch", p.batch);
  p.data = read_data_spec(params, p.data);
  p.validate();
  return p;
}

void UchidaParams::validate() const {
  mark.validate("uchida");
  if (!(lambda > 0 && lambda <= 1e3)) throw InvalidArgument("uchida: lambda must lie in (0, 1000]");
  if (!(lr > 0 && lr <= 1)) throw InvalidArgument("uchida: lr must lie in (0, 1]");
  if (epochs < 1 || epochs > 100) throw InvalidArgument("uchida: epochs must lie in [1, 100]");
  if (max_epochs < epochs || max_epochs > 100)
    throw InvalidArgument("uchida: max_epochs must lie in [epochs, 100]");
  if (batch < 1) throw InvalidArgument("uchida: batch must be >= 1");
}

Uchida::Uchida(UchidaParams params) : WatermarkScheme(params.mark), config_(std::move(params)) {
  config_.validate();
}

nlohmann::json Uchida::public_params(const nn::Model& model) const {
  nlohmann::json shapes = nlohmann::json::object();
  for (const std::string& name : carrier_names()) shapes[name] = model.tensors.at(name).shape;
  return {{"shapes", shapes}};
}

std::vector<Uchida::Projection> Uchida::projections(const nn::Model& model,
                                                    const ResolvedKey& key) const {
  const auto names = carrier_names();
  std::vector<Projection> out;
  for (std::size_t t = 0; t < names.size(); ++t) {
    Projection p;
    p.tensor = names[t];
    for (std::size_t j = t; j < symbols(); j += names.size()) p.bits.push_back(j);
    const std::int64_t m = model.tensors.at(names[t]).shape[1];
    p.x.resize(static_cast<Eigen::Index>(p.bits.size()), m);
    Rng rng = key.key.rng("uchida.X/" + names[t]);
    for (Eigen::Index r = 0; r < p.x.rows(); ++r)
      for (Eigen::Index c = 0; c < p.x.cols(); ++c) p.x(r, c) = rng.normal();
    out.push_back(std::move(p));
  }
  return out;
}

nn::Model Uchida::embed(const nn::Model& model, const ResolvedKey& key, Rng& coins) const {
  const auto proj = projections(model, key);
  const double lambda = config_.lambda;
  const auto target = [&](const Projection& p, std::size_t r) {
    return static_cast<double>(key.expected[p.bits[r]]);
  };
  nn::TrainConfig config;
  config.optimizer = nn::Optimizer::adam;
  config.learning_rate = config_.lr;
  config.batch_size = config_.batch;
  config.epochs = static_cast<int>(config_.epochs);
  config.extra_loss = [&](const nn::TensorMap& params, nn::TensorMap& grads) {
    double loss = 0;
    for (const Projection& p : proj) {
      const nn::Tensor& w = params.at(p.tensor);
      const Eigen::VectorXd z = p.x * mean_row(w);
      Eigen::VectorXd residual(z.size());
      for (Eigen::Index r = 0; r < z.size(); ++r) {
        const double m = target(p, static_cast<std::size_t>(r));
        // BCE(σ(z), m) = softplus(z) − m·z, computed stably.
        loss += std::max(z[r], 0.0) + std::log1p(std::exp(-std::fabs(z[r]))) - m * z[r];
        residual[r] = 1 / (1 + std::exp(-z[r])) - m;
      }
      const Eigen::VectorXd gw = lambda * (p.x.transpose() * residual) / double(w.shape[0]);
      nn::Tensor g(w.shape);
      auto gm = g.matrix();
      for (Eigen::Index o = 0; o < gm.rows(); ++o) gm.row(o) = gw.transpose().cast<float>();
      grads.emplace(p.tensor, std::move(g));
    }
    return lambda * loss;
  };
  const auto data = owner_data(config_.data);
  nn::Model marked = model;
  const auto all_read = [&] {
    const auto bits = read(marked, key);
    return bits && *bits == key.expected;
  };
  nn::train(marked, data->images, data->labels, config, coins.derive("train"));
  for (std::int64_t e = config_.epochs; e < config_.max_epochs && !all_read(); ++e) {
    config.epochs = 1;
    nn::train(marked, data->images, data->labels, config, coins.derive("train").derive(e));
  }
  return marked;
}

std::optional<std::vector<std::uint8_t>> Uchida::read(const nn::Model& suspect,
                                                      const ResolvedKey& key) const {
  const nlohmann::json& shapes = key.params.value("shapes", nlohmann::json::object());
  for (const std::string& name : carrier_names()) {
    const auto it = suspect.tensors.find(name);
    if (it == suspect.tensors.end() || !shapes.contains(name) ||
        shapes[name] != nlohmann::json(it->second.shape))
      return std::nullopt;
  }
  std::vector<std::uint8_t> bits(symbols());
  for (const Projection& p : projections(suspect, key)) {
    const Eigen::VectorXd z = p.x * mean_row(suspect.tensors.at(p.tensor));
    for (std::size_t r = 0; r < p.bits.size(); ++r)
      bits[p.bits[r]] = z[static_cast<Eigen::Index>(r)] >= 0 ? 1 : 0;
  }
  return bits;
}

std::vector<std::string> Uchida::symbol_carriers(const nn::Model& /*reading*/,
                                                 const ResolvedKey& /*key*/) const {
  // As projections() assigns them: bit j to carrier j mod (number of carriers).
  const auto names = carrier_names();
  std::vector<std::string> out(symbols());
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = names[j % names.size()];
  return out;
}

}  // namespace wrsec::schemes
