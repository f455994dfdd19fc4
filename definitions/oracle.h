#pragma once
// Oracle access granted by a game. InferOracle answers x ↦ Infer(A, x) for the challenge
// artifact A and counts queries (one query = one input row) against a budget q; the adversary
// sees outputs only, never the scheme's secret. Not shared between trials.
#include <cstdint>
#include <limits>
#include <optional>

#include "definitions/scheme.h"

namespace wrsec::definitions {

class InferOracle {
 public:
  InferOracle(const WeightReleaseScheme& scheme, const Artifact& artifact,
              std::uint64_t budget = std::numeric_limits<std::uint64_t>::max())
      : scheme_(scheme), artifact_(artifact), budget_(budget) {}

  // Throws InvalidArgument when the query would exceed the budget.
  nn::Matrix query(const nn::Matrix& x);
  [[nodiscard]] std::uint64_t used() const { return used_; }
  [[nodiscard]] std::uint64_t budget() const { return budget_; }

 private:
  const WeightReleaseScheme& scheme_;
  const Artifact& artifact_;
  std::uint64_t budget_;
  std::uint64_t used_ = 0;
};

// The oracles of one trial; a null member means the game grants no such oracle.
struct OracleAccess {
  InferOracle* infer = nullptr;
};

// The oracles a game grants in one trial: an Infer oracle on the challenge artifact with budget q
// when q > 0, none otherwise. Pinned in place (the access points into it).
class TrialOracles {
 public:
  TrialOracles(const WeightReleaseScheme& scheme, const Artifact& artifact,
               std::uint64_t infer_budget);
  TrialOracles(const TrialOracles&) = delete;
  TrialOracles& operator=(const TrialOracles&) = delete;
  [[nodiscard]] OracleAccess& access() { return access_; }
  [[nodiscard]] std::uint64_t infer_used() const { return infer_ ? infer_->used() : 0; }

 private:
  std::optional<InferOracle> infer_;
  OracleAccess access_;
};

}  // namespace wrsec::definitions
