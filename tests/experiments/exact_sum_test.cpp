#include "experiments/exact_sum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/errors.h"
#include "experiments/runner.h"

namespace wrsec::experiments {
namespace {

ExactSum sum_of(const std::vector<double>& values) {
  ExactSum s;
  for (double v : values) s.add(v);
  return s;
}

constexpr double kMinSubnormal = std::numeric_limits<double>::denorm_min();  // 2^-1074
constexpr double kMaxDouble = std::numeric_limits<double>::max();

TEST(ExactSum, EmptyAndZerosAreZero) {
  ExactSum s;
  EXPECT_EQ(s.value(), 0.0);
  EXPECT_EQ(s.to_string(), "0");
  s.add(0.0);
  s.add(-0.0);
  EXPECT_EQ(s, ExactSum());
}

TEST(ExactSum, CancellationAcrossMagnitudesIsExact) {
  // Naive double summation loses the small terms entirely.
  const std::vector<double> values = {1e300, 1.0, -1e300, 1e-300, kMinSubnormal, 3 * kMinSubnormal};
  double naive = 0;
  for (double v : values) naive += v;
  EXPECT_EQ(naive, 1e-300);  // the 1 was absorbed by 1e300, the subnormals by 1e-300
  const ExactSum s = sum_of(values);
  // Exact sum: 1 + 1e-300 + 2^-1072, which rounds to 1.
  EXPECT_EQ(s.value(), 1.0);
  ExactSum only_small = sum_of({1e300, -1e300, kMinSubnormal, kMinSubnormal});
  EXPECT_EQ(only_small.value(), 2 * kMinSubnormal);
  // Subnormal results are exact (every sum of doubles is a multiple of 2^-1074).
  EXPECT_EQ(sum_of({kMaxDouble, 5 * kMinSubnormal, -kMaxDouble}).value(), 5 * kMinSubnormal);
  EXPECT_EQ(sum_of({kMinSubnormal, -kMinSubnormal}), ExactSum());
  EXPECT_EQ(sum_of({-kMaxDouble, -kMinSubnormal}).value(), -kMaxDouble);
}

TEST(ExactSum, ValueRoundsToNearestTiesToEven) {
  const double eps = std::ldexp(1.0, -52);  // ulp of 1
  // 1 + 2^-53 is a tie between 1 and 1 + 2^-52: ties to even gives 1.
  EXPECT_EQ(sum_of({1.0, eps / 2}).value(), 1.0);
  // Just above the tie: rounds up (naive left-to-right summation gets this wrong).
  const std::vector<double> above = {1.0, eps / 2, std::ldexp(1.0, -106)};
  EXPECT_EQ((1.0 + eps / 2) + std::ldexp(1.0, -106), 1.0);
  EXPECT_EQ(sum_of(above).value(), 1.0 + eps);
  // Just below the tie: rounds down.
  EXPECT_EQ(sum_of({1.0, eps / 2, -std::ldexp(1.0, -106)}).value(), 1.0);
  // 1 + 3·2^-53 is a tie between 1 + 2^-52 (odd) and 1 + 2^-51 (even): rounds up.
  EXPECT_EQ(sum_of({1.0, eps, eps / 2}).value(), 1.0 + 2 * eps);
  // Exact sums beyond the largest double overflow to infinity when rounded.
  EXPECT_EQ(sum_of({kMaxDouble, kMaxDouble}).value(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(sum_of({kMaxDouble, kMaxDouble, -kMaxDouble}).value(), kMaxDouble);
}

TEST(ExactSum, MatchesLongDoubleWhereThatIsExact) {
  // Integers and dyadic fractions up to 2^-20 with |sum| < 2^40 fit in a 64-bit mantissa, so
  // long double accumulation (x87 extended or wider) is exact and rounds once at the end.
  std::mt19937 gen(7);
  std::uniform_int_distribution<std::int64_t> units(-(std::int64_t(1) << 40), std::int64_t(1)
                                                                                  << 40);
  std::vector<double> values;
  long double reference = 0;
  for (int i = 0; i < 1000; ++i) {
    const double v = std::ldexp(static_cast<double>(units(gen)), -20);
    values.push_back(v);
    reference += v;
  }
  static_assert(std::numeric_limits<long double>::digits >= 64);
  EXPECT_EQ(sum_of(values).value(), static_cast<double>(reference));
}

TEST(ExactSum, OrderIndependentOverManyPermutations) {
  std::mt19937 gen(2024);
  std::vector<double> values = {1e300, -1e300, 1.0,  -1.0, 1e-300, kMinSubnormal, 7 * kMinSubnormal,
                                0.1,   0.2,    -0.3, 1e16, -1e16,  3.5e-8,        kMaxDouble / 4};
  std::uniform_real_distribution<double> u(-1, 1);
  for (int i = 0; i < 200; ++i) values.push_back(std::ldexp(u(gen), int(gen() % 200) - 100));
  const ExactSum reference = sum_of(values);
  const double reference_value = reference.value();
  const std::string reference_text = reference.to_string();
  for (int p = 0; p < 200; ++p) {
    std::shuffle(values.begin(), values.end(), gen);
    const ExactSum s = sum_of(values);
    ASSERT_EQ(s, reference) << "permutation " << p;
    ASSERT_EQ(s.value(), reference_value);
    ASSERT_EQ(s.to_string(), reference_text);
  }
  // Merging partial sums in any grouping gives the same.
  std::shuffle(values.begin(), values.end(), gen);
  ExactSum a, b, c;
  for (std::size_t i = 0; i < values.size(); ++i)
    (i % 3 == 0 ? a : i % 3 == 1 ? b : c).add(values[i]);
  ExactSum merged = c;
  merged += a;
  merged += b;
  EXPECT_EQ(merged, reference);
}

TEST(ExactSum, TextRoundTrip) {
  for (const auto& values : std::vector<std::vector<double>>{{},
                                                             {1.0},
                                                             {-1.0},
                                                             {kMinSubnormal},
                                                             {-kMaxDouble, -kMaxDouble},
                                                             {1e300, 1e-300, -3.25}}) {
    const ExactSum s = sum_of(values);
    const ExactSum back = ExactSum::from_string(s.to_string());
    EXPECT_EQ(back, s);
    EXPECT_EQ(back.value(), s.value());
    EXPECT_EQ(back.to_string(), s.to_string());
  }
  // The unit is 2^-1126: 1.0 is 1 followed by hex digits for 1126 zero bits (1126 = 4·281 + 2).
  EXPECT_EQ(sum_of({1.0}).to_string(), "4" + std::string(281, '0'));
  EXPECT_EQ(sum_of({-1.0}).to_string(), "-4" + std::string(281, '0'));
}

TEST(ExactSum, RejectsMalformedTextAndNonFiniteValues) {
  EXPECT_THROW((void)ExactSum::from_string("xyz"), InvalidArgument);
  EXPECT_THROW((void)ExactSum::from_string(""), InvalidArgument);
  EXPECT_THROW((void)ExactSum::from_string("12g"), InvalidArgument);
  ExactSum s;
  s.add(2.0);
  EXPECT_THROW(s.add(std::numeric_limits<double>::quiet_NaN()), InvalidArgument);
  EXPECT_THROW(s.add(std::numeric_limits<double>::infinity()), InvalidArgument);
  EXPECT_THROW(s.add(-std::numeric_limits<double>::infinity()), InvalidArgument);
  EXPECT_EQ(s.value(), 2.0);  // unchanged by the rejected additions
}

TEST(ExactSum, CopyAndMoveKeepTheValue) {
  ExactSum s = sum_of({1.5, 1e-300});
  const ExactSum copy = s;
  EXPECT_EQ(copy, s);
  ExactSum moved = std::move(s);
  EXPECT_EQ(moved, copy);
  ExactSum assigned;
  assigned = copy;
  EXPECT_EQ(assigned, copy);
  assigned.add(1.0);
  EXPECT_NE(assigned, copy);  // deep copy
  ExactSum move_assigned;
  move_assigned = std::move(assigned);
  EXPECT_EQ(move_assigned.value(), 2.5);
}

TEST(MetricSummary, ShardsMergeToTheSameSummary) {
  std::mt19937 gen(99);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(10000);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = std::ldexp(normal(gen), int(gen() % 61) - 30);
    if (i % 997 == 0) values[i] = std::numeric_limits<double>::quiet_NaN();
    if (i % 1999 == 0) values[i] = std::numeric_limits<double>::infinity();
  }
  MetricSummary whole;
  for (double v : values) whole.add(v);
  std::uint64_t nonfinite = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values)
    if (!std::isfinite(v)) {
      ++nonfinite;
    } else {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  EXPECT_EQ(whole.n, 10000u);
  EXPECT_EQ(whole.nonfinite, nonfinite);
  EXPECT_GT(nonfinite, 10u);
  EXPECT_EQ(whole.min, lo);
  EXPECT_EQ(whole.max, hi);

  for (int round = 0; round < 20; ++round) {
    // Arbitrary cut points, shards filled in a shuffled order and merged in reverse.
    std::vector<std::size_t> cuts = {0, values.size()};
    const int shards = 1 + int(gen() % 12);
    for (int k = 1; k < shards; ++k) cuts.push_back(gen() % (values.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    std::vector<double> shuffled = values;
    std::shuffle(shuffled.begin(), shuffled.end(), gen);
    std::vector<MetricSummary> parts(cuts.size() - 1);
    for (std::size_t s = 0; s + 1 < cuts.size(); ++s)
      for (std::size_t i = cuts[s]; i < cuts[s + 1]; ++i) parts[s].add(shuffled[i]);
    MetricSummary merged;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) merged += *it;
    ASSERT_EQ(merged, whole) << "round " << round;
    ASSERT_EQ(merged.mean(), whole.mean());
  }
  EXPECT_TRUE(std::isfinite(whole.mean()));
  EXPECT_EQ(whole.mean(), whole.sum.value() / double(whole.n - whole.nonfinite));
}

TEST(MetricSummary, NonFiniteOnlyHasNoMean) {
  MetricSummary m;
  EXPECT_TRUE(std::isnan(m.mean()));
  m.add(std::numeric_limits<double>::quiet_NaN());
  m.add(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.n, 2u);
  EXPECT_EQ(m.nonfinite, 2u);
  EXPECT_TRUE(std::isnan(m.mean()));
  EXPECT_EQ(m.min, std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.max, -std::numeric_limits<double>::infinity());
  m.add(3.0);
  m.add(-1.0);
  EXPECT_EQ(m.mean(), 1.0);
  EXPECT_EQ(m.min, -1.0);
  EXPECT_EQ(m.max, 3.0);
}

}  // namespace
}  // namespace wrsec::experiments
