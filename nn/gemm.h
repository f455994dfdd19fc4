#pragma once
// Single-precision matrix products whose bits are defined element by element, so that they do not
// depend on blocking, vector width, the order tiles are visited, the number of threads, or the
// other rows of the batch. Row-major operands with leading dimensions (row strides) ld*.
//   Chain form (gemm_nn: C = A·B, gemm_tn: C = Aᵀ·B): one fused multiply-add chain along the
//     depth in index order, s₀ = 0, s_{k+1} = fma(a_ik, b_kj, s_k), c_ij = s_K.
//   Lane form (gemm_nt: C = A·Bᵀ + bias, both operands contiguous along the depth): the depth is
//     zero-padded to a multiple of 8 and split into 8 lane chains, lane l over k ≡ l (mod 8),
//     t_l = fma chain over its k in order from 0; c_ij = (((t₀+t₁)+(t₂+t₃)) + ((t₄+t₅)+(t₆+t₇)))
//     + bias_j (the bias add only when a bias is given).
// The kernels are AVX2+FMA (x86-64-v3); the reference_* functions compute the same definitions
// with scalar std::fma and agree bit for bit (tests/nn/gemm_test.cpp). Large products run on
// OpenMP threads over fixed output tiles; small ones (or calls inside a parallel region) serially.
#include <cstdint>

namespace wrsec::nn {

// C[m×n] = A[m×k]·B[k×n].
void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
             const float* b, std::int64_t ldb, float* c, std::int64_t ldc);
// C[m×n] = A[k×m]ᵀ·B[k×n].
void gemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
             const float* b, std::int64_t ldb, float* c, std::int64_t ldc);
// C[m×n] = A[m×k]·B[n×k]ᵀ (+ bias[n] when bias is not null).
void gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
             const float* b, std::int64_t ldb, float* c, std::int64_t ldc,
             const float* bias = nullptr);

void reference_gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                       std::int64_t ldc);
void reference_gemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                       std::int64_t ldc);
void reference_gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                       std::int64_t ldc, const float* bias = nullptr);

}  // namespace wrsec::nn
