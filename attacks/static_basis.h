#pragma once
// static_basis: the key-reuse attack on a TEE that masks with precomputed noise in a static
// K-dimensional subspace (Saini, Jiang, Liu, arXiv 2602.11088; reconstructed), against
// perm_lock. The host sees u = (x + c·Bᵀ)·P with c fresh and B static.
//   1. Query one input x_0 repeatedly; the differences u_t − u_1 = (c_t − c_1)·Bᵀ·P span the
//      noise subspace (in the permuted coordinates). Queries go in batches; each difference
//      extends an orthonormal basis Q (Gram–Schmidt) when its residual exceeds tol times its
//      norm, until `spare` differences in a row add nothing (at most max_noise_queries);
//      Π⊥ = I − Q·Qᵀ.
//   2. Query the d unit vectors: U = P + C·Bᵀ·P, so Z = U·Π⊥ = P·Π⊥ and π(i) = argmax_j Z_ij
//      (exact when K ≪ d; ties resolved greedily by descending Z).
//   3. Unlock: W_0[:, i] = W'_0[:, π(i)]; the other tensors as released (the hidden permutations
//      change nothing). A gated block: the same for the columns of W_gate and W_up; then the
//      output basis, π for a shared residual basis, or per layer (metadata residual=per_layer)
//      read off `out_queries` protected outputs y = Infer(x) (TEE infer queries) matched to the
//      host's y' = h(x)·W'_downᵀ by columns (greedy on −‖y_j − y'_k‖²); W_down[j, :] =
//      W'_down[π_out(j), :].
// About d + K + spare queries (the noise phase rounded up to whole batches), plus out_queries
// for a per-layer output basis. A fresh full-rank mask never lets the rank saturate below d: the
// attack then recovers nothing (returns the release as it is).
#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct StaticBasisParams {
  std::int64_t batch = 16;                // noise queries per round
  std::int64_t spare = 8;                 // rows beyond the rank before it counts as saturated
  std::int64_t max_noise_queries = 1024;  // give up (fresh masks) after this many
  double tol = 1e-4;                      // a residual above tol·‖difference‖ is new
  std::int64_t out_queries = 8;           // gated, per-layer residual basis: outputs compared

  static StaticBasisParams from(const definitions::Params& params);
};

class StaticBasis final : public definitions::Extractor {
 public:
  explicit StaticBasis(StaticBasisParams params) : params_(params) {}
  [[nodiscard]] std::string id() const override { return "static_basis"; }
  // InvalidArgument without a TEE oracle (the game's tee_queries).
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.value("scheme", "") == "perm_lock";
  }

 private:
  StaticBasisParams params_;
};

// The assignment i ↦ argmax_j score(i, j) made a permutation: rows taken by descending best
// score; a row whose best column is taken gets its best free column.
[[nodiscard]] std::vector<std::int64_t> greedy_assignment(const Eigen::MatrixXd& score);

}  // namespace wrsec::attacks
