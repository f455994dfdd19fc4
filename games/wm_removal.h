#pragma once
// wm_removal (search game, robustness of an ownership mark):
//   θ ← ModelSource;  (M, s) ← Release(θ; r)                (M = the marked model, s = the claim)
//   M' ← R(M, D_att, Π_adv)    (the attacker's split and the scheme under its own identity)
//   win iff Verify(s, M') = 0  AND  acc(M) − acc(M') ≤ δ     (accuracy on held-out test images)
//   Adv = Pr[win] (baseline 0): the removal advantage. Verify is black-box when the scheme
//   allows it. Per-trial metrics: detected (Verify(s, M')), marked_detected (Verify(s, M),
//   the scheme's correctness), bit_accuracy (matches/bits on M'), log2_p, acc_original,
//   acc_marked, acc_attacked, acc_drop = acc(M) − acc(M'), embed_cost = acc(θ) − acc(M),
//   max_logit_change = max |M'(x) − M(x)| over the test images, evaluated in double precision
//   (NaN if the output shapes differ), verify_queries.
#include <cstdint>
#include <string>

#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/sources.h"
#include "games/watermark_common.h"

namespace wrsec::games {

struct WmRemovalParams {
  std::string model = "zoo:mlp_784_64_64_10_relu@1";
  double delta = 0.05;
  bool grant_data = true;
  WatermarkData data;

  static WmRemovalParams from(const definitions::Params& params);
  void validate() const;
};

class WmRemoval final : public definitions::Game {
 public:
  explicit WmRemoval(WmRemovalParams params);
  [[nodiscard]] std::string id() const override { return "wm_removal"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::search;
  }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  WmRemovalParams params_;
  definitions::ModelSource source_;
};

}  // namespace wrsec::games
