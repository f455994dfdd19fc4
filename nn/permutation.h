#pragma once
// Permutations of hidden units, a function-preserving symmetry of MLPs and gated blocks (the
// `permute` attack and perm_lock use it; reference §5).
//   mlp, hidden layer ℓ (outputs of layers.ℓ, ℓ ≤ L−2) with permutation P:
//     W_ℓ ← P·W_ℓ,  b_ℓ ← P·b_ℓ,  W_{ℓ+1} ← W_{ℓ+1}·Pᵀ;
//   swiglu (layer 0, the hidden units): W_gate ← P·W_gate, W_up ← P·W_up, W_down ← W_down·Pᵀ.
// Since σ(P·z) = P·σ(z) for an elementwise σ, the function is unchanged; only the float summation
// order in the next layer differs.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "nn/model.h"

namespace wrsec::nn {

// A uniformly random permutation of [0, n): Fisher–Yates, for i = n−1..1 swap(p[i], p[below(i+1)]).
[[nodiscard]] std::vector<std::int64_t> random_permutation(std::int64_t n, Rng& rng);

// Reorders the units of hidden layer `layer` (mlp: output of layers.{layer}, layer ≤ L−2;
// swiglu: layer 0, the hidden units) so that new unit k is old unit perm[k]. InvalidArgument if
// the layer does not exist or perm is not a permutation of that layer's width.
void permute_hidden_units(Model& model, std::size_t layer, const std::vector<std::int64_t>& perm);

}  // namespace wrsec::nn
