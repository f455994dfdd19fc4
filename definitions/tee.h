#pragma once
// A trusted execution environment (TEE) as an oracle. A scheme with capability `tee` provisions,
// from its Release (A, s), a TeeDevice that holds the small secret part of s and does the
// per-query work the scheme assigns to it:
//   host_view(x; ρ)  what leaves the TEE for the untrusted host on input rows x (e.g. x·P, or
//                    (x + c·Bᵀ)·P with fresh coins ρ): all an adversary holding the host sees;
//   infer(x; ρ)      the protected inference, host and TEE together: Infer(A, x) for x;
//   work_per_row()   the TEE's multiply-adds per input row (its cost; the host's is the model's).
// A game hands the adversary a TeeOracle, never the device: the oracle answers host_view and
// infer, counts rows against a budget and sums the TEE's work, and owns the device privately, so
// the secret is unreachable through it (no accessor exists; the device's interface has none).
// The TEE's coins ρ are the challenger's, drawn per oracle, never the adversary's.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "core/rng.h"
#include "nn/tensor.h"

namespace wrsec::definitions {

class TeeDevice {
 public:
  virtual ~TeeDevice() = default;
  [[nodiscard]] virtual nn::Matrix host_view(const nn::Matrix& x, Rng& coins) const = 0;
  [[nodiscard]] virtual nn::Matrix infer(const nn::Matrix& x, Rng& coins) const = 0;
  [[nodiscard]] virtual double work_per_row() const = 0;
  // A short description of the device's mode ("clear", "static_basis(K=64)", ...).
  [[nodiscard]] virtual std::string mode() const = 0;
};

class TeeOracle {
 public:
  TeeOracle(std::shared_ptr<const TeeDevice> device, Rng coins,
            std::uint64_t budget = std::numeric_limits<std::uint64_t>::max());
  TeeOracle(const TeeOracle&) = delete;
  TeeOracle& operator=(const TeeOracle&) = delete;

  // host_view of the rows of x; InvalidArgument when the rows would exceed the budget.
  nn::Matrix query(const nn::Matrix& x);
  // The protected inference of the rows of x (counted against the same budget).
  nn::Matrix infer(const nn::Matrix& x);
  [[nodiscard]] std::uint64_t used() const { return used_; }
  [[nodiscard]] std::uint64_t budget() const { return budget_; }
  // Multiply-adds the TEE did for the queries answered so far.
  [[nodiscard]] double work() const { return work_; }
  [[nodiscard]] std::string mode() const { return device_->mode(); }

 private:
  void charge(std::int64_t rows);
  std::shared_ptr<const TeeDevice> device_;
  Rng coins_;
  std::uint64_t budget_;
  std::uint64_t used_ = 0;
  double work_ = 0;
};

}  // namespace wrsec::definitions
