#pragma once
// Oracle access granted by a game. InferOracle answers x ↦ Infer(A, x) for the challenge
// artifact A and counts queries (one query = one input row) against a budget q; the adversary
// sees outputs only, never the scheme's secret. A TeeOracle (definitions/tee.h) is the release's
// trusted hardware, queried the same way. Not shared between trials.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "definitions/scheme.h"
#include "definitions/tee.h"

namespace wrsec::definitions {

class InferOracle {
 public:
  InferOracle(const WeightReleaseScheme& scheme, const Artifact& artifact,
              std::uint64_t budget = std::numeric_limits<std::uint64_t>::max(),
              TeeOracle* tee = nullptr)
      : scheme_(scheme), artifact_(artifact), budget_(budget), tee_(tee) {}

  // Throws InvalidArgument when the query would exceed the budget.
  nn::Matrix query(const nn::Matrix& x);
  [[nodiscard]] std::uint64_t used() const { return used_; }
  [[nodiscard]] std::uint64_t budget() const { return budget_; }

 private:
  const WeightReleaseScheme& scheme_;
  const Artifact& artifact_;
  std::uint64_t budget_;
  std::uint64_t used_ = 0;
  TeeOracle* tee_;  // when set, queries run through the release's TEE
};

// Whether `scheme` can answer what a game grants: Infer queries need infer or a TEE, TEE queries
// a TEE. InvalidArgument "game '<game>' grants ... but scheme '<id>' ..." otherwise.
void check_oracle_grants(const std::string& game, const WeightReleaseScheme& scheme,
                         std::int64_t queries, std::int64_t tee_queries);

// The oracles of one trial; a null member means the game grants no such oracle.
struct OracleAccess {
  InferOracle* infer = nullptr;
  TeeOracle* tee = nullptr;  // the release's trusted hardware (definitions/tee.h)
};

// The oracles a game grants in one trial: an Infer oracle on the challenge artifact with budget q
// when q > 0, none otherwise. Pinned in place (the access points into it).
class TrialOracles {
 public:
  TrialOracles(const WeightReleaseScheme& scheme, const Artifact& artifact,
               std::uint64_t infer_budget);
  // For a release whose scheme provisions a TEE (capability tee): the TEE oracle with budget
  // tee_budget when it is > 0, with the challenger's coins `tee_coins`; Infer queries then run
  // through the TEE (counted by both oracles).
  TrialOracles(const WeightReleaseScheme& scheme, const Release& release,
               std::uint64_t infer_budget, std::uint64_t tee_budget, Rng tee_coins);
  TrialOracles(const TrialOracles&) = delete;
  TrialOracles& operator=(const TrialOracles&) = delete;
  [[nodiscard]] OracleAccess& access() { return access_; }
  [[nodiscard]] std::uint64_t infer_used() const { return infer_ ? infer_->used() : 0; }
  [[nodiscard]] std::uint64_t tee_used() const { return tee_ ? tee_->used() : 0; }
  // The TEE's work for both oracles.
  [[nodiscard]] double tee_work() const {
    return (tee_ ? tee_->work() : 0.0) + (infer_tee_ ? infer_tee_->work() : 0.0);
  }

 private:
  std::optional<InferOracle> infer_;
  std::optional<TeeOracle> tee_;
  std::optional<TeeOracle> infer_tee_;  // the TEE behind the Infer oracle
  OracleAccess access_;
};

}  // namespace wrsec::definitions
