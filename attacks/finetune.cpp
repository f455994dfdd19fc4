#include "attacks/finetune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"

namespace wrsec::attacks {

namespace {

constexpr std::int64_t kMaxEpochs = 100000;

}  // namespace

RemovalTraining RemovalTraining::from(const definitions::Params& params, const std::string& attack,
                                      const RemovalTraining& defaults) {
  RemovalTraining t = defaults;
  t.epochs = params.get_int("epochs", t.epochs);
  t.lr = params.get_double("lr", t.lr);
  const std::string opt = params.get_string("optimizer", nn::to_string(t.optimizer));
  if (opt == "adam") {
    t.optimizer = nn::Optimizer::adam;
  } else if (opt == "sgd") {
    t.optimizer = nn::Optimizer::sgd;
  } else {
    throw InvalidArgument(attack + ": optimizer must be adam or sgd, got '" + opt + "'");
  }
  t.batch = params.get_int("batch", t.batch);
  t.samples = params.get_int("samples", t.samples);
  return t;
}

void RemovalTraining::validate(const std::string& attack, std::int64_t min_epochs) const {
  if (epochs < min_epochs || epochs > kMaxEpochs)
    throw InvalidArgument(attack + ": epochs must lie in [" + std::to_string(min_epochs) + ", " +
                          std::to_string(kMaxEpochs) + "], got " + std::to_string(epochs));
  if (!(lr > 0.0) || !std::isfinite(lr))
    throw InvalidArgument(attack + ": lr must be positive and finite");
  if (batch < 1) throw InvalidArgument(attack + ": batch must be >= 1");
  if (samples < 0) throw InvalidArgument(attack + ": samples must be >= 0 (0 = all)");
}

nn::TrainConfig RemovalTraining::config() const {
  nn::TrainConfig c;
  c.optimizer = optimizer;
  c.learning_rate = lr;
  c.epochs = static_cast<int>(epochs);
  c.batch_size = batch;
  return c;
}

const nn::Dataset& require_attacker_data(const definitions::RemovalContext& context,
                                         const std::string& attack) {
  if (context.data == nullptr)
    throw InvalidArgument("attack '" + attack + "' needs the attacker's data");
  if (context.data->size() == 0)
    throw InvalidArgument("attack '" + attack + "' got an empty attacker data set");
  return *context.data;
}

const nn::Dataset& take_samples(const nn::Dataset& data, std::int64_t samples, Rng coins,
                                nn::Dataset& storage) {
  const std::int64_t n = data.size();
  if (samples == 0 || samples >= n) return data;
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(p[static_cast<std::size_t>(i)],
              p[static_cast<std::size_t>(coins.below(static_cast<std::uint64_t>(i) + 1))]);
  p.resize(static_cast<std::size_t>(samples));
  std::sort(p.begin(), p.end());
  storage = nn::subset(data, p);
  return storage;
}

nn::Labels model_labels(const nn::Model& model, const nn::Matrix& x) {
  const nn::Matrix logits = model.forward(x);
  nn::Labels out(static_cast<std::size_t>(logits.rows()));
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    Eigen::Index best = 0;
    for (Eigen::Index c = 1; c < logits.cols(); ++c)
      if (logits(i, c) > logits(i, best)) best = c;
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(best);
  }
  return out;
}

std::vector<std::string> output_layer_tensors(const nn::Architecture& arch) {
  arch.validate();
  if (arch.kind == nn::Architecture::Kind::swiglu) return {"mlp.down_proj.weight"};
  const std::string last = std::to_string(arch.sizes.size() - 2);
  return {"layers." + last + ".weight", "layers." + last + ".bias"};
}

FinetuneParams FinetuneParams::from(const definitions::Params& params) {
  FinetuneParams p;
  const std::string mode = params.get_string("mode", "ftal");
  if (mode == "ftal") {
    p.mode = FinetuneMode::ftal;
  } else if (mode == "rtal") {
    p.mode = FinetuneMode::rtal;
  } else {
    throw InvalidArgument("finetune: mode must be ftal or rtal, got '" + mode + "'");
  }
  const std::string labels = params.get_string("labels", "true");
  if (labels == "true") {
    p.labels = FinetuneLabels::truth;
  } else if (labels == "model") {
    p.labels = FinetuneLabels::model;
  } else {
    throw InvalidArgument("finetune: labels must be true or model, got '" + labels + "'");
  }
  p.train = RemovalTraining::from(params, "finetune", RemovalTraining{});
  p.validate();
  return p;
}

void FinetuneParams::validate() const {
  train.validate("finetune", 1);
}

Finetune::Finetune(FinetuneParams params) : params_(std::move(params)) {
  params_.validate();
}

nn::Model Finetune::remove(const nn::Model& marked, const definitions::RemovalContext& context,
                           Rng& coins) const {
  marked.validate();
  const nn::Dataset& all = require_attacker_data(context, id());
  nn::Dataset storage;
  const nn::Dataset& data =
      take_samples(all, params_.train.samples, coins.derive("samples"), storage);
  nn::Model out = marked;
  if (params_.mode == FinetuneMode::rtal) {
    Rng init = coins.derive("init");
    const nn::Model fresh = nn::Model::init(marked.arch, init);
    for (const std::string& name : output_layer_tensors(marked.arch))
      out.tensors.at(name) = fresh.tensors.at(name);
  }
  const nn::TrainConfig config = params_.train.config();
  if (params_.labels == FinetuneLabels::model) {
    (void)nn::train(out, data.images, model_labels(marked, data.images), config,
                    coins.derive("train"));
  } else {
    (void)nn::train(out, data.images, data.labels, config, coins.derive("train"));
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
