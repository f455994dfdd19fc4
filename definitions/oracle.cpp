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

}  // namespace wrsec::definitions
