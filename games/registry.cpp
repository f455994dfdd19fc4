#include "games/registry.h"

#include "games/bernoulli_ind.h"
#include "games/ind_release.h"
#include "games/misuse.h"
#include "games/param_extraction.h"

namespace wrsec::games {

void register_builtin_games(definitions::Registry<definitions::Game>& registry) {
  registry.add("bernoulli_ind",
               "demonstration IND game: m samples of Bernoulli(p0) or Bernoulli(p1); exact "
               "advantage known (params p0, p1, samples)",
               [](const definitions::Params& p) {
                 return std::make_unique<BernoulliInd>(BernoulliIndParams::from(p));
               });
  registry.add("param_extraction",
               "search game: the extractor recovers >= rho of the hidden parameters within "
               "relative error tau, up to hidden-unit permutations (params model, tau, rho, "
               "floor, scope, symmetry, queries)",
               [](const definitions::Params& p) {
                 return std::make_unique<ParamExtraction>(ParamExtractionParams::from(p));
               });
  registry.add(
      "misuse",
      "search game: the adversary outputs a model agreeing with the original within "
      "epsilon at cost < kappa x the plain model (params model, epsilon, kappa, inputs, "
      "eval_samples, queries)",
      [](const definitions::Params& p) { return std::make_unique<Misuse>(MisuseParams::from(p)); });
  registry.add("ind_release",
               "distinguishing game: the adversary picks two models, sees the release of one "
               "and guesses which (params arch, queries)",
               [](const definitions::Params& p) {
                 return std::make_unique<IndRelease>(IndReleaseParams::from(p));
               });
}

}  // namespace wrsec::games
