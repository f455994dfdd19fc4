#include "attacks/query_training.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "definitions/sources.h"
#include "nn/train.h"

namespace wrsec::attacks {

QueryTraining QueryTraining::from(const definitions::Params& params, const std::string& attack) {
  QueryTraining t;
  t.finetune = params.get_bool("finetune", t.finetune);
  t.queries = params.get_int("queries", t.queries);
  t.epochs = params.get_int("epochs", t.epochs);
  t.lr = params.get_double("lr", t.lr);
  t.batch = params.get_int("batch", t.batch);
  t.inputs = params.get_string("inputs", t.inputs);
  if (!t.inputs.empty()) (void)definitions::InputSource::parse(t.inputs);
  t.validate(attack);
  return t;
}

void QueryTraining::validate(const std::string& attack) const {
  if (queries < 0 || queries > kMaxQueryTraining)
    throw InvalidArgument(attack + ": queries must lie in [0, " +
                          std::to_string(kMaxQueryTraining) + "] (0 = all the game grants)");
  if (epochs < 1 || epochs > 1000) throw InvalidArgument(attack + ": epochs must lie in [1, 1000]");
  if (!(lr > 0) || !std::isfinite(lr))
    throw InvalidArgument(attack + ": lr must be positive and finite");
  if (batch < 1) throw InvalidArgument(attack + ": batch must be >= 1");
}

std::int64_t finetune_on_queries(nn::Model& model, definitions::OracleAccess& oracles,
                                 const QueryTraining& training, Rng coins) {
  if (!training.finetune) return 0;
  std::uint64_t left = 0;
  if (oracles.infer != nullptr)
    left = oracles.infer->budget() - oracles.infer->used();
  else if (oracles.tee != nullptr)
    left = oracles.tee->budget() - oracles.tee->used();
  auto n = static_cast<std::int64_t>(
      std::min<std::uint64_t>(left, static_cast<std::uint64_t>(kMaxQueryTraining)));
  if (training.queries > 0) n = std::min(n, training.queries);
  if (n == 0) return 0;
  const auto source = training.inputs.empty()
                          ? definitions::InputSource::default_for(model.arch, false)
                          : definitions::InputSource::parse(training.inputs);
  Rng input_coins = coins.derive("inputs");
  const nn::Matrix x = source.draw(n, model.arch.input_size(), input_coins);
  const nn::Matrix logits =
      oracles.infer != nullptr ? oracles.infer->query(x) : oracles.tee->infer(x);
  nn::Labels labels(static_cast<std::size_t>(logits.rows()));
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    Eigen::Index best = 0;
    for (Eigen::Index c = 1; c < logits.cols(); ++c)
      if (logits(r, c) > logits(r, best)) best = c;
    labels[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(best);
  }
  nn::TrainConfig config;
  config.optimizer = nn::Optimizer::adam;
  config.learning_rate = training.lr;
  config.epochs = static_cast<int>(training.epochs);
  config.batch_size = training.batch;
  (void)nn::train(model, x, labels, config, coins.derive("train"));
  return n;
}

}  // namespace wrsec::attacks
