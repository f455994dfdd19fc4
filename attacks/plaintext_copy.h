#pragma once
// plaintext_copy: the trivial extractor for the plaintext release, θ' = the published weights.
// A control: against `plaintext` it wins param_extraction and misuse with probability 1; against
// any other scheme it throws InvalidArgument (its artifact is not a plaintext release).
#include "definitions/adversary.h"

namespace wrsec::attacks {

class PlaintextCopy final : public definitions::Extractor {
 public:
  [[nodiscard]] std::string id() const override { return "plaintext_copy"; }
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.value("scheme", "") == "plaintext";
  }
};

}  // namespace wrsec::attacks
