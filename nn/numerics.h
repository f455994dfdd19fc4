#pragma once
// What decides the bits of every floating-point result wrsec computes, as one string: the ISA
// level every translation unit targets, the fixed GEMM blocking Eigen is compiled with (instead of
// blocking derived from CPUID cache sizes), the contraction rule, the Eigen version, and the
// definition of wrsec's own single-precision products (nn/gemm.h: fma chains and 8-lane chains).
// Two builds with equal numerics_id() (and the same libm, i.e. the same Debian release) give
// identical bits for the same spec and seed on any CPU of that level, for any thread count. Cached
// trained models are keyed by it; run manifests record it.
#include <string>

namespace wrsec::nn {

// e.g. "x86-64-v3 fp-contract=off eigen-3.4.0 gemm-kc256-mc480-nc1024 no-cpuid f32gemm-chain-lane8"
[[nodiscard]] std::string numerics_id();

}  // namespace wrsec::nn
