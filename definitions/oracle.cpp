#include "definitions/oracle.h"

#include "core/errors.h"

namespace wrsec::definitions {

nn::Matrix InferOracle::query(const nn::Matrix& x) {
  const auto rows = static_cast<std::uint64_t>(x.rows());
  if (rows > budget_ - used_)
    throw InvalidArgument("Infer oracle budget of " + std::to_string(budget_) +
                          " queries exceeded");
  used_ += rows;
  return tee_ != nullptr ? tee_->infer(x) : scheme_.infer(artifact_, x);
}

void check_oracle_grants(const std::string& game, const WeightReleaseScheme& scheme,
                         std::int64_t queries, std::int64_t tee_queries) {
  const auto caps = scheme.capabilities();
  if (queries > 0 && !caps.has(Capability::infer) && !caps.has(Capability::tee))
    throw InvalidArgument("game '" + game + "' grants Infer queries, but scheme '" + scheme.id() +
                          "' has no infer");
  if (tee_queries > 0 && !caps.has(Capability::tee))
    throw InvalidArgument("game '" + game + "' grants TEE queries, but scheme '" + scheme.id() +
                          "' provisions no TEE");
}

TrialOracles::TrialOracles(const WeightReleaseScheme& scheme, const Artifact& artifact,
                           std::uint64_t infer_budget) {
  if (infer_budget > 0) {
    infer_.emplace(scheme, artifact, infer_budget);
    access_.infer = &*infer_;
  }
}

TrialOracles::TrialOracles(const WeightReleaseScheme& scheme, const Release& release,
                           std::uint64_t infer_budget, std::uint64_t tee_budget, Rng tee_coins) {
  if (!scheme.capabilities().has(Capability::tee)) {
    WRSEC_CHECK(tee_budget == 0, "TEE queries granted for a scheme without a TEE");
    if (infer_budget > 0) {
      infer_.emplace(scheme, release.artifact, infer_budget);
      access_.infer = &*infer_;
    }
    return;
  }
  // One device per trial; the Infer oracle's queries reach it through an unbounded TEE oracle of
  // its own, so that they never spend the adversary's direct TEE budget.
  const auto device = scheme.provision_tee(release);
  if (tee_budget > 0) {
    tee_.emplace(device, tee_coins.derive("direct"), tee_budget);
    access_.tee = &*tee_;
  }
  if (infer_budget > 0) {
    infer_tee_.emplace(device, tee_coins.derive("infer"));
    infer_.emplace(scheme, release.artifact, infer_budget, &*infer_tee_);
    access_.infer = &*infer_;
  }
}

}  // namespace wrsec::definitions
