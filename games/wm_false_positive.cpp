#include "games/wm_false_positive.h"

#include "core/errors.h"

namespace wrsec::games {

WmFalsePositiveParams WmFalsePositiveParams::from(const definitions::Params& params) {
  WmFalsePositiveParams p;
  p.model = params.get_string("model", p.model);
  p.nulls.read(params, "wm_false_positive");
  p.data.read(params, "wm_false_positive");
  return p;
}

WmFalsePositive::WmFalsePositive(WmFalsePositiveParams params)
    : params_(std::move(params)), source_(definitions::ModelSource::parse(params_.model)) {
  nulls_ = params_.nulls.models(params_.model, id());
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
