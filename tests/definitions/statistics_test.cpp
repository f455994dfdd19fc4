#include "definitions/statistics.h"

#include <gmp.h>
#include <gtest/gtest.h>
#include <mpfr.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::definitions {
namespace {

// ---------------------------------------------------------------------------------------------
// Independent oracle: exact binomial tails in MPFR (320 bits) with the starting binomial
// coefficient from GMP (mpz_bin_uiui), and Clopper–Pearson bounds by bisection on p. It shares no
// code with Boost.Math or with the library's MPFR path (no lngamma, no incomplete beta).
// ---------------------------------------------------------------------------------------------
constexpr mpfr_prec_t kPrec = 320;

class Mp {
 public:
  Mp() { mpfr_init2(v_, kPrec); }
  explicit Mp(double d) : Mp() { mpfr_set_d(v_, d, MPFR_RNDN); }
  ~Mp() { mpfr_clear(v_); }
  Mp(const Mp&) = delete;
  Mp& operator=(const Mp&) = delete;
  mpfr_ptr get() { return v_; }

 private:
  mpfr_t v_;
};

unsigned long ul(std::uint64_t v) {
  return static_cast<unsigned long>(v);
}

// out = T_k = C(n, k) p^k q^(n-k), exactly rounded from the exact integer C(n, k).
void pmf(mpfr_ptr out, std::uint64_t k, std::uint64_t n, mpfr_ptr p, mpfr_ptr q) {
  mpz_t c;
  mpz_init(c);
  mpz_bin_uiui(c, ul(n), ul(k));
  mpfr_set_z(out, c, MPFR_RNDN);
  mpz_clear(c);
  Mp t;
  mpfr_pow_ui(t.get(), p, ul(k), MPFR_RNDN);
  mpfr_mul(out, out, t.get(), MPFR_RNDN);
  mpfr_pow_ui(t.get(), q, ul(n - k), MPFR_RNDN);
  mpfr_mul(out, out, t.get(), MPFR_RNDN);
}

// out = P[Bin(n, p) <= x] = sum_{k=0}^{x} T_k.
void tail_le(mpfr_ptr out, std::uint64_t x, std::uint64_t n, double p_d) {
  Mp p(p_d), q, term;
  mpfr_ui_sub(q.get(), 1, p.get(), MPFR_RNDN);
  pmf(term.get(), 0, n, p.get(), q.get());
  mpfr_set(out, term.get(), MPFR_RNDN);
  for (std::uint64_t k = 0; k < x; ++k) {  // T_{k+1} = T_k (n - k) p / ((k + 1) q)
    mpfr_mul_ui(term.get(), term.get(), ul(n - k), MPFR_RNDN);
    mpfr_mul(term.get(), term.get(), p.get(), MPFR_RNDN);
    mpfr_div_ui(term.get(), term.get(), ul(k + 1), MPFR_RNDN);
    mpfr_div(term.get(), term.get(), q.get(), MPFR_RNDN);
    mpfr_add(out, out, term.get(), MPFR_RNDN);
  }
}

// out = P[Bin(n, p) >= x]. At or below the mode (the tail is then >= ~1/4, so nothing cancels at
// 320 bits) as 1 - P[Bin(n, p) <= x - 1]; above it as sum_{k=x}^{n} T_k, where the terms decrease,
// so the sum stops once (n - k) * T_k < 2^-(kPrec + 8) * sum, a rigorous bound on what is left.
void tail_ge(mpfr_ptr out, std::uint64_t x, std::uint64_t n, double p_d) {
  const double mode = static_cast<double>(n + 1) * p_d;
  if (x == 0) {
    mpfr_set_ui(out, 1, MPFR_RNDN);
    return;
  }
  if (static_cast<double>(x) <= mode) {
    tail_le(out, x - 1, n, p_d);
    mpfr_ui_sub(out, 1, out, MPFR_RNDN);
    return;
  }
  Mp p(p_d), q, term, rest, tiny;
  mpfr_ui_sub(q.get(), 1, p.get(), MPFR_RNDN);
  pmf(term.get(), x, n, p.get(), q.get());
  mpfr_set(out, term.get(), MPFR_RNDN);
  for (std::uint64_t k = x; k < n; ++k) {
    mpfr_mul_ui(term.get(), term.get(), ul(n - k), MPFR_RNDN);
    mpfr_mul(term.get(), term.get(), p.get(), MPFR_RNDN);
    mpfr_div_ui(term.get(), term.get(), ul(k + 1), MPFR_RNDN);
    mpfr_div(term.get(), term.get(), q.get(), MPFR_RNDN);
    mpfr_add(out, out, term.get(), MPFR_RNDN);
    if (static_cast<double>(k + 1) > mode + 1) {
      mpfr_mul_ui(rest.get(), term.get(), ul(n - k), MPFR_RNDN);
      mpfr_mul_2si(tiny.get(), out, -(kPrec + 8), MPFR_RNDN);
      if (mpfr_cmp(rest.get(), tiny.get()) < 0) break;
    }
  }
}

// Bisection on p in double for the root of a monotone f(p) - alpha, to relative width 1e-14.
// increasing: f increases with p.
double bisect(const std::function<void(mpfr_ptr, double)>& f, double alpha, bool increasing) {
  double lo = 0.0, hi = 1.0;
  Mp a(alpha), v;
  for (int it = 0; it < 400 && hi - lo > 1e-14 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    f(v.get(), mid);
    const bool above = mpfr_cmp(v.get(), a.get()) > 0;
    if (above == increasing)
      hi = mid;
    else
      lo = mid;
  }
  return 0.5 * (lo + hi);
}

// CP lower bound: P_L[X >= x] = alpha (0 for x = 0). CP upper: P_U[X <= x] = alpha (1 for x = n).
double oracle_lower(std::uint64_t x, std::uint64_t n, double alpha) {
  if (x == 0) return 0.0;
  return bisect([&](mpfr_ptr out, double p) { tail_ge(out, x, n, p); }, alpha, true);
}
double oracle_upper(std::uint64_t x, std::uint64_t n, double alpha) {
  if (x == n) return 1.0;
  return bisect([&](mpfr_ptr out, double p) { tail_le(out, x, n, p); }, alpha, false);
}

double oracle_log2_tail(std::uint64_t x, std::uint64_t n, double p0) {
  Mp v, l2;
  tail_ge(v.get(), x, n, p0);
  mpfr_log2(l2.get(), v.get(), MPFR_RNDN);
  return mpfr_get_d(l2.get(), MPFR_RNDN);
}

// P[Bin(n, p) >= x] in double from the oracle (for the coverage checks).
double oracle_tail_ge(std::uint64_t x, std::uint64_t n, double p) {
  Mp v;
  tail_ge(v.get(), x, n, p);
  return mpfr_get_d(v.get(), MPFR_RNDN);
}

const double kAlpha64 = std::ldexp(1.0, -64);
const double kAlpha128 = std::ldexp(1.0, -128);

// Relative agreement of the library's bounds with the oracle.
constexpr double kRelTol = 1e-10;

struct CpCase {
  std::uint64_t x;
  std::uint64_t n;
  double alpha;
};

// ---------------------------------------------------------------------------------------------
// Clopper–Pearson
// ---------------------------------------------------------------------------------------------

TEST(ClopperPearson, MatchesMpfrOracle) {
  const CpCase cases[] = {
      {0, 1, 0.05},       {1, 1, 0.05},           {0, 1, kAlpha64},        {1, 1, kAlpha64},
      {0, 10, 0.05},      {1, 10, 0.05},          {5, 10, 0.05},           {9, 10, 0.05},
      {10, 10, 0.05},     {0, 10, kAlpha64},      {5, 10, kAlpha64},       {10, 10, kAlpha64},
      {3, 10, kAlpha128}, {5300, 10000, 0.05},    {5300, 10000, kAlpha64}, {5300, 10000, kAlpha128},
      {0, 10000, 0.05},   {10000, 10000, 0.05},   {3, 1000000, 0.05},      {3, 1000000, 0.025},
      {0, 1000000, 0.05}, {3, 1000000, kAlpha64},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("x = " + std::to_string(c.x) + ", n = " + std::to_string(c.n) +
                 ", alpha = " + std::to_string(c.alpha));
    const double lo = cp_lower(c.x, c.n, c.alpha);
    const double want = oracle_lower(c.x, c.n, c.alpha);
    EXPECT_NEAR(lo, want, kRelTol * want);
    const double hi = cp_upper(c.x, c.n, c.alpha);
    const double want_hi = oracle_upper(c.x, c.n, c.alpha);
    EXPECT_NEAR(hi, want_hi, kRelTol * want_hi);
  }
}

TEST(ClopperPearson, GoldenValuesFromReference) {
  EXPECT_NEAR(cp_upper(0, 1000000, 0.05), 2.9957e-6, 1e-10);
  EXPECT_NEAR(cp_upper(3, 1000000, 0.05), 7.7536e-6, 1e-10);
  EXPECT_NEAR(cp_lower(5300, 10000, 0.05), 0.52173, 1e-5);
  EXPECT_NEAR(cp_lower(5300, 10000, kAlpha128), 0.46473, 1e-5);
  const Interval i = cp_two_sided(3, 1000000, 0.05);
  EXPECT_NEAR(i.lo, 6.187e-7, 1e-10);
  EXPECT_NEAR(i.hi, 8.767e-6, 1e-9);
}

TEST(ClopperPearson, EdgeCases) {
  EXPECT_EQ(cp_lower(0, 7, 0.05), 0.0);
  EXPECT_EQ(cp_upper(7, 7, 0.05), 1.0);
  // x = 0: 1 - alpha^(1/n) computed without cancellation, close to -ln(alpha)/n for large n.
  const double n = std::ldexp(1.0, 40);
  EXPECT_NEAR(cp_upper(0, std::uint64_t{1} << 40, 0.05), 2.72460263e-12, 1e-19);
  EXPECT_NEAR(cp_upper(0, std::uint64_t{1} << 40, 0.05), -std::log(0.05) / n, 1e-20);
  // x = n: lower bound alpha^(1/n).
  EXPECT_NEAR(cp_lower(10, 10, 0.05), std::pow(0.05, 0.1), 1e-14);
  // Monotone in x and in alpha.
  EXPECT_LT(cp_lower(5300, 10000, kAlpha128), cp_lower(5300, 10000, 0.05));
  EXPECT_LT(cp_lower(5299, 10000, 0.05), cp_lower(5300, 10000, 0.05));
  EXPECT_GT(cp_upper(5300, 10000, kAlpha128), cp_upper(5300, 10000, 0.05));
  EXPECT_LT(cp_lower(5300, 10000, 0.05), cp_upper(5300, 10000, 0.05));
}

TEST(ClopperPearson, TwoSidedIsOneSidedAtHalfAlpha) {
  const CpCase cases[] = {{0, 10, 0.05},       {10, 10, 0.05},           {3, 1000000, 0.05},
                          {5300, 10000, 0.05}, {5300, 10000, kAlpha128}, {11200, 20000, 0.05},
                          {1, 1, 0.5}};
  for (const auto& c : cases) {
    const Interval i = cp_two_sided(c.x, c.n, c.alpha);
    EXPECT_EQ(i.lo, cp_lower(c.x, c.n, c.alpha / 2));
    EXPECT_EQ(i.hi, cp_upper(c.x, c.n, c.alpha / 2));
    EXPECT_LE(i.lo, i.hi);
  }
  const Interval pooled = cp_two_sided(11200, 20000, 0.05);
  EXPECT_NEAR(pooled.lo, 0.5531, 5e-5);
  EXPECT_NEAR(pooled.hi, 0.5669, 5e-5);
}

// ---------------------------------------------------------------------------------------------
// Advantage bounds (statistics.md §2, §3)
// ---------------------------------------------------------------------------------------------

TEST(Advantage, DistinguishingPooledExample) {
  // n1 = n0 = 10^4, x1 = 5600, x0 = 4400: W = 5600 + (10^4 - 4400) = 11200 of N = 20000.
  const AdvantageBounds b = distinguishing_advantage(11200, 20000, 0.05);
  EXPECT_NEAR(b.estimate, 0.12, 1e-12);
  EXPECT_NEAR(b.lower, 0.1084, 5e-5);
  EXPECT_NEAR(b.lower, 2 * cp_lower(11200, 20000, 0.05) - 1, 1e-15);
  EXPECT_NEAR(b.upper, 0.1338, 5e-5);
  EXPECT_EQ(b.alpha, 0.05);
  // Bonferroni over 1000 configurations.
  const double a = bonferroni_alpha(0.05, 1000);
  EXPECT_DOUBLE_EQ(a, 5e-5);
  EXPECT_NEAR(distinguishing_advantage(11200, 20000, a).lower, 0.0926, 5e-5);
}

TEST(Advantage, DistinguishingIsSymmetricInTheUpperBoundOnly) {
  // An adversary that is wrong 56% of the time has |Adv| = 0.12 too: the upper bound covers both
  // signs, the lower bound is for the pre-registered direction Pr[win] > 1/2 only.
  const AdvantageBounds flipped = distinguishing_advantage(8800, 20000, 0.05);
  const AdvantageBounds right = distinguishing_advantage(11200, 20000, 0.05);
  EXPECT_NEAR(flipped.estimate, 0.12, 1e-12);
  EXPECT_EQ(flipped.lower, 0.0);
  EXPECT_NEAR(flipped.upper, right.upper, 1e-12);
  // No wins at all / all wins.
  EXPECT_EQ(distinguishing_advantage(0, 100, 0.05).upper, 1.0);
  EXPECT_EQ(distinguishing_advantage(100, 100, 0.05).upper, 1.0);
  EXPECT_NEAR(distinguishing_advantage(100, 100, 0.05).lower, 2 * std::pow(0.05, 0.01) - 1, 1e-14);
  // Coin flipping: bounds contain 0.
  const AdvantageBounds coin = distinguishing_advantage(500, 1000, 0.05);
  EXPECT_EQ(coin.estimate, 0.0);
  EXPECT_EQ(coin.lower, 0.0);
  EXPECT_GT(coin.upper, 0.0);
}

TEST(Advantage, SearchExamples) {
  const AdvantageBounds none = search_advantage(0, 1000000, 0.05);
  EXPECT_EQ(none.estimate, 0.0);
  EXPECT_EQ(none.lower, 0.0);
  EXPECT_NEAR(none.upper, 2.9957e-6, 1e-10);
  const AdvantageBounds some = search_advantage(5300, 10000, 0.05);
  EXPECT_NEAR(some.estimate, 0.53, 1e-15);
  EXPECT_NEAR(some.lower, 0.52173, 1e-5);
  EXPECT_EQ(some.upper, cp_upper(5300, 10000, 0.05));
  // With a trivial baseline the bounds shift and are not clipped.
  const AdvantageBounds base = search_advantage(5300, 10000, 0.05, 0.5);
  EXPECT_NEAR(base.estimate, 0.03, 1e-12);
  EXPECT_NEAR(base.lower, 0.02173, 1e-5);
  EXPECT_NEAR(base.upper, cp_upper(5300, 10000, 0.05) - 0.5, 1e-15);
  EXPECT_LT(search_advantage(5300, 10000, kAlpha128, 0.5).lower, 0.0);  // -0.03527: no claim
}

TEST(Advantage, Bonferroni) {
  EXPECT_EQ(bonferroni_alpha(0.05, 1), 0.05);
  EXPECT_DOUBLE_EQ(bonferroni_alpha(0.05, 20), 0.0025);
}

// ---------------------------------------------------------------------------------------------
// Coverage: repeated simulated games with a fixed seed.
// ---------------------------------------------------------------------------------------------

constexpr std::uint64_t kReps = 2000;
constexpr double kLevel = 0.05;

// A check of a 95% bound fails if its miss count M over kReps repetitions is implausible under a
// miss rate of 5%: P[Bin(2000, 0.05) >= M] < 1e-6 (exact, from the oracle). That happens at
// M >= max_misses() (about 100 + 5 sigma, sigma = 9.75), and a correct bound, whose miss rate is
// <= 5%, fails with probability < 1e-6.
std::uint64_t max_misses() {
  std::uint64_t m = static_cast<std::uint64_t>(kLevel * kReps);
  while (oracle_tail_ge(m, kReps, kLevel) >= 1e-6) ++m;
  return m - 1;
}

TEST(Coverage, SearchBoundsCoverTrueProbability) {
  const std::uint64_t allowed = max_misses();
  // p small so that zero-win cells (the -expm1 branch) occur too.
  const double p = 0.02;
  const std::uint64_t n = 250;
  std::uint64_t miss_lo = 0, miss_hi = 0, zero = 0;
  for (std::uint64_t rep = 0; rep < kReps; ++rep) {
    Rng rng(0x5eed, stable_hash("statistics_test/coverage/search"), rep);
    std::uint64_t wins = 0;
    for (std::uint64_t t = 0; t < n; ++t) wins += rng.bernoulli(p) ? 1 : 0;
    zero += wins == 0 ? 1 : 0;
    const AdvantageBounds b = search_advantage(wins, n, kLevel);
    miss_lo += b.lower > p ? 1 : 0;
    miss_hi += b.upper < p ? 1 : 0;
  }
  RecordProperty("allowed_misses", std::to_string(allowed));
  RecordProperty("search_lower_misses", std::to_string(miss_lo));
  RecordProperty("search_upper_misses", std::to_string(miss_hi));
  EXPECT_GT(zero, 0u);
  EXPECT_LE(miss_lo, allowed);
  EXPECT_LE(miss_hi, allowed);
  std::printf("search coverage: lower misses %llu, upper misses %llu of %llu (allowed <= %llu)\n",
              static_cast<unsigned long long>(miss_lo), static_cast<unsigned long long>(miss_hi),
              static_cast<unsigned long long>(kReps), static_cast<unsigned long long>(allowed));
}

TEST(Coverage, DistinguishingBoundsCoverTrueAdvantage) {
  const std::uint64_t allowed = max_misses();
  // Pr[b'=1 | b=1] = 0.65, Pr[b'=1 | b=0] = 0.25: Adv = 0.4, Pr[win] = 0.7, b uniform per trial.
  const double p1 = 0.65, p0 = 0.25, adv = p1 - p0;
  const std::uint64_t n = 100;
  std::uint64_t miss_lo = 0, miss_hi = 0;
  for (std::uint64_t rep = 0; rep < kReps; ++rep) {
    Rng rng(0x5eed, stable_hash("statistics_test/coverage/distinguishing"), rep);
    std::uint64_t wins = 0;
    for (std::uint64_t t = 0; t < n; ++t) {
      const bool b = rng.bit();
      const bool guess = rng.bernoulli(b ? p1 : p0);
      wins += guess == b ? 1 : 0;
    }
    const AdvantageBounds bounds = distinguishing_advantage(wins, n, kLevel);
    miss_lo += bounds.lower > adv ? 1 : 0;
    miss_hi += bounds.upper < adv ? 1 : 0;
  }
  RecordProperty("distinguishing_lower_misses", std::to_string(miss_lo));
  RecordProperty("distinguishing_upper_misses", std::to_string(miss_hi));
  EXPECT_LE(miss_lo, allowed);
  EXPECT_LE(miss_hi, allowed);
  std::printf(
      "distinguishing coverage: lower misses %llu, upper misses %llu of %llu (allowed <= %llu)\n",
      static_cast<unsigned long long>(miss_lo), static_cast<unsigned long long>(miss_hi),
      static_cast<unsigned long long>(kReps), static_cast<unsigned long long>(allowed));
}

// ---------------------------------------------------------------------------------------------
// log2 p-values
// ---------------------------------------------------------------------------------------------

TEST(Log2Tail, UnderflowingCaseIsFinite) {
  // P[Bin(10^6, 1/2) >= 600000] = 4.42e-8748 = 2^-29058.1: 0 in double.
  EXPECT_EQ(detail::log2_binomial_tail_double(600000, 1000000, 0.5),
            -std::numeric_limits<double>::infinity());
  const double l = log2_binomial_tail(600000, 1000000, 0.5);
  EXPECT_NEAR(l, -29058.1, 0.05);
  EXPECT_NEAR(l, oracle_log2_tail(600000, 1000000, 0.5), 1e-9 * std::abs(l));
  EXPECT_EQ(format_log2_p(l), "2^-29058.1");
}

TEST(Log2Tail, DoubleAndMpfrPathsAgree) {
  struct Case {
    std::uint64_t x, n;
    double p0;
  };
  const Case cases[] = {
      {510000, 1000000, 0.5},                                          // 2^-294.2, still a double
      {5300, 10000, 0.5},     {5000, 10000, 0.5}, {4000, 10000, 0.5},  // mean and below it
      {30, 100, 0.1},         {3, 1000, 1e-3},    {1, 1000, 0.01},    {7, 10, 0.5},
      {10, 10, 0.5},          {1, 1, 0.3},        {60, 200, 0.25},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("x = " + std::to_string(c.x) + ", n = " + std::to_string(c.n) +
                 ", p0 = " + std::to_string(c.p0));
    const double d = detail::log2_binomial_tail_double(c.x, c.n, c.p0);
    const double m = detail::log2_binomial_tail_mpfr(c.x, c.n, c.p0);
    const double o = oracle_log2_tail(c.x, c.n, c.p0);
    const double tol = 1e-9 * std::max(1.0, std::abs(o));
    EXPECT_NEAR(d, o, tol);
    EXPECT_NEAR(m, o, tol);
    EXPECT_EQ(log2_binomial_tail(c.x, c.n, c.p0), d);
  }
  EXPECT_NEAR(log2_binomial_tail(510000, 1000000, 0.5), -294.2, 0.05);
  EXPECT_EQ(format_log2_p(log2_binomial_tail(510000, 1000000, 0.5)), "2^-294.2");
}

TEST(Log2Tail, EdgeCases) {
  EXPECT_EQ(log2_binomial_tail(0, 1000000, 0.5), 0.0);
  EXPECT_EQ(detail::log2_binomial_tail_mpfr(0, 10, 0.5), 0.0);
  EXPECT_EQ(format_log2_p(log2_binomial_tail(0, 10, 0.5)), "1");
  // x = n: p0^n.
  EXPECT_NEAR(log2_binomial_tail(10, 10, 0.5), -10.0, 1e-12);
  EXPECT_NEAR(log2_binomial_tail(2000, 2000, 0.5), -2000.0, 1e-9);
  EXPECT_NEAR(log2_binomial_tail(1000000, 1000000, 0.5), -1e6, 1e-6);
  EXPECT_NEAR(log2_binomial_tail(1000, 1000, 1e-3), 1000 * std::log2(1e-3), 1e-8);
  // Search game, rare baseline: 40 forgeries in 10^4 trials against p0 = 2^-20.
  const double l = log2_binomial_tail(40, 10000, std::ldexp(1.0, -20));
  EXPECT_NEAR(l, oracle_log2_tail(40, 10000, std::ldexp(1.0, -20)), 1e-9 * std::abs(l));
  // Monotone in x.
  EXPECT_LT(log2_binomial_tail(600001, 1000000, 0.5), log2_binomial_tail(600000, 1000000, 0.5));
  // Large n: finite and fast on the MPFR path.
  const double big = log2_binomial_tail(3000000000ULL, 5000000000ULL, 0.5);
  EXPECT_TRUE(std::isfinite(big));
  EXPECT_LT(big, -1e8);
}

TEST(BinomialCriticalCount, IsTheLeastCountTheTestAccepts) {
  // P[Bin(32, 1/2) >= 26] = 2^-11.87 <= 1e-3 < P[Bin(32, 1/2) >= 25] = 2^-10.45.
  EXPECT_EQ(binomial_critical_count(32, 0.5, 1e-3), 26u);
  for (const std::uint64_t n : {1u, 10u, 32u, 100u, 1000u})
    for (const double alpha : {0.05, 1e-3, 1e-6}) {
      const auto c = binomial_critical_count(n, 0.5, alpha);
      if (!c) {  // even all n matching is not that unlikely
        EXPECT_GT(log2_binomial_tail(n, n, 0.5), std::log2(alpha)) << n;
        continue;
      }
      EXPECT_LE(log2_binomial_tail(*c, n, 0.5), std::log2(alpha)) << n << " " << alpha;
      EXPECT_GT(log2_binomial_tail(*c - 1, n, 0.5), std::log2(alpha)) << n << " " << alpha;
    }
  EXPECT_FALSE(binomial_critical_count(10, 0.5, 1e-4).has_value());  // 2^-10 > 1e-4
  EXPECT_FALSE(binomial_critical_count(0, 0.5, 0.05).has_value());
  EXPECT_THROW((void)binomial_critical_count(10, 0.5, 0.0), InvalidArgument);
}

TEST(FormatLog2P, Text) {
  EXPECT_EQ(format_log2_p(std::log2(0.0312)), "0.0312");
  EXPECT_EQ(format_log2_p(0.0), "1");
  EXPECT_EQ(format_log2_p(-1.0), "0.5");
  EXPECT_EQ(format_log2_p(-29058.1), "2^-29058.1");
  EXPECT_EQ(format_log2_p(-10.0), "2^-10.0");
  EXPECT_EQ(format_log2_p(-std::numeric_limits<double>::infinity()), "0");
  EXPECT_THROW((void)format_log2_p(std::nan("")), InvalidArgument);
  EXPECT_THROW((void)format_log2_p(0.5), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

template <class F>
void expect_invalid(F&& f, const std::string& names) {
  try {
    f();
    ADD_FAILURE() << "no InvalidArgument (expected one naming " << names << ")";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

TEST(BadInput, ThrowsInvalidArgumentNamingTheArgument) {
  const double nan = std::nan("");
  expect_invalid([] { (void)cp_lower(11, 10, 0.05); }, "x must be <= n");
  expect_invalid([] { (void)cp_upper(11, 10, 0.05); }, "x must be <= n");
  expect_invalid([] { (void)cp_lower(0, 0, 0.05); }, "n must be > 0");
  expect_invalid([] { (void)cp_upper(0, 0, 0.05); }, "n must be > 0");
  for (double a : {0.0, 1.0, -0.1, 1.5, nan}) {
    expect_invalid([a] { (void)cp_lower(1, 10, a); }, "alpha");
    expect_invalid([a] { (void)cp_upper(1, 10, a); }, "alpha");
    expect_invalid([a] { (void)cp_two_sided(1, 10, a); }, "alpha");
    expect_invalid([a] { (void)search_advantage(1, 10, a); }, "alpha");
    expect_invalid([a] { (void)distinguishing_advantage(1, 10, a); }, "alpha");
    expect_invalid([a] { (void)bonferroni_alpha(a, 3); }, "alpha");
  }
  expect_invalid([] { (void)cp_two_sided(11, 10, 0.05); }, "x must be <= n");
  expect_invalid([] { (void)search_advantage(11, 10, 0.05); }, "x must be <= n");
  expect_invalid([] { (void)search_advantage(1, 0, 0.05); }, "n must be > 0");
  expect_invalid([] { (void)search_advantage(1, 10, 0.05, -0.1); }, "baseline");
  expect_invalid([] { (void)search_advantage(1, 10, 0.05, 1.5); }, "baseline");
  expect_invalid([nan] { (void)search_advantage(1, 10, 0.05, nan); }, "baseline");
  expect_invalid([] { (void)distinguishing_advantage(11, 10, 0.05); }, "x must be <= n");
  expect_invalid([] { (void)distinguishing_advantage(0, 0, 0.05); }, "n must be > 0");
  expect_invalid([] { (void)bonferroni_alpha(0.05, 0); }, "k must be > 0");
  for (double p0 : {0.0, 1.0, -0.5, 2.0, nan}) {
    expect_invalid([p0] { (void)log2_binomial_tail(1, 10, p0); }, "p0");
    expect_invalid([p0] { (void)detail::log2_binomial_tail_double(1, 10, p0); }, "p0");
    expect_invalid([p0] { (void)detail::log2_binomial_tail_mpfr(1, 10, p0); }, "p0");
  }
  expect_invalid([] { (void)log2_binomial_tail(11, 10, 0.5); }, "x must be <= n");
  expect_invalid([] { (void)log2_binomial_tail(0, 0, 0.5); }, "n must be > 0");
}

}  // namespace
}  // namespace wrsec::definitions
