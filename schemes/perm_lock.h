#pragma once
// perm_lock: permutation locking with a TEE (Family A: TransLinkGuard, ACM MM 2024; CoreGuard,
// arXiv 2410.13903), for MLPs and Llama-shaped gated blocks. With rows as examples, MLP layer i
// computes a_i·W_iᵀ + b_i; the gated block f(x) = (σ(x·W_gateᵀ) ⊙ x·W_upᵀ)·W_downᵀ.
//   Release(M; r): σ_l a uniform permutation of hidden layer l's units (rows of W_l, b_l and
//     columns of W_{l+1}: the function is unchanged), π a uniform permutation of the d inputs,
//     W'_0[:, π(j)] = W_0[:, j] (the locked first layer expects u = x·P, u_{π(j)} = x_j).
//     A = the locked model in the clear; s = {π, and for mode static_basis an orthonormal
//     B ∈ R^{d×K}}; the TEE is provisioned with s (provision_tee).
//   TEE host view of x, per row, with the TEE's coins: n = 0 (clear), n = c·Bᵀ with
//     c ~ N(0, σ²I_K) (static_basis: precomputed noise in a K-dimensional subspace), or
//     n ~ N(0, σ²I_d) (fresh: a full-rank mask per query); the host sees u = (x + n)·P.
//   Infer(x) = host and TEE: z_0 = u·W'_0ᵀ + b_0 − n·W_0ᵀ (the TEE removes the noise: c·(BᵀW_0ᵀ)
//     from K precomputed rows, or n·W_0ᵀ in full for fresh), then the remaining layers; equal to
//     M(x) up to float rounding (the sums run in another order).
//   TEE work per row: d (the permutation) + K·h (static_basis) or d·h (fresh), h = W_0's rows.
// Gated block [d, h]: σ permutes the h hidden units (rows of W_gate, W_up, columns of W_down);
//   π the residual basis at the input (columns of W_gate, W_up); the output leaves in basis π_out
//   (rows of W_down: W'_down[π_out(j), :] = W_down[j, :]) with π_out = π (residual=shared: one
//   basis for the whole residual stream, CoreGuard-like) or an independent π_out
//   (residual=per_layer: each layer's own, TransLinkGuard-like). The TEE masks and permutes the
//   input as above, removes the noise from both projections (K·2h or d·2h multiply-adds) and
//   returns the output in the clear basis (d). s adds π_out for per_layer.
// hidden_mask: MLP: the first layer (its column order is the secret; the rest is public up to
// the hidden permutations, which change nothing); gated block: all three projections.
#include <cstdint>
#include <string>

#include "definitions/params.h"
#include "definitions/scheme.h"

namespace wrsec::schemes {

struct PermLockParams {
  std::string mode = "static_basis";  // clear | static_basis | fresh
  std::int64_t basis = 64;            // K, the static noise subspace's dimension
  double noise = 1.0;                 // σ
  bool permute_hidden = true;
  std::string residual = "shared";  // gated blocks: shared | per_layer output basis

  static PermLockParams from(const definitions::Params& params);
  void validate() const;
};

class PermLock final : public definitions::WeightReleaseScheme {
 public:
  explicit PermLock(PermLockParams params);
  [[nodiscard]] std::string id() const override { return "perm_lock"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::tee, definitions::Capability::protected_release};
  }
  // InvalidArgument for a model that is neither an MLP nor a gated block, with at most K inputs,
  // or residual=per_layer on an MLP.
  [[nodiscard]] definitions::Release release(const nn::Model& model, Rng& coins) const override;
  [[nodiscard]] std::shared_ptr<const definitions::TeeDevice> provision_tee(
      const definitions::Release& release) const override;
  // The host's multiply-adds per example (the locked model's); the TEE's work is its own.
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const override;
  [[nodiscard]] nn::TensorMap hidden_mask(const nn::Model& original,
                                          const definitions::Release& release) const override;
  [[nodiscard]] const PermLockParams& params() const { return params_; }

 private:
  PermLockParams params_;
};

}  // namespace wrsec::schemes
