#include "games/bernoulli_ind.h"

#include <gtest/gtest.h>

#include <cmath>

#include "attacks/coin_flip.h"
#include "attacks/likelihood_ratio.h"
#include "core/errors.h"
#include "definitions/statistics.h"
#include "experiments/runner.h"

namespace wrsec::games {
namespace {

// Brute force over all 2^m sample vectors: the optimal distinguisher's advantage is the total
// variation distance of the two product distributions, which depends on x only through k.
double brute_force_tv(double p0, double p1, int m) {
  double tv = 0.0;
  for (std::uint32_t x = 0; x < (1u << m); ++x) {
    double a = 1.0, b = 1.0;
    for (int i = 0; i < m; ++i) {
      const bool one = ((x >> i) & 1u) != 0;
      a *= one ? p0 : 1 - p0;
      b *= one ? p1 : 1 - p1;
    }
    tv += std::fabs(a - b);
  }
  return tv / 2;
}

TEST(BernoulliInd, ClosedFormMatchesBruteForce) {
  EXPECT_NEAR(bernoulli_total_variation(0.4, 0.6, 10), brute_force_tv(0.4, 0.6, 10), 1e-12);
  EXPECT_NEAR(bernoulli_total_variation(0.1, 0.3, 7), brute_force_tv(0.1, 0.3, 7), 1e-12);
  EXPECT_NEAR(bernoulli_total_variation(0.0, 1.0, 3), 1.0, 1e-15);
  EXPECT_NEAR(bernoulli_total_variation(0.5, 0.5, 9), 0.0, 1e-15);
  // m = 1: TV = |p1 - p0|.
  EXPECT_NEAR(bernoulli_total_variation(0.2, 0.7, 1), 0.5, 1e-15);
}

TEST(BernoulliInd, RejectsImpossibleParameters) {
  EXPECT_THROW(BernoulliInd({-0.1, 0.5, 10}), InvalidArgument);
  EXPECT_THROW(BernoulliInd({0.5, 1.5, 10}), InvalidArgument);
  EXPECT_THROW(BernoulliInd({0.4, 0.6, 0}), InvalidArgument);
}

experiments::CellCounts run(const BernoulliInd& game, const definitions::Adversary& adv,
                            int threads, experiments::TrialRange range, std::uint64_t seed = 2024) {
  return experiments::play_trials(game, nullptr, adv, {seed, stable_hash("det"), range, threads});
}

// Trial i uses counter i: identical counts for 1, 2 and 7 threads and for 4 shards merged.
TEST(BernoulliInd, CountsAreIdenticalForAnyThreadCountAndShardSplit) {
  const BernoulliInd game({0.45, 0.55, 20});
  const attacks::LikelihoodRatio lr;
  const auto one = run(game, lr, 1, {0, 40000});
  EXPECT_EQ(one, run(game, lr, 2, {0, 40000}));
  EXPECT_EQ(one, run(game, lr, 7, {0, 40000}));
  experiments::CellCounts merged;
  const std::uint64_t cuts[] = {0, 7777, 20000, 20001, 40000};
  for (int s = 0; s < 4; ++s) merged += run(game, lr, 1 + s % 3, {cuts[s], cuts[s + 1]});
  EXPECT_EQ(one, merged);
  EXPECT_EQ(one.n, 40000u);
  EXPECT_EQ(one.b0 + one.b1, one.n);
  // A different seed gives different counts (the seed is really used).
  EXPECT_NE(one, run(game, lr, 2, {0, 40000}, 2025));
}

TEST(BernoulliInd, EmpiricalAdvantageIsConsistentWithClosedForm) {
  const BernoulliInd game({0.4, 0.6, 10});
  const attacks::LikelihoodRatio lr;
  const auto counts = run(game, lr, 2, {0, 50000});
  const double truth = *game.reference_advantage(lr);
  // Two-sided Clopper–Pearson interval on Pr[win] at level 1 − 1e-6 must contain (1 + Adv)/2: a
  // correct game misses it by chance with probability <= 1e-6 (at 1e-3 it did with 1e-3; the
  // likelihood ratio's ties at k = m/2 are decided by the rounding of log, so the counts are a
  // fresh draw wherever log rounds differently).
  const auto ci = definitions::cp_two_sided(counts.wins, counts.n, 1e-6);
  EXPECT_LE(ci.lo, (1 + truth) / 2);
  EXPECT_GE(ci.hi, (1 + truth) / 2);
  // The 2x2 table gives the same advantage: Pr[b'=1|b=1] - Pr[b'=1|b=0].
  const double diff = static_cast<double>(counts.b1_guess1) / static_cast<double>(counts.b1) -
                      static_cast<double>(counts.b0_guess1) / static_cast<double>(counts.b0);
  EXPECT_NEAR(diff, truth, 0.03);
}

TEST(BernoulliInd, CoinFlipHasNoAdvantage) {
  const BernoulliInd game({0.1, 0.9, 5});
  const attacks::CoinFlip coin;
  EXPECT_EQ(*game.reference_advantage(coin), 0.0);
  const auto counts = run(game, coin, 2, {0, 20000});
  // Level 1 − 1e-6: a fair coin falls outside with probability <= 1e-6.
  const auto ci = definitions::cp_two_sided(counts.wins, counts.n, 1e-6);
  EXPECT_LE(ci.lo, 0.5);
  EXPECT_GE(ci.hi, 0.5);
}

struct NotADistinguisher final : definitions::Adversary {
  [[nodiscard]] std::string id() const override { return "nope"; }
};

struct Throws final : definitions::Distinguisher {
  [[nodiscard]] std::string id() const override { return "throws"; }
  [[nodiscard]] int guess(const definitions::Artifact&, definitions::OracleAccess&,
                          Rng& coins) const override {
    if (coins.trial() == 1234) throw RuntimeError("adversary failed in trial 1234");
    return 0;
  }
};

TEST(BernoulliInd, RejectsWrongAdversaryKindAndRethrowsTrialErrors) {
  const BernoulliInd game({0.4, 0.6, 10});
  EXPECT_THROW(run(game, NotADistinguisher(), 1, {0, 10}), InvalidArgument);
  try {
    (void)run(game, Throws(), 2, {0, 5000});
    FAIL() << "no throw";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), "adversary failed in trial 1234");
  }
}

}  // namespace
}  // namespace wrsec::games
