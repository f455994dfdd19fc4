#pragma once
// wm_false_positive (search game, the false-positive rate of Verify):
//   θ ← ModelSource (the owner's model);  s ← KeyGen(θ; r)   (a fresh claim per trial)
//   M_0 ← null model i mod K (K independently trained models of the same architecture)
//   M_0' ← T(M_0)   (a Remover as a transform of the null model; `identity` for the plain FPR)
//   win iff Verify(s, M_0') = 1.   FPR = Pr[win] (baseline 0); the upper bound is the statement.
// Per-trial metrics: match_fraction, log2_p, null_seed. Trials cycle through the K null models,
// so n = K·keys trials certify FPR ≤ cp_upper(wins, n, α) over both keys and models.
#include <cstdint>
#include <string>

#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/sources.h"
#include "games/watermark_common.h"

namespace wrsec::games {

struct WmFalsePositiveParams {
  std::string model = "zoo:mlp_784_64_64_10_relu@1";
  NullModelSpec nulls;
  WatermarkData data;  // the transform's data (attacker split)

  static WmFalsePositiveParams from(const definitions::Params& params);
};

class WmFalsePositive final : public definitions::Game {
 public:
  explicit WmFalsePositive(WmFalsePositiveParams params);
  [[nodiscard]] std::string id() const override { return "wm_false_positive"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::search;
  }
  // The adversary is a Remover applied to each null model (attack `identity` for none).
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  WmFalsePositiveParams params_;
  definitions::ModelSource source_;
  NullModels nulls_;
};

}  // namespace wrsec::games
