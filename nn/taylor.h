#pragma once
// Taylor coefficients c_n = σ^{(n)}(a)/n! of the smooth activations by truncated power-series
// arithmetic (Taylor-mode AD) in double; a Series holds c_0..c_N of σ(a + t). No factorial or
// unnormalised derivative is formed. With s the sigmoid:
//   silu:      (a + t)·s(a + t), s = 1/(1 + e^{-x}) for a >= 0, e^{x}/(1 + e^{x}) for a < 0
//              (the exponential series never exceeds 1, so large |a| cannot overflow);
//   gelu:      (a + t)·Φ(a + t), Φ(a + t) = Φ(a) + ∫_0^t φ(a)·exp(-a·τ - τ²/2) dτ;
//   gelu_tanh: (a + t)·s(2u(a + t)), u(x) = √(2/π)·(x + 0.044715·x³), as (1 + tanh u)/2 = s(2u).
// relu is not analytic at 0 and is rejected. Accuracy against an MPFR oracle for a in [-12, 12],
// n <= 32, relative to max(|c_n|, the size of what cancels in c_n): silu 3e-15, gelu 1.3e-15,
// gelu_tanh 2e-13 (tests/nn/taylor_test.cpp prints the measurements).
#include <vector>

#include "nn/layers.h"

namespace wrsec::nn {

inline constexpr int kMaxTaylorOrder = 32;

// Coefficients c_n = σ^{(n)}(a)/n!, n = 0..order, of act = silu, gelu or gelu_tanh.
// @throws InvalidArgument if act is relu, a is not finite or order is not in 0..kMaxTaylorOrder.
[[nodiscard]] std::vector<double> taylor_coefficients(Activation act, double a, int order);

// σ^{(n)}(a) = n!·c_n; same preconditions as taylor_coefficients with order = n.
[[nodiscard]] double activation_derivative(Activation act, double a, int n);

namespace detail {

// Truncated power series: coefficient k multiplies t^k. Every operation returns a series of the
// length of its (equal-length, non-empty) inputs; LogicError otherwise.
using Series = std::vector<double>;

[[nodiscard]] Series series_mul(const Series& f, const Series& g);
// 1/d; LogicError if d_0 == 0.
[[nodiscard]] Series series_reciprocal(const Series& d);
// exp(f) by e_0 = exp(f_0), e_n = (1/n)·Σ_{k=1..n} k·f_k·e_{n-k}; all zeros if exp(f_0)
// underflows (every coefficient carries the factor exp(f_0)). Meant for f_0 <= 0.
[[nodiscard]] Series series_exp(const Series& f);
// Antiderivative with constant term c0 (the last coefficient of f is dropped).
[[nodiscard]] Series series_integrate(const Series& f, double c0);
// sigmoid(g), choosing the exponent sign from g_0 as for silu above.
[[nodiscard]] Series series_sigmoid(const Series& g);

}  // namespace detail
}  // namespace wrsec::nn
