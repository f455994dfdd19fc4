#pragma once
// masked_release: a deliberately broken protected release, the worked example of a plug-in
// (README.md beside this file; docs/plugins.md).
//
//   Release(θ; r):  k ← 64 bits of r;  A = (arch(θ), θ + σ·G(k), k);  s = ∅
//   Infer(A, x)  = f_θ̃(x) with θ̃ = A.θ − σ·G(A.k)
// where G(k) is one standard normal per weight, drawn tensor by tensor (name order, row-major)
// from the Philox stream keyed by k (Rng(k, stable_hash("masked_release mask"), 0).derive(name)).
// Capabilities: infer, protected_release; Infer costs what the plain model costs.
//
// Why it is broken: θ + σ·G(k) is a one-time pad of the weights only while k is secret, and
// Release publishes k in A's metadata ("mask_key"). Kerckhoffs: G and σ are public, so anyone
// computes A.θ − σ·G(A.k) = θ (up to one float rounding per weight). The `unmask` adversary
// (unmask.h) does exactly that and wins parameter extraction, misuse and IND of releases with
// probability 1. Keeping k in the owner secret s instead would make Infer impossible for the
// public: this scheme is a teaching example, not a design.
#include <cstdint>
#include <string>

#include "definitions/params.h"
#include "definitions/scheme.h"

namespace masked {

inline constexpr const char* kSchemeId = "masked_release";

struct MaskedReleaseParams {
  double scale = 1.0;  // σ, the mask's standard deviation (> 0)

  static MaskedReleaseParams from(const wrsec::definitions::Params& params);
};

// tensors ± σ·G(key), in place: sign = +1 masks, −1 unmasks. Public (the scheme's algorithm).
void apply_mask(wrsec::nn::TensorMap& tensors, std::uint64_t key, double scale, int sign);

// The model behind a masked_release artifact: reads the architecture, key and σ from the
// metadata and removes the mask. InvalidArgument for an artifact of another form.
[[nodiscard]] wrsec::nn::Model unmasked_model(const wrsec::definitions::Artifact& artifact);

// Whether the artifact is a masked_release release (its public form).
[[nodiscard]] bool is_masked_release(const wrsec::definitions::Artifact& artifact);

class MaskedRelease final : public wrsec::definitions::WeightReleaseScheme {
 public:
  explicit MaskedRelease(MaskedReleaseParams params) : params_(params) {}
  [[nodiscard]] std::string id() const override { return kSchemeId; }
  [[nodiscard]] wrsec::definitions::Capabilities capabilities() const override {
    return {wrsec::definitions::Capability::infer,
            wrsec::definitions::Capability::protected_release};
  }
  [[nodiscard]] wrsec::definitions::Release release(const wrsec::nn::Model& model,
                                                    wrsec::Rng& coins) const override;
  [[nodiscard]] wrsec::nn::Matrix infer(const wrsec::definitions::Artifact& artifact,
                                        const wrsec::nn::Matrix& x) const override;
  [[nodiscard]] double infer_macs(const wrsec::definitions::Artifact& artifact) const override;

 private:
  MaskedReleaseParams params_;
};

}  // namespace masked
