#include "nn/taylor.h"

#include <cmath>
#include <cstddef>
#include <string>

#include "core/errors.h"

namespace wrsec::nn {
namespace detail {
namespace {

void check_same_nonempty(const Series& f, const Series& g, const char* what) {
  WRSEC_CHECK(!f.empty() && f.size() == g.size(),
              std::string(what) + ": series must be non-empty and of equal length");
}

// Σ x_k·y_k accumulated in about twice the working precision (Ogita, Rump and Oishi's Dot2: the
// product error from fma, the addition error from TwoSum), rounded once by value(). The
// recurrences below reuse every coefficient they compute, so this keeps the rounding error of
// each coefficient near one unit instead of growing with the number of terms.
class Dot2 {
 public:
  void add(double x, double y) {
    const double p = x * y;
    const double p_err = std::fma(x, y, -p);  // p is also an fma argument: no contraction of s + p
    const double t = s_ + p;
    const double z = t - s_;
    c_ += ((s_ - (t - z)) + (p - z)) + p_err;
    s_ = t;
  }
  [[nodiscard]] double value() const { return s_ + c_; }

 private:
  double s_ = 0.0;
  double c_ = 0.0;
};

}  // namespace

Series series_mul(const Series& f, const Series& g) {
  check_same_nonempty(f, g, "series_mul");
  Series h(f.size(), 0.0);
  for (std::size_t n = 0; n < f.size(); ++n) {
    Dot2 sum;
    for (std::size_t k = 0; k <= n; ++k) sum.add(f[k], g[n - k]);
    h[n] = sum.value();
  }
  return h;
}

Series series_reciprocal(const Series& d) {
  check_same_nonempty(d, d, "series_reciprocal");
  WRSEC_CHECK(d[0] != 0.0, "series_reciprocal: constant term is zero");
  Series r(d.size(), 0.0);
  r[0] = 1.0 / d[0];
  for (std::size_t n = 1; n < d.size(); ++n) {
    Dot2 sum;
    for (std::size_t k = 1; k <= n; ++k) sum.add(d[k], r[n - k]);
    r[n] = -sum.value() / d[0];
  }
  return r;
}

Series series_exp(const Series& f) {
  check_same_nonempty(f, f, "series_exp");
  Series e(f.size(), 0.0);
  e[0] = std::exp(f[0]);
  if (e[0] == 0.0) return e;
  for (std::size_t n = 1; n < f.size(); ++n) {
    Dot2 sum;
    for (std::size_t k = 1; k <= n; ++k) sum.add(static_cast<double>(k) * f[k], e[n - k]);
    e[n] = sum.value() / static_cast<double>(n);
  }
  return e;
}

Series series_integrate(const Series& f, double c0) {
  check_same_nonempty(f, f, "series_integrate");
  Series g(f.size(), 0.0);
  g[0] = c0;
  for (std::size_t n = 1; n < f.size(); ++n) g[n] = f[n - 1] / static_cast<double>(n);
  return g;
}

Series series_sigmoid(const Series& g) {
  check_same_nonempty(g, g, "series_sigmoid");
  if (g[0] >= 0.0) {
    // 1/(1 + e^{-g}): e^{-g_0} <= 1.
    Series minus_g(g.size());
    for (std::size_t k = 0; k < g.size(); ++k) minus_g[k] = -g[k];
    Series d = series_exp(minus_g);
    d[0] += 1.0;
    return series_reciprocal(d);
  }
  // e^{g}/(1 + e^{g}): e^{g_0} < 1, and the result keeps its relative accuracy when tiny.
  const Series e = series_exp(g);
  Series d = e;
  d[0] += 1.0;
  return series_mul(e, series_reciprocal(d));
}

}  // namespace detail

namespace {

using detail::Series;

// Coefficients of (a + t)·f(a + t) from those of f.
Series times_identity(double a, const Series& f) {
  Series c(f.size(), 0.0);
  c[0] = a * f[0];
  for (std::size_t n = 1; n < f.size(); ++n) c[n] = a * f[n] + f[n - 1];
  return c;
}

Series silu_series(double a, std::size_t len) {
  Series g(len, 0.0);
  g[0] = a;
  if (len > 1) g[1] = 1.0;
  return times_identity(a, detail::series_sigmoid(g));
}

Series gelu_series(double a, std::size_t len) {
  // φ(a + t) = φ(a)·exp(-a·t - t²/2); the unit-scale series h = exp(-a·t - t²/2) follows the
  // normalised Hermite recurrence h_{m+1} = (-a·h_m - h_{m-1})/(m + 1).
  // φ(a) = exp(-a²/4)²/√(2π): the split keeps the partial products in the normal range when φ(a)
  // itself is subnormal (|a| > 37.5) while the coefficients h_m·φ(a) are not. Once exp(-a²/4)
  // underflows (|a| > 54.6) every density coefficient does too, and h is not formed (it would
  // overflow for huge |a|). exp(-a²/2) has relative condition a²/2, so the rounding error of a²
  // (from fma) is put back to first order.
  constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1/√(2π)
  const double sq = a * a;
  const double half = std::exp(-0.25 * sq);
  Series density(len, 0.0);
  if (half > 0.0) {
    Series f(len, 0.0);
    if (len > 1) f[1] = -a;
    if (len > 2) f[2] = -0.5;
    density = detail::series_exp(f);
    const double sq_err = std::fma(a, a, -sq);
    const double scale = kInvSqrt2Pi * (1.0 - 0.5 * sq_err);
    for (double& h : density) h = (h * half) * half * scale;
  }
  // Φ(a) = erfc(x)/2 with x = -a/√2. erfc has relative condition about 2x² for large x (a < 0), so
  // x is carried as x_hi + x_lo and erfc(x_hi + x_lo) ≈ erfc(x_hi) - (2/√π)·exp(-x_hi²)·x_lo.
  constexpr double kInvSqrt2Hi = 0.7071067811865476;      // 1/√2 rounded
  constexpr double kInvSqrt2Lo = -4.833646656726457e-17;  // 1/√2 - kInvSqrt2Hi
  constexpr double kTwoOverSqrtPi = 1.1283791670955126;
  const double x_hi = -a * kInvSqrt2Hi;
  const double x_lo = std::fma(-a, kInvSqrt2Hi, -x_hi) - a * kInvSqrt2Lo;
  const double cdf = 0.5 * (std::erfc(x_hi) - kTwoOverSqrtPi * std::exp(-x_hi * x_hi) * x_lo);
  return times_identity(a, detail::series_integrate(density, cdf));
}

Series gelu_tanh_series(double a, std::size_t len) {
  // g(a + t) = 2u(a + t) = 2√(2/π)·[(a + βa³) + (1 + 3βa²)·t + 3βa·t² + β·t³], β = 0.044715.
  constexpr double kSqrt2OverPi = 0.7978845608028654;  // √(2/π)
  constexpr double kBeta = 0.044715;
  Series g(len, 0.0);
  const double poly[4] = {a + kBeta * a * a * a, 1.0 + 3.0 * kBeta * a * a, 3.0 * kBeta * a, kBeta};
  for (std::size_t i = 0; i < 4 && i < len; ++i) g[i] = 2.0 * kSqrt2OverPi * poly[i];
  return times_identity(a, detail::series_sigmoid(g));
}

void check_order(Activation act, double a, int order, const char* fn) {
  if (act == Activation::relu)
    throw InvalidArgument(std::string(fn) +
                          ": relu is not analytic at 0 and has no Taylor series "
                          "(expected silu, gelu or gelu_tanh)");
  if (!std::isfinite(a))
    throw InvalidArgument(std::string(fn) + ": expansion point must be finite, got " +
                          std::to_string(a));
  if (order < 0 || order > kMaxTaylorOrder)
    throw InvalidArgument(std::string(fn) + ": order " + std::to_string(order) + " outside [0, " +
                          std::to_string(kMaxTaylorOrder) + "]");
}

}  // namespace

std::vector<double> taylor_coefficients(Activation act, double a, int order) {
  check_order(act, a, order, "taylor_coefficients");
  const auto len = static_cast<std::size_t>(order) + 1;
  switch (act) {
    case Activation::silu:
      return silu_series(a, len);
    case Activation::gelu:
      return gelu_series(a, len);
    case Activation::gelu_tanh:
      return gelu_tanh_series(a, len);
    case Activation::relu:
      break;
  }
  throw LogicError("taylor_coefficients: unhandled activation " + to_string(act));
}

double activation_derivative(Activation act, double a, int n) {
  check_order(act, a, n, "activation_derivative");
  double factorial = 1.0;
  for (int k = 2; k <= n; ++k) factorial *= k;
  return factorial * taylor_coefficients(act, a, n)[static_cast<std::size_t>(n)];
}

}  // namespace wrsec::nn
