#pragma once
// base_alignment: recovers perm_lock's secret input permutation when the protected model is a
// fine-tune of a public base model (the alignment attacks of MPA / "Collapse", reconstructed),
// from the release alone (no oracle). The locked first layer is W'_0 = S·W_0·Pπ with S the
// hidden-unit permutation: a column's multiset of values does not depend on S, so column j of
// W'_0 and column i of the base's first layer are compared by their sorted values,
//   cost(j, i) = ‖sort(W'_0[:, j]) − sort(B_0[:, i])‖²,
// and matched by minimum-cost assignment (Hungarian up to nn::kMaxHungarian inputs, else greedy).
// Unlock as static_basis does. A gated block: input coordinate j's signature is its sorted
// W'_gate and W'_up columns, output coordinate j's its sorted W'_down row (both invariant to the
// hidden permutation); a shared residual basis is matched once on the summed costs, a per-layer
// one twice. An independently trained model in place of the base (a control) leaves the costs
// uninformative and the permutation unrecovered.
#include <string>

#include "definitions/adversary.h"
#include "definitions/params.h"
#include "definitions/sources.h"

namespace wrsec::attacks {

struct BaseAlignmentParams {
  std::string base;  // ModelSource of the public base model (required)

  static BaseAlignmentParams from(const definitions::Params& params);
};

class BaseAlignment final : public definitions::Extractor {
 public:
  explicit BaseAlignment(BaseAlignmentParams params);
  [[nodiscard]] std::string id() const override { return "base_alignment"; }
  // InvalidArgument when the base's architecture is not the release's.
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.value("scheme", "") == "perm_lock";
  }

 private:
  BaseAlignmentParams params_;
  definitions::ModelSource base_;
};

}  // namespace wrsec::attacks
