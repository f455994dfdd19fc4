#include "attacks/registry.h"

#include "core/errors.h"

#include "attacks/coin_flip.h"
#include "attacks/ind_via_extraction.h"
#include "attacks/likelihood_ratio.h"
#include "attacks/plaintext_copy.h"
#include "attacks/query_regression.h"
#include "attacks/taylor_ratio_inversion.h"
#include "attacks/taylor_sign_hypothesis.h"

namespace wrsec::attacks {

void register_builtin_attacks(definitions::Registry<definitions::Adversary>& registry) {
  registry.add("coin_flip", "trivial distinguisher: a fair coin, advantage 0 (control)",
               [](const definitions::Params&) { return std::make_unique<CoinFlip>(); });
  registry.add("likelihood_ratio",
               "optimal (Neyman-Pearson) distinguisher for bernoulli_ind: compares P1(k), P0(k)",
               [](const definitions::Params&) { return std::make_unique<LikelihoodRatio>(); });
  registry.add("taylor_ratio_inversion",
               "taylor_mlp paper format: a_j from ratios of consecutive Taylor coefficients",
               [](const definitions::Params&) { return std::make_unique<TaylorRatioInversion>(); });
  registry.add("taylor_sign_hypothesis",
               "taylor_mlp official format: two-hypothesis residual test for each sign",
               [](const definitions::Params&) { return std::make_unique<TaylorSignHypothesis>(); });
  registry.add("plaintext_copy",
               "control extractor for the plaintext release: outputs the published weights",
               [](const definitions::Params&) { return std::make_unique<PlaintextCopy>(); });
  registry.add("query_regression",
               "data-driven baseline extractor: least squares on Q Infer queries (params inputs; "
               "the game's queries parameter sets Q)",
               [](const definitions::Params& p) {
                 return std::make_unique<QueryRegression>(QueryRegressionParams::from(p));
               });
  registry.add("ind_via_extraction",
               "release distinguisher from an extractor: picks two random models, extracts, "
               "guesses the nearer (param extractor = attack id)",
               [](const definitions::Params& p) {
                 definitions::Params rest;
                 for (const auto& [k, v] : p.values())
                   if (k != "extractor") rest.set(k, v);
                 const std::string id = p.get_string("extractor", "taylor_ratio_inversion");
                 auto extractor = make_extractor(id, rest);
                 for (const auto& [k, v] : rest.values()) (void)p.get_string(k, v);
                 return std::make_unique<IndViaExtraction>(std::move(extractor));
               });
}

std::unique_ptr<definitions::Extractor> make_extractor(const std::string& id,
                                                       const definitions::Params& params) {
  definitions::Registry<definitions::Adversary> registry("attack");
  register_builtin_attacks(registry);
  std::unique_ptr<definitions::Adversary> adversary = registry.create(id, params);
  auto* extractor = dynamic_cast<definitions::Extractor*>(adversary.get());
  if (extractor == nullptr) throw InvalidArgument("attack '" + id + "' is not an extractor");
  adversary.release();
  return std::unique_ptr<definitions::Extractor>(extractor);
}

}  // namespace wrsec::attacks
