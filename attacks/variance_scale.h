#pragma once
// variance_scale: breaks scale_morph-style releases (SOTER's scalar morphing; TEESlice's
// soter_recover_scalar, reconstructed) against a public model B (e.g. the one the victim was
// fine-tuned from) or, without one, against the architecture's public initialisation.
//   For each released (morphed) layer l, ŝ_l estimates the secret factor:
//     estimator=variance:   ŝ_l = sqrt(var(W'_l) / v_l), v_l = var(B_l), or without B the
//                           Kaiming-uniform variance of Model::init (2/fan_in before a
//                           nonlinearity, 1/fan_in at the output)               (TEESlice)
//     estimator=projection: ŝ_l = ⟨B_l, W'_l⟩ / ‖B_l‖² (least squares W' ≈ ŝ·B; needs B)
//   and W_l = W'_l/ŝ_l, b_l = b'_l/ŝ_l; each TEE-held layer (metadata "tee_layers") starts from
//   B_l, or from Model::init (coins.derive("init")) without B; then fine-tuning on
//   victim-labelled queries (attacks/query_training.h).
// Scored by misuse (accuracy or fidelity restored at the game's query budget).
#include <optional>
#include <string>

#include "attacks/query_training.h"
#include "definitions/adversary.h"
#include "definitions/params.h"
#include "definitions/sources.h"

namespace wrsec::attacks {

struct VarianceScaleParams {
  std::string base;                    // ModelSource of the public model; empty = none
  std::string estimator = "variance";  // variance | projection
  QueryTraining train;

  static VarianceScaleParams from(const definitions::Params& params);
};

class VarianceScale final : public definitions::Extractor {
 public:
  explicit VarianceScale(VarianceScaleParams params);
  [[nodiscard]] std::string id() const override { return "variance_scale"; }
  // InvalidArgument when the base's architecture is not the release's.
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.value("scheme", "") == "scale_morph";
  }

 private:
  VarianceScaleParams params_;
  std::optional<definitions::ModelSource> base_;
};

}  // namespace wrsec::attacks
