#pragma once
// ind_release (distinguishing game, indistinguishability of releases):
//   (θ0, θ1) ← A.choose(arch)   (both must have the game's architecture)
//   b ←$ {0,1};  (A*, s) ← Release(θ_b; r);  b' ← A.guess(θ0, θ1, A*, O_Infer^q, O_TEE^t)
//   win iff b' = b.  Adv = |2·Pr[win] − 1|.
// A scheme whose release hides the weights should keep Adv negligible for every efficient A;
// any successful extractor gives Adv ≈ 1 against models that are far apart. For a scheme with a
// TEE, Infer queries run through the release's TEE and t direct TEE queries may be granted.
#include <cstdint>
#include <string>

#include "definitions/game.h"
#include "definitions/params.h"
#include "nn/model.h"

namespace wrsec::games {

struct IndReleaseParams {
  std::string arch = "mlp:784,64,10:silu";
  std::int64_t queries = 0;
  std::int64_t tee_queries = 0;  // direct queries to the release's TEE (schemes with a TEE)

  static IndReleaseParams from(const definitions::Params& params);
  void validate() const;
};

class IndRelease final : public definitions::Game {
 public:
  explicit IndRelease(IndReleaseParams params);
  [[nodiscard]] std::string id() const override { return "ind_release"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::distinguishing;
  }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  IndReleaseParams params_;
  nn::Architecture arch_;
};

}  // namespace wrsec::games
