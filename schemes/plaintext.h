#pragma once
// plaintext: the baseline release that publishes the weights themselves.
//   Release(M) = (A = (arch(M), θ(M)), s = ∅);  Infer(A, x) = M(x).
// Every protection scheme is measured against it: it has no secret, so extraction is trivial and
// its cost is the plain model's cost.
#include "definitions/scheme.h"

namespace wrsec::schemes {

class Plaintext final : public definitions::WeightReleaseScheme {
 public:
  [[nodiscard]] std::string id() const override { return "plaintext"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::infer, definitions::Capability::protected_release};
  }
  [[nodiscard]] definitions::Release release(const nn::Model& model, Rng& coins) const override;
  // Throws InvalidArgument for an artifact that is not a valid plaintext release (missing or
  // mis-shaped tensors, non-finite weights, unknown architecture).
  [[nodiscard]] nn::Matrix infer(const definitions::Artifact& artifact,
                                 const nn::Matrix& x) const override;
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const override;
};

}  // namespace wrsec::schemes
