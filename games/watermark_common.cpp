#include "games/watermark_common.h"

#include <tuple>

#include "core/errors.h"
#include "definitions/artifact.h"

namespace wrsec::games {

namespace {

std::shared_ptr<const nn::Dataset> cached(std::uint64_t seed, std::int64_t samples, bool attacker) {
  static std::mutex mutex;
  static std::map<std::tuple<std::uint64_t, std::int64_t, bool>, std::shared_ptr<const nn::Dataset>>
      cache;
  const std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{seed, samples, attacker}];
  if (!slot) {
    const auto data = nn::load_fashion_mnist();
    std::vector<std::int64_t> indices;
    if (attacker) {
      indices = nn::split_indices(data->train.size(), seed).attacker_indices;
    } else {
      indices.resize(static_cast<std::size_t>(data->test.size()));
      for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<std::int64_t>(i);
    }
    if (samples > 0 && static_cast<std::size_t>(samples) < indices.size())
      indices.resize(static_cast<std::size_t>(samples));
    slot = std::make_shared<const nn::Dataset>(
        nn::subset(attacker ? data->train : data->test, indices));
  }
  return slot;
}

}  // namespace

void WatermarkData::read(const definitions::Params& params, const std::string& game) {
  const std::int64_t seed = params.get_int("split_seed", static_cast<std::int64_t>(split_seed));
  if (seed < 0) throw InvalidArgument(game + ": split_seed must be >= 0");
  split_seed = static_cast<std::uint64_t>(seed);
  attacker_samples = params.get_int("attacker_samples", attacker_samples);
  eval_samples = params.get_int("eval_samples", eval_samples);
  if (attacker_samples < 0) throw InvalidArgument(game + ": attacker_samples must be >= 0");
  if (eval_samples < 1 || eval_samples > 10000)
    throw InvalidArgument(game + ": eval_samples must lie in [1, 10000]");
}

std::shared_ptr<const nn::Dataset> WatermarkData::attacker() const {
  return cached(split_seed, attacker_samples, true);
}

std::shared_ptr<const nn::Dataset> WatermarkData::eval() const {
  return cached(0, eval_samples, false);
}

NullModels::NullModels(const std::string& zoo_name, std::uint64_t first, std::uint64_t count)
    : first_(first) {
  if (count < 1 || count > 10000) throw InvalidArgument("null_count must lie in [1, 10000]");
  for (std::uint64_t s = first; s < first + count; ++s)
    sources_.push_back(
        definitions::ModelSource::parse("zoo:" + zoo_name + "@" + std::to_string(s)));
}

nn::Model NullModels::model(std::uint64_t trial) const {
  WRSEC_CHECK(!sources_.empty(), "no null models configured");
  Rng unused(0, 0, 0);
  return sources_[trial % sources_.size()].draw(unused);
}

void NullModelSpec::read(const definitions::Params& params, const std::string& game) {
  zoo_name = params.get_string("null_model", zoo_name);
  const std::int64_t f = params.get_int("null_first", static_cast<std::int64_t>(first));
  const std::int64_t c = params.get_int("null_count", static_cast<std::int64_t>(count));
  if (f < 0) throw InvalidArgument(game + ": null_first must be >= 0");
  if (c < 1 || c > 10000) throw InvalidArgument(game + ": null_count must lie in [1, 10000]");
  first = static_cast<std::uint64_t>(f);
  count = static_cast<std::uint64_t>(c);
}

NullModels NullModelSpec::models(const std::string& model_spec, const std::string& game) const {
  std::string name = zoo_name;
  if (name.empty()) {
    if (!model_spec.starts_with("zoo:"))
      throw InvalidArgument(game +
                            ": null models are zoo models; give null_model=<zoo name> when "
                            "model is not a zoo source ('" +
                            model_spec + "')");
    const std::string rest = model_spec.substr(4);
    name = rest.substr(0, rest.find('@'));
  }
  return NullModels(name, first, count);
}

OwnerRelease release_owner_model(const definitions::ModelSource& source,
                                 const definitions::WeightReleaseScheme& scheme,
                                 const Rng& challenger) {
  Rng model_coins = challenger.derive("model");
  Rng release_coins = challenger.derive("release");
  OwnerRelease r;
  r.original = source.draw(model_coins);
  r.release = scheme.release(r.original, release_coins);
  r.marked = definitions::artifact_model(r.release.artifact);
  return r;
}

definitions::VerifyResult check_suspect(const definitions::WeightReleaseScheme& scheme,
                                        const definitions::OwnerSecret& secret,
                                        const nn::Model& suspect, std::uint64_t* queries) {
  if (!scheme.capabilities().has(definitions::Capability::verify_black_box))
    return scheme.verify(secret, suspect);
  std::uint64_t used = 0;
  auto result = scheme.verify_queries(secret, [&](const nn::Matrix& x) {
    used += static_cast<std::uint64_t>(x.rows());
    return suspect.forward(x);
  });
  if (queries) *queries = used;
  return result;
}

void require_ownership_scheme(const definitions::WeightReleaseScheme* scheme,
                              const std::string& game) {
  if (scheme == nullptr) throw InvalidArgument("game '" + game + "' needs a scheme");
  if (!scheme->capabilities().has(definitions::Capability::verify))
    throw InvalidArgument("game '" + game + "' needs an ownership scheme (verify); '" +
                          scheme->id() + "' has none");
}

}  // namespace wrsec::games
