#pragma once
// param_extraction (search game, one-wayness of a release):
//   θ ← ModelSource (fresh per trial for random sources);  (A, s) ← Release(θ; r)
//   θ' ← E(A, O_Infer^q, O_TEE^t)         (the extractor sees A, at most q Infer queries and, for
//                                          a scheme with a TEE, at most t TEE queries)
//   win iff the fraction of parameters with relative error ≤ τ (definitions/extraction.h, after
//   aligning hidden-unit permutations) is ≥ ρ, over the parameters the release hides
//   (scope=hidden, WeightReleaseScheme::hidden_mask) or over all parameters (scope=all).
// Adv = Pr[win] (baseline 0). Per-trial metrics: fraction_hidden, fraction_all,
// max_error_hidden, median_error_hidden, max_error, queries_used, tee_queries_used, tee_work.
#include <cstdint>
#include <string>

#include "definitions/extraction.h"
#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/sources.h"

namespace wrsec::games {

struct ParamExtractionParams {
  std::string model = "random:mlp:784,64,10:silu";
  double tau = 1e-2;
  double rho = 0.99;
  double floor = 0.0;
  std::string scope = "hidden";          // hidden | all
  std::string symmetry = "permutation";  // permutation | none
  std::int64_t queries = 0;
  std::int64_t tee_queries = 0;  // direct queries to the release's TEE (schemes with a TEE)

  static ParamExtractionParams from(const definitions::Params& params);
  void validate() const;
};

class ParamExtraction final : public definitions::Game {
 public:
  explicit ParamExtraction(ParamExtractionParams params);
  [[nodiscard]] std::string id() const override { return "param_extraction"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::search;
  }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  ParamExtractionParams params_;
  definitions::ModelSource source_;
};

}  // namespace wrsec::games
