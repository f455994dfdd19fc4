#include "definitions/tee.h"

#include <utility>

#include "core/errors.h"

namespace wrsec::definitions {

TeeOracle::TeeOracle(std::shared_ptr<const TeeDevice> device, Rng coins, std::uint64_t budget)
    : device_(std::move(device)), coins_(std::move(coins)), budget_(budget) {
  WRSEC_CHECK(device_ != nullptr, "a TEE oracle needs a device");
}

void TeeOracle::charge(std::int64_t rows) {
  const auto n = static_cast<std::uint64_t>(rows);
  if (n > budget_ - used_)
    throw InvalidArgument("TEE oracle budget of " + std::to_string(budget_) + " queries exceeded");
  used_ += n;
  work_ += static_cast<double>(n) * device_->work_per_row();
}

nn::Matrix TeeOracle::query(const nn::Matrix& x) {
  charge(x.rows());
  return device_->host_view(x, coins_);
}

nn::Matrix TeeOracle::infer(const nn::Matrix& x) {
  charge(x.rows());
  return device_->infer(x, coins_);
}

}  // namespace wrsec::definitions
