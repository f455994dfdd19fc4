// Tests of anytime-valid early stopping (definitions/sequential.h): the stop-rule syntax, the look
// schedule, the alpha-spending sequence, and, the acceptance test, a Monte Carlo check that a
// bound reported at a data-dependent stop keeps its coverage while the naive fixed-n bound does
// not.
#include "definitions/sequential.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"
#include "definitions/statistics.h"

namespace {

using wrsec::InvalidArgument;
using wrsec::Rng;
using wrsec::definitions::advantage_bounds;
using wrsec::definitions::AdvantageBounds;
using wrsec::definitions::checkpoint_schedule;
using wrsec::definitions::GameShape;
using wrsec::definitions::spent_alpha;
using wrsec::definitions::StopRule;
using Kind = wrsec::definitions::StopRule::Kind;
using Looks = std::vector<std::uint64_t>;

// ---------------------------------------------------------------------------------------------
// StopRule::parse / to_string / met

TEST(StopRuleParse, AcceptsNone) {
  const StopRule r = StopRule::parse("none");
  EXPECT_EQ(r.kind, Kind::never);
  EXPECT_FALSE(r.active());
  EXPECT_EQ(r.to_string(), "none");
  EXPECT_EQ(StopRule::parse("  none "), StopRule{});
}

TEST(StopRuleParse, EmptyTextIsNone) {
  // Not stated in the header (which lists only none, lower>X, upper<Y), but the implementation
  // treats an empty (or all-blank) text as "never stop"; the spec parser rejects empty values
  // before they reach here.
  EXPECT_EQ(StopRule::parse("").kind, Kind::never);
  EXPECT_EQ(StopRule::parse("   ").kind, Kind::never);
}

TEST(StopRuleParse, AcceptsLowerAndUpperWithOrWithoutSpaces) {
  const StopRule a = StopRule::parse("lower>0.5");
  EXPECT_EQ(a.kind, Kind::lower_above);
  EXPECT_DOUBLE_EQ(a.threshold, 0.5);
  EXPECT_TRUE(a.active());
  EXPECT_EQ(StopRule::parse("lower > 0.5"), a);
  EXPECT_EQ(StopRule::parse("  lower\t>  0.5  "), a);

  const StopRule b = StopRule::parse("upper<0.01");
  EXPECT_EQ(b.kind, Kind::upper_below);
  EXPECT_DOUBLE_EQ(b.threshold, 0.01);
  EXPECT_EQ(StopRule::parse("upper < 1e-2"), b);

  EXPECT_DOUBLE_EQ(StopRule::parse("lower>-0.25").threshold, -0.25);  // finite: allowed
  EXPECT_DOUBLE_EQ(StopRule::parse("upper<1").threshold, 1.0);
}

TEST(StopRuleParse, RejectsMalformedTextNamingIt) {
  for (const std::string text :
       {"lower>abc", "upper>0.1", "lower<0.1", "lower>inf", "lower>-inf", "upper<nan", "lower>",
        "upper<", "lower", "0.5", "lower>0.5abc", "lower>=0.5", "Lower>0.5", "lower>0.5 upper<0.1",
        "never", "lower>1e999", "bigger>0.1"}) {
    try {
      (void)StopRule::parse(text);
      ADD_FAILURE() << "'" << text << "' was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + text + "'"), std::string::npos)
          << "message does not name '" << text << "': " << e.what();
    }
  }
}

// An advantage lies in [-1, 1]: a rule that could never hold (lower>1, upper<-1) or always holds
// (lower>-2, upper<2) is refused.
TEST(StopRuleParse, RejectsThresholdsOutsideTheAdvantageRange) {
  for (const std::string text :
       {"lower>1", "lower>2", "lower>-1.5", "upper<-1", "upper<-2", "upper<1.5"}) {
    try {
      (void)StopRule::parse(text);
      ADD_FAILURE() << "'" << text << "' was accepted";
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("'" + text + "'"), std::string::npos) << what;
      EXPECT_NE(what.find(text[0] == 'l' ? "[-1, 1)" : "(-1, 1]"), std::string::npos) << what;
    }
  }
  for (const std::string text : {"lower>-1", "lower>0.999", "upper<1", "upper<-0.999"})
    EXPECT_NO_THROW((void)StopRule::parse(text)) << text;
}

TEST(StopRuleParse, ToStringRoundTrips) {
  for (const std::string text :
       {"none", "lower>0.5", "upper<0.01", "lower>0.123456789", "upper<1e-07", "lower>-0.5"}) {
    const StopRule r = StopRule::parse(text);
    EXPECT_EQ(StopRule::parse(r.to_string()), r) << text;
  }
  EXPECT_EQ(StopRule::parse("lower > 0.5").to_string(), "lower>0.5");
  EXPECT_EQ(StopRule::parse("upper<0.01").to_string(), "upper<0.01");
  // Shortest round-trip text: 0.1 prints as 0.1, not 0.10000000000000001.
  EXPECT_EQ(StopRule::parse("lower>0.1").to_string(), "lower>0.1");
}

TEST(StopRuleMet, ComparisonsAreStrict) {
  const auto bounds = [](double lower, double upper) {
    return AdvantageBounds{(lower + upper) / 2, lower, upper, 0.05};
  };
  const StopRule never = StopRule::parse("none");
  EXPECT_FALSE(never.met(bounds(0.99, 1.0)));
  EXPECT_FALSE(never.met(bounds(-1.0, -0.99)));

  const StopRule lower = StopRule::parse("lower>0.3");
  EXPECT_FALSE(lower.met(bounds(0.3, 0.9)));  // equal: not above
  EXPECT_TRUE(lower.met(bounds(std::nextafter(0.3, 1.0), 0.9)));
  EXPECT_FALSE(lower.met(bounds(std::nextafter(0.3, 0.0), 0.9)));
  EXPECT_FALSE(lower.met(bounds(0.0, 0.1)));  // the upper bound is irrelevant to lower>X

  const StopRule upper = StopRule::parse("upper<0.3");
  EXPECT_FALSE(upper.met(bounds(0.0, 0.3)));  // equal: not below
  EXPECT_TRUE(upper.met(bounds(0.0, std::nextafter(0.3, 0.0))));
  EXPECT_FALSE(upper.met(bounds(0.0, std::nextafter(0.3, 1.0))));
  EXPECT_FALSE(upper.met(bounds(0.5, 0.9)));
}

// ---------------------------------------------------------------------------------------------
// checkpoint_schedule

TEST(CheckpointSchedule, GoldenCases) {
  EXPECT_EQ(checkpoint_schedule(64, 100), (Looks{64, 100}));
  EXPECT_EQ(checkpoint_schedule(64, 128), (Looks{64, 128}));
  EXPECT_EQ(checkpoint_schedule(64, 129), (Looks{64, 128, 129}));
  EXPECT_EQ(checkpoint_schedule(64, 1000), (Looks{64, 128, 256, 512, 1000}));
  EXPECT_EQ(checkpoint_schedule(64, 1024), (Looks{64, 128, 256, 512, 1024}));
  EXPECT_EQ(checkpoint_schedule(200, 100), (Looks{100}));
  EXPECT_EQ(checkpoint_schedule(100, 100), (Looks{100}));
  EXPECT_EQ(checkpoint_schedule(1, 1), (Looks{1}));
  EXPECT_EQ(checkpoint_schedule(1, 5), (Looks{1, 2, 4, 5}));
  EXPECT_EQ(checkpoint_schedule(3, 10), (Looks{3, 6, 10}));
  EXPECT_EQ(checkpoint_schedule(16, 4096), (Looks{16, 32, 64, 128, 256, 512, 1024, 2048, 4096}));
}

TEST(CheckpointSchedule, RejectsZero) {
  EXPECT_THROW((void)checkpoint_schedule(0, 100), InvalidArgument);
  EXPECT_THROW((void)checkpoint_schedule(64, 0), InvalidArgument);
  EXPECT_THROW((void)checkpoint_schedule(0, 0), InvalidArgument);
}

TEST(CheckpointSchedule, DoublesAndEndsAtTheBudgetWithoutOverflow) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (const auto& [n0, budget] :
       std::vector<std::pair<std::uint64_t, std::uint64_t>>{{1, kMax},
                                                            {3, kMax},
                                                            {kMax / 2 + 1, kMax},
                                                            {1, (std::uint64_t{1} << 63) + 1},
                                                            {7, 1000003},
                                                            {64, 4000},
                                                            {kMax, kMax}}) {
    const Looks looks = checkpoint_schedule(n0, budget);
    ASSERT_FALSE(looks.empty());
    EXPECT_EQ(looks.back(), budget);
    EXPECT_EQ(looks.front(), std::min(n0, budget));
    for (std::size_t k = 1; k < looks.size(); ++k) {
      EXPECT_LT(looks[k - 1], looks[k]) << n0 << " " << budget << " at " << k;
      if (k + 1 < looks.size()) {
        EXPECT_EQ(looks[k], 2 * looks[k - 1]);
      }
    }
    EXPECT_LE(looks.size(), 65U);
  }
  EXPECT_EQ(checkpoint_schedule(1, kMax).size(), 65U);  // 2^0 .. 2^63, then the budget
}

// ---------------------------------------------------------------------------------------------
// spent_alpha and advantage_bounds

TEST(SpentAlpha, GoldenValues) {
  EXPECT_DOUBLE_EQ(spent_alpha(0.1, 0), 0.05);
  EXPECT_DOUBLE_EQ(spent_alpha(0.1, 1), 0.1 / 6);
  EXPECT_DOUBLE_EQ(spent_alpha(0.05, 8), 0.05 / 90);
  EXPECT_DOUBLE_EQ(spent_alpha(0.2, 999), 0.2 / (1000.0 * 1001.0));
}

TEST(SpentAlpha, SumStaysBelowAlpha) {
  for (const double alpha : {0.05, 0.1, 0.5, 1e-6}) {
    double sum = 0.0;
    constexpr std::size_t kLooks = 1000001;  // k = 0 .. 10^6
    for (std::size_t k = 0; k < kLooks; ++k) {
      const double a = spent_alpha(alpha, k);
      ASSERT_GT(a, 0.0);
      if (k > 0) {
        ASSERT_LT(a, spent_alpha(alpha, k - 1));
      }
      sum += a;
    }
    EXPECT_LT(sum, alpha);
    // The series telescopes: sum_{k<K} alpha/((k+1)(k+2)) = alpha (1 - 1/(K+1)).
    EXPECT_NEAR(sum, alpha * (1.0 - 1.0 / static_cast<double>(kLooks + 1)), alpha * 1e-9);
  }
}

TEST(SpentAlpha, RejectsAlphaOutsideTheOpenUnitInterval) {
  for (const double alpha : {0.0, 1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_THROW((void)spent_alpha(alpha, 0), InvalidArgument) << alpha;
}

TEST(AdvantageBounds, DispatchesOnShape) {
  const auto s = advantage_bounds(GameShape::search, 30, 100, 0.01, 0.1);
  const auto s_ref = wrsec::definitions::search_advantage(30, 100, 0.01, 0.1);
  EXPECT_EQ(s.lower, s_ref.lower);
  EXPECT_EQ(s.upper, s_ref.upper);
  EXPECT_EQ(s.estimate, s_ref.estimate);
  EXPECT_EQ(s.alpha, 0.01);
  EXPECT_DOUBLE_EQ(s.lower, wrsec::definitions::cp_lower(30, 100, 0.01) - 0.1);

  const auto d = advantage_bounds(GameShape::distinguishing, 70, 100, 0.01, 0.0);
  const auto d_ref = wrsec::definitions::distinguishing_advantage(70, 100, 0.01);
  EXPECT_EQ(d.lower, d_ref.lower);
  EXPECT_EQ(d.upper, d_ref.upper);
  EXPECT_EQ(d.estimate, d_ref.estimate);
}

TEST(DescribeAlphaSpending, NamesTheFirstLook) {
  const std::string text = wrsec::definitions::describe_alpha_spending(64);
  EXPECT_NE(text.find("64"), std::string::npos) << text;
  EXPECT_NE(text.find("alpha"), std::string::npos) << text;
}

// ---------------------------------------------------------------------------------------------
// Coverage of the bound reported after a data-dependent stop.
//
// A search game with baseline 0 whose adversary wins each trial with probability p, so Adv = p.
// The procedure looks at checkpoint_schedule(16, 4096), computes the bound at look k, stops at
// the first look where the rule is met and reports the bound of that look (or of the last look).
// With the threshold at p, a stop under lower>p (upper<p) is exactly a miscoverage, so optional
// stopping is as tempting as it can be. The spending procedure (look k at spent_alpha(alpha, k))
// must miscover with probability <= sum_k alpha_k < alpha; the naive one (every look at alpha) on
// the same streams must miscover far more often, which shows that the simulation can detect a
// wrong spending rule.

constexpr std::uint64_t kFirstLook = 16;
constexpr std::uint64_t kBudget = 4096;
constexpr std::size_t kReplications = 2000;
constexpr double kAlpha = 0.1;
constexpr double kTail = 1e-6;  // false-alarm level of each statistical assertion below

// Smallest c with P[Bin(m, q) > c] <= tail: the (1 - tail) quantile of Bin(m, q).
std::uint64_t binomial_upper_quantile(std::uint64_t m, double q, double tail) {
  const boost::math::binomial_distribution<double> d(static_cast<double>(m), q);
  for (std::uint64_t c = 0; c <= m; ++c)
    if (boost::math::cdf(boost::math::complement(d, static_cast<double>(c))) <= tail) return c;
  return m;
}

// P[Bin(m, q) >= c].
double binomial_tail_at_least(std::uint64_t m, double q, std::uint64_t c) {
  if (c == 0) return 1.0;
  const boost::math::binomial_distribution<double> d(static_cast<double>(m), q);
  return boost::math::cdf(boost::math::complement(d, static_cast<double>(c - 1)));
}

struct Outcome {
  bool stopped = false;
  std::size_t stop_look = 0;  // look index of the stop, or the last look
  AdvantageBounds reported{};
};

struct CoverageSummary {
  std::uint64_t spending_miss = 0;
  std::uint64_t naive_miss = 0;
  std::uint64_t spending_stops = 0;
  std::uint64_t naive_stops = 0;
  std::uint64_t tighter_than_naive = 0;  // looks where a spending bound beat the naive one
  std::uint64_t spending_stopped_first = 0;
  std::uint64_t api_mismatch = 0;  // advantage_bounds disagrees with cp_lower/cp_upper
  double alpha_sum = 0.0;          // sum of alpha_k over the schedule
};

CoverageSummary simulate(const StopRule& rule, double p, std::uint64_t seed) {
  const Looks looks = checkpoint_schedule(kFirstLook, kBudget);
  CoverageSummary out;
  for (std::size_t k = 0; k < looks.size(); ++k) out.alpha_sum += spent_alpha(kAlpha, k);
  const std::uint64_t experiment = wrsec::stable_hash("sequential_test/coverage");
  std::vector<std::uint64_t> wins_at(looks.size());
  for (std::size_t rep = 0; rep < kReplications; ++rep) {
    Rng rng(seed, experiment, rep);
    std::uint64_t wins = 0;
    std::size_t look = 0;
    for (std::uint64_t n = 1; n <= kBudget; ++n) {
      wins += rng.bernoulli(p) ? 1 : 0;
      if (n == looks[look]) wins_at[look++] = wins;
    }
    Outcome spending, naive;
    bool spending_done = false, naive_done = false;
    for (std::size_t k = 0; k < looks.size(); ++k) {
      const double a_k = spent_alpha(kAlpha, k);
      const AdvantageBounds s = advantage_bounds(GameShape::search, wins_at[k], looks[k], a_k, 0.0);
      const AdvantageBounds v =
          advantage_bounds(GameShape::search, wins_at[k], looks[k], kAlpha, 0.0);
      // advantage_bounds of a search game with baseline 0 is the CP pair (checked on a sample).
      if (rep < 100 && (s.lower != wrsec::definitions::cp_lower(wins_at[k], looks[k], a_k) ||
                        s.upper != wrsec::definitions::cp_upper(wins_at[k], looks[k], a_k)))
        ++out.api_mismatch;
      if (s.lower > v.lower || s.upper < v.upper) ++out.tighter_than_naive;
      if (!spending_done) {
        spending = {rule.met(s), k, s};
        spending_done = spending.stopped;
      }
      if (!naive_done) {
        naive = {rule.met(v), k, v};
        naive_done = naive.stopped;
      }
    }
    const auto missed = [&](const AdvantageBounds& b) {
      return rule.kind == Kind::lower_above ? b.lower > p : b.upper < p;
    };
    out.spending_miss += missed(spending.reported) ? 1 : 0;
    out.naive_miss += missed(naive.reported) ? 1 : 0;
    out.spending_stops += spending.stopped ? 1 : 0;
    out.naive_stops += naive.stopped ? 1 : 0;
    if (spending.stopped && (!naive.stopped || spending.stop_look < naive.stop_look))
      ++out.spending_stopped_first;
  }
  return out;
}

void expect_valid_coverage(const CoverageSummary& s) {
  std::cout << "[          ] miscoverage of " << kReplications << ": alpha-spending "
            << s.spending_miss << ", naive " << s.naive_miss << " (sum alpha_k = " << s.alpha_sum
            << ", stops " << s.spending_stops << " vs " << s.naive_stops << ")\n";
  EXPECT_EQ(s.api_mismatch, 0U);
  // alpha_k <= alpha at every look, so a spending bound is never tighter than the naive one, and
  // the spending procedure never stops before the naive one.
  EXPECT_EQ(s.tighter_than_naive, 0U);
  EXPECT_EQ(s.spending_stopped_first, 0U);
  EXPECT_LT(s.alpha_sum, kAlpha);

  // Spending: miscoverage probability <= sum_k alpha_k < alpha. Fail only if the count is beyond
  // the 1 - 1e-6 quantile of Bin(M, min(sum_k alpha_k, alpha)).
  const std::uint64_t limit =
      binomial_upper_quantile(kReplications, std::min(s.alpha_sum, kAlpha), kTail);
  EXPECT_LE(s.spending_miss, limit) << "alpha-spending bounds miscover " << s.spending_miss
                                    << " of " << kReplications << " (limit " << limit << ")";

  // Naive: its miscoverage must be significantly above alpha (p-value of "<= alpha" below 1e-6),
  // i.e. the simulation has the power to catch an invalid stopping rule.
  const double p_value = binomial_tail_at_least(kReplications, kAlpha, s.naive_miss);
  EXPECT_LT(p_value, kTail) << "naive bounds miscover only " << s.naive_miss << " of "
                            << kReplications;
  EXPECT_GT(s.naive_miss, binomial_upper_quantile(kReplications, kAlpha, kTail));
  // The spending procedure is not vacuous either: it does stop sometimes when the data allow.
  EXPECT_GE(s.naive_stops, s.spending_stops);
}

TEST(SequentialCoverage, LowerBoundAtTheStopKeepsItsLevel) {
  const StopRule rule = StopRule::parse("lower>0.3");
  const CoverageSummary s = simulate(rule, 0.3, 20240601);
  expect_valid_coverage(s);
  // Stopping under lower>p is the same event as miscoverage here.
  EXPECT_EQ(s.spending_miss, s.spending_stops);
  EXPECT_EQ(s.naive_miss, s.naive_stops);
}

TEST(SequentialCoverage, LowerBoundJustBelowTheThreshold) {
  // p slightly below the threshold: stopping is still a miscoverage, and rarer.
  const StopRule rule = StopRule::parse("lower>0.3");
  const CoverageSummary s = simulate(rule, 0.29, 7);
  expect_valid_coverage(s);
}

TEST(SequentialCoverage, UpperBoundAtTheStopKeepsItsLevel) {
  const StopRule rule = StopRule::parse("upper<0.3");
  const CoverageSummary s = simulate(rule, 0.3, 20240602);
  expect_valid_coverage(s);
  EXPECT_EQ(s.spending_miss, s.spending_stops);
  EXPECT_EQ(s.naive_miss, s.naive_stops);
}

}  // namespace
