#pragma once
// unmask: the adversary that breaks masked_release (masked_release.h).
//   E(A) = A.θ − σ·G(A.k)   with k = A's metadata "mask_key", σ = "mask_scale"
// It uses no Infer query and no coins, and returns the released model's weights up to one float
// rounding per weight (relative error about 2^-24·σ/|θ_i|, far below the extraction game's
// τ = 10^-2 for all but a vanishing fraction of weights). reads() accepts masked_release
// artifacts only, so `wrsec evaluate` pairs it with no other scheme.
#include "definitions/adversary.h"

namespace masked {

class Unmask final : public wrsec::definitions::Extractor {
 public:
  [[nodiscard]] std::string id() const override { return "unmask"; }
  [[nodiscard]] wrsec::nn::Model extract(const wrsec::definitions::Artifact& release,
                                         wrsec::definitions::OracleAccess& oracles,
                                         wrsec::Rng& coins) const override;
  [[nodiscard]] bool reads(const wrsec::definitions::Artifact& release) const override;
};

}  // namespace masked
