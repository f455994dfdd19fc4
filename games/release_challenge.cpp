#include "games/release_challenge.h"

namespace wrsec::games {
namespace {

nn::Model challenge_model(const definitions::ModelSource& source, const Rng& challenger) {
  Rng model_coins = challenger.derive("model");
  return source.draw(model_coins);
}

definitions::Release challenge_release(const definitions::WeightReleaseScheme& scheme,
                                       const nn::Model& model, const Rng& challenger) {
  Rng release_coins = challenger.derive("release");
  return scheme.release(model, release_coins);
}

}  // namespace

ReleaseChallenge::ReleaseChallenge(const definitions::WeightReleaseScheme& scheme,
                                   const definitions::ModelSource& source, std::int64_t queries,
                                   std::int64_t tee_queries, const Rng& coins)
    : challenger(coins.derive("challenger")),
      adversary(coins.derive("adversary")),
      model(challenge_model(source, challenger)),
      release(challenge_release(scheme, model, challenger)),
      oracles(scheme, release, static_cast<std::uint64_t>(queries),
              static_cast<std::uint64_t>(tee_queries), challenger.derive("tee")) {}

}  // namespace wrsec::games
