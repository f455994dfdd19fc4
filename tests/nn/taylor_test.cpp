#include "nn/taylor.h"

#include <gtest/gtest.h>
#include <mpfr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "core/errors.h"
#include "nn/layers.h"

namespace wrsec::nn {
namespace {

// ---------------------------------------------------------------------------------------------
// Independent oracle in MPFR (1024 bits), sharing no algorithm with nn/taylor.cpp:
//   silu:      unnormalised derivatives of the sigmoid by Leibniz on s' = s - s²,
//              s^{(n+1)} = s^{(n)} - Σ_k C(n,k)·s^{(k)}·s^{(n-k)}, then
//              SiLU^{(n)} = a·s^{(n)} + n·s^{(n-1)}, divided by n!.
//   gelu:      closed form GELU' = Φ + aφ, GELU^{(n)} = (-1)^n·φ(a)·(He_{n-2}(a) - He_n(a)) (n >=
//   2),
//              probabilists' Hermite polynomials by He_{m+1} = a·He_m - m·He_{m-1}, divided by n!.
//   gelu_tanh: Taylor coefficients T_n of tanh(u(a + t)) from the ODE T' = (1 - T²)·u', i.e.
//              (n+1)·T_{n+1} = Σ_j (1 - T²)_j·u'_{n-j}, then GELU_tanh = (a + t)(1 + T)/2.
// 1024 bits leave > 140 correct digits after the worst cancellation used here (1 + tanh(u) at
// a = -20, about 1e-262, and s - s² at a = 40).
// ---------------------------------------------------------------------------------------------
constexpr mpfr_prec_t kPrec = 1024;

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

double to_double(Mp& x) {
  return mpfr_get_d(x.get(), MPFR_RNDN);
}

// Every activation is x·f(x) with f = sigmoid, Φ or (1 + tanh u)/2, so c_n = a·f_n + f_{n-1}.
struct Reference {
  std::vector<double> c;  // c_n of σ(a + t)
  std::vector<double> f;  // f_n of f(a + t)
};

// out /= n!
void divide_by_factorial(Mp& out, int n) {
  Mp f;
  mpfr_fac_ui(f.get(), static_cast<unsigned long>(n), MPFR_RNDN);
  mpfr_div(out.get(), out.get(), f.get(), MPFR_RNDN);
}

Reference oracle_silu(double a_d, int order) {
  const auto len = static_cast<std::size_t>(order) + 1;
  Mp a(a_d), t, sum;
  std::vector<Mp> s(len);  // s^{(n)}(a), unnormalised
  mpfr_neg(t.get(), a.get(), MPFR_RNDN);
  mpfr_exp(t.get(), t.get(), MPFR_RNDN);
  mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_ui_div(s[0].get(), 1, t.get(), MPFR_RNDN);
  for (std::size_t n = 0; n + 1 < len; ++n) {
    mpfr_set_ui(sum.get(), 0, MPFR_RNDN);
    unsigned long binom = 1;  // C(n, k); C(33, 16) < 2^31
    for (std::size_t k = 0; k <= n; ++k) {
      mpfr_mul(t.get(), s[k].get(), s[n - k].get(), MPFR_RNDN);
      mpfr_mul_ui(t.get(), t.get(), binom, MPFR_RNDN);
      mpfr_add(sum.get(), sum.get(), t.get(), MPFR_RNDN);
      binom = binom * (n - k) / (k + 1);
    }
    mpfr_sub(s[n + 1].get(), s[n].get(), sum.get(), MPFR_RNDN);
  }
  Reference ref{std::vector<double>(len), std::vector<double>(len)};
  mpfr_mul(t.get(), a.get(), s[0].get(), MPFR_RNDN);
  ref.c[0] = to_double(t);
  ref.f[0] = to_double(s[0]);
  for (std::size_t n = 1; n < len; ++n) {
    mpfr_mul(t.get(), a.get(), s[n].get(), MPFR_RNDN);
    mpfr_mul_ui(sum.get(), s[n - 1].get(), n, MPFR_RNDN);
    mpfr_add(t.get(), t.get(), sum.get(), MPFR_RNDN);
    divide_by_factorial(t, static_cast<int>(n));
    ref.c[n] = to_double(t);
    mpfr_set(t.get(), s[n].get(), MPFR_RNDN);
    divide_by_factorial(t, static_cast<int>(n));
    ref.f[n] = to_double(t);
  }
  return ref;
}

Reference oracle_gelu(double a_d, int order) {
  const auto len = static_cast<std::size_t>(order) + 1;
  Mp a(a_d), cdf, pdf, t, u;
  // Φ(a) = erfc(-a/√2)/2, φ(a) = exp(-a²/2)/√(2π)
  mpfr_sqrt_ui(t.get(), 2, MPFR_RNDN);
  mpfr_div(t.get(), a.get(), t.get(), MPFR_RNDN);
  mpfr_neg(t.get(), t.get(), MPFR_RNDN);
  mpfr_erfc(cdf.get(), t.get(), MPFR_RNDN);
  mpfr_div_2ui(cdf.get(), cdf.get(), 1, MPFR_RNDN);
  mpfr_sqr(t.get(), a.get(), MPFR_RNDN);
  mpfr_div_2ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_neg(t.get(), t.get(), MPFR_RNDN);
  mpfr_exp(pdf.get(), t.get(), MPFR_RNDN);
  mpfr_const_pi(t.get(), MPFR_RNDN);
  mpfr_mul_2ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_sqrt(t.get(), t.get(), MPFR_RNDN);
  mpfr_div(pdf.get(), pdf.get(), t.get(), MPFR_RNDN);

  std::vector<Mp> he(len + 1);  // He_0..He_len
  mpfr_set_ui(he[0].get(), 1, MPFR_RNDN);
  mpfr_set(he[1].get(), a.get(), MPFR_RNDN);
  for (std::size_t m = 1; m < len; ++m) {
    mpfr_mul(t.get(), a.get(), he[m].get(), MPFR_RNDN);
    mpfr_mul_ui(u.get(), he[m - 1].get(), m, MPFR_RNDN);
    mpfr_sub(he[m + 1].get(), t.get(), u.get(), MPFR_RNDN);
  }
  Reference ref{std::vector<double>(len), std::vector<double>(len)};
  mpfr_mul(t.get(), a.get(), cdf.get(), MPFR_RNDN);
  ref.c[0] = to_double(t);
  if (len > 1) {
    mpfr_mul(t.get(), a.get(), pdf.get(), MPFR_RNDN);
    mpfr_add(t.get(), t.get(), cdf.get(), MPFR_RNDN);
    ref.c[1] = to_double(t);
  }
  for (std::size_t n = 2; n < len; ++n) {
    mpfr_sub(t.get(), he[n - 2].get(), he[n].get(), MPFR_RNDN);
    mpfr_mul(t.get(), t.get(), pdf.get(), MPFR_RNDN);
    if (n % 2 == 1) mpfr_neg(t.get(), t.get(), MPFR_RNDN);
    divide_by_factorial(t, static_cast<int>(n));
    ref.c[n] = to_double(t);
  }
  // f_0 = Φ(a), f_n = Φ^{(n)}/n! = φ^{(n-1)}/n! = (-1)^{n-1}·He_{n-1}(a)·φ(a)/n!
  ref.f[0] = to_double(cdf);
  for (std::size_t n = 1; n < len; ++n) {
    mpfr_mul(t.get(), he[n - 1].get(), pdf.get(), MPFR_RNDN);
    if (n % 2 == 0) mpfr_neg(t.get(), t.get(), MPFR_RNDN);
    divide_by_factorial(t, static_cast<int>(n));
    ref.f[n] = to_double(t);
  }
  return ref;
}

Reference oracle_gelu_tanh(double a_d, int order) {
  const auto len = static_cast<std::size_t>(order) + 1;
  Mp a(a_d), k, beta, t, w, sum;
  mpfr_const_pi(t.get(), MPFR_RNDN);
  mpfr_ui_div(k.get(), 2, t.get(), MPFR_RNDN);
  mpfr_sqrt(k.get(), k.get(), MPFR_RNDN);  // √(2/π)
  mpfr_set_str(beta.get(), "0.044715", 10, MPFR_RNDN);
  // u'(a + t) = q0 + q1·t + q2·t² with q0 = k(1 + 3βa²), q1 = 6kβa, q2 = 3kβ.
  Mp q[3];
  mpfr_sqr(t.get(), a.get(), MPFR_RNDN);
  mpfr_mul(t.get(), t.get(), beta.get(), MPFR_RNDN);
  mpfr_mul_ui(t.get(), t.get(), 3, MPFR_RNDN);
  mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
  mpfr_mul(q[0].get(), t.get(), k.get(), MPFR_RNDN);
  mpfr_mul(t.get(), a.get(), beta.get(), MPFR_RNDN);
  mpfr_mul(t.get(), t.get(), k.get(), MPFR_RNDN);
  mpfr_mul_ui(q[1].get(), t.get(), 6, MPFR_RNDN);
  mpfr_mul(t.get(), beta.get(), k.get(), MPFR_RNDN);
  mpfr_mul_ui(q[2].get(), t.get(), 3, MPFR_RNDN);

  std::vector<Mp> tc(len);         // Taylor coefficients of tanh(u(a + t))
  std::vector<Mp> one_minus(len);  // of 1 - tanh²
  // T_0 = tanh(k(a + βa³))
  mpfr_pow_ui(t.get(), a.get(), 3, MPFR_RNDN);
  mpfr_mul(t.get(), t.get(), beta.get(), MPFR_RNDN);
  mpfr_add(t.get(), t.get(), a.get(), MPFR_RNDN);
  mpfr_mul(t.get(), t.get(), k.get(), MPFR_RNDN);
  mpfr_tanh(tc[0].get(), t.get(), MPFR_RNDN);
  for (std::size_t n = 0; n + 1 < len; ++n) {
    mpfr_set_ui(sum.get(), 0, MPFR_RNDN);
    for (std::size_t i = 0; i <= n; ++i) {
      mpfr_mul(t.get(), tc[i].get(), tc[n - i].get(), MPFR_RNDN);
      mpfr_add(sum.get(), sum.get(), t.get(), MPFR_RNDN);
    }
    mpfr_neg(one_minus[n].get(), sum.get(), MPFR_RNDN);
    if (n == 0) mpfr_add_ui(one_minus[0].get(), one_minus[0].get(), 1, MPFR_RNDN);
    mpfr_set_ui(sum.get(), 0, MPFR_RNDN);
    for (std::size_t j = (n >= 2 ? n - 2 : 0); j <= n; ++j) {
      mpfr_mul(w.get(), one_minus[j].get(), q[n - j].get(), MPFR_RNDN);
      mpfr_add(sum.get(), sum.get(), w.get(), MPFR_RNDN);
    }
    mpfr_div_ui(tc[n + 1].get(), sum.get(), n + 1, MPFR_RNDN);
  }
  // c_n = (a·(δ_{n0} + T_n) + δ_{n1} + T_{n-1})/2
  // and f_n = (δ_{n0} + T_n)/2.
  Reference ref{std::vector<double>(len), std::vector<double>(len)};
  for (std::size_t n = 0; n < len; ++n) {
    mpfr_set(w.get(), tc[n].get(), MPFR_RNDN);
    if (n == 0) mpfr_add_ui(w.get(), w.get(), 1, MPFR_RNDN);
    mpfr_div_2ui(w.get(), w.get(), 1, MPFR_RNDN);
    ref.f[n] = to_double(w);
    mpfr_set(t.get(), tc[n].get(), MPFR_RNDN);
    if (n == 0) mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
    mpfr_mul(t.get(), t.get(), a.get(), MPFR_RNDN);
    if (n >= 1) mpfr_add(t.get(), t.get(), tc[n - 1].get(), MPFR_RNDN);
    if (n == 1) mpfr_add_ui(t.get(), t.get(), 1, MPFR_RNDN);
    mpfr_div_2ui(t.get(), t.get(), 1, MPFR_RNDN);
    ref.c[n] = to_double(t);
  }
  return ref;
}

Reference oracle(Activation act, double a, int order) {
  switch (act) {
    case Activation::silu:
      return oracle_silu(a, order);
    case Activation::gelu:
      return oracle_gelu(a, order);
    case Activation::gelu_tanh:
      return oracle_gelu_tanh(a, order);
    case Activation::relu:
      break;
  }
  ADD_FAILURE() << "no oracle for relu";
  return {};
}

const Activation kSmooth[] = {Activation::silu, Activation::gelu, Activation::gelu_tanh};

// ---------------------------------------------------------------------------------------------
// Error measure. A coefficient can be zero or tiny by cancellation, where no relative bound can
// hold: between the two Leibniz terms of c_n = a·f_n + f_{n-1} (silu c_2 at a ≈ ±2.3994, gelu c_2
// at a = ±√2), or inside f (odd/even orders at a = 0, a near a zero of He_{n-1}, ...). Such a
// coefficient is judged against the size of what cancels, both sizes taken from the oracle:
//   leibniz_n = |a|·|f_n| + |f_{n-1}| (|a|·|f_0| for n = 0). For silu, f and c share the poles
//     ±iπ, so this exceeds |c_n| by about (|a| + √(a² + π²))/π at high orders (8x at |a| = 12).
//   floor_n = max_{j=1,2} sqrt(|c_{n-j}|·|c_{n+j}|) over indices n - j >= 2: the geometric mean
//     of neighbours, which does not exceed |c_n| for log-concave (|a|^n/n!-like) or geometric
//     (ρ^{-n}) sequences. Orders 0 and 1 are left out because for large |a| they are of a
//     different kind (c_0 ≈ relu(a), c_1 ≈ step(a)) from the exponentially small higher orders.
// The asserted bound is |c_n - ref_n| <= tol·scale_n, scale_n = max(|ref_n|, leibniz_n, floor_n);
// the reported "scaled error" is |c_n - ref_n|/scale_n.
// ---------------------------------------------------------------------------------------------
double scale_of(const Reference& ref, double a, std::size_t n) {
  double scale = std::max(std::fabs(ref.c[n]), std::fabs(a) * std::fabs(ref.f[n]));
  if (n >= 1) scale = std::max(scale, std::fabs(a) * std::fabs(ref.f[n]) + std::fabs(ref.f[n - 1]));
  for (std::size_t j = 1; j <= 2; ++j)
    if (n >= j + 2 && n + j < ref.c.size())
      scale = std::max(scale, std::sqrt(std::fabs(ref.c[n - j]) * std::fabs(ref.c[n + j])));
  return scale;
}

struct ErrorStats {
  double max_low = 0.0;   // orders 0..12
  double max_high = 0.0;  // orders 13..32
  double worst_a = 0.0;
  int worst_n = -1;
  int compared = 0;
  int cancelled = 0;       // coefficients with scale_n > 2·|ref_n|
  double max_plain = 0.0;  // max |c_n - ref_n|/|ref_n| over the others
};

// Compares c_0..c_order with the oracle at every a; returns the largest scaled errors.
ErrorStats compare(Activation act, const std::vector<double>& points, int order, double tol) {
  ErrorStats st;
  double worst = -1.0;
  for (double a : points) {
    const std::vector<double> c = taylor_coefficients(act, a, order);
    const Reference ref = oracle(act, a, order + 2);
    for (int n = 0; n <= order; ++n) {
      const auto un = static_cast<std::size_t>(n);
      const double scale = scale_of(ref, a, un);
      const double diff = std::fabs(c[un] - ref.c[un]);
      const double e = diff == 0.0 ? 0.0 : diff / scale;
      ++st.compared;
      if (scale > 2.0 * std::fabs(ref.c[un]))
        ++st.cancelled;
      else if (diff > 0.0)
        st.max_plain = std::max(st.max_plain, diff / std::fabs(ref.c[un]));
      EXPECT_LE(e, tol) << to_string(act) << " a=" << a << " n=" << n << " c=" << c[un]
                        << " ref=" << ref.c[un];
      double& range_max = n <= 12 ? st.max_low : st.max_high;
      range_max = std::max(range_max, e);
      if (e > worst) {
        worst = e;
        st.worst_a = a;
        st.worst_n = n;
      }
    }
  }
  return st;
}

void report(const char* label, Activation act, const ErrorStats& st) {
  std::printf(
      "[ %s ] %-9s max scaled error: n<=12 %.2e, 13<=n<=32 %.2e (worst at a=%g, n=%d); %d of %d "
      "coefficients have scale > 2|ref_n|, the others max relative error %.2e\n",
      label, to_string(act).c_str(), st.max_low, st.max_high, st.worst_a, st.worst_n, st.cancelled,
      st.compared, st.max_plain);
}

std::vector<double> grid(double lo, double hi, double step) {
  std::vector<double> v;
  for (double a = lo; a <= hi + 1e-12; a += step) v.push_back(a);
  return v;
}

// ---------------------------------------------------------------------------------------------

TEST(TaylorCoefficients, MatchOracleUpToOrder32) {
  // a in [-12, 12] on a 0.25 grid plus points off any grid.
  std::vector<double> points = grid(-12.0, 12.0, 0.25);
  for (double x : {1e-9, 0.1, 1.0 / 3.0, std::numbers::sqrt2, std::numbers::e, std::numbers::pi,
                   2.3994, 7.77, 11.9})
    for (double s : {-1.0, 1.0}) points.push_back(s * x);
  for (Activation act : kSmooth) report("order 32", act, compare(act, points, 32, 1e-12));
}

TEST(TaylorCoefficients, LowOrdersTight) {
  // Measured (x86-64, glibc): silu 1.5e-15, gelu 5.5e-16, gelu_tanh 4.0e-14. gelu_tanh is looser
  // because 1/(1 + exp(-g)) with g = 2u(a + t) amplifies the unit rounding errors of the
  // coefficients of exp(-g), which are much larger than those of the result.
  const std::vector<double> points = grid(-8.0, 8.0, 0.0625);
  report("order 12", Activation::silu, compare(Activation::silu, points, 12, 5e-15));
  report("order 12", Activation::gelu, compare(Activation::gelu, points, 12, 5e-15));
  report("order 12", Activation::gelu_tanh, compare(Activation::gelu_tanh, points, 12, 1e-13));
}

TEST(TaylorCoefficients, LargeArgumentsStayAccurate) {
  // No overflow for large |a|; coefficients still relative-accurate while they are normal doubles.
  report("large |a|", Activation::silu,
         compare(Activation::silu, {-100.0, -40.0, -20.0, 20.0, 40.0, 100.0}, 32, 1e-12));
  report("large |a|", Activation::gelu,
         compare(Activation::gelu, {-37.0, -30.0, -20.0, 20.0, 30.0, 37.0}, 32, 1e-12));
  report("large |a|", Activation::gelu_tanh,
         compare(Activation::gelu_tanh, {-20.0, -16.0, 16.0, 20.0}, 32, 1e-12));
}

TEST(TaylorCoefficients, ExtremeArgumentsAreFinite) {
  const double big = std::numeric_limits<double>::max();
  for (Activation act : kSmooth)
    for (double a : {-big, -1e200, -1e10, -1e3, 1e3, 1e10, 1e200, big}) {
      const std::vector<double> c = taylor_coefficients(act, a, kMaxTaylorOrder);
      ASSERT_EQ(c.size(), 33u);
      for (double v : c) ASSERT_TRUE(std::isfinite(v)) << to_string(act) << " a=" << a;
      // Far from 0 every activation is relu(a) up to underflow: c_0 = max(a, 0), c_1 = [a > 0].
      EXPECT_EQ(c[0], a > 0 ? a : 0.0) << to_string(act) << " a=" << a;
      EXPECT_EQ(c[1], a > 0 ? 1.0 : 0.0) << to_string(act) << " a=" << a;
      for (std::size_t n = 2; n < c.size(); ++n) EXPECT_EQ(c[n], 0.0) << to_string(act);
    }
}

TEST(TaylorCoefficients, KnownValues) {
  EXPECT_DOUBLE_EQ(activation_derivative(Activation::silu, 0.0, 1), 0.5);
  EXPECT_DOUBLE_EQ(activation_derivative(Activation::silu, 0.0, 2), 0.5);
  EXPECT_DOUBLE_EQ(activation_derivative(Activation::gelu, 0.0, 1), 0.5);
  EXPECT_DOUBLE_EQ(activation_derivative(Activation::gelu_tanh, 0.0, 1), 0.5);
  const double inv_sqrt_2pi = 0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2;
  for (double x = -6.0; x <= 6.0; x += 0.375) {
    const double pdf = inv_sqrt_2pi * std::exp(-0.5 * x * x);
    const double cdf = 0.5 * std::erfc(-x / std::numbers::sqrt2);
    const double scale = std::max(1.0, std::fabs(x));
    EXPECT_NEAR(activation_derivative(Activation::gelu, x, 1), cdf + x * pdf, 1e-15 * scale);
    EXPECT_NEAR(activation_derivative(Activation::gelu, x, 2), pdf * (2 - x * x),
                1e-15 * scale * scale);
    EXPECT_NEAR(activation_derivative(Activation::gelu, x, 3), pdf * (x * x * x - 4 * x),
                1e-15 * scale * scale * scale);
    for (Activation act : kSmooth) {
      // c_0 is the activation and n = 1 the derivative of nn/layers.h (whose gelu uses 1 + erf,
      // hence the absolute tolerance).
      EXPECT_NEAR(taylor_coefficients(act, x, 0)[0], activate(act, x), 4e-16 * scale)
          << to_string(act) << " " << x;
      EXPECT_NEAR(activation_derivative(act, x, 1), activate_derivative(act, x), 1e-15 * scale)
          << to_string(act) << " " << x;
    }
  }
}

TEST(TaylorCoefficients, PrefixesAgreeAcrossOrders) {
  for (Activation act : kSmooth) {
    const std::vector<double> full = taylor_coefficients(act, 0.7, kMaxTaylorOrder);
    for (int order = 0; order <= kMaxTaylorOrder; ++order) {
      const std::vector<double> part = taylor_coefficients(act, 0.7, order);
      ASSERT_EQ(part.size(), static_cast<std::size_t>(order) + 1);
      for (std::size_t n = 0; n < part.size(); ++n) EXPECT_EQ(part[n], full[n]);
      const double expected = std::tgamma(order + 1.0) * full[static_cast<std::size_t>(order)];
      EXPECT_NEAR(activation_derivative(act, 0.7, order), expected, 1e-14 * std::fabs(expected));
    }
  }
}

double horner(const std::vector<double>& c, double t) {
  double y = 0.0;
  for (auto it = c.rbegin(); it != c.rend(); ++it) y = y * t + *it;
  return y;
}

TEST(TaylorCoefficients, SiluPolynomialConvergesInsideRadiusPi) {
  // SiLU has poles at ±iπ, so its series about 0 converges for |t| < π: at N = 32 the remainder
  // is about (|t|/π)^33, below 1e-6 for |t| <= 2; beyond π the partial sums diverge.
  const std::vector<double> c = taylor_coefficients(Activation::silu, 0.0, kMaxTaylorOrder);
  double max_err = 0.0;
  for (double t = -2.0; t <= 2.0 + 1e-12; t += 0.05)
    max_err = std::max(max_err, std::fabs(horner(c, t) - activate(Activation::silu, t)));
  std::printf("[ series ] silu at a=0, N=32: max |P_N(t) - silu(t)| over |t| <= 2 = %.2e\n",
              max_err);
  EXPECT_LT(max_err, 1e-6);
  const auto err_at = [&](int order, double t) {
    return std::fabs(horner(taylor_coefficients(Activation::silu, 0.0, order), t) -
                     activate(Activation::silu, t));
  };
  EXPECT_LT(err_at(32, 2.8), err_at(16, 2.8));  // inside: shrinks with N
  EXPECT_GT(err_at(32, 4.0), err_at(16, 4.0));  // outside: grows with N
  // GELU and gelu_tanh converge too near the expansion point.
  for (Activation act : {Activation::gelu, Activation::gelu_tanh}) {
    const std::vector<double> g = taylor_coefficients(act, 0.5, kMaxTaylorOrder);
    for (double t = -1.0; t <= 1.0 + 1e-12; t += 0.1)
      EXPECT_NEAR(horner(g, t), activate(act, 0.5 + t), 1e-13) << to_string(act) << " " << t;
  }
}

TEST(TaylorCoefficients, RejectsBadInput) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (Activation act : kSmooth) {
    EXPECT_THROW((void)taylor_coefficients(act, 0.0, -1), InvalidArgument);
    EXPECT_THROW((void)taylor_coefficients(act, 0.0, kMaxTaylorOrder + 1), InvalidArgument);
    EXPECT_THROW((void)taylor_coefficients(act, nan, 4), InvalidArgument);
    EXPECT_THROW((void)taylor_coefficients(act, inf, 4), InvalidArgument);
    EXPECT_THROW((void)taylor_coefficients(act, -inf, 4), InvalidArgument);
    EXPECT_THROW((void)activation_derivative(act, 0.0, -1), InvalidArgument);
    EXPECT_THROW((void)activation_derivative(act, 0.0, 33), InvalidArgument);
    EXPECT_THROW((void)activation_derivative(act, nan, 1), InvalidArgument);
  }
  EXPECT_THROW((void)taylor_coefficients(Activation::relu, 1.0, 2), InvalidArgument);
  EXPECT_THROW((void)activation_derivative(Activation::relu, 1.0, 1), InvalidArgument);
  try {
    (void)taylor_coefficients(Activation::relu, 1.0, 2);
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("relu"), std::string::npos);
  }
}

TEST(SeriesHelpers, ElementaryIdentities) {
  using detail::Series;
  // exp(t) = Σ t^n/n!, 1/(1 - t) = Σ t^n, (1 + t)² = 1 + 2t + t², ∫ 1/(1-t) = -log(1 - t).
  Series t{0.0, 1.0, 0.0, 0.0, 0.0, 0.0};
  const Series e = detail::series_exp(t);
  double fact = 1.0;
  for (std::size_t n = 0; n < e.size(); ++n) {
    if (n > 0) fact *= static_cast<double>(n);
    EXPECT_DOUBLE_EQ(e[n], 1.0 / fact);
  }
  const Series r = detail::series_reciprocal({1.0, -1.0, 0.0, 0.0, 0.0, 0.0});
  for (double v : r) EXPECT_EQ(v, 1.0);
  const Series sq = detail::series_mul({1.0, 1.0, 0.0, 0.0}, {1.0, 1.0, 0.0, 0.0});
  EXPECT_EQ(sq, (Series{1.0, 2.0, 1.0, 0.0}));
  const Series lg = detail::series_integrate(r, 0.0);
  for (std::size_t n = 1; n < lg.size(); ++n) EXPECT_DOUBLE_EQ(lg[n], 1.0 / static_cast<double>(n));
  // sigmoid(t) = 1/2 + t/4 - t³/48 + t⁵/480 - ...
  const Series s = detail::series_sigmoid(t);
  EXPECT_DOUBLE_EQ(s[0], 0.5);
  EXPECT_DOUBLE_EQ(s[1], 0.25);
  EXPECT_NEAR(s[2], 0.0, 1e-17);
  EXPECT_DOUBLE_EQ(s[3], -1.0 / 48.0);
  EXPECT_NEAR(s[4], 0.0, 1e-17);
  EXPECT_DOUBLE_EQ(s[5], 1.0 / 480.0);
  EXPECT_EQ(detail::series_exp({-1e6, 1.0, 0.5}), (Series{0.0, 0.0, 0.0}));
  EXPECT_THROW((void)detail::series_reciprocal({0.0, 1.0}), LogicError);
  EXPECT_THROW((void)detail::series_mul({1.0}, {1.0, 2.0}), LogicError);
  EXPECT_THROW((void)detail::series_exp({}), LogicError);
}

}  // namespace
}  // namespace wrsec::nn
