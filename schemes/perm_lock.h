#pragma once
// perm_lock: permutation locking with a TEE (Family A: TransLinkGuard, ACM MM 2024; CoreGuard,
// arXiv 2410.13903), for MLPs. With rows as examples, layer i computes a_i·W_iᵀ + b_i.
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
// hidden_mask: the first layer (its column order is the secret; the rest is public up to the
// hidden permutations, which change nothing).
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
  // InvalidArgument for a model that is not an MLP, or with fewer inputs than K.
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
