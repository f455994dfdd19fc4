#pragma once
// secret_location (search game, locating a partial release's secret):
//   θ ← ModelSource;  (A, s) ← Release(θ; r);  S = the positions the release hides
//   (WeightReleaseScheme::hidden_mask: for sparse_lock the k changed weights)
//   F ← L(A, O_Infer^q, O_TEE^t)            (a Locator flags positions of A's model)
//   precision = |F ∩ S|/|F| (0 when F = ∅), recall = |F ∩ S|/|S|
//   win iff precision ≥ p_min AND recall ≥ r_min.  Adv = Pr[win] (baseline 0: the game refuses
//   (InvalidArgument) a release with S = ∅ or |S|/N ≥ p_min, where flagging everything would win;
//   it locates sparse secrets). p_min, r_min ∈ (0, 1].
// Metrics per trial: precision, recall, flagged = |F|, secret = |S|, weights = N, queries_used,
// tee_queries_used. Flags on a tensor the model lacks, or of the wrong shape, are refused.
#include <cstdint>
#include <string>

#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/sources.h"

namespace wrsec::games {

struct SecretLocationParams {
  // A trained classifier: a lock hides among trained weights (uniform initial weights crowd the
  // range's ends, which no deployed model does).
  std::string model = "zoo:mlp_784_64_64_10_relu@1";
  double min_precision = 0.9;
  double min_recall = 0.9;
  std::int64_t queries = 0;
  std::int64_t tee_queries = 0;

  static SecretLocationParams from(const definitions::Params& params);
  void validate() const;
};

class SecretLocation final : public definitions::Game {
 public:
  explicit SecretLocation(SecretLocationParams params);
  [[nodiscard]] std::string id() const override { return "secret_location"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::search;
  }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  SecretLocationParams params_;
  definitions::ModelSource source_;
};

}  // namespace wrsec::games
