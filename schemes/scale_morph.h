#pragma once
// scale_morph: parameter morphing with a TEE (Family B: SOTER, ATC 2022, in TEESlice's model),
// for MLPs with L linear layers.
//   Release(M; r): m = round(θ·L) layers drawn uniformly (coins r) are morphed and offloaded:
//     W'_l = s_l·W_l, b'_l = s_l·b_l with s_l ~ U[scale_min, scale_max]; the other L − m layers
//     stay in the TEE and are released as zeros (their positions are public: metadata
//     "tee_layers"). A = the morphed model; s = {s_l, the TEE layers' weights}.
//   TEE: z_l = (a_l·W'_lᵀ + b'_l)/s_l for a morphed layer (the host multiplies, the TEE divides
//     the outputs by s_l) and z_l = a_l·W_lᵀ + b_l inside the TEE for a held layer. Infer equals
//     M(x) up to float rounding. TEE work per row: the held layers' multiply-adds plus one
//     division per output of a morphed layer. host_view = the corrected output (a deployment's
//     host also sees every layer's un-scaled output; not modelled, it only helps the adversary).
#include <cstdint>
#include <string>

#include "definitions/params.h"
#include "definitions/scheme.h"

namespace wrsec::schemes {

struct ScaleMorphParams {
  double fraction = 0.8;   // θ, the fraction of layers offloaded (morphed)
  double scale_min = 1.0;  // 1e-6 <= scale_min <= scale_max <= 1e6
  double scale_max = 5.0;

  static ScaleMorphParams from(const definitions::Params& params);
  void validate() const;
};

class ScaleMorph final : public definitions::WeightReleaseScheme {
 public:
  explicit ScaleMorph(ScaleMorphParams params);
  [[nodiscard]] std::string id() const override { return "scale_morph"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::tee, definitions::Capability::protected_release};
  }
  // InvalidArgument for a model that is not an MLP.
  [[nodiscard]] definitions::Release release(const nn::Model& model, Rng& coins) const override;
  [[nodiscard]] std::shared_ptr<const definitions::TeeDevice> provision_tee(
      const definitions::Release& release) const override;
  // The host's multiply-adds per example (the morphed layers'); the TEE's work is its own.
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const override;
  [[nodiscard]] const ScaleMorphParams& params() const { return params_; }

 private:
  ScaleMorphParams params_;
};

}  // namespace wrsec::schemes
