#pragma once
// Arithmetic in a 16-bit float type T ∈ {bf16, f16} as eager PyTorch (1.13) runs it on the CPU,
// so that code written in T (the official TaylorMLP code) can be reproduced bit for bit. Every
// elementwise operation on T-tensors computes in binary32 from exact inputs and rounds its result
// to T once (round to nearest even): R(a·b), R(a + b), R(a − b). A Python scalar multiplier is
// cast to T first, R(c)·a (exact for small integers; C(15, 7) = 6435 becomes 6432 in bf16, which
// the N = 16 fixture pins). The transcendental kernels (PyTorch 1.13's CPU kernels for bf16,
// matched against its output over 2001 bf16 values in [−3, 3]):
//   sigmoid(x) = R(1 / (1 + exp(−x)))              one rounding of the binary32 value
//   silu(x)    = R(x / R(1 + R(exp(−x))))           every intermediate rounded to T
// with exp the binary32 expf; a different exp (PyTorch's vectorised Sleef exp, within 1 ulp of
// binary32) changes a rounded result only when the binary32 value lies within an ulp of a
// rounding boundary of T. PyTorch 1.13 has no CPU silu for f16, so there is no reference for f16;
// the same formulas are used.
#include <string>
#include <vector>

namespace wrsec::nn {

enum class LowPrecision { bf16, f16 };

// "bf16" | "f16"; InvalidArgument otherwise.
[[nodiscard]] LowPrecision parse_low_precision(const std::string& name);
[[nodiscard]] std::string to_string(LowPrecision t);

// x rounded to T (nearest even), returned as the binary32 value it denotes.
[[nodiscard]] float round_to(LowPrecision t, float x) noexcept;

[[nodiscard]] float lowp_sigmoid(LowPrecision t, float x) noexcept;
[[nodiscard]] float lowp_silu(LowPrecision t, float x) noexcept;

// The official code's silu_grad(x, N, dtype) (tylor_expansion/src/utils.py of
// github.com/guanchuwang/Taylor-Unswift) for one unit: entry n−1 is its SiLU^{(n)}(x), n = 1..N,
// computed in T exactly as the Python does (sigmoid s; y_0 = s(1 − s); the Leibniz recurrence
// y_n = Σ_k C(n,k)·(±…) accumulated term by term; SiLU^{(n+1)} = x·y_n + (n+1)·y_{n−1}), every
// operation rounded to T. x must be a value of T; N in [1, 32].
// @throws InvalidArgument otherwise.
[[nodiscard]] std::vector<float> official_silu_derivatives(LowPrecision t, float x, int order);

}  // namespace wrsec::nn
