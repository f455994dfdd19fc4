#pragma once
// permute: hidden-unit permutation, a functionality-equivalent transform (reference §5).
//   mlp, every hidden layer ℓ (outputs of layers.ℓ, ℓ = 0..L−2) with a uniformly random
//   permutation matrix P_ℓ:  W_ℓ ← P_ℓ·W_ℓ,  b_ℓ ← P_ℓ·b_ℓ,  W_{ℓ+1} ← W_{ℓ+1}·P_ℓᵀ.
//   swiglu: one P on the hidden units: W_gate ← P·W_gate, W_up ← P·W_up, W_down ← W_down·Pᵀ.
//   Since σ(P·z) = P·σ(z) for an elementwise σ, the function is unchanged; only the float
//   summation order in the next layer differs. P_ℓ is Fisher–Yates with
//   coins.derive("layers.ℓ").below (swiglu: coins.derive("hidden")). No params.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "definitions/adversary.h"
#include "nn/permutation.h"

namespace wrsec::attacks {

// The primitives live in nn/permutation.h (perm_lock uses them too).
using nn::permute_hidden_units;
using nn::random_permutation;

class Permute final : public definitions::Remover {
 public:
  [[nodiscard]] std::string id() const override { return "permute"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;
};

}  // namespace wrsec::attacks
