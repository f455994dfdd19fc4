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

// One least-squares W_down row (AVX2 when the CPU has it; units [0, m_vec) may use full loads).
void least_squares_row(const float* fu, const float* loc, const float* cf, const float* cf0,
                       Index m, Index m_vec, int order, int lanes, float* out) {
#ifdef WRSEC_SIGN_HYPOTHESIS_AVX2
  if (cpu_has_avx2()) {
    down_row_avx2(fu, loc, cf, cf0, m, m_vec, order, lanes, out);
    return;
  }
#endif
  (void)m_vec;
  down_row_scalar(fu, loc, cf, cf0, 0, m, order, lanes, out);
}

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
// Sign decisions.

struct SignTest {
  std::vector<double> kp, km;  // hypothesis coefficients per unit, N + 1 each
  std::vector<Decision> decision;
};

// The residual test of every unit on rows [0, min(d, kProbeRows)), then on all d rows for the
// units it leaves unclear. accumulate(units, r0, r1, gram) adds rows [r0, r1) of those units to
// their Gram accumulators (gram_accumulate on the rows at hand).
template <class Accumulate>
SignTest test_signs(nn::Activation act, const float* local_point, Index d, Index hs, int order,
                    Accumulate&& accumulate) {
  const auto k_stride = sz(order + 1);
  SignTest t;
  t.kp.resize(sz(hs) * k_stride);
  t.km.resize(sz(hs) * k_stride);
  parallel_for(hs, [&](Index j) {
    hypothesis_coefficients(act, double(local_point[j]), order, t.kp.data() + sz(j) * k_stride,
                            t.km.data() + sz(j) * k_stride);
  });
  const GramLayout lay(order);
  std::vector<double> gram(sz(hs) * sz(lay.stride), 0.0);
  std::vector<Index> all_units(sz(hs));
  for (Index j = 0; j < hs; ++j) all_units[sz(j)] = j;
  const Index probe = std::min(d, kProbeRows);
  accumulate(std::span<const Index>(all_units), Index{0}, probe, gram);
  t.decision.resize(sz(hs));
  auto decide_units = [&](std::span<const Index> units) {
    parallel_for(static_cast<Index>(units.size()), [&](Index u) {
      const Index j = units[sz(u)];
      t.decision[sz(j)] = decide(lay, gram.data() + j * lay.stride, t.kp.data() + sz(j) * k_stride,
                                 t.km.data() + sz(j) * k_stride);
    });
  };
  decide_units(all_units);
  if (probe < d) {
    std::vector<Index> unclear;
    for (Index j = 0; j < hs; ++j)
      if (!(t.decision[sz(j)].ratio <= kClearRatio)) unclear.push_back(j);
    if (!unclear.empty()) {
      accumulate(std::span<const Index>(unclear), probe, d, gram);
      decide_units(unclear);
    }
  }
  return t;
}

// W_down least-squares coefficients cf_n = k_n(s_j)/‖k‖², padded to `lanes` (a multiple of 8)
// per unit; cf0 holds k_0/‖k‖².
void least_squares_coefficients(const SignTest& t, const std::vector<std::int8_t>& signs, int order,
                                int lanes, std::vector<float>& cf, std::vector<float>& cf0) {
  const auto hs = static_cast<Index>(signs.size());
  const auto k_stride = sz(order + 1);
  cf.assign(sz(hs) * sz(lanes) + 8, 0.0f);
  cf0.assign(sz(hs) + 8, 0.0f);
  for (Index j = 0; j < hs; ++j) {
    const double* k = (signs[sz(j)] > 0 ? t.kp.data() : t.km.data()) + sz(j) * k_stride;
    double kk = 0.0;
    for (int n = 0; n <= order; ++n) kk += k[n] * k[n];
    const double inv = kk > 0.0 ? 1.0 / kk : 0.0;
    cf0[sz(j)] = static_cast<float>(k[0] * inv);
    for (int n = 1; n <= order; ++n)
      cf[sz(j) * sz(lanes) + sz(n - 1)] = static_cast<float>(k[n] * inv);
  }
}

// ---------------------------------------------------------------------------------------------
// Exact inversion of low-precision releases.

// x rounded to T, inline (the inversion rounds several values per weight).
inline float round_lowp(nn::LowPrecision t, float x) noexcept {
  if (t == nn::LowPrecision::bf16) {
    std::uint32_t b = std::bit_cast<std::uint32_t>(x);
    b += 0x7fffu + ((b >> 16) & 1u);
    return std::bit_cast<float>(b & 0xffff0000u);
  }
#ifdef __F16C__
  return _mm_cvtss_f32(
      _mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
#else
  return nn::round_to(t, x);
#endif
}

// Per selected unit: the exact coefficients c_0..c_N of the official arithmetic under the
// recovered sign, padded with zeros to `lanes` (a multiple of 8); the order m with the largest
// |c_m| (−1 if all vanish) and 1/c_m.
struct ExactUnits {
  int lanes = 0;
  std::vector<float> c;
  std::vector<int> primary;
  std::vector<float> inverse;
  // The same for whole groups of 8 units, unit index fastest: ct[(g·(N+1) + n)·8 + u] = c_n of
  // unit 8g + u; cp, inv, prim per unit (c at the primary order, its inverse, the order).
  std::vector<float> ct, cp, inv;
  std::vector<std::int32_t> prim;
};

ExactUnits exact_coefficients(nn::LowPrecision t, const float* local_point, Index hs, int order,
                              const std::vector<std::int8_t>& signs) {
  ExactUnits e;
  e.lanes = 8 * ((order + 1 + 7) / 8);
  e.c.assign(sz(hs) * sz(e.lanes), 0.0f);
  e.primary.resize(sz(hs));
  e.inverse.resize(sz(hs));
  parallel_for(hs, [&](Index j) {
    const float s = signs[sz(j)] < 0 ? -1.0f : 1.0f;
    const float z0 = s * local_point[j];
    float* c = e.c.data() + sz(j) * sz(e.lanes);
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
    e.inverse[sz(j)] = best < 0 ? 0.0f : 1.0f / c[best];
  });
  const Index groups = hs / 8;
  const auto terms = sz(order + 1);
  e.ct.resize(sz(groups) * terms * 8);
  e.cp.resize(sz(groups) * 8);
  e.inv.resize(sz(groups) * 8);
  e.prim.resize(sz(groups) * 8);
  for (Index j = 0; j < groups * 8; ++j) {
    const auto g = sz(j / 8);
    const auto u = sz(j % 8);
    const float* c = e.c.data() + sz(j) * sz(e.lanes);
    for (std::size_t n = 0; n < terms; ++n) e.ct[(g * terms + n) * 8 + u] = c[n];
    const int p = e.primary[sz(j)];
    e.cp[sz(j)] = p < 0 ? 0.0f : c[p];
    e.inv[sz(j)] = e.inverse[sz(j)];
    e.prim[sz(j)] = p;
  }
  return e;
}

struct ExactCounts {
  std::int64_t exact = 0, ambiguous = 0, inconsistent = 0;
};

// The values of T as ordered integers and back (inline: several per weight).
template <nn::LowPrecision T>
inline std::int32_t ordinal_of(float v) noexcept {
  std::uint32_t b = 0;
  if constexpr (T == nn::LowPrecision::bf16) {
    b = std::bit_cast<std::uint32_t>(v) >> 16;
  } else {
#ifdef __F16C__
    b = static_cast<std::uint16_t>(_mm_extract_epi16(
        _mm_cvtps_ph(_mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 0));
#else
    b = nn::float_to_half(v);
#endif
  }
  const auto magnitude = static_cast<std::int32_t>(b & 0x7fffu);
  return (b & 0x8000u) != 0 ? -magnitude : magnitude;
}

template <nn::LowPrecision T>
inline float value_of(std::int32_t o) noexcept {
  const auto b = static_cast<std::uint32_t>(o < 0 ? (0x8000 | -o) : o);
  if constexpr (T == nn::LowPrecision::bf16) {
    return std::bit_cast<float>(b << 16);
  } else {
#ifdef __F16C__
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(b))));
#else
    return nn::half_to_float(static_cast<std::uint16_t>(b));
#endif
  }
}

// R(c_n·w) = T_n for every lane (c and T padded with zeros to `lanes`, a multiple of 8).
template <nn::LowPrecision T>
inline bool fits(const float* c, const float* t, int lanes, float w) noexcept {
#ifdef __AVX2__
  const __m256 wv = _mm256_set1_ps(w);
  for (int g = 0; g < lanes; g += 8) {
    const __m256 prod = _mm256_mul_ps(_mm256_loadu_ps(c + g), wv);
    __m256 r;
    if constexpr (T == nn::LowPrecision::bf16) {
      __m256i b = _mm256_castps_si256(prod);
      const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
      b = _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
      r = _mm256_castsi256_ps(_mm256_and_si256(b, _mm256_set1_epi32(int(0xffff0000u))));
    } else {
      r = _mm256_cvtph_ps(_mm256_cvtps_ph(prod, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    if (_mm256_movemask_ps(_mm256_cmp_ps(r, _mm256_loadu_ps(t + g), _CMP_EQ_OQ)) != 0xff)
      return false;
  }
  return true;
#else
  for (int n = 0; n < lanes; ++n)
    if (round_lowp(T, c[n] * w) != t[n]) return false;
  return true;
#endif
}

// One W_down row of the selected units by exact inversion. packed holds, per unit, T_0 = the
// local_approx_output value and T_1..T_N = the fuse_weight values, padded to e.lanes; ls[j] is
// the least-squares estimate, which breaks ties and stands in where no value fits. Candidates:
// w0 = R(T_m / c_m) and its neighbours within two units in the last place (a neighbour is tested
// in full only if it passes the primary order m).
// The least-squares estimate of unit j's W_down entry from its packed T_0..T_N (see
// least_squares_coefficients), computed only where the exact inversion needs it.
struct LeastSquares {
  const float* cf = nullptr;
  const float* cf0 = nullptr;
  int lanes = 0;
  [[nodiscard]] float at(Index j, const float* t, int order) const {
    float v = cf0[j] * t[0];
    for (int n = 1; n <= order; ++n) v += cf[sz(j) * sz(lanes) + sz(n - 1)] * t[n];
    return v;
  }
};

template <nn::LowPrecision T>
void exact_row_t(const ExactUnits& e, const LeastSquares& ls, int order, Index j0, Index j1,
                 const float* packed, float* out, ExactCounts& counts) {
  const int lanes = e.lanes;
  for (Index j = j0; j < j1; ++j) {
    const float* c = e.c.data() + sz(j) * sz(lanes);
    const float* t = packed + sz(j - j0) * sz(lanes);
    const int p = e.primary[sz(j)];
    if (p < 0) {  // every coefficient vanishes: nothing constrains w
      out[j] = round_lowp(T, ls.at(j, t, order));
      ++(fits<T>(c, t, lanes, out[j]) ? counts.ambiguous : counts.inconsistent);
      continue;
    }
    const float cp = c[p];
    const float tp = t[p];
    const std::int32_t o0 = ordinal_of<T>(round_lowp(T, tp * e.inverse[sz(j)]));
    int found = 0;
    float best = 0.0f;
    for (std::int32_t o = o0 - 2; o <= o0 + 2; ++o) {
      if (o < -0x7f7f || o > 0x7f7f) continue;  // beyond the finite values of either type
      const float w = value_of<T>(o);
      if (!std::isfinite(w)) continue;
      if (o != o0 && round_lowp(T, cp * w) != tp) continue;
      if (!fits<T>(c, t, lanes, w)) continue;
      if (found == 0) {
        best = w;
      } else {
        const float estimate = ls.at(j, t, order);
        if (std::fabs(w - estimate) < std::fabs(best - estimate)) best = w;
      }
      ++found;
    }
    if (found == 0) {
      out[j] = round_lowp(T, ls.at(j, t, order));
      ++counts.inconsistent;
    } else {
      out[j] = best;
      ++(found == 1 ? counts.exact : counts.ambiguous);
    }
  }
}

#ifdef __AVX2__
inline __m256 round_bf16_v(__m256 x) noexcept {
  __m256i b = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  b = _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
  return _mm256_castsi256_ps(_mm256_and_si256(b, _mm256_set1_epi32(int(0xffff0000u))));
}

// Eight units of one row at once (bf16), as exact_row_t: the candidates w0 = R(T_m / c_m) and
// its neighbours within two units in the last place (a neighbour is tested on every order only in
// lanes where it fits the primary order m). When every lane has exactly one fitting value, it is
// stored and true returned (the common case); otherwise false sends the group to exact_row_t.
// tv[n·8 + u] = T_n of unit u.
bool exact_group_bf16(const float* ct, const float* cp8, const float* inv8,
                      const std::int32_t* prim8, const float* tv, int order, float* out8) noexcept {
  const __m256i prim = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prim8));
  if (_mm256_movemask_ps(_mm256_castsi256_ps(prim)) != 0) return false;  // some m < 0
  __m256 tp = _mm256_setzero_ps();
  for (int n = 0; n <= order; ++n) {
    const __m256 at_n = _mm256_castsi256_ps(_mm256_cmpeq_epi32(prim, _mm256_set1_epi32(n)));
    tp = _mm256_blendv_ps(tp, _mm256_loadu_ps(tv + 8 * n), at_n);
  }
  const __m256 cp = _mm256_loadu_ps(cp8);
  const __m256 w0 = round_bf16_v(_mm256_mul_ps(tp, _mm256_loadu_ps(inv8)));
  // Ordinals of w0 (…, −1 ulp, ±0, +1 ulp, …), from which the neighbours are made.
  const __m256i bits = _mm256_castps_si256(w0);
  const __m256i magnitude =
      _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x7fff));
  const __m256i negative = _mm256_srai_epi32(bits, 31);
  const __m256i o0 = _mm256_sub_epi32(_mm256_xor_si256(magnitude, negative), negative);
  __m256i found = _mm256_setzero_si256();
  __m256 best = _mm256_setzero_ps();
  for (const int k : {0, -1, 1, -2, 2}) {
    const __m256i o = _mm256_add_epi32(o0, _mm256_set1_epi32(k));
    const __m256i s = _mm256_srai_epi32(o, 31);
    const __m256i m = _mm256_sub_epi32(_mm256_xor_si256(o, s), s);
    const __m256 w = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_or_si256(m, _mm256_and_si256(s, _mm256_set1_epi32(0x8000))), 16));
    __m256 pass = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x7f80), m));
    pass = _mm256_and_ps(pass, _mm256_cmp_ps(round_bf16_v(_mm256_mul_ps(cp, w)), tp, _CMP_EQ_OQ));
    for (int n = 0; n <= order && _mm256_movemask_ps(pass) != 0; ++n) {
      const __m256 rn = round_bf16_v(_mm256_mul_ps(_mm256_loadu_ps(ct + 8 * n), w));
      pass = _mm256_and_ps(pass, _mm256_cmp_ps(rn, _mm256_loadu_ps(tv + 8 * n), _CMP_EQ_OQ));
    }
    best = _mm256_blendv_ps(best, w, pass);
    found = _mm256_sub_epi32(found, _mm256_castps_si256(pass));  // pass lanes are −1
  }
  const __m256i one = _mm256_cmpeq_epi32(found, _mm256_set1_epi32(1));
  if (_mm256_movemask_ps(_mm256_castsi256_ps(one)) != 0xff) return false;
  _mm256_storeu_ps(out8, best);
  return true;
}
#endif

// Scratch space of exact_row, one per thread.
struct ExactScratch {
  std::vector<float> packed;      // unit-major, e.lanes per unit (exact_row_t)
  std::vector<float> transposed;  // one group: (N + 1)·8
};

// One W_down row of the selected units (see exact_row_t): whole groups of 8 through the vector
// kernel (bf16), every other unit, and every group it declines, through exact_row_t.
void exact_row(nn::LowPrecision t, const ExactUnits& e, const LeastSquares& ls, Index hs, int order,
               const float* loc, const float* fu, float* out, ExactCounts& counts,
               ExactScratch& scratch) {
  const auto pack = [&](Index j0, Index n) {
    scratch.packed.resize(sz(n) * sz(e.lanes));
    for (Index j = 0; j < n; ++j) {
      float* dst = scratch.packed.data() + sz(j) * sz(e.lanes);
      dst[0] = loc[j0 + j];
      std::copy_n(fu + (j0 + j) * order, order, dst + 1);
      std::fill(dst + order + 1, dst + e.lanes, 0.0f);
    }
  };
  const auto scalar = [&](Index j0, Index n) {
    pack(j0, n);
    if (t == nn::LowPrecision::bf16) {
      exact_row_t<nn::LowPrecision::bf16>(e, ls, order, j0, j0 + n, scratch.packed.data(), out,
                                          counts);
    } else {
      exact_row_t<nn::LowPrecision::f16>(e, ls, order, j0, j0 + n, scratch.packed.data(), out,
                                         counts);
    }
  };
  Index j0 = 0;
#ifdef __AVX2__
  if (t == nn::LowPrecision::bf16) {
    const auto terms = sz(order + 1);
    scratch.transposed.resize(terms * 8);
    float* tv = scratch.transposed.data();
    for (; j0 + 8 <= hs; j0 += 8) {
      for (std::size_t u = 0; u < 8; ++u) {
        tv[u] = loc[j0 + Index(u)];
        const float* src = fu + (j0 + Index(u)) * order;
        for (std::size_t n = 1; n < terms; ++n) tv[n * 8 + u] = src[n - 1];
      }
      const auto g = sz(j0 / 8);
      if (exact_group_bf16(e.ct.data() + g * terms * 8, e.cp.data() + g * 8, e.inv.data() + g * 8,
                           e.prim.data() + g * 8, tv, order, out + j0)) {
        counts.exact += 8;
      } else {
        scalar(j0, 8);
      }
    }
  }
#endif
  if (j0 < hs) scalar(j0, hs - j0);
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

  // Inputs touched only partially below are checked in full first.
  if (tensor_non_finite(v.local_point, hs)) throw_non_finite(kLocalPoint);
  if (v.gate_proj != nullptr && tensor_non_finite(v.gate_proj, h * d))
    throw_non_finite(kLeftoverGate);

  const SignTest test =
      test_signs(v.act, v.local_point, d, hs, order,
                 [&](std::span<const Index> units, Index r0, Index r1, std::vector<double>& gram) {
                   gram_accumulate(v, GramLayout(order), units, r0, r1, gram);
                 });
  const std::vector<Decision>& decision = test.decision;

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
  std::vector<float> cf;
  std::vector<float> cf0;
  least_squares_coefficients(test, rec.signs, order, lanes, cf, cf0);

  // Exact inversion when the release is the official low-precision arithmetic (silu) and every
  // expansion point is a value of the type.
  ExactUnits exact;
  if (v.lowp && v.act == nn::Activation::silu &&
      std::all_of(v.local_point, v.local_point + hs,
                  [&](float p) { return nn::round_to(*v.lowp, p) == p; })) {
    exact = exact_coefficients(*v.lowp, v.local_point, hs, order, rec.signs);
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
  const LeastSquares ls{cf.data(), cf0.data(), lanes};
  std::uint32_t bad_down = 0;
  std::uint32_t bad_ffn_down = 0;
  std::int64_t n_exact = 0;
  std::int64_t n_ambiguous = 0;
  std::int64_t n_inconsistent = 0;
#pragma omp parallel reduction(| : bad_down, bad_ffn_down) \
    reduction(+ : n_exact, n_ambiguous, n_inconsistent)
  {
    std::vector<float> tmp(sz(hs));
    ExactScratch scratch;
    ExactCounts counts;
#pragma omp for schedule(static)
    for (Index i = 0; i < d; ++i) {
      float* row = rec.down.data.data() + i * h;
      if (hs > 0) {
        float* sel = tmp.data();
        const float* fu = v.fuse + i * hs * order;
        const float* loc = v.local_approx + i * hs;
        if (rec.exact_inversion) {
          exact_row(*v.lowp, exact, ls, hs, order, loc, fu, sel, counts, scratch);
        } else {
          const Index m_vec = std::clamp<Index>(unit_limit - i * hs, 0, hs);
          least_squares_row(fu, loc, cf.data(), cf0.data(), hs, m_vec, order, lanes, sel);
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
    n_exact += counts.exact;
    n_ambiguous += counts.ambiguous;
    n_inconsistent += counts.inconsistent;
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

// The checked shapes and dtypes of one layer of a file.
struct FileLayer {
  Index layer = 0;
  std::string prefix;
  Index d = 0, h = 0, hs = 0, hp = 0;
  int order = 0;
  bool leftover_gate = false;
  nn::DType dtype = nn::DType::f32;      // of fuse_weight
  std::optional<nn::LowPrecision> lowp;  // fuse, local_approx_output, local_point in bf16/f16
  bool streamable = false;  // no leftover gate_proj, every buffer in `dtype`, F32/F16/BF16
};

FileLayer plan_layer(const nn::SafetensorsView& view, Index layer, const std::string& prefix) {
  const auto info = [&](const char* suffix) -> const nn::TensorInfo& {
    const std::string name = prefix + suffix;
    if (!view.contains(name)) throw InvalidArgument("missing tensor '" + name + "'");
    const nn::TensorInfo& ti = view.info(name);
    if (ti.dtype != nn::DType::f32 && ti.dtype != nn::DType::bf16 && ti.dtype != nn::DType::f16 &&
        ti.dtype != nn::DType::f64)
      throw InvalidArgument("tensor '" + name + "' has dtype " + nn::to_string(ti.dtype) +
                            ", expected a floating-point dtype");
    return ti;
  };
  FileLayer L;
  L.layer = layer;
  L.prefix = prefix;
  const auto& up_shape = info(kUp).shape;
  const auto& fuse_shape = info(kFuse).shape;
  if (up_shape.size() != 2)
    throw InvalidArgument("tensor '" + prefix + kUp + "' has shape " +
                          nn::Tensor(up_shape).shape_string() + ", expected [h_s, d]");
  if (fuse_shape.size() != 3)
    throw InvalidArgument("tensor '" + prefix + kFuse + "' has shape " +
                          nn::Tensor(fuse_shape).shape_string() + ", expected [d, h_s, N]");
  L.hs = up_shape[0];
  L.d = up_shape[1];
  if (fuse_shape[2] < 1 || fuse_shape[2] > nn::kMaxTaylorOrder)
    throw InvalidArgument("tensor '" + prefix + kFuse + "' has order N = " +
                          std::to_string(fuse_shape[2]) + ", must be in [1, 32]");
  L.order = static_cast<int>(fuse_shape[2]);
  expect_file_shape(prefix + kFuse, fuse_shape, {L.d, L.hs, L.order});
  expect_file_shape(prefix + kGate, info(kGate).shape, {L.hs, L.d});
  expect_file_shape(prefix + kLocalPoint, info(kLocalPoint).shape, {L.hs});
  expect_file_shape(prefix + kLocalOutput, info(kLocalOutput).shape, {L.d, L.hs});
  const auto& ffn_shape = info(kFfnGate).shape;
  if (ffn_shape.size() != 2)
    throw InvalidArgument("tensor '" + prefix + kFfnGate + "' has shape " +
                          nn::Tensor(ffn_shape).shape_string() + ", expected [h - h_s, d]");
  L.hp = ffn_shape[0];
  L.h = L.hs + L.hp;
  expect_file_shape(prefix + kFfnGate, ffn_shape, {L.hp, L.d});
  expect_file_shape(prefix + kFfnUp, info(kFfnUp).shape, {L.hp, L.d});
  expect_file_shape(prefix + kFfnDown, info(kFfnDown).shape, {L.d, L.hp});
  L.leftover_gate = view.contains(prefix + kLeftoverGate);
  if (L.leftover_gate)
    expect_file_shape(prefix + kLeftoverGate, info(kLeftoverGate).shape, {L.h, L.d});
  if (L.d < 1 || L.hs < 1)
    throw InvalidArgument("tensor '" + prefix + kUp + "' is empty (d and h_s must be >= 1)");
  // Coefficient buffers stored in bf16/f16 are taken as the official code's arithmetic in that
  // type (the exact inversion then also checks that every local_point is a value of it).
  L.dtype = info(kFuse).dtype;
  if ((L.dtype == nn::DType::bf16 || L.dtype == nn::DType::f16) &&
      info(kLocalOutput).dtype == L.dtype)
    L.lowp = L.dtype == nn::DType::bf16 ? nn::LowPrecision::bf16 : nn::LowPrecision::f16;
  L.streamable = !L.leftover_gate && L.dtype != nn::DType::f64;
  for (const char* suffix : {kUp, kGate, kLocalPoint, kLocalOutput, kFfnGate, kFfnUp, kFfnDown})
    L.streamable = L.streamable && info(suffix).dtype == L.dtype;
  return L;
}

// A file read with pread (nothing mapped, so resident memory stays at the buffers in use).
class InputFile {
 public:
  explicit InputFile(const std::filesystem::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw RuntimeError("cannot open '" + path.string() + "': " + std::strerror(errno));
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { ::close(fd_); }
  [[nodiscard]] std::uint64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0)
      throw RuntimeError("cannot stat '" + path_.string() + "': " + std::strerror(errno));
    return static_cast<std::uint64_t>(st.st_size);
  }
  void read(std::uint64_t offset, void* dst, std::size_t n) const {
    auto* p = static_cast<unsigned char*>(dst);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        throw RuntimeError("cannot read '" + path_.string() + "': " +
                           (got == 0 ? std::string("the file is shorter than its header says")
                                     : std::string(std::strerror(errno))));
      p += got;
      n -= static_cast<std::size_t>(got);
      offset += static_cast<std::uint64_t>(got);
    }
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// 1 iff some of the n encoded values is NaN or infinite (all exponent bits set).
bool raw_non_finite(nn::DType dtype, const unsigned char* raw, std::size_t n) {
  std::uint32_t bad = 0;
  if (dtype == nn::DType::f32) {
    for (std::size_t k = 0; k < n; ++k) {
      std::uint32_t b = 0;
      std::memcpy(&b, raw + 4 * k, 4);
      bad |= static_cast<std::uint32_t>((b & 0x7f800000u) == 0x7f800000u);
    }
  } else {
    const std::uint16_t mask = dtype == nn::DType::bf16 ? 0x7f80u : 0x7c00u;
    for (std::size_t k = 0; k < n; ++k) {
      std::uint16_t b = 0;
      std::memcpy(&b, raw + 2 * k, 2);
      bad |= static_cast<std::uint32_t>((b & mask) == mask);
    }
  }
  return bad != 0;
}

// Bytes per read of one tensor's rows.
constexpr std::size_t kStreamChunkBytes = std::size_t{8} << 20;

// One layer recovered from the file as a stream (FileLayer::streamable): the sign test reads the
// probe rows (and all rows only for unclear units); gate and up are copied row by row (selected
// rows sign-flipped); W_down is computed a block of rows at a time on all threads. Written to w
// as gate [h, d], up [h, d], down [d, h] in `out`.
void stream_layer(const InputFile& file, const nn::SafetensorsView& view, const FileLayer& L,
                  nn::Activation act, nn::DType out, nn::SafetensorsWriter& w,
                  OfficialFileLayerReport& report) {
  const std::string& prefix = L.prefix;
  const nn::DType in = L.dtype;
  const std::size_t isz = nn::dtype_size(in);
  const std::size_t osz = nn::dtype_size(out);
  const Index d = L.d, h = L.h, hs = L.hs, hp = L.hp;
  const int order = L.order;
  const auto offset = [&](const char* suffix) {
    return view.buffer_offset() + view.info(prefix + suffix).begin;
  };
  // Rows [r0, r0 + n) of a [rows, cols] tensor as floats (non-finite values refused).
  std::vector<unsigned char> raw;
  const auto read_rows = [&](const char* suffix, Index cols, Index r0, Index n, float* dst) {
    const std::size_t count = sz(n) * sz(cols);
    raw.resize(count * isz);
    file.read(offset(suffix) + sz(r0) * sz(cols) * isz, raw.data(), raw.size());
    nn::decode_floats(in, raw.data(), count, dst);
    if (tensor_non_finite(dst, static_cast<Index>(count))) throw_non_finite(suffix);
  };

  std::vector<float> local_point(sz(hs));
  read_rows(kLocalPoint, hs, 0, 1, local_point.data());

  // Signs: rows streamed in blocks into a view of those rows.
  const Index sign_rows =
      std::max<Index>(1, static_cast<Index>(kStreamChunkBytes / (sz(hs) * sz(order) * isz)));
  std::vector<float> loc_rows;
  std::vector<float> fuse_rows;
  const SignTest test =
      test_signs(act, local_point.data(), d, hs, order,
                 [&](std::span<const Index> units, Index r0, Index r1, std::vector<double>& gram) {
                   for (Index b0 = r0; b0 < r1; b0 += sign_rows) {
                     const Index n = std::min(sign_rows, r1 - b0);
                     loc_rows.resize(sz(n) * sz(hs));
                     fuse_rows.resize(sz(n) * sz(hs) * sz(order));
                     read_rows(kLocalOutput, hs, b0, n, loc_rows.data());
                     read_rows(kFuse, hs * order, b0, n, fuse_rows.data());
                     OfficialLayerView rows;
                     rows.d = n;
                     rows.h = h;
                     rows.h_s = hs;
                     rows.n_order = order;
                     rows.local_point = local_point.data();
                     rows.local_approx = loc_rows.data();
                     rows.fuse = fuse_rows.data();
                     rows.act = act;
                     gram_accumulate(rows, GramLayout(order), units, 0, n, gram);
                   }
                 });
  std::vector<std::int8_t> signs(sz(hs));
  for (Index j = 0; j < hs; ++j) {
    const Decision& dj = test.decision[sz(j)];
    signs[sz(j)] = dj.sign;
    report.sign_flips += dj.sign < 0 ? 1 : 0;
    if (std::isfinite(dj.ratio))
      report.max_residual_ratio = std::max(report.max_residual_ratio, dj.ratio);
    if (!(dj.ratio <= kAmbiguousRatio)) ++report.ambiguous_units;
  }
  const int lanes = 8 * ((order + 7) / 8);
  std::vector<float> cf;
  std::vector<float> cf0;
  least_squares_coefficients(test, signs, order, lanes, cf, cf0);
  ExactUnits exact;
  if (L.lowp && act == nn::Activation::silu &&
      std::all_of(local_point.begin(), local_point.end(),
                  [&](float p) { return nn::round_to(*L.lowp, p) == p; })) {
    exact = exact_coefficients(*L.lowp, local_point.data(), hs, order, signs);
    report.exact_inversion = true;
  }

  // gate and up: [h, d] each, the selected rows (gate sign-flipped) then the plaintext rows.
  const Index copy_rows = std::max<Index>(1, static_cast<Index>(kStreamChunkBytes / (sz(d) * isz)));
  std::vector<float> values;
  std::vector<unsigned char> encoded;
  const auto copy = [&](const char* suffix, Index rows, bool flip) {
    for (Index r0 = 0; r0 < rows; r0 += copy_rows) {
      const Index n = std::min(copy_rows, rows - r0);
      const std::size_t count = sz(n) * sz(d);
      raw.resize(count * isz);
      file.read(offset(suffix) + sz(r0) * sz(d) * isz, raw.data(), raw.size());
      if (raw_non_finite(in, raw.data(), count)) throw_non_finite(suffix);
      if (out == in) {
        if (flip) {  // flip the sign bit of every value of a row with s_j = −1 (exact)
          for (Index r = 0; r < n; ++r) {
            if (signs[sz(r0 + r)] > 0) continue;
            unsigned char* row = raw.data() + sz(r) * sz(d) * isz;
            for (Index i = 0; i < d; ++i) row[sz(i) * isz + isz - 1] ^= 0x80u;
          }
        }
        w.write(raw.data(), raw.size());
      } else {
        values.resize(count);
        nn::decode_floats(in, raw.data(), count, values.data());
        if (flip)
          for (Index r = 0; r < n; ++r)
            if (signs[sz(r0 + r)] < 0)
              for (Index i = 0; i < d; ++i) values[sz(r * d + i)] = -values[sz(r * d + i)];
        encoded.resize(count * osz);
        nn::encode_floats(out, values.data(), count, encoded.data());
        w.write(encoded.data(), encoded.size());
      }
    }
  };
  copy(kGate, hs, true);
  copy(kFfnGate, hp, false);
  copy(kUp, hs, false);
  copy(kFfnUp, hp, false);

  // down: [d, h], blocks of rows; each row computed by one thread.
  const Index down_rows = sign_rows;
  std::vector<unsigned char> loc_raw;
  std::vector<unsigned char> fuse_raw;
  std::vector<unsigned char> ffn_raw;
  std::vector<float> loc_f;
  std::vector<float> fuse_f;
  std::vector<float> ffn_f;
  std::vector<unsigned char> block;
  const LeastSquares ls{cf.data(), cf0.data(), lanes};
  for (Index i0 = 0; i0 < d; i0 += down_rows) {
    const Index n = std::min(down_rows, d - i0);
    const auto read = [&](const char* suffix, Index cols, std::vector<unsigned char>& r,
                          std::vector<float>& f, bool decode) {
      const std::size_t count = sz(n) * sz(cols);
      r.resize(count * isz);
      file.read(offset(suffix) + sz(i0) * sz(cols) * isz, r.data(), r.size());
      if (decode) {
        f.resize(count + 8, 0.0f);  // 8 spare lanes for the vector loads of the last unit
        nn::decode_floats(in, r.data(), count, f.data());
        if (tensor_non_finite(f.data(), static_cast<Index>(count))) throw_non_finite(suffix);
      } else if (raw_non_finite(in, r.data(), count)) {
        throw_non_finite(suffix);
      }
    };
    read(kLocalOutput, hs, loc_raw, loc_f, true);
    read(kFuse, hs * order, fuse_raw, fuse_f, true);
    read(kFfnDown, hp, ffn_raw, ffn_f, out != in);
    block.resize(sz(n) * sz(h) * osz);
    std::uint32_t bad = 0;
    std::int64_t n_exact = 0, n_ambiguous = 0, n_inconsistent = 0;
#pragma omp parallel reduction(| : bad) reduction(+ : n_exact, n_ambiguous, n_inconsistent)
    {
      std::vector<float> sel(sz(hs));
      ExactScratch scratch;
      ExactCounts counts;
#pragma omp for schedule(static)
      for (Index r = 0; r < n; ++r) {
        const float* fu = fuse_f.data() + r * hs * order;
        const float* loc = loc_f.data() + r * hs;
        if (report.exact_inversion) {
          exact_row(*L.lowp, exact, ls, hs, order, loc, fu, sel.data(), counts, scratch);
        } else {  // 8 spare lanes after the block: every unit may use full vector loads
          least_squares_row(fu, loc, cf.data(), cf0.data(), hs, hs, order, lanes, sel.data());
        }
        bad |= any_non_finite(sel.data(), hs);
        unsigned char* dst = block.data() + sz(r) * sz(h) * osz;
        nn::encode_floats(out, sel.data(), sz(hs), dst);
        if (hp > 0) {
          if (out == in) {
            std::memcpy(dst + sz(hs) * osz, ffn_raw.data() + sz(r) * sz(hp) * isz, sz(hp) * isz);
          } else {
            nn::encode_floats(out, ffn_f.data() + r * hp, sz(hp), dst + sz(hs) * osz);
          }
        }
      }
      n_exact += counts.exact;
      n_ambiguous += counts.ambiguous;
      n_inconsistent += counts.inconsistent;
    }
    if (bad != 0) throw InvalidArgument("official layer: the recovered W_down overflows float32");
    report.exact_entries += n_exact;
    report.ambiguous_entries += n_ambiguous;
    report.inconsistent_entries += n_inconsistent;
    w.write(block.data(), block.size());
  }
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
  const InputFile file(in);
  const std::string where = "'" + in.string() + "': ";
  if (file.size() != view.file_size())
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

  std::vector<FileLayer> plan;
  for (const auto& [layer, prefix] : layers) {
    try {
      plan.push_back(plan_layer(view, layer, prefix));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(where + "layer prefix '" + prefix + "': " + e.what());
    }
  }
  // The release's type when every layer is in the same bf16/f16 arithmetic (the recovered
  // weights are values of it, so nothing is lost), else F32.
  nn::DType written = nn::DType::f32;
  if (out_dtype) {
    written = *out_dtype;
  } else if (std::all_of(plan.begin(), plan.end(), [&](const FileLayer& L) {
               return L.lowp.has_value() && L.dtype == plan.front().dtype;
             })) {
    written = plan.front().dtype;
  }
  std::vector<nn::TensorDecl> decls;
  for (const FileLayer& L : plan) {
    const std::string base = "model.layers." + std::to_string(L.layer) + ".mlp.";
    decls.push_back({base + "gate_proj.weight", written, {L.h, L.d}});
    decls.push_back({base + "up_proj.weight", written, {L.h, L.d}});
    decls.push_back({base + "down_proj.weight", written, {L.d, L.h}});
  }
  nn::SafetensorsWriter writer(
      out, decls,
      {{"wrsec.recovered_by", "taylor_sign_hypothesis"}, {"wrsec.activation", nn::to_string(act)}});

  std::optional<MappedFile> map;  // for the layers recovered in memory
  std::vector<OfficialFileLayerReport> reports;
  for (const FileLayer& L : plan) {
    const auto start = std::chrono::steady_clock::now();
    OfficialFileLayerReport report;
    report.layer = L.layer;
    report.prefix = L.prefix;
    report.d = L.d;
    report.h = L.h;
    report.h_s = L.hs;
    report.n_order = L.order;
    report.units = L.h;
    report.dtype = L.dtype;
    report.written = written;
    try {
      if (L.streamable) {
        stream_layer(file, view, L, act, written, writer, report);
      } else {
        if (!map) {
          map.emplace(in);
          if (map->size() != view.file_size())
            throw RuntimeError(where + "the file changed while it was read");
        }
        LayerTensors lt(view, *map, L.prefix);
        OfficialLayerView v;
        v.d = L.d;
        v.h = L.h;
        v.h_s = L.hs;
        v.n_order = L.order;
        v.act = act;
        v.up = lt.data(kUp);
        v.gate = lt.data(kGate);
        v.local_point = lt.data(kLocalPoint);
        v.local_approx = lt.data(kLocalOutput);
        v.fuse = lt.data(kFuse);
        v.ffn_gate = lt.data(kFfnGate);
        v.ffn_up = lt.data(kFfnUp);
        v.ffn_down = lt.data(kFfnDown);
        if (L.leftover_gate) v.gate_proj = lt.data(kLeftoverGate);
        v.lowp = L.lowp;
        OfficialRecovery rec = recover_official_layer(v);
        for (const std::int8_t s : rec.signs) report.sign_flips += s < 0 ? 1 : 0;
        report.order_known = rec.order_known;
        report.ambiguous_units = rec.ambiguous_units;
        report.max_residual_ratio = rec.max_residual_ratio;
        report.exact_inversion = rec.exact_inversion;
        report.exact_entries = rec.exact_entries;
        report.ambiguous_entries = rec.ambiguous_entries;
        report.inconsistent_entries = rec.inconsistent_entries;
        std::vector<unsigned char> bytes;
        for (const nn::Tensor* t : {&rec.gate, &rec.up, &rec.down}) {
          bytes.resize(t->data.size() * nn::dtype_size(written));
          nn::encode_floats(written, t->data.data(), t->data.size(), bytes.data());
          writer.write(bytes.data(), bytes.size());
        }
      }
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(where + "layer prefix '" + L.prefix + "': " + e.what());
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    reports.push_back(std::move(report));
  }
  writer.commit();
  return reports;
}

}  // namespace wrsec::attacks
