#pragma once
// sparse_lock: sparse-secret partial release with a TEE (Family B: NNSplitter, ICML 2023,
// reconstructed for MLPs). With rows as examples, layer i computes a_i·W_iᵀ + b_i.
//   Release(M; r): D = `samples` inputs (InputSource::default_for(arch), coins r) labelled by M's
//     own argmax; per weight tensor W the clamp bounds [lo_W, hi_W] = [min W, max W]. In
//     `rounds` rounds, with G = ∂CE(M'(D), labels)/∂W' at the current M', the unchosen weights
//     with the largest gain G·(t − w), t = hi if G > 0 else lo, are pushed to t (k in all); two
//     final passes move each chosen weight to the bound its gradient favours. With clamp = c < 1
//     the bounds are c·[lo_W, hi_W], closer to zero than the extremes (a variant that hides
//     from a detector of the extremes; the changed weights still share two exact values).
//     NNSplitter's clamped cross-entropy ascent on a mask, with the mask picked greedily instead of
//     by RL. A = M' (the changed weights pile up at the clamp bounds); s = {positions, original
//     values} of the weights that changed (at most k; metadata "k" is the parameter k).
//   TEE (provision_tee) holds the sparse correction Δ = W' − W and computes, per layer,
//     z_i = a_i·W'_iᵀ + b_i − a_i·Δ_iᵀ: Infer equals M(x) up to float rounding. TEE work per row:
//     k multiply-adds. host_view = the corrected logits (the host also sees the per-layer
//     corrections a_i·Δ_iᵀ in a deployment; not modelled, it only helps the adversary).
// hidden_mask: 1 at the k changed positions (what the secret hides); precision/recall of an
// adversary's guess against it is scored by the secret_location game.
#include <cstdint>
#include <string>
#include <vector>

#include "definitions/params.h"
#include "definitions/scheme.h"

namespace wrsec::schemes {

struct SparseLockParams {
  std::int64_t k = 275;              // weights changed
  std::int64_t rounds = 5;           // greedy selection rounds
  std::int64_t samples = 1024;       // owner inputs for the gradient
  std::vector<std::int64_t> layers;  // layer indices to lock ("0,2"); empty = every layer
  double clamp = 1.0;                // c: the clamp bounds are c·[min W, max W]

  static SparseLockParams from(const definitions::Params& params);
  void validate() const;
};

class SparseLock final : public definitions::WeightReleaseScheme {
 public:
  explicit SparseLock(SparseLockParams params);
  [[nodiscard]] std::string id() const override { return "sparse_lock"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::tee, definitions::Capability::protected_release};
  }
  // InvalidArgument for a model that is not an MLP, a layer index out of range, or k above the
  // number of lockable weights.
  [[nodiscard]] definitions::Release release(const nn::Model& model, Rng& coins) const override;
  [[nodiscard]] std::shared_ptr<const definitions::TeeDevice> provision_tee(
      const definitions::Release& release) const override;
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const override;
  [[nodiscard]] nn::TensorMap hidden_mask(const nn::Model& original,
                                          const definitions::Release& release) const override;
  [[nodiscard]] const SparseLockParams& params() const { return params_; }

 private:
  SparseLockParams params_;
};

}  // namespace wrsec::schemes
