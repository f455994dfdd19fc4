#include "definitions/oracle.h"

#include "core/errors.h"

namespace wrsec::definitions {

nn::Matrix InferOracle::query(const nn::Matrix& x) {
  const auto rows = static_cast<std::uint64_t>(x.rows());
  if (rows > budget_ - used_)
    throw InvalidArgument("Infer oracle budget of " + std::to_string(budget_) +
                          " queries exceeded");
  used_ += rows;
  return scheme_.infer(artifact_, x);
}

TrialOracles::TrialOracles(const WeightReleaseScheme& scheme, const Artifact& artifact,
                           std::uint64_t infer_budget) {
  if (infer_budget > 0) {
    infer_.emplace(scheme, artifact, infer_budget);
    access_.infer = &*infer_;
  }
}

}  // namespace wrsec::definitions
