#include "studies/null_calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"
#include "definitions/statistics.h"

namespace wrsec::studies {
namespace {

TEST(NullCalibration, GaussianThresholdIsMeanPlusZSigma) {
  const std::vector<double> scores = {10, 12, 14, 16, 18};  // mean 14, sample std √10
  const NullThresholds t = calibrate_null(scores, 0.05);
  EXPECT_DOUBLE_EQ(t.mean, 14.0);
  EXPECT_NEAR(t.std, std::sqrt(10.0), 1e-12);
  EXPECT_NEAR(t.gaussian, 14.0 + std::sqrt(10.0) * 1.6448536269514722, 1e-9);
  // 1e-3: z = 3.090232306167813.
  EXPECT_NEAR(calibrate_null(scores, 1e-3).gaussian, 14.0 + std::sqrt(10.0) * 3.090232306167813,
              1e-9);
}

TEST(NullCalibration, QuantileIsTheConformalOrderStatistic) {
  std::vector<double> scores;
  for (int i = 19; i >= 1; --i) scores.push_back(i);  // unsorted on purpose
  // m = 19, p = 0.05: r = ceil(0.95 · 20) = 19 → the largest score.
  ASSERT_TRUE(calibrate_null(scores, 0.05).quantile.has_value());
  EXPECT_EQ(*calibrate_null(scores, 0.05).quantile, 19.0);
  // p = 0.25: r = ceil(0.75 · 20) = 15.
  EXPECT_EQ(*calibrate_null(scores, 0.25).quantile, 15.0);
  // m = 10 < 1/p − 1 = 19: no quantile can certify p = 0.05.
  EXPECT_FALSE(calibrate_null(std::vector<double>(10, 1.0), 0.05).quantile.has_value());
}

TEST(NullCalibration, StrictRuleKeepsTheNominalRate) {
  // Exchangeable continuous null scores: P[fresh score > τ_quantile] = (m + 1 − r)/(m + 1) ≤ p.
  Rng rng(7, stable_hash("null-calibration"), 0);
  const int reps = 4000, m = 99;
  const double p = 0.05;
  int above = 0;
  for (int rep = 0; rep < reps; ++rep) {
    std::vector<double> scores(m);
    for (double& s : scores) s = rng.uniform();
    const NullThresholds t = calibrate_null(scores, p);
    ASSERT_TRUE(t.quantile.has_value());
    above += rng.uniform() > *t.quantile ? 1 : 0;
  }
  // above ~ Bin(4000, 0.05) exactly: each tail at 5e-7, so a correct rule fails by chance with
  // probability <= 1e-6 (it passes for 136..271 of 4000, −4.6 to +5.2 sd; the former ±4 sd failed
  // with probability 6e-5).
  const double tail = std::log2(5e-7);
  const auto n = static_cast<std::uint64_t>(reps), k = static_cast<std::uint64_t>(above);
  EXPECT_GT(definitions::log2_binomial_tail(k, n, p), tail) << above << " of " << reps;
  EXPECT_GT(definitions::log2_binomial_tail(n - k, n, 1 - p), tail) << above << " of " << reps;
}

TEST(NullCalibration, TiesWithTheThresholdAreRejected) {
  const std::vector<double> scores = {1, 2, 2, 3};
  EXPECT_EQ(count_above(scores, 2.0), 1U);
  EXPECT_EQ(count_above(scores, 0.5), 4U);
  EXPECT_EQ(count_above(scores, 3.0), 0U);
}

TEST(NullCalibration, RejectsBadInput) {
  EXPECT_THROW((void)calibrate_null({1.0}, 0.05), InvalidArgument);
  EXPECT_THROW((void)calibrate_null({1.0, 2.0}, 0.0), InvalidArgument);
  EXPECT_THROW((void)calibrate_null({1.0, 2.0}, 1.0), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::studies
