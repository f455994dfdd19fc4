#pragma once
// Margins for tests that assert outcomes of training or sampling. A count of n independent
// successes is asserted with a bound that a correct component misses by chance with probability
// at most `risk` (exact binomial tails, Boost.Math), never as an exact count one rounding flips.
#include <boost/math/distributions/binomial.hpp>
#include <cstdint>

namespace wrsec::test_support {

// Chance of a false failure a margin allows, per assertion.
inline constexpr double kFalseFailure = 1e-6;

// The largest k with P[Bin(n, p) < k] <= risk: "at least k of n" fails by chance with probability
// <= risk when each of the n succeeds independently with probability >= p.
inline std::uint64_t at_least(std::uint64_t n, double p, double risk = kFalseFailure) {
  const boost::math::binomial_distribution<double> d(static_cast<double>(n), p);
  std::uint64_t k = 0;
  while (k < n && boost::math::cdf(d, static_cast<double>(k)) <= risk) ++k;
  return k;
}

// The smallest k with P[Bin(n, p) > k] <= risk: "at most k of n" fails by chance with probability
// <= risk when each of the n succeeds independently with probability <= p.
inline std::uint64_t at_most(std::uint64_t n, double p, double risk = kFalseFailure) {
  const boost::math::binomial_distribution<double> d(static_cast<double>(n), p);
  std::uint64_t k = 0;
  while (k < n && boost::math::cdf(boost::math::complement(d, static_cast<double>(k))) > risk) ++k;
  return k;
}

}  // namespace wrsec::test_support
