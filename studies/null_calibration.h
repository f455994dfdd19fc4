#pragma once
// Empirical-null calibration of a verification score (WRT's decision threshold and a
// nonparametric alternative). Given scores s_1..s_m of independent (null) models and a target
// false-positive rate p, a threshold τ is used as "accept iff score > τ" (strict, so ties with
// the threshold are rejected and the nominal rate is not exceeded):
//   gaussian:   τ = μ + σ·Φ⁻¹(1 − p)  (μ, σ the sample mean and std; WRT decision_threshold.py)
//               — exact only if the scores are Gaussian;
//   quantile:   τ = s_(r), the r-th smallest score, r = ⌈(1 − p)(m + 1)⌉; for exchangeable
//               scores a fresh null score exceeds τ with probability ≤ p (conformal bound).
//               Undefined (nullopt) when r > m, i.e. m < 1/p − 1 scores.
#include <optional>
#include <vector>

namespace wrsec::studies {

struct NullThresholds {
  double mean = 0;
  double std = 0;
  double gaussian = 0;
  std::optional<double> quantile;
};

// InvalidArgument for fewer than 2 scores or p outside (0, 1).
[[nodiscard]] NullThresholds calibrate_null(std::vector<double> scores, double p);

// Number of scores strictly above the threshold.
[[nodiscard]] std::size_t count_above(const std::vector<double>& scores, double threshold);

}  // namespace wrsec::studies
