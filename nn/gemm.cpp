#include "nn/gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

using Index = std::int64_t;

// Products below this many multiply-adds run on the calling thread.
constexpr double kParallelWork = 2.0e5;

bool run_parallel(Index m, Index n, Index k) {
  return static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >=
             kParallelWork &&
         !omp_in_parallel() && omp_get_max_threads() > 1;
}

void check_shape(const char* what, Index m, Index n, Index k) {
  if (m < 0 || n < 0 || k < 0) throw InvalidArgument(std::string(what) + ": negative dimension");
}

// Lane masks for maskload/maskstore: the first `valid` of 8 lanes.
__m256i lane_mask(Index valid) {
  alignas(32) static constexpr std::int32_t kRamp[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                         0,  0,  0,  0,  0,  0,  0,  0};
  const Index v = std::clamp<Index>(valid, 0, 8);
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kRamp + 8 - v));
}

// ---- chain form ---------------------------------------------------------------------------------
// One MR × (≤16) tile: op(A)(i, k) = a[i·a_si + k·a_sk], B(k, j) = b[k·ldb + j], nv valid columns.
constexpr Index kChainMR = 6;
constexpr Index kChainNR = 16;

template <int MR, bool kMasked>
void chain_tile(Index kdepth, const float* a, Index a_si, Index a_sk, const float* b, Index ldb,
                Index nv, float* c, Index ldc) {
  // The unrolled loops over r let GCC keep the 2·MR accumulators in registers (without the
  // pragmas it stores them to the stack on every step and runs at half speed).
  __m256 acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const __m256i m0 = lane_mask(kMasked ? nv : 8), m1 = lane_mask(kMasked ? nv - 8 : 8);
  for (Index k = 0; k < kdepth; ++k) {
    const float* bk = b + k * ldb;
    __m256 b0, b1;
    if constexpr (kMasked) {
      b0 = _mm256_maskload_ps(bk, m0);
      b1 = _mm256_maskload_ps(bk + 8, m1);  // no access when nv <= 8: the mask is empty
    } else {
      b0 = _mm256_loadu_ps(bk);
      b1 = _mm256_loadu_ps(bk + 8);
    }
    const float* ak = a + k * a_sk;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(ak + r * a_si);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if constexpr (kMasked) {
      _mm256_maskstore_ps(c + r * ldc, m0, acc[r][0]);
      _mm256_maskstore_ps(c + r * ldc + 8, m1, acc[r][1]);
    } else {
      _mm256_storeu_ps(c + r * ldc, acc[r][0]);
      _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
    }
  }
}

template <int MR>
void chain_tile(Index kdepth, const float* a, Index a_si, Index a_sk, const float* b, Index ldb,
                Index nv, float* c, Index ldc) {
  if (nv == kChainNR)
    chain_tile<MR, false>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
  else
    chain_tile<MR, true>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
}

void chain_rows(Index mr, Index kdepth, const float* a, Index a_si, Index a_sk, const float* b,
                Index ldb, Index nv, float* c, Index ldc) {
  switch (mr) {
    case 6:
      return chain_tile<6>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
    case 5:
      return chain_tile<5>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
    case 4:
      return chain_tile<4>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
    case 3:
      return chain_tile<3>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
    case 2:
      return chain_tile<2>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
    default:
      return chain_tile<1>(kdepth, a, a_si, a_sk, b, ldb, nv, c, ldc);
  }
}

// Tiles are visited column panel by column panel (the panel of B stays in cache while the rows of
// A stream past it); a task is a run of kChainTilesPerTask row tiles of one panel.
constexpr Index kChainTilesPerTask = 8;

void chain_gemm(Index m, Index n, Index kdepth, const float* a, Index a_si, Index a_sk,
                const float* b, Index ldb, float* c, Index ldc) {
  if (m == 0 || n == 0) return;
  if (kdepth == 0) {
    for (Index i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const Index row_tiles = (m + kChainMR - 1) / kChainMR;
  const Index chunks = (row_tiles + kChainTilesPerTask - 1) / kChainTilesPerTask;
  const Index panels = (n + kChainNR - 1) / kChainNR;
  const Index tasks = panels * chunks;
  const auto task = [&](Index t) {
    const Index p = t / chunks, ch = t % chunks;
    const Index j0 = p * kChainNR, nv = std::min(kChainNR, n - j0);
    const Index tile_end = std::min(row_tiles, (ch + 1) * kChainTilesPerTask);
    for (Index tile = ch * kChainTilesPerTask; tile < tile_end; ++tile) {
      const Index i0 = tile * kChainMR, mr = std::min(kChainMR, m - i0);
      chain_rows(mr, kdepth, a + i0 * a_si, a_si, a_sk, b + j0, ldb, nv, c + i0 * ldc + j0, ldc);
    }
  };
  if (run_parallel(m, n, kdepth)) {
#pragma omp parallel for schedule(static)
    for (Index t = 0; t < tasks; ++t) task(t);
  } else {
    for (Index t = 0; t < tasks; ++t) task(t);
  }
}

// ---- lane form ----------------------------------------------------------------------------------
// One MR × NR tile of A·Bᵀ: 8-lane accumulators along the depth, reduced by the fixed tree.
constexpr Index kLaneMR = 4;
constexpr Index kLaneNR = 3;
constexpr Index kLaneNRSingleRow = 8;

// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)) of v0..v3, as the four lanes of the result.
__m128 reduce4(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

template <int MR, int NR>
void lane_tile(Index kdepth, const float* a, Index lda, const float* b, Index ldb, float* c,
               Index ldc, const float* bias) {
  __m256 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int q = 0; q < NR; ++q) acc[r][q] = _mm256_setzero_ps();
  const Index full = kdepth / 8 * 8;
  for (Index k = 0; k < full; k += 8) {
    __m256 bv[NR];
#pragma GCC unroll 8
    for (int q = 0; q < NR; ++q) bv[q] = _mm256_loadu_ps(b + q * ldb + k);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_loadu_ps(a + r * lda + k);
#pragma GCC unroll 8
      for (int q = 0; q < NR; ++q) acc[r][q] = _mm256_fmadd_ps(av, bv[q], acc[r][q]);
    }
  }
  if (full < kdepth) {
    const __m256i mask = lane_mask(kdepth - full);
    __m256 bv[NR];
#pragma GCC unroll 8
    for (int q = 0; q < NR; ++q) bv[q] = _mm256_maskload_ps(b + q * ldb + full, mask);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_maskload_ps(a + r * lda + full, mask);
#pragma GCC unroll 8
      for (int q = 0; q < NR; ++q) acc[r][q] = _mm256_fmadd_ps(av, bv[q], acc[r][q]);
    }
  }
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int q0 = 0; q0 < NR; q0 += 4) {
      const auto at = [&](int q) { return q < NR ? acc[r][q < NR ? q : 0] : zero; };
      const __m128i mask = _mm256_castsi256_si128(lane_mask(std::min(4, NR - q0)));
      __m128 s = reduce4(at(q0), at(q0 + 1), at(q0 + 2), at(q0 + 3));
      if (bias) s = _mm_add_ps(s, _mm_maskload_ps(bias + q0, mask));
      _mm_maskstore_ps(c + r * ldc + q0, mask, s);
    }
  }
}

template <int MR>
void lane_cols(Index nr, Index kdepth, const float* a, Index lda, const float* b, Index ldb,
               float* c, Index ldc, const float* bias) {
  if constexpr (MR == 1) {
    // A single row (batch-1 inference): wider tiles, so that enough independent chains are in
    // flight to hide the latency of the fused multiply-add.
    switch (nr) {
      case 8:
        return lane_tile<1, 8>(kdepth, a, lda, b, ldb, c, ldc, bias);
      case 7:
        return lane_tile<1, 7>(kdepth, a, lda, b, ldb, c, ldc, bias);
      case 6:
        return lane_tile<1, 6>(kdepth, a, lda, b, ldb, c, ldc, bias);
      case 5:
        return lane_tile<1, 5>(kdepth, a, lda, b, ldb, c, ldc, bias);
      case 4:
        return lane_tile<1, 4>(kdepth, a, lda, b, ldb, c, ldc, bias);
      default:
        break;
    }
  }
  switch (nr) {
    case 3:
      return lane_tile<MR, 3>(kdepth, a, lda, b, ldb, c, ldc, bias);
    case 2:
      return lane_tile<MR, 2>(kdepth, a, lda, b, ldb, c, ldc, bias);
    default:
      return lane_tile<MR, 1>(kdepth, a, lda, b, ldb, c, ldc, bias);
  }
}

void lane_block(Index mr, Index nr, Index kdepth, const float* a, Index lda, const float* b,
                Index ldb, float* c, Index ldc, const float* bias) {
  switch (mr) {
    case 4:
      return lane_cols<4>(nr, kdepth, a, lda, b, ldb, c, ldc, bias);
    case 3:
      return lane_cols<3>(nr, kdepth, a, lda, b, ldb, c, ldc, bias);
    case 2:
      return lane_cols<2>(nr, kdepth, a, lda, b, ldb, c, ldc, bias);
    default:
      return lane_cols<1>(nr, kdepth, a, lda, b, ldb, c, ldc, bias);
  }
}

// A task is a run of kLaneTilesPerTask column tiles (rows of B) against one row tile of A.
constexpr Index kLaneTilesPerTask = 8;

void lane_gemm(Index m, Index n, Index kdepth, const float* a, Index lda, const float* b, Index ldb,
               float* c, Index ldc, const float* bias) {
  if (m == 0 || n == 0) return;
  const Index row_tiles = (m + kLaneMR - 1) / kLaneMR;
  const Index col_width = m == 1 ? kLaneNRSingleRow : kLaneNR;
  const Index col_tiles = (n + col_width - 1) / col_width;
  const Index chunks = (col_tiles + kLaneTilesPerTask - 1) / kLaneTilesPerTask;
  const Index tasks = chunks * row_tiles;
  // Visit order (results do not depend on it): when A fits in the L2 cache of a typical core,
  // column chunk by column chunk, so a chunk of B stays in cache while A streams past; otherwise
  // row tile by row tile, so B is read from cache and A from memory only once.
  const bool rows_outer = static_cast<double>(m) * static_cast<double>(kdepth) * sizeof(float) >
                          static_cast<double>(1 << 20);
  const auto task = [&](Index t) {
    const Index ch = rows_outer ? t % chunks : t / row_tiles;
    const Index rt = rows_outer ? t / chunks : t % row_tiles;
    const Index i0 = rt * kLaneMR, mr = std::min(kLaneMR, m - i0);
    const Index tile_end = std::min(col_tiles, (ch + 1) * kLaneTilesPerTask);
    for (Index tile = ch * kLaneTilesPerTask; tile < tile_end; ++tile) {
      const Index j0 = tile * col_width, nr = std::min(col_width, n - j0);
      lane_block(mr, nr, kdepth, a + i0 * lda, lda, b + j0 * ldb, ldb, c + i0 * ldc + j0, ldc,
                 bias ? bias + j0 : nullptr);
    }
  };
  if (run_parallel(m, n, kdepth)) {
#pragma omp parallel for schedule(static)
    for (Index t = 0; t < tasks; ++t) task(t);
  } else {
    for (Index t = 0; t < tasks; ++t) task(t);
  }
}

}  // namespace

void gemm_nn(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
             float* c, Index ldc) {
  check_shape("gemm_nn", m, n, k);
  chain_gemm(m, n, k, a, lda, 1, b, ldb, c, ldc);
}

void gemm_tn(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
             float* c, Index ldc) {
  check_shape("gemm_tn", m, n, k);
  chain_gemm(m, n, k, a, 1, lda, b, ldb, c, ldc);
}

void gemm_nt(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
             float* c, Index ldc, const float* bias) {
  check_shape("gemm_nt", m, n, k);
  lane_gemm(m, n, k, a, lda, b, ldb, c, ldc, bias);
}

namespace {

void reference_chain(Index m, Index n, Index kdepth, const float* a, Index a_si, Index a_sk,
                     const float* b, Index ldb, float* c, Index ldc) {
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      float s = 0.0f;
      for (Index k = 0; k < kdepth; ++k) s = std::fma(a[i * a_si + k * a_sk], b[k * ldb + j], s);
      c[i * ldc + j] = s;
    }
}

}  // namespace

void reference_gemm_nn(Index m, Index n, Index k, const float* a, Index lda, const float* b,
                       Index ldb, float* c, Index ldc) {
  check_shape("reference_gemm_nn", m, n, k);
  reference_chain(m, n, k, a, lda, 1, b, ldb, c, ldc);
}

void reference_gemm_tn(Index m, Index n, Index k, const float* a, Index lda, const float* b,
                       Index ldb, float* c, Index ldc) {
  check_shape("reference_gemm_tn", m, n, k);
  reference_chain(m, n, k, a, 1, lda, b, ldb, c, ldc);
}

void reference_gemm_nt(Index m, Index n, Index kdepth, const float* a, Index lda, const float* b,
                       Index ldb, float* c, Index ldc, const float* bias) {
  check_shape("reference_gemm_nt", m, n, kdepth);
  const Index padded = (kdepth + 7) / 8 * 8;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      float t[8] = {};
      for (Index k = 0; k < padded; ++k) {
        const float x = k < kdepth ? a[i * lda + k] : 0.0f;
        const float y = k < kdepth ? b[j * ldb + k] : 0.0f;
        t[k % 8] = std::fma(x, y, t[k % 8]);
      }
      float s = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
      if (bias) s += bias[j];
      c[i * ldc + j] = s;
    }
}

}  // namespace wrsec::nn
