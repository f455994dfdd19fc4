#include "definitions/statistics.h"

#include <mpfr.h>

#include <algorithm>
#include <bit>
#include <boost/math/policies/policy.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <numbers>

#include "core/errors.h"

namespace wrsec::definitions {
namespace {

// Underflow and denormal results are legitimate answers here (tiny tails, tiny bounds): return them
// instead of throwing. Domain and evaluation errors still throw and are reported as LogicError.
using Policy = boost::math::policies::policy<
    boost::math::policies::underflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::denorm_error<boost::math::policies::ignore_error>>;

// Largest n whose counts convert to double exactly.
constexpr std::uint64_t kMaxExactDouble = std::uint64_t{1} << 53;
// Below this the double path hands over to MPFR (well above the subnormal range, where Boost's
// relative accuracy is no longer guaranteed).
constexpr double kDoubleTailFloor = 1e-280;

void check_counts(std::uint64_t x, std::uint64_t n, const char* where) {
  if (n == 0) throw InvalidArgument(std::string(where) + ": n must be > 0 (got n = 0)");
  if (x > n)
    throw InvalidArgument(std::string(where) + ": x must be <= n (got x = " + std::to_string(x) +
                          ", n = " + std::to_string(n) + ")");
}

void check_alpha(double alpha, const char* where) {
  if (!(alpha > 0.0 && alpha < 1.0))
    throw InvalidArgument(std::string(where) + ": alpha must be in (0, 1) (got " +
                          std::to_string(alpha) + ")");
}

void check_p0(double p0, const char* where) {
  if (!(p0 > 0.0 && p0 < 1.0))
    throw InvalidArgument(std::string(where) + ": p0 must be in (0, 1) (got " + std::to_string(p0) +
                          ")");
}

// Runs a Boost.Math evaluation; inputs are validated before, so any Boost error is our bug.
template <class F>
double boost_eval(F&& f, const char* what) {
  double v = 0;
  try {
    v = f();
  } catch (const std::exception& e) {
    throw LogicError(std::string(what) + ": Boost.Math failed: " + e.what());
  }
  WRSEC_CHECK(std::isfinite(v), std::string(what) + ": non-finite result");
  return v;
}

// Counts are passed to MPFR as unsigned long, which holds every std::uint64_t on LP64.
static_assert(sizeof(unsigned long) >= sizeof(std::uint64_t));
unsigned long ul(std::uint64_t v) {
  return static_cast<unsigned long>(v);
}

// Minimal RAII owner of an mpfr_t.
class Mpfr {
 public:
  explicit Mpfr(mpfr_prec_t prec) { mpfr_init2(v_, prec); }
  ~Mpfr() { mpfr_clear(v_); }
  Mpfr(const Mpfr&) = delete;
  Mpfr& operator=(const Mpfr&) = delete;
  mpfr_ptr get() { return v_; }

 private:
  mpfr_t v_;
};

// ln C(n, k) + k ln p + (n - k) ln q, exactly rounded steps at the given precision.
void log_pmf(mpfr_ptr out, std::uint64_t k, std::uint64_t n, mpfr_ptr ln_p, mpfr_ptr ln_q,
             mpfr_prec_t prec) {
  Mpfr t(prec), u(prec);
  mpfr_set_ui(t.get(), ul(n), MPFR_RNDN);
  mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_lngamma(out, t.get(), MPFR_RNDN);  // ln n!
  mpfr_set_ui(t.get(), ul(k), MPFR_RNDN);
  mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_lngamma(u.get(), t.get(), MPFR_RNDN);
  mpfr_sub(out, out, u.get(), MPFR_RNDN);  // - ln k!
  mpfr_set_ui(t.get(), ul(n - k), MPFR_RNDN);
  mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_lngamma(u.get(), t.get(), MPFR_RNDN);
  mpfr_sub(out, out, u.get(), MPFR_RNDN);  // - ln (n-k)!
  mpfr_mul_ui(u.get(), ln_p, ul(k), MPFR_RNDN);
  mpfr_add(out, out, u.get(), MPFR_RNDN);
  mpfr_mul_ui(u.get(), ln_q, ul(n - k), MPFR_RNDN);
  mpfr_add(out, out, u.get(), MPFR_RNDN);
}

}  // namespace

double cp_lower(std::uint64_t x, std::uint64_t n, double alpha) {
  check_counts(x, n, "cp_lower");
  check_alpha(alpha, "cp_lower");
  if (x == 0) return 0.0;
  const double a = static_cast<double>(x);
  const double b = static_cast<double>(n - x) + 1.0;
  return boost_eval([&] { return boost::math::ibeta_inv(a, b, alpha, Policy()); }, "cp_lower");
}

double cp_upper(std::uint64_t x, std::uint64_t n, double alpha) {
  check_counts(x, n, "cp_upper");
  check_alpha(alpha, "cp_upper");
  if (x == n) return 1.0;
  // 1 - alpha^(1/n) without cancellation.
  if (x == 0) return -std::expm1(std::log(alpha) / static_cast<double>(n));
  const double a = static_cast<double>(x) + 1.0;
  const double b = static_cast<double>(n - x);
  return boost_eval([&] { return boost::math::ibetac_inv(a, b, alpha, Policy()); }, "cp_upper");
}

Interval cp_two_sided(std::uint64_t x, std::uint64_t n, double alpha) {
  check_alpha(alpha, "cp_two_sided");
  return {cp_lower(x, n, alpha / 2), cp_upper(x, n, alpha / 2)};
}

AdvantageBounds search_advantage(std::uint64_t wins, std::uint64_t n, double alpha,
                                 double baseline) {
  check_counts(wins, n, "search_advantage");
  check_alpha(alpha, "search_advantage");
  if (!(baseline >= 0.0 && baseline <= 1.0))
    throw InvalidArgument("search_advantage: baseline must be in [0, 1] (got " +
                          std::to_string(baseline) + ")");
  const double rate = static_cast<double>(wins) / static_cast<double>(n);
  return {rate - baseline, cp_lower(wins, n, alpha) - baseline, cp_upper(wins, n, alpha) - baseline,
          alpha};
}

AdvantageBounds distinguishing_advantage(std::uint64_t wins, std::uint64_t n, double alpha) {
  check_counts(wins, n, "distinguishing_advantage");
  check_alpha(alpha, "distinguishing_advantage");
  const double rate = static_cast<double>(wins) / static_cast<double>(n);
  const double lower = std::max(0.0, 2.0 * cp_lower(wins, n, alpha) - 1.0);
  const double upper =
      std::max(2.0 * cp_upper(wins, n, alpha / 2) - 1.0, 1.0 - 2.0 * cp_lower(wins, n, alpha / 2));
  return {std::abs(2.0 * rate - 1.0), lower, std::clamp(upper, 0.0, 1.0), alpha};
}

double bonferroni_alpha(double alpha, std::size_t k) {
  check_alpha(alpha, "bonferroni_alpha");
  if (k == 0) throw InvalidArgument("bonferroni_alpha: k must be > 0 (got k = 0)");
  return alpha / static_cast<double>(k);
}

std::optional<std::uint64_t> binomial_critical_count(std::uint64_t n, double p0, double alpha) {
  check_alpha(alpha, "binomial_critical_count");
  const double bound = std::log2(alpha);
  if (n == 0 || log2_binomial_tail(n, n, p0) > bound) return std::nullopt;
  std::uint64_t lo = 0, hi = n;  // tail(lo) > bound (tail(0) = 1 > alpha), tail(hi) <= bound
  while (hi - lo > 1) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    (log2_binomial_tail(mid, n, p0) <= bound ? hi : lo) = mid;
  }
  return hi;
}

double log2_normal_tail(double z) {
  if (std::isnan(z)) throw InvalidArgument("log2_normal_tail: z is NaN");
  if (z < 37) return std::log2(0.5 * std::erfc(z / std::sqrt(2.0)));
  const double r = 1 / (z * z);
  const double series = 1 - r + 3 * r * r - 15 * r * r * r;
  const double ln =
      -0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) - std::log(z) + std::log(series);
  return ln / std::log(2.0);
}

namespace detail {

double log2_binomial_tail_double(std::uint64_t x, std::uint64_t n, double p0) {
  check_counts(x, n, "log2_binomial_tail");
  check_p0(p0, "log2_binomial_tail");
  if (x == 0) return 0.0;
  const double a = static_cast<double>(x);
  const double b = static_cast<double>(n - x) + 1.0;
  // P[Bin(n, p0) >= x] = I_{p0}(x, n - x + 1).
  const double tail =
      boost_eval([&] { return boost::math::ibeta(a, b, p0, Policy()); }, "log2_binomial_tail");
  if (tail <= 0.0) return -std::numeric_limits<double>::infinity();
  return std::log2(tail);
}

double log2_binomial_tail_mpfr(std::uint64_t x, std::uint64_t n, double p0) {
  check_counts(x, n, "log2_binomial_tail");
  check_p0(p0, "log2_binomial_tail");
  if (x == 0) return 0.0;
  // ln n! ~ n ln n needs log2(n ln n) bits before the binary point; keep >= 100 after it.
  const mpfr_prec_t prec = 128 + std::bit_width(n);
  Mpfr p(prec), q(prec), ln_p(prec), ln_q(prec), odds(prec), log_t(prec), sum(prec), term(prec),
      ratio(prec), bound(prec), tmp(prec);
  mpfr_set_d(p.get(), p0, MPFR_RNDN);  // exact
  mpfr_ui_sub(q.get(), 1, p.get(), MPFR_RNDN);
  mpfr_log(ln_p.get(), p.get(), MPFR_RNDN);
  mpfr_log(ln_q.get(), q.get(), MPFR_RNDN);
  mpfr_div(odds.get(), p.get(), q.get(), MPFR_RNDN);  // p / q

  // Stop once the geometric bound on the terms not yet added is below sum * 2^-96. Term
  // ratios decrease monotonically away from the mode, so if the next ratio is r < 1 every later one
  // is <= r and the terms after `term` add up to at most term * r / (1 - r).
  auto remainder_small = [&]() {
    if (mpfr_cmp_ui(ratio.get(), 1) >= 0) return false;
    mpfr_ui_sub(tmp.get(), 1, ratio.get(), MPFR_RNDN);
    mpfr_div(bound.get(), ratio.get(), tmp.get(), MPFR_RNDN);
    mpfr_mul(bound.get(), bound.get(), term.get(), MPFR_RNDN);
    mpfr_mul_2si(tmp.get(), sum.get(), -96, MPFR_RNDN);
    return mpfr_cmp(bound.get(), tmp.get()) <= 0;
  };

  // Upper tail directly when x lies above the mode region: x > n p - q  <=>  T_{x+1} < T_x.
  const bool upper_direct =
      static_cast<long double>(x) > static_cast<long double>(n) * p0 - (1.0L - p0);
  Mpfr result(prec);
  mpfr_set_ui(sum.get(), 1, MPFR_RNDN);
  mpfr_set_ui(term.get(), 1, MPFR_RNDN);
  if (upper_direct) {
    // P[X >= x] = T_x * sum_{k >= x} T_k / T_x, with T_{k+1} / T_k = (n - k) / (k + 1) * p / q.
    log_pmf(log_t.get(), x, n, ln_p.get(), ln_q.get(), prec);
    auto up_ratio = [&](std::uint64_t k) {  // T_{k+1} / T_k
      mpfr_mul_ui(ratio.get(), odds.get(), ul(n - k), MPFR_RNDN);
      mpfr_div_ui(ratio.get(), ratio.get(), ul(k + 1), MPFR_RNDN);
    };
    for (std::uint64_t k = x; k < n; ++k) {
      up_ratio(k);
      if (remainder_small()) break;
      mpfr_mul(term.get(), term.get(), ratio.get(), MPFR_RNDN);
      mpfr_add(sum.get(), sum.get(), term.get(), MPFR_RNDN);
    }
    mpfr_log(tmp.get(), sum.get(), MPFR_RNDN);
    mpfr_add(result.get(), log_t.get(), tmp.get(), MPFR_RNDN);
  } else {
    // x - 1 < (n + 1) p - 1: P[X >= x] = 1 - L with L = P[X <= x - 1] summed downwards,
    // T_{k-1} / T_k = k q / ((n - k + 1) p).
    const std::uint64_t top = x - 1;
    log_pmf(log_t.get(), top, n, ln_p.get(), ln_q.get(), prec);
    auto down_ratio = [&](std::uint64_t k) {  // T_{k-1} / T_k
      mpfr_div_ui(ratio.get(), q.get(), ul(n - k + 1), MPFR_RNDN);
      mpfr_mul_ui(ratio.get(), ratio.get(), ul(k), MPFR_RNDN);
      mpfr_div(ratio.get(), ratio.get(), p.get(), MPFR_RNDN);
    };
    for (std::uint64_t k = top; k > 0; --k) {
      down_ratio(k);
      if (remainder_small()) break;
      mpfr_mul(term.get(), term.get(), ratio.get(), MPFR_RNDN);
      mpfr_add(sum.get(), sum.get(), term.get(), MPFR_RNDN);
    }
    // ln(1 - exp(ln T + ln sum)); exp may underflow to 0 for astronomically small L: then 0.
    mpfr_log(tmp.get(), sum.get(), MPFR_RNDN);
    mpfr_add(tmp.get(), tmp.get(), log_t.get(), MPFR_RNDN);
    mpfr_exp(tmp.get(), tmp.get(), MPFR_RNDN);
    mpfr_neg(tmp.get(), tmp.get(), MPFR_RNDN);
    mpfr_log1p(result.get(), tmp.get(), MPFR_RNDN);
  }
  mpfr_const_log2(tmp.get(), MPFR_RNDN);
  mpfr_div(result.get(), result.get(), tmp.get(), MPFR_RNDN);
  const double out = mpfr_get_d(result.get(), MPFR_RNDN);
  WRSEC_CHECK(std::isfinite(out) && out <= 0.0, "log2_binomial_tail: MPFR path out of range");
  return out;
}

}  // namespace detail

double log2_binomial_tail(std::uint64_t x, std::uint64_t n, double p0) {
  check_counts(x, n, "log2_binomial_tail");
  check_p0(p0, "log2_binomial_tail");
  if (x == 0) return 0.0;
  if (n <= kMaxExactDouble) {
    const double l = detail::log2_binomial_tail_double(x, n, p0);
    if (l >= std::log2(kDoubleTailFloor)) return l;
  }
  return detail::log2_binomial_tail_mpfr(x, n, p0);
}

std::string format_log2_p(double log2_p) {
  if (std::isnan(log2_p) || log2_p > 1e-9)
    throw InvalidArgument("format_log2_p: log2_p must be <= 0 (got " + std::to_string(log2_p) +
                          ")");
  if (std::isinf(log2_p)) return "0";
  const double p = std::exp2(std::min(log2_p, 0.0));
  char buf[64];
  if (p >= 1e-3)
    std::snprintf(buf, sizeof buf, "%.3g", p);
  else
    std::snprintf(buf, sizeof buf, "2^%.1f", log2_p);
  return buf;
}

}  // namespace wrsec::definitions
