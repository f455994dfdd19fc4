#pragma once
// ind_via_extraction: a release distinguisher built from any extractor E (parameter `extractor`,
// an attack id). It chooses θ0, θ1 as two independent Model::init draws of the game's
// architecture, extracts θ' = E(A*), and outputs b' = argmin_b ‖π_b(θ') − θ_b‖₂ over all
// parameters, π_b aligning θ''s hidden units to θ_b's (ties → 0). Extraction success implies IND
// advantage ≈ 1 for models this far apart.
#include <memory>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

class IndViaExtraction final : public definitions::ReleaseDistinguisher {
 public:
  explicit IndViaExtraction(std::unique_ptr<definitions::Extractor> extractor);
  [[nodiscard]] std::string id() const override { return "ind_via_extraction"; }
  [[nodiscard]] definitions::ModelPair choose(const nn::Architecture& arch,
                                              Rng& coins) const override;
  [[nodiscard]] int guess(const definitions::ModelPair& chosen,
                          const definitions::Artifact& challenge,
                          definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return extractor_->reads(release);
  }

 private:
  std::unique_ptr<definitions::Extractor> extractor_;
};

}  // namespace wrsec::attacks
