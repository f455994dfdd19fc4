#include "games/registry.h"

#include "games/bernoulli_ind.h"

namespace wrsec::games {

void register_builtin_games(definitions::Registry<definitions::Game>& registry) {
  registry.add("bernoulli_ind",
               "demonstration IND game: m samples of Bernoulli(p0) or Bernoulli(p1); exact "
               "advantage known (params p0, p1, samples)",
               [](const definitions::Params& p) {
                 return std::make_unique<BernoulliInd>(BernoulliIndParams::from(p));
               });
}

}  // namespace wrsec::games
