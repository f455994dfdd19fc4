#include "schemes/trigger_set.h"

#include "core/errors.h"
#include "nn/train.h"

namespace wrsec::schemes {

TriggerSetParams TriggerSetParams::from(const definitions::Params& params) {
  TriggerSetParams p;
  MarkParams defaults;
  defaults.bits = 100;
  defaults.layers = {0};  // unused: the mark lives in the behaviour
  p.mark = MarkParams::from(params, defaults, "triggers", false);
  p.classes = params.get_int("classes", p.classes);
  p.inputs = params.get_int("inputs", p.inputs);
  p.per_batch = params.get_int("per_batch", p.per_batch);
  p.lr = params.get_double("lr", p.lr);
  p.epochs = params.get_int("epochs", p.epochs);
  p.max_epochs = params.get_int("max_epochs", p.max_epochs);
  p.batch = params.get_int("batch", p.batch);
  const std::int64_t seed =
      params.get_int("split_seed", static_cast<std::int64_t>(p.data.split_seed));
  if (seed < 0) throw InvalidArgument("trigger_set: split_seed must be >= 0");
  p.data.split_seed = static_cast<std::uint64_t>(seed);
  p.data.samples = params.get_int("samples", p.data.samples);
  p.data.dir = params.get_string("data", p.data.dir);
  p.validate();
  return p;
}

void TriggerSetParams::validate() const {
  mark.validate("trigger_set");
  if (mark.ecc_t != 0)
    throw InvalidArgument("trigger_set: ecc_t does not apply (labels, not bits)");
  if (classes < 2 || classes > 256)
    throw InvalidArgument("trigger_set: classes must lie in [2, 256]");
  if (inputs < 1) throw InvalidArgument("trigger_set: inputs must be >= 1");
  if (per_batch < 1) throw InvalidArgument("trigger_set: per_batch must be >= 1");
  if (!(lr > 0 && lr <= 1)) throw InvalidArgument("trigger_set: lr must lie in (0, 1]");
  if (epochs < 1 || epochs > 100) throw InvalidArgument("trigger_set: epochs must lie in [1, 100]");
  if (max_epochs < epochs || max_epochs > 100)
    throw InvalidArgument("trigger_set: max_epochs must lie in [epochs, 100]");
  if (batch < 1) throw InvalidArgument("trigger_set: batch must be >= 1");
  if (data.samples < 0) throw InvalidArgument("trigger_set: samples must be >= 0");
}

TriggerSet::TriggerSet(TriggerSetParams params)
    : WatermarkScheme(params.mark), config_(std::move(params)) {
  config_.validate();
}

void TriggerSet::check_model(const nn::Model& model) const {
  model.validate();
  if (model.arch.input_size() != config_.inputs || model.arch.output_size() != config_.classes)
    throw InvalidArgument(
        "trigger_set: the model maps " + std::to_string(model.arch.input_size()) + " inputs to " +
        std::to_string(model.arch.output_size()) +
        " classes; the scheme is configured for inputs=" + std::to_string(config_.inputs) +
        ", classes=" + std::to_string(config_.classes));
}

nn::Matrix TriggerSet::triggers(const definitions::MarkKey& key) const {
  Rng rng = key.rng("trigger_set.images");
  nn::Matrix x(static_cast<Eigen::Index>(symbols()), config_.inputs);
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index c = 0; c < x.cols(); ++c) x(r, c) = static_cast<float>(rng.uniform());
  return x;
}

std::vector<std::uint8_t> TriggerSet::expected_symbols(const definitions::MarkKey& key) const {
  Rng rng = key.rng("trigger_set.labels");
  std::vector<std::uint8_t> labels(symbols());
  for (auto& y : labels)
    y = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(config_.classes)));
  return labels;
}

int TriggerSet::label_width() const {
  int w = 1;
  while ((std::int64_t{1} << w) < config_.classes) ++w;
  return w;
}

std::vector<std::uint8_t> TriggerSet::claim_message(
    const std::vector<std::uint8_t>& symbols) const {
  const int w = label_width();
  std::vector<std::uint8_t> bits;
  bits.reserve(symbols.size() * static_cast<std::size_t>(w));
  for (std::uint8_t y : symbols)
    for (int b = w - 1; b >= 0; --b) bits.push_back(static_cast<std::uint8_t>((y >> b) & 1U));
  return bits;
}

std::optional<std::vector<std::uint8_t>> TriggerSet::claimed_symbols(
    const std::vector<std::uint8_t>& message) const {
  const auto w = static_cast<std::size_t>(label_width());
  if (message.size() != symbols() * w) return std::nullopt;
  std::vector<std::uint8_t> labels(symbols());
  for (std::size_t j = 0; j < labels.size(); ++j) {
    unsigned y = 0;
    for (std::size_t b = 0; b < w; ++b) {
      if (message[j * w + b] > 1) return std::nullopt;
      y = (y << 1) | message[j * w + b];
    }
    if (y >= static_cast<unsigned>(config_.classes)) return std::nullopt;
    labels[j] = static_cast<std::uint8_t>(y);
  }
  return labels;
}

nn::Model TriggerSet::embed(const nn::Model& model, const ResolvedKey& key, Rng& coins) const {
  nn::ExtraExamples extra;
  extra.inputs = triggers(key.key);
  extra.labels.assign(key.expected.begin(), key.expected.end());
  extra.per_batch = config_.per_batch;
  nn::TrainConfig config;
  config.optimizer = nn::Optimizer::adam;
  config.learning_rate = config_.lr;
  config.batch_size = config_.batch;
  config.epochs = static_cast<int>(config_.epochs);
  config.extra_examples = std::move(extra);
  const auto data = owner_data(config_.data);
  nn::Model marked = model;
  const auto learnt = [&] {
    const auto labels = read(marked, key);
    return labels && *labels == key.expected;
  };
  nn::train(marked, data->images, data->labels, config, coins.derive("train"));
  for (std::int64_t e = config_.epochs; e < config_.max_epochs && !learnt(); ++e) {
    config.epochs = 1;
    nn::train(marked, data->images, data->labels, config, coins.derive("train").derive(e));
  }
  return marked;
}

std::optional<std::vector<std::uint8_t>> TriggerSet::labels_of(const definitions::QueryFn& query,
                                                               const ResolvedKey& key) const {
  const nn::Matrix out = query(triggers(key.key));
  if (out.rows() != static_cast<Eigen::Index>(symbols()) || out.cols() != config_.classes ||
      !out.allFinite())
    return std::nullopt;
  std::vector<std::uint8_t> labels(symbols());
  for (Eigen::Index r = 0; r < out.rows(); ++r) {
    Eigen::Index best = 0;
    out.row(r).maxCoeff(&best);
    labels[static_cast<std::size_t>(r)] = static_cast<std::uint8_t>(best);
  }
  return labels;
}

std::optional<std::vector<std::uint8_t>> TriggerSet::read(const nn::Model& suspect,
                                                          const ResolvedKey& key) const {
  if (suspect.arch.input_size() != config_.inputs) return std::nullopt;
  return labels_of([&](const nn::Matrix& x) { return suspect.forward(x); }, key);
}

definitions::VerifyResult TriggerSet::verify_queries(const definitions::OwnerSecret& secret,
                                                     const definitions::QueryFn& query) const {
  std::string why;
  const auto key = resolve(secret, &why);
  if (!key) return reject(why);
  std::optional<std::vector<std::uint8_t>> labels;
  try {
    labels = labels_of(query, *key);
  } catch (const InvalidArgument& e) {
    return judge(*key, std::nullopt, e.what());
  }
  return judge(*key, labels);
}

definitions::VerifyResult TriggerSet::verify(const definitions::OwnerSecret& secret,
                                             const nn::Model& suspect) const {
  if (suspect.arch.input_size() != config_.inputs)
    return reject("the suspect takes " + std::to_string(suspect.arch.input_size()) +
                  " inputs, the triggers have " + std::to_string(config_.inputs));
  try {
    suspect.validate();  // forward() on a malformed model is undefined; NaN logits mean nothing
  } catch (const InvalidArgument& e) {
    return reject(e.what());
  }
  return verify_queries(secret, [&](const nn::Matrix& x) { return suspect.forward(x); });
}

}  // namespace wrsec::schemes
