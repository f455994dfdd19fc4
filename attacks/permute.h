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

namespace wrsec::attacks {

// A uniformly random permutation of [0, n): Fisher–Yates, for i = n−1..1 swap(p[i], p[below(i+1)]).
[[nodiscard]] std::vector<std::int64_t> random_permutation(std::int64_t n, Rng& rng);

// Reorders the units of hidden layer `layer` (mlp: output of layers.{layer}, layer ≤ L−2;
// swiglu: layer 0, the hidden units) so that new unit k is old unit perm[k]. InvalidArgument if
// the layer does not exist or perm is not a permutation of that layer's width.
void permute_hidden_units(nn::Model& model, std::size_t layer,
                          const std::vector<std::int64_t>& perm);

class Permute final : public definitions::Remover {
 public:
  [[nodiscard]] std::string id() const override { return "permute"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;
};

}  // namespace wrsec::attacks
