#include "attacks/distill.h"

#include <cmath>

#include "core/errors.h"

namespace wrsec::attacks {

DistillParams DistillParams::from(const definitions::Params& params) {
  DistillParams p;
  p.temperature = params.get_double("temperature", p.temperature);
  p.train = RemovalTraining::from(params, "distill", p.train);
  p.validate();
  return p;
}

void DistillParams::validate() const {
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw InvalidArgument("distill: temperature must be positive and finite");
  train.validate("distill", 1);
}

Distill::Distill(DistillParams params) : params_(std::move(params)) {
  params_.validate();
}

nn::Model Distill::remove(const nn::Model& marked, const definitions::RemovalContext& context,
                          Rng& coins) const {
  marked.validate();
  const nn::Dataset& all = require_attacker_data(context, id());
  nn::Dataset storage;
  const nn::Dataset& data =
      take_samples(all, params_.train.samples, coins.derive("samples"), storage);
  Rng init = coins.derive("init");
  nn::Model student = nn::Model::init(marked.arch, init);
  nn::TrainConfig config = params_.train.config();
  config.soft_targets = nn::SoftTargets{marked.forward(data.images), params_.temperature};
  (void)nn::train(student, data.images, nn::Labels{}, config, coins.derive("train"));
  student.validate();
  return student;
}

}  // namespace wrsec::attacks
