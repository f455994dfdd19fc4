#include "attacks/taylor_ratio_inversion.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "core/errors.h"
#include "core/parallel.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/taylor.h"

namespace wrsec::attacks {
namespace {

using Index = std::int64_t;

constexpr double kGridMin = -30.0;
constexpr double kGridStep = 0.005;
constexpr Index kGridPoints = 12001;  // [−30, 30]
// An order is usable for a ratio when its column norm is at least this fraction of the largest.
constexpr double kUsableNorm = 1e-7;
// Root candidates kept per order pair (a safety cap; typical counts are 1–3).
constexpr std::size_t kMaxRootsPerPair = 16;
// Candidates whose residual is within this of the best are ties (decided by Θ_0).
constexpr double kTieFactor = 10.0;
constexpr double kTieFloor = 1e-12;
// Distinct candidates differ by more than this (relative to max(1, |a|)).
constexpr double kSameRoot = 1e-7;
// Interpolated guesses closer than this are one root (the interpolation error on the grid is
// about 10⁻⁶); guesses fitting worse than kGuessFactor·best + kGuessFloor are not solved.
constexpr double kSameGuess = 1e-4;
constexpr double kGuessFactor = 1e4;
constexpr double kGuessFloor = 1e-6;

std::size_t ratio_sz(Index i) {
  return static_cast<std::size_t>(i);
}

// Units (and grid points) in parallel: the work per unit varies, so chunks of 4 are handed out as
// threads become free; each result is written to its own slot, so the schedule does not matter.
constexpr ParallelOptions kUnits{.schedule = Schedule::dynamic, .chunk = 4};

// The columns of one unit and their Gram matrix over orders 1..N.
struct Unit {
  int order = 0;
  Index rows = 0;
  std::vector<double> col;   // col[n·o + i] = Θ_{n,i,j}, n = 0..N
  std::vector<double> gram;  // gram[(n−1)·N + (m−1)] = ⟨Θ_n, Θ_m⟩, n, m = 1..N
  double trace = 0.0;

  [[nodiscard]] double g(int n, int m) const {
    return gram[ratio_sz(Index(n - 1) * order + (m - 1))];
  }
  [[nodiscard]] const double* column(int n) const { return col.data() + ratio_sz(Index(n) * rows); }
};

Unit load_unit(const nn::Tensor& theta, Index j) {
  Unit u;
  u.order = static_cast<int>(theta.shape[0]) - 1;
  u.rows = theta.shape[1];
  const Index h = theta.shape[2];
  const Index o = u.rows;
  u.col.resize(ratio_sz(Index(u.order + 1) * o));
  for (int n = 0; n <= u.order; ++n)
    for (Index i = 0; i < o; ++i)
      u.col[ratio_sz(n * o + i)] = theta.data[ratio_sz((Index(n) * o + i) * h + j)];
  const int nn_ = u.order;
  u.gram.assign(ratio_sz(Index(nn_) * nn_), 0.0);
  for (int n = 1; n <= nn_; ++n)
    for (int m = n; m <= nn_; ++m) {
      double s = 0.0;
      const double* a = u.column(n);
      const double* b = u.column(m);
      for (Index i = 0; i < o; ++i) s += a[i] * b[i];
      u.gram[ratio_sz(Index(n - 1) * nn_ + (m - 1))] = s;
      u.gram[ratio_sz(Index(m - 1) * nn_ + (n - 1))] = s;
    }
  for (int n = 1; n <= nn_; ++n) u.trace += u.g(n, n);
  return u;
}

// cᵀGc / cᵀc over orders 1..N, c = (c_0, c_1, …).
double fit_quotient(const Unit& u, const double* c) {
  double cc = 0.0;
  double cgc = 0.0;
  for (int n = 1; n <= u.order; ++n) {
    cc += c[n] * c[n];
    double row = 0.0;
    for (int m = 1; m <= u.order; ++m) row += u.g(n, m) * c[m];
    cgc += c[n] * row;
  }
  return cc > 0.0 ? cgc / cc : 0.0;
}

// ρ(a) for coefficients c = c(a).
double relative_residual(const Unit& u, const double* c) {
  if (!(u.trace > 0.0)) return 0.0;
  return std::max(0.0, 1.0 - fit_quotient(u, c) / u.trace);
}

double residual_at(const Unit& u, nn::Activation act, double a) {
  const std::vector<double> c = nn::taylor_coefficients(act, a, u.order);
  return relative_residual(u, c.data());
}

// w = Σ_{n≥1} c_n Θ_n / Σ_{n≥1} c_n².
std::vector<double> fitted_column(const Unit& u, const double* c) {
  std::vector<double> w(ratio_sz(u.rows), 0.0);
  double cc = 0.0;
  for (int n = 1; n <= u.order; ++n) cc += c[n] * c[n];
  if (!(cc > 0.0)) return w;
  for (int n = 1; n <= u.order; ++n) {
    const double f = c[n] / cc;
    const double* t = u.column(n);
    for (Index i = 0; i < u.rows; ++i) w[ratio_sz(i)] += f * t[i];
  }
  return w;
}

// Root of f(a) = c_{n+1}(a) − t·c_n(a) in [lo, hi] with f(lo)·f(hi) < 0: Newton steps (f′ from
// c′_k = (k+1)·c_{k+1}) kept inside the bracket, bisection otherwise; secant when order n+2
// exceeds the supported maximum.
double solve_pair(nn::Activation act, int n, double t, double lo, double hi, double flo,
                  double fhi) {
  const bool newton = n + 2 <= nn::kMaxTaylorOrder;
  const int ord = newton ? n + 2 : n + 1;
  double x = lo - flo * (hi - lo) / (fhi - flo);
  if (!(x > lo && x < hi)) x = 0.5 * (lo + hi);
  double width = hi - lo;
  for (int it = 0; it < 200; ++it) {
    const std::vector<double> c = nn::taylor_coefficients(act, x, ord);
    const double f = c[ratio_sz(n + 1)] - t * c[ratio_sz(n)];
    if (f == 0.0) return x;
    if ((f < 0.0) == (flo < 0.0)) {
      lo = x;
      flo = f;
    } else {
      hi = x;
      fhi = f;
    }
    if (hi - lo <= 4.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(x))) break;
    double next;
    if (newton) {
      const double fp = double(n + 2) * c[ratio_sz(n + 2)] - t * double(n + 1) * c[ratio_sz(n + 1)];
      next = fp != 0.0 ? x - f / fp : std::numeric_limits<double>::quiet_NaN();
    } else {
      next = lo - flo * (hi - lo) / (fhi - flo);
    }
    // Bisect when the step leaves the bracket or the bracket does not shrink fast enough.
    const double new_width = hi - lo;
    if (!(next > lo && next < hi) || new_width > 0.5 * width) next = 0.5 * (lo + hi);
    width = new_width;
    if (next == x) break;
    x = next;
  }
  return std::abs(flo) < std::abs(fhi) ? lo : hi;
}

// dF/da·(cᵀc)² up to a positive factor, F = cᵀGc/cᵀc: g = (c′ᵀGc)(cᵀc) − (cᵀGc)(cᵀc′).
double stationarity(const Unit& u, nn::Activation act, double a) {
  const std::vector<double> c = nn::taylor_coefficients(act, a, u.order + 1);
  double cc = 0.0;
  double cdc = 0.0;
  double cgc = 0.0;
  double dgc = 0.0;
  for (int n = 1; n <= u.order; ++n) {
    const double dn = double(n + 1) * c[ratio_sz(n + 1)];
    cc += c[ratio_sz(n)] * c[ratio_sz(n)];
    cdc += c[ratio_sz(n)] * dn;
    double row = 0.0;
    for (int m = 1; m <= u.order; ++m) row += u.g(n, m) * c[ratio_sz(m)];
    cgc += c[ratio_sz(n)] * row;
    dgc += dn * row;
  }
  return dgc * cc - cgc * cdc;
}

// The minimiser of ρ in [a − δ, a + δ] when dρ/da changes sign there (Illinois regula falsi on
// the stationarity condition), else a.
double refine_minimum(const Unit& u, nn::Activation act, double a) {
  if (u.order + 1 > nn::kMaxTaylorOrder) return a;
  const double delta = kGridStep;
  double lo = a - delta;
  double hi = a + delta;
  double glo = stationarity(u, act, lo);
  double ghi = stationarity(u, act, hi);
  if (!(glo > 0.0 && ghi < 0.0)) return a;
  int side = 0;
  double x = a;
  for (int it = 0; it < 200; ++it) {
    x = (lo * ghi - hi * glo) / (ghi - glo);
    if (!(x > lo && x < hi)) x = 0.5 * (lo + hi);
    const double gx = stationarity(u, act, x);
    if (gx == 0.0) return x;
    if (gx > 0.0) {
      lo = x;
      glo = gx;
      if (side == -1) ghi *= 0.5;
      side = -1;
    } else {
      hi = x;
      ghi = gx;
      if (side == 1) glo *= 0.5;
      side = 1;
    }
    if (hi - lo <= 4.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(x))) break;
  }
  // Keep the refinement only if it does not make the fit worse.
  return residual_at(u, act, x) <= residual_at(u, act, a) ? x : a;
}

// Grid of c_0..c_N on [−30, 30].
std::vector<double> coefficient_table(nn::Activation act, int order) {
  const auto stride = ratio_sz(order + 1);
  std::vector<double> table(ratio_sz(kGridPoints) * stride);
  parallel_for(kGridPoints, kUnits, [&](Index g) {
    const std::vector<double> c =
        nn::taylor_coefficients(act, kGridMin + double(g) * kGridStep, order);
    std::copy(c.begin(), c.end(),
              table.begin() + static_cast<std::ptrdiff_t>(ratio_sz(g) * stride));
  });
  return table;
}

struct Candidate {
  double a = 0.0;
  double rho = 0.0;
};

// A sign change of c_{n+1} − t·c_n between two grid points, with its interpolated root.
struct Bracket {
  int n = 0;
  double t = 0.0;
  double lo = 0.0, hi = 0.0, flo = 0.0, fhi = 0.0;
  double guess = 0.0;
  double rho = 0.0;  // ρ at the guess
};

struct UnitResult {
  bool identified = false;
  std::vector<Candidate> fits;  // best first; more than one = tie to be decided by Θ_0
};

// Steps 1–3 (without the Θ_0 decision) for one unit.
UnitResult solve_unit(const Unit& u, nn::Activation act, const std::vector<double>& table) {
  UnitResult res;
  const int order = u.order;
  const auto stride = ratio_sz(order + 1);
  double norm_max = 0.0;
  std::vector<double> norm(ratio_sz(order + 1), 0.0);
  for (int n = 1; n <= order; ++n) {
    norm[ratio_sz(n)] = std::sqrt(u.g(n, n));
    norm_max = std::max(norm_max, norm[ratio_sz(n)]);
  }
  if (!(norm_max > 0.0) || !std::isfinite(u.trace)) return res;
  res.identified = true;

  // Brackets of every usable pair, each located first by secant interpolation on the grid.
  std::vector<Bracket> brackets;
  for (int n = 1; n < order; ++n) {
    if (!(norm[ratio_sz(n)] >= kUsableNorm * norm_max &&
          norm[ratio_sz(n + 1)] >= kUsableNorm * norm_max))
      continue;
    const double t = u.g(n, n + 1) / u.g(n, n);
    std::size_t found = 0;
    double f_prev = 0.0;
    for (Index g = 0; g < kGridPoints && found < kMaxRootsPerPair; ++g) {
      const double* c = table.data() + ratio_sz(g) * stride;
      const double f = c[n + 1] - t * c[n];
      const double a = kGridMin + double(g) * kGridStep;
      if (f == 0.0 && (c[n] != 0.0 || c[n + 1] != 0.0)) {
        brackets.push_back({n, t, a, a, 0.0, 0.0, a, 0.0});
        ++found;
      } else if (g > 0 && f_prev != 0.0 && f != 0.0 && (f < 0.0) != (f_prev < 0.0)) {
        const double lo = a - kGridStep;
        const double guess = lo - f_prev * kGridStep / (f - f_prev);
        brackets.push_back({n, t, lo, a, f_prev, f, std::clamp(guess, lo, a), 0.0});
        ++found;
      }
      f_prev = f;
    }
  }
  // The same root seen by several pairs is solved once (the best-fitting bracket), and brackets
  // that fit far worse than the best are dropped before the exact solve.
  for (Bracket& br : brackets) br.rho = residual_at(u, act, br.guess);
  std::sort(brackets.begin(), brackets.end(),
            [](const Bracket& x, const Bracket& y) { return x.guess < y.guess; });
  std::vector<Bracket> merged;
  for (const Bracket& br : brackets) {
    if (!merged.empty() && std::abs(br.guess - merged.back().guess) <=
                               kSameGuess * std::max(1.0, std::abs(br.guess))) {
      if (br.rho < merged.back().rho) merged.back() = br;
      continue;
    }
    merged.push_back(br);
  }
  double best_guess = std::numeric_limits<double>::infinity();
  for (const Bracket& br : merged) best_guess = std::min(best_guess, br.rho);
  std::vector<double> roots;
  for (const Bracket& br : merged) {
    if (br.rho > kGuessFactor * best_guess + kGuessFloor) continue;
    roots.push_back(br.lo == br.hi ? br.lo
                                   : solve_pair(act, br.n, br.t, br.lo, br.hi, br.flo, br.fhi));
  }
  if (roots.empty()) {
    // No bracketed root: the grid minimiser of ρ.
    double best = std::numeric_limits<double>::infinity();
    double best_a = 0.0;
    for (Index g = 0; g < kGridPoints; ++g) {
      const double r = relative_residual(u, table.data() + ratio_sz(g) * stride);
      if (r < best) {
        best = r;
        best_a = kGridMin + double(g) * kGridStep;
      }
    }
    roots.push_back(best_a);
  }

  std::sort(roots.begin(), roots.end());
  std::vector<Candidate> cands;
  for (const double a : roots) {
    if (!cands.empty() && std::abs(a - cands.back().a) <= kSameRoot * std::max(1.0, std::abs(a)))
      continue;
    cands.push_back({a, residual_at(u, act, a)});
  }
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& x, const Candidate& y) { return x.rho < y.rho; });
  const double limit = kTieFactor * cands.front().rho + kTieFloor;
  for (const Candidate& cand : cands) {
    if (cand.rho > limit) break;
    const double a = refine_minimum(u, act, cand.a);
    res.fits.push_back({a, residual_at(u, act, a)});
  }
  return res;
}

// u_j(a) = Θ_0 − w(a)·c_0(a).
std::vector<double> constant_share(const Unit& u, nn::Activation act, double a) {
  const std::vector<double> c = nn::taylor_coefficients(act, a, u.order);
  std::vector<double> w = fitted_column(u, c.data());
  const double* t0 = u.column(0);
  for (Index i = 0; i < u.rows; ++i) w[ratio_sz(i)] = t0[i] - w[ratio_sz(i)] * c[0];
  return w;
}

double distance2(const std::vector<double>& x, const std::vector<double>& y) {
  double s = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) s += (x[i] - y[i]) * (x[i] - y[i]);
  return s;
}

double norm2(const std::vector<double>& x) {
  double s = 0.0;
  for (const double v : x) s += v * v;
  return s;
}

double median(std::vector<double> v) {
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  const double upper = v[m];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m));
  return 0.5 * (lower + upper);
}

// Row-wise median of vectors.
std::vector<double> rowwise_median(const std::vector<const std::vector<double>*>& vs, Index o) {
  std::vector<double> out(ratio_sz(o), 0.0);
  if (vs.empty()) return out;
  std::vector<double> buf(vs.size());
  for (Index i = 0; i < o; ++i) {
    for (std::size_t k = 0; k < vs.size(); ++k) buf[k] = (*vs[k])[ratio_sz(i)];
    out[ratio_sz(i)] = median(buf);
  }
  return out;
}

void check_finite(const nn::Tensor& t, const std::string& name) {
  if (!nn::all_finite(t))
    throw InvalidArgument("taylor_ratio_inversion: tensor '" + name +
                          "' contains a non-finite value");
}

// N = 1. Θ_0,j − r_j·Θ_1,j = c/h for every unit with Θ_1,j ≠ 0, r_j = c_0(a_j)/c_1(a_j): with
// u_j = Θ_1,j/‖Θ_1,j‖ and P_j = I − u_j u_jᵀ, c/h solves (Σ_j P_j)·e = Σ_j P_j·Θ_0,j (least
// squares over the units). Returns nothing when that o×o system is singular (o = 1, or every
// Θ_1 column parallel), where c/h is not identified.
std::optional<std::vector<double>> order_one_constant(const std::vector<Unit>& units, Index o) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(o, o);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(o);
  Index used = 0;
  for (const Unit& u : units) {
    if (!(u.trace > 0.0)) continue;
    const Eigen::Map<const Eigen::VectorXd> t0(u.column(0), o);
    const Eigen::VectorXd dir = Eigen::Map<const Eigen::VectorXd>(u.column(1), o).normalized();
    m += Eigen::MatrixXd::Identity(o, o) - dir * dir.transpose();
    rhs += t0 - dir * dir.dot(t0);
    ++used;
  }
  if (used < 2) return std::nullopt;
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::VectorXd sv = svd.singularValues();
  if (!(sv(o - 1) > 1e-9 * sv(0))) return std::nullopt;
  const Eigen::VectorXd e = svd.solve(rhs);
  return std::vector<double>(e.data(), e.data() + o);
}

// The roots in [−30, 30] of c_0(a) − r·c_1(a) (a grid sign change refined by bisection), i.e. the
// expansion points whose ratio σ(a)/σ′(a) is r: at most two for silu and gelu (one each side of
// the minimum of σ, where σ′ = 0).
std::vector<double> order_one_roots(nn::Activation act, const std::vector<double>& table,
                                    double r) {
  const auto f = [&](Index g) { return table[ratio_sz(g) * 2] - r * table[ratio_sz(g) * 2 + 1]; };
  std::vector<double> roots;
  double prev = f(0);
  for (Index g = 1; g < kGridPoints; ++g) {
    const double cur = f(g);
    if (prev == 0.0) roots.push_back(kGridMin + double(g - 1) * kGridStep);
    if ((prev < 0.0 && cur > 0.0) || (prev > 0.0 && cur < 0.0)) {
      double lo = kGridMin + double(g - 1) * kGridStep;
      double hi = lo + kGridStep;
      double flo = prev;
      for (int it = 0; it < 80 && hi - lo > 1e-15 * std::max(1.0, std::abs(lo)); ++it) {
        const double mid = 0.5 * (lo + hi);
        const std::vector<double> c = nn::taylor_coefficients(act, mid, 1);
        const double fm = c[0] - r * c[1];
        if ((fm < 0.0) == (flo < 0.0)) {
          lo = mid;
          flo = fm;
        } else {
          hi = mid;
        }
      }
      roots.push_back(0.5 * (lo + hi));
    }
    prev = cur;
  }
  return roots;
}

}  // namespace

PaperBlockRecovery recover_paper_block(const nn::Tensor& theta, const nn::Tensor& z0,
                                       nn::Activation act) {
  if (act == nn::Activation::relu)
    throw InvalidArgument("taylor_ratio_inversion: relu has no Taylor expansion");
  if (theta.rank() != 3 || theta.numel() != nn::checked_numel(theta.shape))
    throw InvalidArgument("taylor_ratio_inversion: taylor.theta has shape " + theta.shape_string() +
                          ", expected [N+1, o, h]");
  const Index order = theta.shape[0] - 1;
  const Index o = theta.shape[1];
  const Index h = theta.shape[2];
  if (order < 1 || order > nn::kMaxTaylorOrder)
    throw InvalidArgument("taylor_ratio_inversion: taylor.theta has order N = " +
                          std::to_string(order) + ", must be in [1, 32]");
  if (z0.shape != std::vector<std::int64_t>{h} || z0.numel() != h)
    throw InvalidArgument("taylor_ratio_inversion: taylor.z0 has shape " + z0.shape_string() +
                          ", expected [" + std::to_string(h) + "]");
  check_finite(theta, "taylor.theta");
  check_finite(z0, "taylor.z0");
  const int n_order = static_cast<int>(order);

  PaperBlockRecovery rec;
  rec.a.assign(ratio_sz(h), 0.0);
  std::vector<Unit> units(ratio_sz(h));
  parallel_for(h, kUnits, [&](Index j) { units[ratio_sz(j)] = load_unit(theta, j); });

  // Per unit: the chosen a_j, the constant-share vectors of its fitting candidates.
  std::vector<UnitResult> results(ratio_sz(h));
  Index order_one_ambiguous = 0;
  if (n_order == 1) {
    // c/h from the column relation, then r_j and the roots of σ(a)/σ′(a) = r_j; of two roots,
    // the one nearer the expansion point (the smaller |b|) is taken: the release cannot tell
    // them apart. Without c/h (o = 1, parallel columns): a = z0 (b = 0).
    const std::optional<std::vector<double>> e = order_one_constant(units, o);
    const std::vector<double> table = e ? coefficient_table(act, 1) : std::vector<double>{};
    std::vector<char> two(ratio_sz(h), 0);
    parallel_for(h, kUnits, [&](Index j) {
      const Unit& u = units[ratio_sz(j)];
      const double z = z0.data[ratio_sz(j)];
      UnitResult& r = results[ratio_sz(j)];
      r.identified = u.trace > 0.0;
      double a = z;
      if (e && r.identified) {
        double num = 0.0;
        for (Index i = 0; i < o; ++i) num += (u.column(0)[i] - (*e)[ratio_sz(i)]) * u.column(1)[i];
        const std::vector<double> roots = order_one_roots(act, table, num / u.g(1, 1));
        for (const double root : roots)
          if (root == roots.front() || std::abs(root - z) < std::abs(a - z)) a = root;
        if (roots.empty()) a = z;
        two[ratio_sz(j)] = roots.size() > 1 ? 1 : 0;
      }
      r.fits.push_back({a, 0.0});
    });
    for (const char t : two) order_one_ambiguous += t;
  } else {
    const std::vector<double> table = coefficient_table(act, n_order);
    parallel_for(h, kUnits, [&](Index j) {
      results[ratio_sz(j)] = solve_unit(units[ratio_sz(j)], act, table);
    });
  }

  std::vector<std::vector<std::vector<double>>> shares(ratio_sz(h));
  parallel_for(h, kUnits, [&](Index j) {
    const UnitResult& r = results[ratio_sz(j)];
    if (!r.identified) {
      shares[ratio_sz(j)].emplace_back(units[ratio_sz(j)].column(0),
                                       units[ratio_sz(j)].column(0) + o);
      return;
    }
    for (const Candidate& cand : r.fits)
      shares[ratio_sz(j)].push_back(constant_share(units[ratio_sz(j)], act, cand.a));
  });

  // Θ_0 decides the ties: c/h from the units with one fitting candidate, else by agreement.
  std::vector<std::size_t> choice(ratio_sz(h), 0);
  std::vector<const std::vector<double>*> settled;
  std::vector<Index> ambiguous;
  for (Index j = 0; j < h; ++j) {
    if (shares[ratio_sz(j)].size() == 1)
      settled.push_back(&shares[ratio_sz(j)].front());
    else
      ambiguous.push_back(j);
  }
  if (!ambiguous.empty()) {
    std::vector<double> kappa;
    if (!settled.empty()) {
      kappa = rowwise_median(settled, o);
    } else {
      // Each candidate vector of the first few ambiguous units is a hypothesis for c/h; keep the
      // one that some candidate of the most units agrees with.
      constexpr std::size_t kHypothesisUnits = 8;
      double best_score = -1.0;
      double best_spread = std::numeric_limits<double>::infinity();
      for (std::size_t q = 0; q < std::min(kHypothesisUnits, ambiguous.size()); ++q) {
        for (const auto& hyp : shares[ratio_sz(ambiguous[q])]) {
          double score = 0.0;
          double spread = 0.0;
          for (Index j = 0; j < h; ++j) {
            double best = std::numeric_limits<double>::infinity();
            for (const auto& s : shares[ratio_sz(j)]) best = std::min(best, distance2(s, hyp));
            const double scale = norm2(hyp) + norm2(shares[ratio_sz(j)].front()) + 1e-300;
            if (best <= 1e-8 * scale) score += 1.0;
            spread += std::min(1.0, best / scale);
          }
          if (score > best_score || (score == best_score && spread < best_spread)) {
            best_score = score;
            best_spread = spread;
            kappa = hyp;
          }
        }
      }
    }
    auto choose = [&](Index j) {
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t k = 0; k < shares[ratio_sz(j)].size(); ++k) {
        const double dist = distance2(shares[ratio_sz(j)][k], kappa);
        if (dist < best) {
          best = dist;
          choice[ratio_sz(j)] = k;
        }
      }
    };
    for (const Index j : ambiguous) choose(j);
    if (settled.empty()) {
      // Re-estimate c/h from every unit's choice, then choose again.
      std::vector<const std::vector<double>*> chosen;
      for (Index j = 0; j < h; ++j) chosen.push_back(&shares[ratio_sz(j)][choice[ratio_sz(j)]]);
      kappa = rowwise_median(chosen, o);
      for (const Index j : ambiguous) choose(j);
    }
    rec.ambiguous_units = static_cast<Index>(ambiguous.size());
  }

  // Step 4.
  rec.bias = nn::Tensor({h});
  rec.weight = nn::Tensor({o, h});
  rec.out_bias = nn::Tensor({o});
  std::vector<double> c_sum(ratio_sz(o), 0.0);
  for (Index j = 0; j < h; ++j) {
    const UnitResult& r = results[ratio_sz(j)];
    const Unit& u = units[ratio_sz(j)];
    const double z = z0.data[ratio_sz(j)];
    if (!r.identified) {
      ++rec.unidentified_units;
      rec.a[ratio_sz(j)] = z;
    } else {
      const Candidate& cand = r.fits[choice[ratio_sz(j)]];
      rec.a[ratio_sz(j)] = cand.a;
      rec.max_residual = std::max(rec.max_residual, cand.rho);
      // N = 1: c = (σ(z0), σ′(z0)), so this is Θ_1/σ′(z0) (0 when σ′(z0) = 0).
      const std::vector<double> c = nn::taylor_coefficients(act, cand.a, n_order);
      const std::vector<double> w = fitted_column(u, c.data());
      for (Index i = 0; i < o; ++i)
        rec.weight.data[ratio_sz(i * h + j)] = static_cast<float>(w[ratio_sz(i)]);
    }
    rec.bias.data[ratio_sz(j)] = static_cast<float>(rec.a[ratio_sz(j)] - z);
    const std::vector<double>& share = shares[ratio_sz(j)][choice[ratio_sz(j)]];
    for (Index i = 0; i < o; ++i) c_sum[ratio_sz(i)] += share[ratio_sz(i)];
  }
  for (Index i = 0; i < o; ++i)
    rec.out_bias.data[ratio_sz(i)] = static_cast<float>(c_sum[ratio_sz(i)]);
  if (n_order == 1) rec.ambiguous_units = order_one_ambiguous;
  return rec;
}

namespace {

const nn::Tensor& artifact_tensor(const definitions::Artifact& artifact, const std::string& name) {
  const auto it = artifact.tensors.find(name);
  if (it == artifact.tensors.end())
    throw InvalidArgument("taylor_ratio_inversion: artifact is missing tensor '" + name + "'");
  return it->second;
}

std::string layer_name(Index i, const char* what) {
  return "layers." + std::to_string(i) + "." + what;
}

}  // namespace

nn::Model TaylorRatioInversion::extract(const definitions::Artifact& release,
                                        definitions::OracleAccess& /*oracles*/,
                                        Rng& /*coins*/) const {
  const auto& meta = release.metadata;
  if (!meta.is_object() || !meta.contains("architecture"))
    throw InvalidArgument("taylor_ratio_inversion: artifact has no 'architecture' metadata");
  if (meta.contains("format") &&
      (!meta.at("format").is_string() || meta.at("format").get<std::string>() != "paper"))
    throw InvalidArgument("taylor_ratio_inversion: artifact metadata 'format' is not 'paper'");
  const nn::Architecture arch = nn::Architecture::from_json(meta.at("architecture"));
  if (arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("taylor_ratio_inversion: the architecture is not an mlp");
  const Index layers = static_cast<Index>(arch.sizes.size()) - 1;
  Index k = -1;
  if (meta.contains("layer")) {
    if (!meta.at("layer").is_number_integer())
      throw InvalidArgument("taylor_ratio_inversion: metadata 'layer' must be an integer");
    k = meta.at("layer").get<Index>();
  } else {
    for (Index i = 0; i < layers && k < 0; ++i)
      if (release.tensors.count(layer_name(i, "weight")) == 0) k = i;
  }
  if (k < 0 || k + 1 >= layers)
    throw InvalidArgument("taylor_ratio_inversion: expanded layer " + std::to_string(k) +
                          " is not a hidden layer of " + arch.to_spec());
  nn::Activation act = arch.activation;
  if (meta.contains("activation")) {
    if (!meta.at("activation").is_string())
      throw InvalidArgument("taylor_ratio_inversion: metadata 'activation' must be a string");
    act = nn::activation_from_string(meta.at("activation").get<std::string>());
  }

  const nn::Tensor& v = artifact_tensor(release, "taylor.V");
  const nn::Tensor& z0 = artifact_tensor(release, "taylor.z0");
  const nn::Tensor& theta = artifact_tensor(release, "taylor.theta");
  const Index in = arch.sizes[ratio_sz(k)];
  const Index h = arch.sizes[ratio_sz(k + 1)];
  const Index o = arch.sizes[ratio_sz(k + 2)];
  if (v.shape != std::vector<std::int64_t>{h, in})
    throw InvalidArgument("taylor_ratio_inversion: taylor.V has shape " + v.shape_string() +
                          ", expected [" + std::to_string(h) + ", " + std::to_string(in) + "]");
  if (theta.rank() != 3 || theta.shape[1] != o || theta.shape[2] != h)
    throw InvalidArgument("taylor_ratio_inversion: taylor.theta has shape " + theta.shape_string() +
                          ", expected [N+1, " + std::to_string(o) + ", " + std::to_string(h) + "]");
  if (meta.contains("order") && (!meta.at("order").is_number_integer() ||
                                 meta.at("order").get<Index>() != theta.shape[0] - 1))
    throw InvalidArgument("taylor_ratio_inversion: metadata 'order' differs from taylor.theta");
  check_finite(v, "taylor.V");

  PaperBlockRecovery rec = recover_paper_block(theta, z0, act);
  nn::TensorMap t;
  for (Index i = 0; i < layers; ++i) {
    if (i == k || i == k + 1) continue;
    for (const char* what : {"weight", "bias"}) {
      const std::string name = layer_name(i, what);
      t.emplace(name, artifact_tensor(release, name));
    }
  }
  t.emplace(layer_name(k, "weight"), v);
  t.emplace(layer_name(k, "bias"), std::move(rec.bias));
  t.emplace(layer_name(k + 1, "weight"), std::move(rec.weight));
  t.emplace(layer_name(k + 1, "bias"), std::move(rec.out_bias));
  return nn::Model(arch, std::move(t));
}

}  // namespace wrsec::attacks
