#pragma once
// Exact statistics for empirically played security games and for Verify's p-values (reference
// notes: statistics.md). In definitions/ because schemes' verification uses them too.
//
// Conventions. A cell records n trials and the number of wins x. All error levels alpha are the
// probability of a wrong statement and are passed as alpha, never as 1 - alpha (1 - 2^-128 == 1 in
// double). Every function checks its input and throws wrsec::InvalidArgument naming the bad
// argument: n == 0, x > n, alpha outside (0, 1), p0 outside (0, 1), baseline outside [0, 1], k ==
// 0.
//
// Clopper–Pearson (CP), one-sided at level 1 - alpha, with Bin(n, p) the number of wins:
//   cp_lower(x, n, alpha) = inf{p : P_p[Bin(n, p) >= x] > alpha} = I^-1_alpha(x, n - x + 1), 0 if x
//   = 0 cp_upper(x, n, alpha) = sup{p : P_p[Bin(n, p) <= x] > alpha} = I^-1_{1-alpha}(x + 1, n -
//   x),
//                           1 if x = n, 1 - alpha^(1/n) = -expm1(ln(alpha) / n) if x = 0
// so P_p[cp_lower(X, n, alpha) <= p] >= 1 - alpha and P_p[p <= cp_upper(X, n, alpha)] >= 1 - alpha
// for every p. I_z(a, b) is the regularised incomplete beta function. Evaluated in double with
// Boost.Math (counts above 2^53 are rounded to the nearest double).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace wrsec::definitions {

struct Interval {
  double lo;
  double hi;
};

// One-sided lower CP bound on Pr[win] at level 1 - alpha (0 when x == 0).
[[nodiscard]] double cp_lower(std::uint64_t x, std::uint64_t n, double alpha);
// One-sided upper CP bound on Pr[win] at level 1 - alpha (1 when x == n; -expm1(ln(alpha)/n) when
// x == 0).
[[nodiscard]] double cp_upper(std::uint64_t x, std::uint64_t n, double alpha);
// Two-sided CP interval at level 1 - alpha: {cp_lower(x, n, alpha/2), cp_upper(x, n, alpha/2)}.
[[nodiscard]] Interval cp_two_sided(std::uint64_t x, std::uint64_t n, double alpha);

// Point estimate and bounds on an advantage, with the alpha they were computed at.
struct AdvantageBounds {
  double estimate;
  double lower;
  double upper;
  double alpha;
};

// Search game (forgery, key recovery, extraction), Adv = Pr[win] - baseline:
//   estimate = wins/n - baseline,
//   lower    = cp_lower(wins, n, alpha) - baseline   (one-sided, level 1 - alpha),
//   upper    = cp_upper(wins, n, alpha) - baseline   (one-sided, level 1 - alpha).
// Each bound alone holds with probability >= 1 - alpha (both together >= 1 - 2 alpha). The bounds
// are not clipped at 0: a negative lower bound states that no advantage is shown.
[[nodiscard]] AdvantageBounds search_advantage(std::uint64_t wins, std::uint64_t n, double alpha,
                                               double baseline = 0.0);

// Distinguishing game with the challenge bit b uniform and independent per trial, win = [b' = b],
// Adv = |2 Pr[win] - 1| = |Pr[b'=1 | b=1] - Pr[b'=1 | b=0]|. With W = wins, N = n:
//   estimate = |2 W/N - 1|,
//   lower    = max(0, 2 cp_lower(W, N, alpha) - 1)       (one-sided, level 1 - alpha; the
//              security-relevant statement, for the pre-registered direction Pr[win] > 1/2),
//   upper    = max(2 cp_upper(W, N, alpha/2) - 1, 1 - 2 cp_lower(W, N, alpha/2))
//              (level 1 - alpha, covers both signs of 2 Pr[win] - 1).
[[nodiscard]] AdvantageBounds distinguishing_advantage(std::uint64_t wins, std::uint64_t n,
                                                       double alpha);

// Bonferroni: per-claim level alpha / k, so that k simultaneous claims are all right with
// probability >= 1 - alpha.
[[nodiscard]] double bonferroni_alpha(double alpha, std::size_t k);

// log2 P[Bin(n, p0) >= x]: the exact one-sided p-value of x wins against "no advantage" (p0 = 1/2
// for distinguishing games, p0 = baseline for search games); 0 for x == 0, n log2(p0) for x == n.
// Evaluated in double (Boost.Math ibeta(x, n - x + 1, p0) = P[Bin(n, p0) >= x]) when that is a
// normal double well above underflow, otherwise with MPFR in log space; finite for every valid
// input (e.g. 600000 of 10^6 at p0 = 1/2 gives -29058.1).
[[nodiscard]] double log2_binomial_tail(std::uint64_t x, std::uint64_t n, double p0);

// The critical count of the one-sided binomial test at level alpha: the least k with
// P[Bin(n, p0) >= k] <= alpha, or nullopt when even k = n is not that unlikely. Found by bisection
// on log2_binomial_tail, which falls as k grows.
[[nodiscard]] std::optional<std::uint64_t> binomial_critical_count(std::uint64_t n, double p0,
                                                                   double alpha);

// log2 P[Z >= z] for Z ~ N(0, 1): log2 of erfc(z/√2)/2 while that is a normal double (z < 37),
// beyond it the asymptotic series of Mills' ratio, log φ(z) − log z + log(1 − z⁻² + 3z⁻⁴ − 15z⁻⁶)
// (relative error < 1e-9 there). Finite for every finite z; 0 for z = −∞.
[[nodiscard]] double log2_normal_tail(double z);

// Report text for a p-value given as log2 p: decimal with 3 significant digits for p >= 0.001
// ("0.0312", "1"), otherwise a power of two with one decimal ("2^-29058.1"). log2_p must be <= 0
// (tiny positive rounding up to 1e-9 is printed as "1"); -infinity prints "0".
[[nodiscard]] std::string format_log2_p(double log2_p);

namespace detail {

// The two evaluation paths of log2_binomial_tail, exposed for tests; inputs as there.
// Double path: log2 of Boost.Math ibeta(x, n - x + 1, p0); -infinity if it underflows to 0.
[[nodiscard]] double log2_binomial_tail_double(std::uint64_t x, std::uint64_t n, double p0);
// MPFR path: log2 T_x + log2 S with T_x = C(n, x) p0^x (1-p0)^(n-x) from lngamma at 192+ bits and
// S = sum_{k>=x} T_k / T_x by the term-ratio recurrence (stopped by a geometric tail bound), or,
// when x <= n p0 - (1 - p0), log2(1 - P[Bin(n, p0) <= x - 1]) summed the same way downwards.
// Cost is O(n p0 (1-p0) / |x - n p0| + 1) terms away from the mean.
[[nodiscard]] double log2_binomial_tail_mpfr(std::uint64_t x, std::uint64_t n, double p0);

}  // namespace detail

}  // namespace wrsec::definitions
