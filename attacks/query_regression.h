#pragma once
// query_regression: a data-driven baseline extractor that uses only the public structure of the
// release and Q Infer queries (the game's `queries` budget), never the Taylor coefficients.
//   official format (gated block): with g̃ = signed gate·x and u = W_up[sel]·x public, and
//     σ(−g) = σ(g) − g for σ ∈ {silu, gelu, gelu_tanh}, the hidden part is linear in
//     (α_j, β_j): y_sel = Σ_j α_j σ(g̃_j) u_j + β_j g̃_j u_j, α_j = W_down[:, j], β_j =
//     −[s_j=−1]·α_j. Ridge least squares on Q pairs gives α, β; s_j = −1 iff ‖α_j + β_j‖ < ‖β_j‖.
//   paper format (expanded block must feed the output): y = W·σ(z + b) + c with z = V·x public;
//     variable projection: (W, c) by least squares for fixed b, then Levenberg–Marquardt steps on b
//     (JᵀJ = (S'ᵀS') ⊙ (WᵀW)), from b = 0.
// The oracle answers with the release's own function (the Taylor approximation), so the error
// floors at the Taylor error and needs Q ≳ number of unknowns per output; it is a baseline, not
// an exact attack. Query inputs come from `inputs` (InputSource; default the architecture's).
#include <cstdint>
#include <string>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct QueryRegressionParams {
  std::string inputs;             // InputSource spec; empty = InputSource::default_for(arch)
  double ridge = 1e-9;            // λ relative to the mean diagonal of FᵀF
  std::int64_t iterations = 200;  // paper format: LM iterations on b

  static QueryRegressionParams from(const definitions::Params& params);
};

class QueryRegression final : public definitions::Extractor {
 public:
  explicit QueryRegression(QueryRegressionParams params) : params_(std::move(params)) {}
  [[nodiscard]] std::string id() const override { return "query_regression"; }
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  // taylor_mlp releases (paper or official), whose metadata names the architecture.
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.contains("architecture") && release.metadata.contains("format");
  }

 private:
  QueryRegressionParams params_;
};

}  // namespace wrsec::attacks
