#pragma once
// outlier_restore: breaks sparse_lock-style releases (NNSplitter's weights pushed to clamp
// bounds; the GroupCover repository's knockoff attack, reconstructed) from the release alone,
// then optionally with victim-labelled queries.
//   Locate: per weight tensor W' of the release, with lo = min W', hi = max W', flag
//     detect=bounds:  |w − lo| ≤ τ·(hi − lo) or |w − hi| ≤ τ·(hi − lo)   (the clamp pile-up)
//     detect=repeats: w's exact value occurs ≥ r times in W' (a pile-up at any clamp value;
//                     trained float weights almost never repeat exactly)
//   Restore each flagged weight to 0 (restore=zero) or to the public base model's weight at the
//   same position (restore=base, base = its ModelSource: the model the victim was fine-tuned
//   from), then fine-tune on victim-labelled queries (attacks/query_training.h).
// Scored by misuse (accuracy restored at the game's query budget) and, as a Locator, by
// secret_location (precision/recall of the flagged positions).
#include <cstdint>
#include <optional>
#include <string>

#include "attacks/query_training.h"
#include "definitions/adversary.h"
#include "definitions/params.h"
#include "definitions/sources.h"

namespace wrsec::attacks {

struct OutlierRestoreParams {
  std::string detect = "bounds";  // bounds | repeats
  double tolerance = 0.005;       // τ, a fraction of the tensor's range (bounds)
  std::int64_t repeats = 3;       // r (repeats)
  std::string restore = "zero";   // zero | base
  std::string base;               // ModelSource of the public base (restore=base)
  QueryTraining train;

  static OutlierRestoreParams from(const definitions::Params& params);
};

class OutlierRestore final : public definitions::Extractor, public definitions::Locator {
 public:
  explicit OutlierRestore(OutlierRestoreParams params);
  [[nodiscard]] std::string id() const override { return "outlier_restore"; }
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] nn::TensorMap locate(const definitions::Artifact& release,
                                     definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.value("scheme", "") == "sparse_lock";
  }

 private:
  OutlierRestoreParams params_;
  std::optional<definitions::ModelSource> base_;
};

}  // namespace wrsec::attacks
