#include "games/registry.h"

#include "games/bernoulli_ind.h"
#include "games/ind_release.h"
#include "games/misuse.h"
#include "games/param_extraction.h"
#include "games/secret_location.h"
#include "games/wm_false_positive.h"
#include "games/wm_forgery.h"
#include "games/wm_removal.h"

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
      "eval_samples, queries, tee_queries; accuracy_ratio > 0 = accuracy restored instead)",
      [](const definitions::Params& p) { return std::make_unique<Misuse>(MisuseParams::from(p)); });
  registry.add("secret_location",
               "search game: a locator flags the positions a partial release hides; wins iff "
               "precision >= min_precision and recall >= min_recall (params model, "
               "min_precision, min_recall, queries, tee_queries)",
               [](const definitions::Params& p) {
                 return std::make_unique<SecretLocation>(SecretLocationParams::from(p));
               });
  registry.add("ind_release",
               "distinguishing game: the adversary picks two models, sees the release of one "
               "and guesses which (params arch, queries, tee_queries)",
               [](const definitions::Params& p) {
                 return std::make_unique<IndRelease>(IndReleaseParams::from(p));
               });
  registry.add("wm_removal",
               "search game: a removal adversary gets the marked model and the attacker's split; "
               "wins iff Verify fails and accuracy drops by <= delta (params model, delta, "
               "grant_data, split_seed, attacker_samples, eval_samples)",
               [](const definitions::Params& p) {
                 return std::make_unique<WmRemoval>(WmRemovalParams::from(p));
               });
  registry.add("wm_forgery",
               "search game: a forger outputs an ownership claim; wins iff it verifies on the "
               "owner's marked model (target=owner) or an independent one (target=independent) "
               "and is not the owner's claim (params model, target, null_model, null_first, "
               "null_count)",
               [](const definitions::Params& p) {
                 return std::make_unique<WmForgery>(WmForgeryParams::from(p));
               });
  registry.add("wm_false_positive",
               "search game: a fresh owner key against independently trained null models "
               "(optionally transformed by the attack); Pr[accept] = FPR (params model, "
               "null_model, null_first, null_count, split_seed, attacker_samples, eval_samples)",
               [](const definitions::Params& p) {
                 return std::make_unique<WmFalsePositive>(WmFalsePositiveParams::from(p));
               });
}

}  // namespace wrsec::games
