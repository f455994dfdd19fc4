#include "games/wm_false_positive.h"

#include "core/errors.h"

namespace wrsec::games {

std::string zoo_name_of(const std::string& model_spec, const std::string& game) {
  if (!model_spec.starts_with("zoo:"))
    throw InvalidArgument(game + ": null models are zoo models; give null_model=<zoo name> when " +
                          "model is not a zoo source ('" + model_spec + "')");
  const std::string rest = model_spec.substr(4);
  return rest.substr(0, rest.find('@'));
}

WmFalsePositiveParams WmFalsePositiveParams::from(const definitions::Params& params) {
  WmFalsePositiveParams p;
  p.model = params.get_string("model", p.model);
  p.null_model = params.get_string("null_model", p.null_model);
  const std::int64_t first = params.get_int("null_first", static_cast<std::int64_t>(p.null_first));
  const std::int64_t count = params.get_int("null_count", static_cast<std::int64_t>(p.null_count));
  if (first < 0) throw InvalidArgument("wm_false_positive: null_first must be >= 0");
  if (count < 1 || count > 10000)
    throw InvalidArgument("wm_false_positive: null_count must lie in [1, 10000]");
  p.null_first = static_cast<std::uint64_t>(first);
  p.null_count = static_cast<std::uint64_t>(count);
  p.data.read(params, "wm_false_positive");
  return p;
}

WmFalsePositive::WmFalsePositive(WmFalsePositiveParams params)
    : params_(std::move(params)), source_(definitions::ModelSource::parse(params_.model)) {
  const std::string name =
      params_.null_model.empty() ? zoo_name_of(params_.model, id()) : params_.null_model;
  nulls_ = NullModels(name, params_.null_first, params_.null_count);
}

void WmFalsePositive::check(const definitions::WeightReleaseScheme* scheme,
                            const definitions::Adversary& adversary) const {
  require_ownership_scheme(scheme, id());
  if (dynamic_cast<const definitions::Remover*>(&adversary) == nullptr)
    throw InvalidArgument(
        "game 'wm_false_positive' applies a transform (a removal attack, e.g. "
        "'identity') to each null model; '" +
        adversary.id() + "' is not one");
}

definitions::TrialOutcome WmFalsePositive::play(const definitions::WeightReleaseScheme* scheme,
                                                const definitions::Adversary& adversary,
                                                Rng& coins) const {
  const auto& transform = dynamic_cast<const definitions::Remover&>(adversary);
  const Rng challenger = coins.derive("challenger");
  Rng model_coins = challenger.derive("model");
  Rng key_coins = challenger.derive("release").derive("key");
  const nn::Model model = source_.draw(model_coins);
  const definitions::OwnerSecret secret = scheme->keygen(model, key_coins);
  Rng adversary_coins = coins.derive("adversary");
  const auto attacker = params_.data.attacker();
  definitions::RemovalContext context;
  context.data = attacker.get();
  const nn::Model null = transform.remove(nulls_.model(coins.trial()), context, adversary_coins);
  const definitions::VerifyResult v = check_suspect(*scheme, secret, null);
  definitions::TrialOutcome outcome;
  outcome.win = v.accepted;
  outcome.metrics = {{"match_fraction", v.bits ? double(v.matches) / double(v.bits) : 0.0},
                     {"log2_p", v.log2_p},
                     {"null_seed", static_cast<double>(nulls_.seed(coins.trial()))}};
  return outcome;
}

}  // namespace wrsec::games
