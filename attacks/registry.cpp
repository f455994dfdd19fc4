#include "attacks/registry.h"

#include "attacks/coin_flip.h"
#include "attacks/likelihood_ratio.h"

namespace wrsec::attacks {

void register_builtin_attacks(definitions::Registry<definitions::Adversary>& registry) {
  registry.add("coin_flip", "trivial distinguisher: a fair coin, advantage 0 (control)",
               [](const definitions::Params&) { return std::make_unique<CoinFlip>(); });
  registry.add("likelihood_ratio",
               "optimal (Neyman-Pearson) distinguisher for bernoulli_ind: compares P1(k), P0(k)",
               [](const definitions::Params&) { return std::make_unique<LikelihoodRatio>(); });
}

}  // namespace wrsec::attacks
