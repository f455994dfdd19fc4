#include "attacks/taylor_sign_hypothesis.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <span>
#include <unordered_map>
#include <utility>

#include "core/errors.h"
#include "core/parallel.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/taylor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WRSEC_SIGN_HYPOTHESIS_AVX2 1
#include <immintrin.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wrsec::attacks {
namespace {

using Index = std::int64_t;

// Official tensor names (schemes/taylor_mlp.h), without the layer prefix.
constexpr const char* kUp = "up_proj_weight";
constexpr const char* kGate = "gate_proj_weight";
constexpr const char* kLocalPoint = "local_point";
constexpr const char* kLocalOutput = "local_approx_output";
constexpr const char* kFuse = "fuse_weight";
constexpr const char* kFfnGate = "ffn_gate_proj_weight";
constexpr const char* kFfnUp = "ffn_up_proj_weight";
constexpr const char* kFfnDown = "ffn_down_proj_weight";
constexpr const char* kLeftoverGate = "gate_proj.weight";

// Rows whose Gram matrices decide the clear-cut units; a unit whose residual ratio there exceeds
// kClearRatio is re-tested on all rows; after that a ratio above kAmbiguousRatio is reported.
constexpr Index kProbeRows = 64;
constexpr double kClearRatio = 1e-2;
constexpr double kAmbiguousRatio = 0.25;
// Units per task of the Gram kernel, rows per block inside it.
constexpr Index kGramChunk = 1024;
constexpr Index kGramRowBlock = 16;
// Elements sampled per row by the matching hash (exact comparison follows).
constexpr Index kHashSamples = 64;
// Matching original rows kept per released row (identical rows beyond this stay unmatched, and
// the unit order is then reported unknown).
constexpr std::size_t kMaxCandidates = 64;

std::size_t sz(Index i) {
  return static_cast<std::size_t>(i);
}

// 1 iff some element of x[0, n) is NaN or infinite (branch-free, vectorisable).
std::uint32_t any_non_finite(const float* x, Index n) {
  std::uint32_t bad = 0;
  for (Index k = 0; k < n; ++k)
    bad |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(x[k]) & 0x7f800000u) ==
                                      0x7f800000u);
  return bad;
}

bool tensor_non_finite(const float* x, Index n) {
  if (n == 0) return false;
  constexpr Index kBlock = Index{1} << 16;
  const Index blocks = (n + kBlock - 1) / kBlock;
  std::uint32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
  for (Index b = 0; b < blocks; ++b) {
    const Index begin = b * kBlock;
    bad |= any_non_finite(x + begin, std::min(kBlock, n - begin));
  }
  return bad != 0;
}

// A zero-filled float tensor; large buffers are advised onto transparent huge pages first, which
// makes the unavoidable first touch (value-initialisation of the vector) much cheaper.
nn::Tensor output_tensor(std::vector<std::int64_t> shape) {
  nn::Tensor t;
  const Index n = nn::checked_numel(shape);
  t.shape = std::move(shape);
  t.data.reserve(sz(n));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t{1} << 21;
  const auto begin = reinterpret_cast<std::uintptr_t>(t.data.data());
  const std::uintptr_t end = begin + sz(n) * sizeof(float);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = end & ~(kHuge - 1);
  if (last > first) (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
  t.data.resize(sz(n));
  return t;
}

// dst[k] = ±src[k] for k < n (negation flips the sign bit, exactly as unary minus). The output
// tensors are far larger than the caches, so whole-row writes use non-temporal stores, which
// skip reading the destination lines first; call store_fence() before other threads read.
void copy_row(float* dst, const float* src, Index n, bool negate) {
#if defined(__SSE2__)
  Index k = 0;
  for (; k < n && (reinterpret_cast<std::uintptr_t>(dst + k) & 15u) != 0; ++k)
    dst[k] = negate ? -src[k] : src[k];
  const __m128 flip = _mm_set1_ps(negate ? -0.0f : 0.0f);
  for (; k + 4 <= n; k += 4) _mm_stream_ps(dst + k, _mm_xor_ps(_mm_loadu_ps(src + k), flip));
  for (; k < n; ++k) dst[k] = negate ? -src[k] : src[k];
#else
  if (negate) {
    for (Index k = 0; k < n; ++k) dst[k] = -src[k];
  } else {
    std::memcpy(dst, src, sz(n) * sizeof(float));
  }
#endif
}

void store_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// ---------------------------------------------------------------------------------------------
// Hypothesis coefficients and the residual test.

// Gram accumulators of one unit, G_nm = ⟨T_n, T_m⟩: rows n = 0..N of L = 8·⌈N/8⌉ lanes holding
// G_{n,1..L} (lanes beyond N unused), then G_00.
struct GramLayout {
  int order = 0;
  Index lanes = 0;
  Index stride = 0;
  explicit GramLayout(int n) : order(n), lanes(8 * ((n + 7) / 8)), stride((n + 1) * lanes + 1) {}
  // G_nm for n ≤ m.
  [[nodiscard]] double at(const double* g, int n, int m) const {
    return m == 0 ? g[(order + 1) * lanes] : g[n * lanes + (m - 1)];
  }
};

#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
#endif

// k_n(σ_h) = σ^{(n)}(σ_h·p)·σ_h^n, n = 0..N, for σ_h = +1 (plus) and −1 (minus).
void hypothesis_coefficients(nn::Activation act, double p, int order, double* plus, double* minus) {
  for (int h = 0; h < 2; ++h) {
    const double s = h == 0 ? 1.0 : -1.0;
    double* k = h == 0 ? plus : minus;
    const std::vector<double> c = nn::taylor_coefficients(act, s * p, order);
    double factorial = 1.0;
    double sign_power = 1.0;
    for (int n = 0; n <= order; ++n) {
      if (n > 0) {
        factorial *= double(n);
        sign_power *= s;
      }
      k[n] = c[sz(n)] * factorial * sign_power;
    }
  }
}

// R = tr G − kᵀGk / ‖k‖² (clamped at 0).
double residual(const GramLayout& lay, const double* g, const double* k) {
  double trace = 0.0;
  double kgk = 0.0;
  double kk = 0.0;
  for (int n = 0; n <= lay.order; ++n) {
    kk += k[n] * k[n];
    const double gnn = lay.at(g, n, n);
    trace += gnn;
    kgk += k[n] * k[n] * gnn;
    for (int m = n + 1; m <= lay.order; ++m) kgk += 2.0 * k[n] * k[m] * lay.at(g, n, m);
  }
  if (!(kk > 0.0)) return trace;
  return std::max(0.0, trace - kgk / kk);
}

struct Decision {
  std::int8_t sign = 1;
  double ratio = 1.0;  // R_chosen / R_other; 1 when both are zero
};

Decision decide(const GramLayout& lay, const double* g, const double* plus, const double* minus) {
  const double rp = residual(lay, g, plus);
  const double rm = residual(lay, g, minus);
  Decision d;
  d.sign = rp <= rm ? 1 : -1;
  const double hi = std::max(rp, rm);
  d.ratio = hi > 0.0 ? std::min(rp, rm) / hi : 1.0;
  return d;
}

// Adds rows [r0, r1) of unit j into its accumulators (any N).
void gram_rows_scalar(const OfficialLayerView& v, const GramLayout& lay, Index j, Index r0,
                      Index r1, double* acc) {
  const int order = lay.order;
  const Index hs = v.h_s;
  double t[nn::kMaxTaylorOrder + 1];
  for (Index i = r0; i < r1; ++i) {
    t[0] = v.local_approx[i * hs + j];
    const float* f = v.fuse + (i * hs + j) * order;
    for (int n = 0; n < order; ++n) t[n + 1] = f[n];
    for (int n = 0; n <= order; ++n) {
      double* row = acc + n * lay.lanes;
      for (int m = std::max(n, 1); m <= order; ++m) row[m - 1] += t[n] * t[m];
    }
    acc[(order + 1) * lay.lanes] += t[0] * t[0];
  }
}

#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
// The same for N ≤ 8 with the accumulators in registers: lanes hold T_1..T_8 as doubles, each row
// n adds T_n·(T_1..T_8). Masked loads never touch memory beyond the unit's N values.
template <int N>
[[gnu::target("avx2,fma")]] void gram_rows_avx2(const OfficialLayerView& v, Index j, Index r0,
                                                Index r1, double* acc) {
  static_assert(N >= 1 && N <= 8);
  constexpr bool kHi = N > 4;
  const Index hs = v.h_s;
  alignas(32) std::int32_t mask_bits[8];
  for (int l = 0; l < 8; ++l) mask_bits[l] = l < N ? -1 : 0;
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(mask_bits));
  __m256d lo_acc[N + 1];
  __m256d hi_acc[N + 1];
  for (int n = 0; n <= N; ++n) {
    lo_acc[n] = _mm256_loadu_pd(acc + n * 8);
    hi_acc[n] = kHi ? _mm256_loadu_pd(acc + n * 8 + 4) : _mm256_setzero_pd();
  }
  double g00 = acc[(N + 1) * 8];
  for (Index i = r0; i < r1; ++i) {
    const float* f = v.fuse + (i * hs + j) * N;
    const __m256 x = _mm256_maskload_ps(f, mask);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    const __m256d hi = kHi ? _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)) : _mm256_setzero_pd();
    const double t0 = v.local_approx[i * hs + j];
    g00 = std::fma(t0, t0, g00);
    __m256d b = _mm256_set1_pd(t0);
    lo_acc[0] = _mm256_fmadd_pd(b, lo, lo_acc[0]);
    if constexpr (kHi) hi_acc[0] = _mm256_fmadd_pd(b, hi, hi_acc[0]);
    for (int n = 1; n <= N; ++n) {
      b = _mm256_set1_pd(double(f[n - 1]));
      lo_acc[n] = _mm256_fmadd_pd(b, lo, lo_acc[n]);
      if constexpr (kHi) hi_acc[n] = _mm256_fmadd_pd(b, hi, hi_acc[n]);
    }
  }
  for (int n = 0; n <= N; ++n) {
    _mm256_storeu_pd(acc + n * 8, lo_acc[n]);
    if constexpr (kHi) _mm256_storeu_pd(acc + n * 8 + 4, hi_acc[n]);
  }
  acc[(N + 1) * 8] = g00;
}
#endif

// Adds rows [i0, i1) of T_0..T_N of the listed units into their accumulators g[j·stride, …).
// Each unit is accumulated by one thread in row order (blocks of kGramRowBlock rows).
void gram_accumulate(const OfficialLayerView& v, const GramLayout& lay,
                     std::span<const Index> units, Index i0, Index i1, std::vector<double>& g) {
  using Kernel = void (*)(const OfficialLayerView&, Index, Index, Index, double*);
  Kernel kernel = nullptr;
#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
  if (cpu_has_avx2()) {
    static constexpr Kernel kKernels[] = {gram_rows_avx2<1>, gram_rows_avx2<2>, gram_rows_avx2<3>,
                                          gram_rows_avx2<4>, gram_rows_avx2<5>, gram_rows_avx2<6>,
                                          gram_rows_avx2<7>, gram_rows_avx2<8>};
    if (lay.order <= 8) kernel = kKernels[lay.order - 1];
  }
#endif
  const Index chunks = (static_cast<Index>(units.size()) + kGramChunk - 1) / kGramChunk;
  parallel_for(chunks, [&](Index chunk) {
    const Index u0 = chunk * kGramChunk;
    const Index u1 = std::min<Index>(u0 + kGramChunk, static_cast<Index>(units.size()));
    for (Index r0 = i0; r0 < i1; r0 += kGramRowBlock) {
      const Index r1 = std::min(r0 + kGramRowBlock, i1);
      for (Index u = u0; u < u1; ++u) {
        const Index j = units[sz(u)];
        double* acc = g.data() + j * lay.stride;
        if (kernel != nullptr)
          kernel(v, j, r0, r1, acc);
        else
          gram_rows_scalar(v, lay, j, r0, r1, acc);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The W_down pass: out[j] = cf0[j]·loc[j] + Σ_{n<N} cf[j·L + n]·fu[j·N + n] for j in [0, m),
// where cf holds L ≥ N lanes per unit (zero beyond N).

void down_row_scalar(const float* fu, const float* loc, const float* cf, const float* cf0, Index j0,
                     Index m, int order, int lanes, float* out) {
  for (Index j = j0; j < m; ++j) {
    const float* x = fu + j * order;
    const float* c = cf + j * lanes;
    float s = 0.0f;
    for (int n = 0; n < order; ++n) s += c[n] * x[n];
    out[j] = s + cf0[j] * loc[j];
  }
}

#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
// Units [0, m_vec) may be read with full 8-lane loads per 8-lane group of their L lanes.
[[gnu::target("avx2,fma")]] void down_row_avx2(const float* fu, const float* loc, const float* cf,
                                               const float* cf0, Index m, Index m_vec, int order,
                                               int lanes, float* out) {
  const int groups = lanes / 8;
  Index j = 0;
  for (; j + 8 <= m_vec; j += 8) {
    __m256 p[8];
    for (int u = 0; u < 8; ++u) {
      const float* x = fu + (j + u) * order;
      const float* c = cf + (j + u) * lanes;
      __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(c));
      for (int gi = 1; gi < groups; ++gi)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8 * gi), _mm256_loadu_ps(c + 8 * gi), acc);
      p[u] = acc;
    }
    const __m256 h01 = _mm256_hadd_ps(p[0], p[1]);
    const __m256 h23 = _mm256_hadd_ps(p[2], p[3]);
    const __m256 h45 = _mm256_hadd_ps(p[4], p[5]);
    const __m256 h67 = _mm256_hadd_ps(p[6], p[7]);
    const __m256 q0 = _mm256_hadd_ps(h01, h23);
    const __m256 q1 = _mm256_hadd_ps(h45, h67);
    const __m256 sum =
        _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
    _mm256_storeu_ps(out + j,
                     _mm256_fmadd_ps(_mm256_loadu_ps(cf0 + j), _mm256_loadu_ps(loc + j), sum));
  }
  down_row_scalar(fu, loc, cf, cf0, j, m, order, lanes, out);
}
#endif

// ---------------------------------------------------------------------------------------------
// Matching released gate rows to the leftover original gate_proj.

std::uint64_t abs_row_hash(const float* row, Index d) {
  const Index samples = std::min(d, kHashSamples);
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (Index s = 0; s < samples; ++s) {
    const Index k = samples == d ? s : (s * d) / samples;
    hash ^= std::bit_cast<std::uint32_t>(row[k]) & 0x7fffffffu;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// +1 if a == b, −1 if a == −b (a ≠ 0), 0 if neither (±0 compare equal).
int signed_row_match(const float* a, const float* b, Index d) {
  std::uint32_t pos = 1;
  std::uint32_t neg = 1;
  for (Index k = 0; k < d; ++k) {
    pos &= static_cast<std::uint32_t>(a[k] == b[k]);
    neg &= static_cast<std::uint32_t>(a[k] == -b[k]);
  }
  if (pos != 0) return 1;
  if (neg != 0) return -1;
  return 0;
}

struct Matching {
  bool complete = false;
  std::vector<Index> original;  // per released row (h_s selected, then h − h_s plain), −1 if none
  std::vector<std::int8_t> sign;  // per selected row: ±1 read from gate_proj, 0 if undetermined
};

Matching match_gate_rows(const OfficialLayerView& v) {
  const Index d = v.d;
  const Index h = v.h;
  const Index hs = v.h_s;
  Matching out;
  out.original.assign(sz(h), -1);
  out.sign.assign(sz(hs), 0);
  std::vector<std::uint64_t> original_hash(sz(h));
  parallel_for(h, [&](Index r) { original_hash[sz(r)] = abs_row_hash(v.gate_proj + r * d, d); });
  std::unordered_map<std::uint64_t, std::vector<Index>> buckets;
  buckets.reserve(sz(h));
  for (Index r = 0; r < h; ++r) buckets[original_hash[sz(r)]].push_back(r);

  auto released_row = [&](Index r) { return r < hs ? v.gate + r * d : v.ffn_gate + (r - hs) * d; };
  // Candidates per released row, each with the exact signed comparison, in ascending index.
  std::vector<std::vector<std::pair<Index, int>>> candidates(sz(h));
  parallel_for(h, [&](Index r) {
    const float* row = released_row(r);
    const auto it = buckets.find(abs_row_hash(row, d));
    if (it == buckets.end()) return;
    for (const Index c : it->second) {
      const int m = signed_row_match(row, v.gate_proj + c * d, d);
      if (m != 0) candidates[sz(r)].emplace_back(c, m);
      if (candidates[sz(r)].size() == kMaxCandidates) break;  // many identical rows
    }
  });
  // Greedy assignment in release order: the smallest unused matching original row.
  std::vector<char> used(sz(h), 0);
  Index matched = 0;
  for (Index r = 0; r < h; ++r) {
    for (const auto& [c, m] : candidates[sz(r)]) {
      if (used[sz(c)] != 0) continue;
      used[sz(c)] = 1;
      out.original[sz(r)] = c;
      ++matched;
      if (r < hs) {
        // A zero row matches with both signs: its sign stays undetermined.
        const float* row = released_row(r);
        bool zero = true;
        for (Index k = 0; k < d && zero; ++k) zero = row[k] == 0.0f;
        out.sign[sz(r)] = zero ? std::int8_t{0} : static_cast<std::int8_t>(m);
      }
      break;
    }
  }
  out.complete = matched == h;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Exact inversion of low-precision releases.

// The bit pattern of a value of T, and the values of T as ordered integers (…, −1 ulp, 0, +1 ulp,
// …; −0 and +0 both 0).
std::uint16_t lowp_bits(nn::LowPrecision t, float v) {
  return t == nn::LowPrecision::bf16 ? nn::float_to_bf16(v) : nn::float_to_half(v);
}
std::int32_t lowp_ordinal(nn::LowPrecision t, float v) {
  const std::uint16_t b = lowp_bits(t, v);
  const std::int32_t magnitude = b & 0x7fff;
  return (b & 0x8000) != 0 ? -magnitude : magnitude;
}
float lowp_from_ordinal(nn::LowPrecision t, std::int32_t o) {
  const auto b = static_cast<std::uint16_t>(o < 0 ? (0x8000 | -o) : o);
  return t == nn::LowPrecision::bf16 ? nn::bf16_to_float(b) : nn::half_to_float(b);
}

// Per selected unit: the exact coefficients c_0..c_N of the official arithmetic under the
// recovered sign, and the order m with the largest |c_m| (−1 if all vanish).
struct ExactUnits {
  std::vector<float> c;  // (N + 1) per unit
  std::vector<int> primary;
};

ExactUnits exact_coefficients(const OfficialLayerView& v, const std::vector<std::int8_t>& signs) {
  const nn::LowPrecision t = *v.lowp;
  const int order = static_cast<int>(v.n_order);
  const auto stride = sz(order + 1);
  ExactUnits e;
  e.c.resize(sz(v.h_s) * stride);
  e.primary.resize(sz(v.h_s));
  parallel_for(v.h_s, [&](Index j) {
    const float s = signs[sz(j)] < 0 ? -1.0f : 1.0f;
    const float z0 = s * v.local_point[j];
    float* c = e.c.data() + sz(j) * stride;
    c[0] = nn::lowp_silu(t, z0);
    const std::vector<float> g = nn::official_silu_derivatives(t, z0, order);
    float sign_power = 1.0f;
    for (int n = 1; n <= order; ++n) {
      sign_power *= s;
      c[n] = sign_power * g[sz(n - 1)];
    }
    int best = -1;
    for (int n = 0; n <= order; ++n)
      if (std::isfinite(c[n]) && c[n] != 0.0f &&
          (best < 0 || std::fabs(c[n]) > std::fabs(c[sz(best)])))
        best = n;
    e.primary[sz(j)] = best;
  });
  return e;
}

enum class EntryFit { exact, ambiguous, inconsistent };

// The value w of T with R(c_n·w) = T_n for every n (T_0 = loc, T_n = fu[n − 1]); `ls` (the
// least-squares estimate) breaks ties and stands in when no value fits.
EntryFit exact_entry(nn::LowPrecision t, const float* c, int primary, int order, float loc,
                     const float* fu, float ls, float& out) {
  const auto value = [&](int n) { return n == 0 ? loc : fu[n - 1]; };
  const auto fits = [&](float w) {
    if (!std::isfinite(w)) return false;
    for (int n = 0; n <= order; ++n)
      if (nn::round_to(t, c[n] * w) != value(n)) return false;
    return true;
  };
  if (primary < 0) {
    out = nn::round_to(t, ls);
    return fits(out) ? EntryFit::ambiguous : EntryFit::inconsistent;
  }
  const double estimate = double(value(primary)) / double(c[primary]);
  const std::int32_t o0 = lowp_ordinal(t, nn::round_to(t, static_cast<float>(estimate)));
  int found = 0;
  float best = 0.0f;
  for (std::int32_t o = o0 - 2; o <= o0 + 2; ++o) {
    if (o < -0x7f7f || o > 0x7f7f) continue;  // beyond the finite values of either type
    const float w = lowp_from_ordinal(t, o);
    if (!fits(w)) continue;
    if (found == 0 || std::fabs(w - ls) < std::fabs(best - ls)) best = w;
    ++found;
  }
  if (found == 0) {
    out = nn::round_to(t, ls);
    return EntryFit::inconsistent;
  }
  out = best;
  return found == 1 ? EntryFit::exact : EntryFit::ambiguous;
}

void validate_view(const OfficialLayerView& v) {
  if (v.d <= 0 || v.h <= 0 || v.h_s < 0 || v.h_s > v.h)
    throw InvalidArgument("official layer: sizes must satisfy d > 0 and 0 <= h_s <= h, got d = " +
                          std::to_string(v.d) + ", h = " + std::to_string(v.h) +
                          ", h_s = " + std::to_string(v.h_s));
  if (v.n_order < 1 || v.n_order > nn::kMaxTaylorOrder)
    throw InvalidArgument("official layer: order N must be in [1, 32], got " +
                          std::to_string(v.n_order));
  if (v.act == nn::Activation::relu)
    throw InvalidArgument("official layer: relu has no Taylor expansion");
  auto need = [](const float* p, const char* name) {
    if (p == nullptr) throw InvalidArgument(std::string("official layer: missing ") + name);
  };
  if (v.h_s > 0) {
    need(v.up, kUp);
    need(v.gate, kGate);
    need(v.local_point, kLocalPoint);
    need(v.local_approx, kLocalOutput);
    need(v.fuse, kFuse);
  }
  if (v.h > v.h_s) {
    need(v.ffn_gate, kFfnGate);
    need(v.ffn_up, kFfnUp);
    need(v.ffn_down, kFfnDown);
  }
}

void throw_non_finite(const char* name) {
  throw InvalidArgument(std::string("official layer: tensor '") + name +
                        "' contains a non-finite value");
}

}  // namespace

OfficialRecovery recover_official_layer(const OfficialLayerView& v) {
  validate_view(v);
  const Index d = v.d;
  const Index h = v.h;
  const Index hs = v.h_s;
  const Index hp = h - hs;
  const int order = static_cast<int>(v.n_order);
  const auto k_stride = sz(order + 1);

  // Inputs touched only partially below are checked in full first.
  if (tensor_non_finite(v.local_point, hs)) throw_non_finite(kLocalPoint);
  if (v.gate_proj != nullptr && tensor_non_finite(v.gate_proj, h * d))
    throw_non_finite(kLeftoverGate);

  // Hypothesis coefficients per selected unit.
  std::vector<double> kp(sz(hs) * k_stride);
  std::vector<double> km(sz(hs) * k_stride);
  parallel_for(hs, [&](Index j) {
    hypothesis_coefficients(v.act, double(v.local_point[j]), order, kp.data() + sz(j) * k_stride,
                            km.data() + sz(j) * k_stride);
  });

  // Residual test on the probe rows, then on all rows for the units it leaves unclear.
  const GramLayout lay(order);
  std::vector<double> gram(sz(hs) * sz(lay.stride), 0.0);
  std::vector<Index> all_units(sz(hs));
  for (Index j = 0; j < hs; ++j) all_units[sz(j)] = j;
  const Index probe = std::min(d, kProbeRows);
  gram_accumulate(v, lay, all_units, 0, probe, gram);
  std::vector<Decision> decision(sz(hs));
  auto decide_units = [&](std::span<const Index> units) {
    parallel_for(static_cast<Index>(units.size()), [&](Index u) {
      const Index j = units[sz(u)];
      decision[sz(j)] = decide(lay, gram.data() + j * lay.stride, kp.data() + sz(j) * k_stride,
                               km.data() + sz(j) * k_stride);
    });
  };
  decide_units(all_units);
  if (probe < d) {
    std::vector<Index> unclear;
    for (Index j = 0; j < hs; ++j)
      if (!(decision[sz(j)].ratio <= kClearRatio)) unclear.push_back(j);
    if (!unclear.empty()) {
      gram_accumulate(v, lay, unclear, probe, d, gram);
      decide_units(unclear);
    }
  }

  OfficialRecovery rec;
  rec.signs.resize(sz(hs));
  Matching matching;
  if (v.gate_proj != nullptr) matching = match_gate_rows(v);
  for (Index j = 0; j < hs; ++j) {
    const Decision& dj = decision[sz(j)];
    const std::int8_t from_gate = v.gate_proj != nullptr ? matching.sign[sz(j)] : std::int8_t{0};
    rec.signs[sz(j)] = from_gate != 0 ? from_gate : dj.sign;
    if (std::isfinite(dj.ratio))
      rec.max_residual_ratio = std::max(rec.max_residual_ratio, dj.ratio);
    if (from_gate == 0 && !(dj.ratio <= kAmbiguousRatio)) ++rec.ambiguous_units;
  }

  // Output positions of the released units.
  rec.order_known = v.gate_proj != nullptr && matching.complete;
  std::vector<Index> pos(sz(h));
  rec.order.assign(sz(h), -1);
  for (Index r = 0; r < h; ++r) {
    pos[sz(r)] = rec.order_known ? matching.original[sz(r)] : r;
    if (v.gate_proj != nullptr) rec.order[sz(pos[sz(r)])] = matching.original[sz(r)];
  }

  // W_down coefficients cf_n = k_n(s_j)/‖k‖², padded to a multiple of 8 lanes.
  const int lanes = 8 * ((order + 7) / 8);
  std::vector<float> cf(sz(hs) * sz(lanes) + 8, 0.0f);
  std::vector<float> cf0(sz(hs) + 8, 0.0f);
  for (Index j = 0; j < hs; ++j) {
    const double* k = (rec.signs[sz(j)] > 0 ? kp.data() : km.data()) + sz(j) * k_stride;
    double kk = 0.0;
    for (int n = 0; n <= order; ++n) kk += k[n] * k[n];
    const double inv = kk > 0.0 ? 1.0 / kk : 0.0;
    cf0[sz(j)] = static_cast<float>(k[0] * inv);
    for (int n = 1; n <= order; ++n)
      cf[sz(j) * sz(lanes) + sz(n - 1)] = static_cast<float>(k[n] * inv);
  }

  // Exact inversion when the release is the official low-precision arithmetic (silu) and every
  // expansion point is a value of the type.
  ExactUnits exact;
  if (v.lowp && v.act == nn::Activation::silu &&
      std::all_of(v.local_point, v.local_point + hs,
                  [&](float p) { return nn::round_to(*v.lowp, p) == p; })) {
    exact = exact_coefficients(v, rec.signs);
    rec.exact_inversion = true;
  }

  // The three outputs are allocated (and zero-filled by std::vector) on separate threads.
  parallel_for(3, [&](Index t) {
    if (t == 0) rec.down = output_tensor({d, h});
    if (t == 1) rec.gate = output_tensor({h, d});
    if (t == 2) rec.up = output_tensor({h, d});
  });

  // gate, up: one row per unit.
  std::uint32_t bad_gate = 0;
  std::uint32_t bad_up = 0;
  std::uint32_t bad_ffn_gate = 0;
  std::uint32_t bad_ffn_up = 0;
#pragma omp parallel reduction(| : bad_gate, bad_up, bad_ffn_gate, bad_ffn_up)
  {
#pragma omp for schedule(static)
    for (Index r = 0; r < h; ++r) {
      float* g_out = rec.gate.data.data() + pos[sz(r)] * d;
      float* u_out = rec.up.data.data() + pos[sz(r)] * d;
      if (r < hs) {
        const float* g_in = v.gate + r * d;
        const float* u_in = v.up + r * d;
        copy_row(g_out, g_in, d, rec.signs[sz(r)] < 0);
        copy_row(u_out, u_in, d, false);
        bad_gate |= any_non_finite(g_in, d);
        bad_up |= any_non_finite(u_in, d);
      } else {
        const float* g_in = v.ffn_gate + (r - hs) * d;
        const float* u_in = v.ffn_up + (r - hs) * d;
        copy_row(g_out, g_in, d, false);
        copy_row(u_out, u_in, d, false);
        bad_ffn_gate |= any_non_finite(g_in, d);
        bad_ffn_up |= any_non_finite(u_in, d);
      }
    }
    store_fence();
  }
  if (bad_gate != 0) throw_non_finite(kGate);
  if (bad_up != 0) throw_non_finite(kUp);
  if (bad_ffn_gate != 0) throw_non_finite(kFfnGate);
  if (bad_ffn_up != 0) throw_non_finite(kFfnUp);

  // down: one pass over local_approx_output and fuse_weight, row by row.
  const Index total = d * hs * order;
  const Index unit_limit = total >= lanes ? (total - lanes) / order + 1 : 0;  // vector-safe units
  const bool contiguous = !rec.order_known;
#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
  const bool avx2 = cpu_has_avx2();
#endif
  std::uint32_t bad_down = 0;
  std::uint32_t bad_ffn_down = 0;
  std::int64_t n_exact = 0;
  std::int64_t n_ambiguous = 0;
  std::int64_t n_inconsistent = 0;
#pragma omp parallel reduction(| : bad_down, bad_ffn_down) \
    reduction(+ : n_exact, n_ambiguous, n_inconsistent)
  {
    std::vector<float> tmp(sz(hs));
#pragma omp for schedule(static)
    for (Index i = 0; i < d; ++i) {
      float* row = rec.down.data.data() + i * h;
      if (hs > 0) {
        float* sel = tmp.data();
        const float* fu = v.fuse + i * hs * order;
        const float* loc = v.local_approx + i * hs;
#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
        if (avx2) {
          const Index m_vec = std::clamp<Index>(unit_limit - i * hs, 0, hs);
          down_row_avx2(fu, loc, cf.data(), cf0.data(), hs, m_vec, order, lanes, sel);
        } else {
          down_row_scalar(fu, loc, cf.data(), cf0.data(), 0, hs, order, lanes, sel);
        }
#else
        (void)unit_limit;
        down_row_scalar(fu, loc, cf.data(), cf0.data(), 0, hs, order, lanes, sel);
#endif
        if (rec.exact_inversion) {
          const auto stride = sz(order + 1);
          for (Index j = 0; j < hs; ++j) {
            float w = 0.0f;
            const EntryFit fit =
                exact_entry(*v.lowp, exact.c.data() + sz(j) * stride, exact.primary[sz(j)], order,
                            loc[j], fu + j * order, sel[j], w);
            n_exact += fit == EntryFit::exact ? 1 : 0;
            n_ambiguous += fit == EntryFit::ambiguous ? 1 : 0;
            n_inconsistent += fit == EntryFit::inconsistent ? 1 : 0;
            sel[j] = w;
          }
        }
        bad_down |= any_non_finite(sel, hs);
        if (contiguous) {
          copy_row(row, sel, hs, false);
        } else {
          for (Index j = 0; j < hs; ++j) row[pos[sz(j)]] = sel[j];
        }
      }
      if (hp > 0) {
        const float* plain = v.ffn_down + i * hp;
        if (contiguous) {
          copy_row(row + hs, plain, hp, false);
        } else {
          for (Index u = 0; u < hp; ++u) row[pos[sz(hs + u)]] = plain[u];
        }
        bad_ffn_down |= any_non_finite(plain, hp);
      }
    }
    store_fence();
  }
  if (bad_down != 0) {
    // Name the culprit: a non-finite input, else an overflow of the recovered column.
    if (tensor_non_finite(v.local_approx, d * hs)) throw_non_finite(kLocalOutput);
    if (tensor_non_finite(v.fuse, total)) throw_non_finite(kFuse);
    throw InvalidArgument("official layer: the recovered W_down overflows float32");
  }
  if (bad_ffn_down != 0) throw_non_finite(kFfnDown);
  rec.exact_entries = n_exact;
  rec.ambiguous_entries = n_ambiguous;
  rec.inconsistent_entries = n_inconsistent;
  return rec;
}

namespace {

const nn::Tensor& find_tensor(const nn::TensorMap& tensors, const std::string& name) {
  const auto it = tensors.find(name);
  if (it == tensors.end()) throw InvalidArgument("official release: missing tensor '" + name + "'");
  return it->second;
}

void expect_shape(const nn::Tensor& t, const std::string& name,
                  const std::vector<std::int64_t>& shape) {
  if (t.shape != shape || t.numel() != nn::checked_numel(shape))
    throw InvalidArgument("official release: tensor '" + name + "' has shape " + t.shape_string() +
                          ", expected " + nn::Tensor(shape).shape_string());
}

}  // namespace

OfficialRecovery recover_official_tensors(const nn::TensorMap& tensors, const std::string& prefix,
                                          nn::Activation act,
                                          std::optional<nn::LowPrecision> lowp) {
  const nn::Tensor& up = find_tensor(tensors, prefix + kUp);
  const nn::Tensor& fuse = find_tensor(tensors, prefix + kFuse);
  if (up.rank() != 2)
    throw InvalidArgument("official release: tensor '" + prefix + kUp + "' has shape " +
                          up.shape_string() + ", expected [h_s, d]");
  if (fuse.rank() != 3)
    throw InvalidArgument("official release: tensor '" + prefix + kFuse + "' has shape " +
                          fuse.shape_string() + ", expected [d, h_s, N]");
  const Index hs = up.shape[0];
  const Index d = up.shape[1];
  const Index order = fuse.shape[2];
  if (order < 1 || order > nn::kMaxTaylorOrder)
    throw InvalidArgument("official release: tensor '" + prefix + kFuse +
                          "' has order N = " + std::to_string(order) + ", must be in [1, 32]");
  expect_shape(fuse, prefix + kFuse, {d, hs, order});
  const nn::Tensor& gate = find_tensor(tensors, prefix + kGate);
  expect_shape(gate, prefix + kGate, {hs, d});
  const nn::Tensor& point = find_tensor(tensors, prefix + kLocalPoint);
  expect_shape(point, prefix + kLocalPoint, {hs});
  const nn::Tensor& local = find_tensor(tensors, prefix + kLocalOutput);
  expect_shape(local, prefix + kLocalOutput, {d, hs});
  const nn::Tensor& ffn_gate = find_tensor(tensors, prefix + kFfnGate);
  if (ffn_gate.rank() != 2 || ffn_gate.shape[1] != d)
    throw InvalidArgument("official release: tensor '" + prefix + kFfnGate + "' has shape " +
                          ffn_gate.shape_string() + ", expected [h - h_s, " + std::to_string(d) +
                          "]");
  const Index hp = ffn_gate.shape[0];
  expect_shape(ffn_gate, prefix + kFfnGate, {hp, d});
  const nn::Tensor& ffn_up = find_tensor(tensors, prefix + kFfnUp);
  expect_shape(ffn_up, prefix + kFfnUp, {hp, d});
  const nn::Tensor& ffn_down = find_tensor(tensors, prefix + kFfnDown);
  expect_shape(ffn_down, prefix + kFfnDown, {d, hp});
  OfficialLayerView v;
  v.d = d;
  v.h = hs + hp;
  v.h_s = hs;
  v.n_order = order;
  v.up = up.data.data();
  v.gate = gate.data.data();
  v.local_point = point.data.data();
  v.local_approx = local.data.data();
  v.fuse = fuse.data.data();
  v.ffn_gate = ffn_gate.data.data();
  v.ffn_up = ffn_up.data.data();
  v.ffn_down = ffn_down.data.data();
  v.act = act;
  v.lowp = lowp;
  const auto it = tensors.find(prefix + kLeftoverGate);
  if (it != tensors.end()) {
    expect_shape(it->second, prefix + kLeftoverGate, {v.h, d});
    v.gate_proj = it->second.data.data();
  }
  return recover_official_layer(v);
}

nn::Model TaylorSignHypothesis::extract(const definitions::Artifact& release,
                                        definitions::OracleAccess& /*oracles*/,
                                        Rng& /*coins*/) const {
  const auto& meta = release.metadata;
  if (!meta.is_object() || !meta.contains("architecture"))
    throw InvalidArgument("taylor_sign_hypothesis: artifact has no 'architecture' metadata");
  if (meta.contains("format") &&
      (!meta.at("format").is_string() || meta.at("format").get<std::string>() != "official"))
    throw InvalidArgument("taylor_sign_hypothesis: artifact metadata 'format' is not 'official'");
  const nn::Architecture arch = nn::Architecture::from_json(meta.at("architecture"));
  if (arch.kind != nn::Architecture::Kind::swiglu)
    throw InvalidArgument("taylor_sign_hypothesis: the architecture is not swiglu");
  std::string prefix;
  if (meta.contains("prefix")) {
    if (!meta.at("prefix").is_string())
      throw InvalidArgument("taylor_sign_hypothesis: metadata 'prefix' must be a string");
    prefix = meta.at("prefix").get<std::string>();
  }
  nn::Activation act = arch.activation;
  if (meta.contains("activation")) {
    if (!meta.at("activation").is_string())
      throw InvalidArgument("taylor_sign_hypothesis: metadata 'activation' must be a string");
    act = nn::activation_from_string(meta.at("activation").get<std::string>());
  }
  const Index order = find_tensor(release.tensors, prefix + kFuse).rank() == 3
                          ? find_tensor(release.tensors, prefix + kFuse).shape[2]
                          : -1;
  if (meta.contains("order") &&
      (!meta.at("order").is_number_integer() || meta.at("order").get<Index>() != order))
    throw InvalidArgument("taylor_sign_hypothesis: metadata 'order' differs from the order of '" +
                          prefix + kFuse + "'");
  // A bf16/f16 release of the scheme is made in the official arithmetic.
  std::optional<nn::LowPrecision> lowp;
  if (meta.contains("dtype") && meta.at("dtype").is_string() &&
      meta.at("dtype").get<std::string>() != "f32")
    lowp = nn::parse_low_precision(meta.at("dtype").get<std::string>());
  OfficialRecovery rec = recover_official_tensors(release.tensors, prefix, act, lowp);
  if (rec.gate.shape != std::vector<std::int64_t>{arch.sizes[1], arch.sizes[0]})
    throw InvalidArgument("taylor_sign_hypothesis: the release has a block of shape " +
                          rec.gate.shape_string() + ", the architecture " + arch.to_spec());
  nn::TensorMap t;
  t.emplace("mlp.gate_proj.weight", std::move(rec.gate));
  t.emplace("mlp.up_proj.weight", std::move(rec.up));
  t.emplace("mlp.down_proj.weight", std::move(rec.down));
  return nn::Model(arch, std::move(t));
}

// ---------------------------------------------------------------------------------------------
// Files.

namespace {

// Read-only memory map of a whole file (the tensors' raw bytes, used in place for F32).
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw RuntimeError("cannot open '" + path.string() + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw RuntimeError("cannot stat '" + path.string() + "': " + std::strerror(err));
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw RuntimeError("cannot map '" + path.string() + "': " + std::strerror(err));
      }
      data_ = static_cast<const unsigned char*>(p);
    }
    ::close(fd);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  [[nodiscard]] const unsigned char* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

// "" → 0; "model.layers.{i}.mlp." → i; anything else → −1.
Index layer_of_prefix(const std::string& prefix) {
  if (prefix.empty()) return 0;
  const std::string head = "model.layers.";
  const std::string tail = ".mlp.";
  if (prefix.size() <= head.size() + tail.size() || prefix.compare(0, head.size(), head) != 0 ||
      prefix.compare(prefix.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  const std::string digits = prefix.substr(head.size(), prefix.size() - head.size() - tail.size());
  if (digits.empty() || digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return -1;
  Index value = 0;
  for (const char ch : digits) {
    if (ch < '0' || ch > '9') return -1;
    value = value * 10 + (ch - '0');
  }
  return value;
}

// The tensors of one layer as float pointers: F32 in place when aligned, otherwise converted.
class LayerTensors {
 public:
  LayerTensors(const nn::SafetensorsView& view, const MappedFile& map, std::string prefix)
      : view_(view), map_(map), prefix_(std::move(prefix)) {}

  [[nodiscard]] bool contains(const char* suffix) const { return view_.contains(prefix_ + suffix); }

  [[nodiscard]] const std::vector<std::int64_t>& shape(const char* suffix) const {
    return info(suffix).shape;
  }
  [[nodiscard]] nn::DType dtype(const char* suffix) const { return info(suffix).dtype; }

  const float* data(const char* suffix) {
    const std::string name = prefix_ + suffix;
    const nn::TensorInfo& ti = info(suffix);
    if (ti.dtype != nn::DType::f32 && ti.dtype != nn::DType::bf16 && ti.dtype != nn::DType::f16 &&
        ti.dtype != nn::DType::f64)
      throw InvalidArgument("tensor '" + name + "' has dtype " + nn::to_string(ti.dtype) +
                            ", expected a floating-point dtype");
    if (ti.numel() == 0) return nullptr;
    if (ti.dtype == nn::DType::f32 && std::endian::native == std::endian::little) {
      const unsigned char* p = map_.data() + view_.buffer_offset() + ti.begin;
      if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) == 0)
        return reinterpret_cast<const float*>(p);
    }
    converted_.push_back(view_.load(name));
    return converted_.back().data.data();
  }

 private:
  [[nodiscard]] const nn::TensorInfo& info(const char* suffix) const {
    const std::string name = prefix_ + suffix;
    if (!view_.contains(name)) throw InvalidArgument("missing tensor '" + name + "'");
    return view_.info(name);
  }

  const nn::SafetensorsView& view_;
  const MappedFile& map_;
  std::string prefix_;
  std::deque<nn::Tensor> converted_;
};

void expect_file_shape(const std::string& name, const std::vector<std::int64_t>& got,
                       const std::vector<std::int64_t>& want) {
  if (got != want)
    throw InvalidArgument("tensor '" + name + "' has shape " + nn::Tensor(got).shape_string() +
                          ", expected " + nn::Tensor(want).shape_string());
}

}  // namespace

std::vector<OfficialFileLayerReport> recover_official_file(const std::filesystem::path& in,
                                                           const std::filesystem::path& out,
                                                           std::optional<nn::DType> out_dtype) {
  if (out_dtype && *out_dtype != nn::DType::f32 && *out_dtype != nn::DType::bf16 &&
      *out_dtype != nn::DType::f16)
    throw InvalidArgument("the recovered weights are written as F32, BF16 or F16, not " +
                          nn::to_string(*out_dtype));
  const nn::SafetensorsView view(in);
  const MappedFile map(in);
  const std::string where = "'" + in.string() + "': ";
  if (map.size() != view.file_size())
    throw RuntimeError(where + "the file changed while it was read");

  nn::Activation act = nn::Activation::silu;
  const auto meta_it = view.metadata().find("wrsec.activation");
  if (meta_it != view.metadata().end()) {
    try {
      act = nn::activation_from_string(meta_it->second);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(where + "metadata 'wrsec.activation': " + e.what());
    }
  }

  // Layers: the prefixes of every tensor with an official buffer name (longest suffix first, so
  // that ffn_up_proj_weight is not read as <prefix>"ffn_" + up_proj_weight).
  static const char* const kSuffixes[] = {
      kFfnGate,          kFfnUp, kFfnDown, kLocalOutput, kLocalPoint, kFuse,
      "discount_factor", kUp,    kGate,    kLeftoverGate};
  std::map<Index, std::string> layers;
  for (const std::string& name : view.names()) {
    for (const char* suffix_c : kSuffixes) {
      const std::string suffix = suffix_c;
      if (name.size() < suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      const std::string prefix = name.substr(0, name.size() - suffix.size());
      const Index layer = layer_of_prefix(prefix);
      if (layer < 0)
        throw InvalidArgument(where + "tensor '" + name +
                              "' has a prefix other than \"\" and \"model.layers.{i}.mlp.\"");
      const auto [it, inserted] = layers.emplace(layer, prefix);
      if (!inserted && it->second != prefix)
        throw InvalidArgument(where + "layer " + std::to_string(layer) +
                              " appears under two prefixes");
      break;
    }
  }
  if (layers.empty())
    throw InvalidArgument(where + "missing tensor 'fuse_weight' (no official layer found)");

  nn::TensorMap recovered;
  std::vector<OfficialFileLayerReport> reports;
  bool all_lowp = true;
  std::optional<nn::DType> layer_dtype;
  for (const auto& [layer, prefix] : layers) {
    const auto start = std::chrono::steady_clock::now();
    OfficialRecovery rec;
    OfficialFileLayerReport report;
    try {
      LayerTensors lt(view, map, prefix);
      const auto& up_shape = lt.shape(kUp);
      const auto& fuse_shape = lt.shape(kFuse);
      if (up_shape.size() != 2)
        throw InvalidArgument("tensor '" + prefix + kUp + "' has shape " +
                              nn::Tensor(up_shape).shape_string() + ", expected [h_s, d]");
      if (fuse_shape.size() != 3)
        throw InvalidArgument("tensor '" + prefix + kFuse + "' has shape " +
                              nn::Tensor(fuse_shape).shape_string() + ", expected [d, h_s, N]");
      OfficialLayerView v;
      v.h_s = up_shape[0];
      v.d = up_shape[1];
      v.n_order = fuse_shape[2];
      if (v.n_order < 1 || v.n_order > nn::kMaxTaylorOrder)
        throw InvalidArgument("tensor '" + prefix + kFuse + "' has order N = " +
                              std::to_string(v.n_order) + ", must be in [1, 32]");
      expect_file_shape(prefix + kFuse, fuse_shape, {v.d, v.h_s, v.n_order});
      expect_file_shape(prefix + kGate, lt.shape(kGate), {v.h_s, v.d});
      expect_file_shape(prefix + kLocalPoint, lt.shape(kLocalPoint), {v.h_s});
      expect_file_shape(prefix + kLocalOutput, lt.shape(kLocalOutput), {v.d, v.h_s});
      const auto& ffn_shape = lt.shape(kFfnGate);
      if (ffn_shape.size() != 2)
        throw InvalidArgument("tensor '" + prefix + kFfnGate + "' has shape " +
                              nn::Tensor(ffn_shape).shape_string() + ", expected [h - h_s, d]");
      const Index hp = ffn_shape[0];
      v.h = v.h_s + hp;
      expect_file_shape(prefix + kFfnGate, ffn_shape, {hp, v.d});
      expect_file_shape(prefix + kFfnUp, lt.shape(kFfnUp), {hp, v.d});
      expect_file_shape(prefix + kFfnDown, lt.shape(kFfnDown), {v.d, hp});
      if (lt.contains(kLeftoverGate))
        expect_file_shape(prefix + kLeftoverGate, lt.shape(kLeftoverGate), {v.h, v.d});
      v.act = act;
      v.up = lt.data(kUp);
      v.gate = lt.data(kGate);
      v.local_point = lt.data(kLocalPoint);
      v.local_approx = lt.data(kLocalOutput);
      v.fuse = lt.data(kFuse);
      v.ffn_gate = lt.data(kFfnGate);
      v.ffn_up = lt.data(kFfnUp);
      v.ffn_down = lt.data(kFfnDown);
      if (lt.contains(kLeftoverGate)) v.gate_proj = lt.data(kLeftoverGate);
      // Buffers stored in bf16/f16 are taken as the official code's arithmetic in that type.
      const nn::DType release_dtype = lt.dtype(kFuse);
      if ((release_dtype == nn::DType::bf16 || release_dtype == nn::DType::f16) &&
          lt.dtype(kLocalOutput) == release_dtype && lt.dtype(kLocalPoint) == release_dtype)
        v.lowp = release_dtype == nn::DType::bf16 ? nn::LowPrecision::bf16 : nn::LowPrecision::f16;
      if (v.lowp) {
        report.dtype = release_dtype;
      } else {
        all_lowp = false;
      }
      if (layer_dtype && *layer_dtype != release_dtype) all_lowp = false;
      layer_dtype = release_dtype;
      rec = recover_official_layer(v);
      report.d = v.d;
      report.h = v.h;
      report.h_s = v.h_s;
      report.n_order = v.n_order;
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(where + "layer prefix '" + prefix + "': " + e.what());
    }
    report.layer = layer;
    report.prefix = prefix;
    report.units = report.h;
    for (const std::int8_t s : rec.signs) report.sign_flips += s < 0 ? 1 : 0;
    report.order_known = rec.order_known;
    report.ambiguous_units = rec.ambiguous_units;
    report.max_residual_ratio = rec.max_residual_ratio;
    report.exact_inversion = rec.exact_inversion;
    report.exact_entries = rec.exact_entries;
    report.ambiguous_entries = rec.ambiguous_entries;
    report.inconsistent_entries = rec.inconsistent_entries;
    const std::string base = "model.layers." + std::to_string(layer) + ".mlp.";
    recovered.emplace(base + "gate_proj.weight", std::move(rec.gate));
    recovered.emplace(base + "up_proj.weight", std::move(rec.up));
    recovered.emplace(base + "down_proj.weight", std::move(rec.down));
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    reports.push_back(std::move(report));
  }
  // The release's type when every layer was recovered from the same bf16/f16 arithmetic (the
  // recovered weights are values of it, so nothing is lost), else F32.
  const nn::DType written =
      out_dtype ? *out_dtype : (all_lowp && layer_dtype ? *layer_dtype : nn::DType::f32);
  nn::write_safetensors(
      out, recovered,
      {{"wrsec.recovered_by", "taylor_sign_hypothesis"}, {"wrsec.activation", nn::to_string(act)}},
      written);
  for (auto& r : reports) r.written = written;
  return reports;
}

}  // namespace wrsec::attacks
