#pragma once
// dummy_neurons: neural structural obfuscation (Yan, Pan et al., "Rethinking White-Box
// Watermarks on Deep Learning Models under Neural Structural Obfuscation", USENIX Security
// 2023): every hidden layer grows by `count` units that leave the function unchanged, then its
// units are shuffled. For hidden layer ℓ with n units, incoming rows W_ℓ (mlp: and bias b_ℓ;
// swiglu: the gate and up rows) and outgoing columns c_1..c_n of W_{ℓ+1} (swiglu: W_down):
//   split  (NeuronSplit): for each new unit u, pick i uniform in [0, n); u copies i's incoming
//          row(s) and bias, so a_u = a_i; its outgoing column is r ~ N(0, σ_out²)^m and
//          c_i ← c_i − r, hence c_i·a_i + r·a_u is unchanged (c_i accumulates every split of i).
//          With jitter > 0 each copied weight gets + jitter·σ_in·z, z ~ N(0, 1) (coins "jitter"),
//          so a_u ≈ a_i only: an adaptive attack on alignment's collinearity test.
//   clique (NeuronClique, count ≥ 2): count units with one shared random incoming row
//          ρ ~ N(0, σ_in²) (per incoming matrix) and bias 0, so their activations are equal;
//          outgoing columns r_1..r_{k−1} ~ N(0, σ_out²)^m and r_k = −Σ_{j<k} r_j, so Σ_j r_j·a = 0.
// σ_in, σ_out = population std of the original incoming / outgoing matrix. The grown layer (n +
// count units) is then permuted by a uniformly random P as in `permute`, which puts the new
// units at random positions; Architecture sizes grow by count per hidden layer. Both kinds hold
// for any elementwise activation (mlp and swiglu). Layers are processed in order ℓ = 0, 1, ...,
// with coins.derive("layers.ℓ") (swiglu: coins.derive("hidden")) and its children "units",
// "values", "permutation". Equal up to float rounding of c_i − r and r_k.
#include <cstdint>
#include <string>
#include <utility>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct DummyNeuronsParams {
  std::string kind = "split";  // split | clique
  std::int64_t count = 8;      // new units per hidden layer: [1, 100000] (clique: >= 2)
  // Adaptive variant against alignment's collinearity test (split only): each copied incoming
  // weight gets + jitter·σ_in·N(0, 1), so the copy is only nearly collinear with its unit and
  // the function changes slightly (reported by the game as an accuracy cost). 0 = exact copies.
  double jitter = 0.0;  // [0, 10]

  static DummyNeuronsParams from(const definitions::Params& params);
  void validate() const;
};

class DummyNeurons final : public definitions::Remover {
 public:
  explicit DummyNeurons(DummyNeuronsParams params) : params_(std::move(params)) {
    params_.validate();
  }
  [[nodiscard]] std::string id() const override { return "dummy_neurons"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

 private:
  DummyNeuronsParams params_;
};

}  // namespace wrsec::attacks
