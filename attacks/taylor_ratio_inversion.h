#pragma once
// taylor_ratio_inversion: parameter extraction from a TaylorMLP release in the paper format
// (schemes/taylor_mlp.h: taylor.V, taylor.z0, taylor.theta, plaintext other layers). Uses the
// artifact only: no queries, no data, no randomness.
//
// Released for the block y = W·σ(Vx + b) + c with a = z0 + b and c_n(a) = σ^{(n)}(a)/n!:
//   Θ_{n,:,j} = W_{:,j}·c_n(a_j)  (n = 1..N),   Θ_{0,:,j} = W_{:,j}·c_0(a_j) + c/h.
// Per hidden unit j (all arithmetic in double, the columns Θ_{n,:,j} over every output row):
//  1. For each usable pair of consecutive orders (n, n+1), n ≥ 1 (both column norms above 10⁻⁷ of
//     the unit's largest), t_n = ⟨Θ_{n+1}, Θ_n⟩/‖Θ_n‖² (least squares over the rows) and every
//     root in [−30, 30] of f(a) = c_{n+1}(a) − t_n·c_n(a) is a candidate: sign changes on a grid
//     of step 0.005 (coefficients tabulated once), located by interpolation; one root seen by
//     several pairs is merged, guesses with ρ (below) above 10⁴·best + 10⁻⁶ are dropped, and the
//     rest are solved by safeguarded Newton/bisection. Θ_0 is not used here: it carries c/h.
//  2. Each candidate a is scored by the relative least-squares residual of Θ_{1..N} with W fitted,
//       ρ(a) = min_w Σ_{n≥1} ‖Θ_n − w·c_n(a)‖² / Σ_{n≥1} ‖Θ_n‖² = 1 − cᵀGc / (cᵀc·tr G),
//     G_nm = ⟨Θ_n, Θ_m⟩; the best is refined to the exact minimiser of ρ near it (root of dρ/da,
//     bisection/secant; skipped for N = 32). With no candidate at all, the grid minimiser of ρ is
//     used.
//  3. Candidates that fit Θ_{1..N} equally well (ρ within 10× + 10⁻¹², typical for N = 2, where
//     one pair cannot tell the roots of c₂/c₁ = t apart) are separated by Θ_0: the vectors
//     u_j(a) = Θ_{0,:,j} − w_j(a)·c_0(a) must all equal c/h. c/h is estimated as the row-wise
//     median of u over the units with a single fitting candidate (or, when there is none, by the
//     candidate vector agreeing with the most units), and each ambiguous unit takes the candidate
//     nearest to it.
//  4. W_{:,j} = Σ_{n≥1} c_n(a_j)·Θ_{n,:,j} / Σ_{n≥1} c_n(a_j)²,  b_j = a_j − z0_j,
//     c_i = Σ_j Θ_{0,i,j} − Σ_j W_ij·c_0(a_j).
// Output: the artifact's mlp with layers.k = (V, b), layers.{k+1} = (W, c), other layers copied.
// Cost: O(h·(o·N² + grid·N)) plus a few series evaluations per unit; units run on OpenMP threads,
// each computed the same way on any thread (measured: h = 1024, o = 64, N = 12 in 0.6 s on 2
// cores).
//
// Failure cases:
//  - A unit whose columns Θ_{1..N} are all zero (W_{:,j} = 0) carries no information about a_j:
//    it is reported as unidentified, with b_j = 0 and W_{:,j} = 0 (exact for W, a guess for b).
//  - σ^{(n)}(a_j) ≈ 0 makes the pairs touching order n unusable; the others still give a_j, and
//    ρ uses every order.
//  - a_j outside [−30, 30] is found only through the grid minimiser of ρ (clamped to the grid).
//  - N = 1 (no order pair): Θ_0,j = r_j·Θ_1,j + c/h with r_j = σ(a_j)/σ′(a_j), so c/h is the
//    least-squares solution of (Σ_j P_j)·e = Σ_j P_j·Θ_0,j (P_j the projection orthogonal to
//    Θ_1,j), r_j = ⟨Θ_0,j − e, Θ_1,j⟩/‖Θ_1,j‖², and a_j is a root in [−30, 30] of
//    σ(a) − r_j·σ′(a). silu and gelu have at most two roots (one each side of the minimum of σ)
//    that give the same Θ; the one nearer z0_j (smaller |b_j|) is taken and the unit counted in
//    `ambiguous_units`. Then W_{:,j} = Θ_1,j/σ′(a_j), c as in step 4. When the o×o system is
//    singular (o = 1, or all Θ_1 columns parallel) c/h is not identified: a_j = z0_j (b = 0).
#include <cstdint>
#include <vector>

#include "definitions/adversary.h"
#include "nn/layers.h"
#include "nn/tensor.h"

namespace wrsec::attacks {

struct PaperBlockRecovery {
  nn::Tensor bias;                      // b [h]
  nn::Tensor weight;                    // W [o, h]
  nn::Tensor out_bias;                  // c [o]
  std::vector<double> a;                // a_j = z0_j + b_j [h]
  std::int64_t unidentified_units = 0;  // Θ_{1..N} columns all zero
  std::int64_t ambiguous_units = 0;     // several roots fitted Θ_{1..N}; Θ_0 decided (N = 1:
                                        // two roots, the nearer one to z0 taken)
  double max_residual = 0.0;            // max_j ρ_j (relative residual of Θ_{1..N})
};

// Steps 1–4 above for theta [N+1, o, h] and z0 [h] (N = 1 as described).
// @throws InvalidArgument for mis-shaped or non-finite inputs, relu, or N ∉ [1, 32].
[[nodiscard]] PaperBlockRecovery recover_paper_block(const nn::Tensor& theta, const nn::Tensor& z0,
                                                     nn::Activation act);

// Extractor over a taylor_mlp artifact with metadata format = paper (architecture, layer k,
// order N, activation from the metadata).
class TaylorRatioInversion final : public definitions::Extractor {
 public:
  [[nodiscard]] std::string id() const override { return "taylor_ratio_inversion"; }
  // @throws InvalidArgument for an artifact that is not a paper-format taylor_mlp release.
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.contains("architecture") &&
           release.metadata.value("format", "") == "paper";
  }
};

}  // namespace wrsec::attacks
