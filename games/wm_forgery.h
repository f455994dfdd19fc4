#pragma once
// wm_forgery (search game, ambiguity / false claims of ownership):
//   θ ← ModelSource;  (M, s) ← Release(θ; r)          (the owner marks θ)
//   target = M (target=owner)  or  M_0 ← null model i mod K (target=independent)
//   c ← F(target, Π_adv, public claim of s)             (a claim in the OwnerSecret format)
//   win iff c is not s's claim (another public key or another statement) AND Verify(c, target) = 1.
//   Adv = Pr[win] (baseline 0). Under binding=signature a claim must carry a valid signature and
//   its message is derived from it, so a forger without the owner's key succeeds with about the
//   FPR per claim it tries; under binding=none (the naive rule) it can choose the message.
// Per-trial metrics: signature_valid (the claim's σ verifies under its own public key),
// claims_owner_key (the claim names the owner's public key), match_fraction, log2_p.
#include <cstdint>
#include <string>

#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/sources.h"
#include "games/watermark_common.h"

namespace wrsec::games {

struct WmForgeryParams {
  std::string model = "zoo:mlp_784_64_64_10_relu@1";
  std::string target = "owner";  // owner | independent
  NullModelSpec nulls;           // target=independent

  static WmForgeryParams from(const definitions::Params& params);
  void validate() const;
};

class WmForgery final : public definitions::Game {
 public:
  explicit WmForgery(WmForgeryParams params);
  [[nodiscard]] std::string id() const override { return "wm_forgery"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::search;
  }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  WmForgeryParams params_;
  definitions::ModelSource source_;
  NullModels nulls_;
};

}  // namespace wrsec::games
