#include "nn/align.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Index = std::int64_t;

std::string align_weight_name(std::size_t i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string align_bias_name(std::size_t i) {
  return "layers." + std::to_string(i) + ".bias";
}
const char* const kAlignGate = "mlp.gate_proj.weight";
const char* const kAlignUp = "mlp.up_proj.weight";
const char* const kAlignDown = "mlp.down_proj.weight";

MatD to_matd(const Tensor& t) {
  const Index rows = t.shape.at(0);
  const Index cols = t.shape.size() > 1 ? t.shape[1] : 1;
  MatD m(rows, cols);
  for (Index k = 0; k < rows * cols; ++k) m.data()[k] = t.data[static_cast<std::size_t>(k)];
  return m;
}

Tensor from_matd(const MatD& m, std::vector<std::int64_t> shape) {
  Tensor t(std::move(shape));
  for (Index k = 0; k < m.size(); ++k) t.data[static_cast<std::size_t>(k)] = float(m.data()[k]);
  return t;
}

// Rows scaled to unit norm (zero rows stay zero) and their norms.
MatD unit_rows(const MatD& rows, Eigen::VectorXd& norms) {
  norms = rows.rowwise().norm();
  MatD u = rows;
  for (Index j = 0; j < rows.rows(); ++j)
    if (norms[j] > 0.0) u.row(j) /= norms[j];
  return u;
}

Index uf_root(std::vector<Index>& parent, Index j) {
  while (parent[static_cast<std::size_t>(j)] != j) {
    parent[static_cast<std::size_t>(j)] =
        parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(j)])];
    j = parent[static_cast<std::size_t>(j)];
  }
  return j;
}

// One hidden layer: suspect rows [n_s, f] and outgoing columns out [m, n_s] become [n_r, f] and
// [m, n_r] in the order of the reference rows ref [n_r, f].
void align_layer(const MatD& ref, MatD& rows, MatD& out, bool homogeneous,
                 const AlignOptions& options, LayerAlignment& log) {
  const Index ns = rows.rows(), nr = ref.rows(), m = out.rows();
  log.reference_units = nr;
  log.suspect_units = ns;

  // 1. Merge collinear units (union-find, the smallest index represents its group).
  Eigen::VectorXd snorm;
  const MatD su = unit_rows(rows, snorm);
  std::vector<Index> parent(static_cast<std::size_t>(ns));
  std::iota(parent.begin(), parent.end(), Index{0});
  const Index block = 256;
  for (Index j0 = 0; j0 < ns; j0 += block) {
    const Index nb = std::min(block, ns - j0);
    const MatD g = su.middleRows(j0, nb) * su.transpose();
    for (Index a = 0; a < nb; ++a) {
      const Index j = j0 + a;
      if (snorm[j] == 0.0) continue;
      for (Index k = j + 1; k < ns; ++k) {
        if (snorm[k] == 0.0 || g(a, k) < options.merge_cosine) continue;
        if (!homogeneous &&
            std::min(snorm[j], snorm[k]) < options.merge_cosine * std::max(snorm[j], snorm[k]))
          continue;
        const Index rj = uf_root(parent, j), rk = uf_root(parent, k);
        if (rj != rk) parent[static_cast<std::size_t>(std::max(rj, rk))] = std::min(rj, rk);
      }
    }
  }
  MatD merged_out = MatD::Zero(m, ns);  // per unit of the root's activation
  std::vector<char> is_root(static_cast<std::size_t>(ns), 0);
  std::vector<std::vector<Index>> members(static_cast<std::size_t>(ns));
  for (Index k = 0; k < ns; ++k) {
    if (snorm[k] == 0.0) {
      ++log.dropped;  // a zero row: the unit's activation is constant f(0) = 0
      continue;
    }
    const Index r = uf_root(parent, k);
    members[static_cast<std::size_t>(r)].push_back(k);
    if (r == k) {
      is_root[static_cast<std::size_t>(k)] = 1;
    } else {
      ++log.merged;
    }
    const double alpha = homogeneous ? snorm[k] / snorm[r] : 1.0;
    merged_out.col(r) += alpha * out.col(k);
  }
  std::vector<Index> kept;
  std::vector<double> col_norms;
  for (Index k = 0; k < ns; ++k)
    if (is_root[static_cast<std::size_t>(k)]) col_norms.push_back(merged_out.col(k).norm());
  std::vector<double> sorted = col_norms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
  std::size_t root_index = 0;
  for (Index k = 0; k < ns; ++k) {
    if (!is_root[static_cast<std::size_t>(k)]) continue;
    if (median > 0.0 && col_norms[root_index] < options.dead_fraction * median)
      ++log.dropped;  // e.g. a clique: its columns sum to zero
    else
      kept.push_back(k);
    ++root_index;
  }

  // 2. Match reference units to kept suspect units by cosine.
  Eigen::VectorXd rnorm;
  const MatD ru = unit_rows(ref, rnorm);
  const Index nk = static_cast<Index>(kept.size());
  // A group's cosine to a reference unit is its best member's; that member's row is kept (the
  // original of a near-collinear copy, not the copy).
  const MatD full = ru * su.transpose();
  MatD cosine(nr, nk);
  std::vector<Index> best_member(static_cast<std::size_t>(nr * nk), -1);
  for (Index c = 0; c < nk; ++c)
    for (Index i = 0; i < nr; ++i) {
      Index best = -1;
      for (const Index j : members[static_cast<std::size_t>(kept[static_cast<std::size_t>(c)])])
        if (best < 0 || full(i, j) > full(i, best)) best = j;
      cosine(i, c) = full(i, best);
      best_member[static_cast<std::size_t>(i * nk + c)] = best;
    }
  std::vector<Index> match(static_cast<std::size_t>(nr), -1);  // reference unit -> kept column
  if (nr > 0 && nk > 0) {
    if (std::max(nr, nk) > kMaxHungarian) {
      log.method = "greedy";
      std::vector<char> used(static_cast<std::size_t>(nk), 0);
      for (Index i = 0; i < nr; ++i) {
        Index best = -1;
        for (Index c = 0; c < nk; ++c)
          if (!used[static_cast<std::size_t>(c)] && (best < 0 || cosine(i, c) > cosine(i, best)))
            best = c;
        if (best < 0) break;
        used[static_cast<std::size_t>(best)] = 1;
        match[static_cast<std::size_t>(i)] = best;
      }
    } else {
      log.method = "hungarian";
      if (nr <= nk) {
        std::vector<double> cost(static_cast<std::size_t>(nr * nk));
        for (Index i = 0; i < nr; ++i)
          for (Index c = 0; c < nk; ++c)
            cost[static_cast<std::size_t>(i * nk + c)] = 1.0 - cosine(i, c);
        const auto a = hungarian(cost, nr, nk);
        for (Index i = 0; i < nr; ++i)
          match[static_cast<std::size_t>(i)] = a[static_cast<std::size_t>(i)];
      } else {
        std::vector<double> cost(static_cast<std::size_t>(nk * nr));
        for (Index c = 0; c < nk; ++c)
          for (Index i = 0; i < nr; ++i)
            cost[static_cast<std::size_t>(c * nr + i)] = 1.0 - cosine(i, c);
        const auto a = hungarian(cost, nk, nr);
        for (Index c = 0; c < nk; ++c)
          match[static_cast<std::size_t>(a[static_cast<std::size_t>(c)])] = c;
      }
    }
  }

  // 3. The aligned layer, and the quality of the matching.
  MatD new_rows = MatD::Zero(nr, rows.cols());
  MatD new_out = MatD::Zero(m, nr);
  double cos_sum = 0.0, margin_sum = 0.0;
  log.min_cosine = std::numeric_limits<double>::infinity();
  log.min_margin = std::numeric_limits<double>::infinity();
  Index matched = 0;
  for (Index i = 0; i < nr; ++i) {
    const Index c = match[static_cast<std::size_t>(i)];
    if (c < 0) {
      ++log.unmatched_reference;
      continue;
    }
    const Index root = kept[static_cast<std::size_t>(c)];
    const Index j = best_member[static_cast<std::size_t>(i * nk + c)];
    double beta = homogeneous && options.rescale && rnorm[i] > 0.0 ? rnorm[i] / snorm[j] : 1.0;
    if (std::abs(std::log(beta)) <= options.rescale_tolerance) beta = 1.0;
    // The group's column per unit of member j's activation (relu: a_j = (‖r_j‖/‖r_root‖)·a_root).
    const double per_member = homogeneous ? snorm[root] / snorm[j] : 1.0;
    new_rows.row(i) = beta * rows.row(j);
    new_out.col(i) = merged_out.col(root) * (per_member / beta);
    double other = -1.0;
    for (Index k = 0; k < nk; ++k)
      if (k != c) other = std::max(other, cosine(i, k));
    const double margin = cosine(i, c) - other;
    cos_sum += cosine(i, c);
    margin_sum += margin;
    log.min_cosine = std::min(log.min_cosine, cosine(i, c));
    log.min_margin = std::min(log.min_margin, margin);
    ++matched;
  }
  log.dropped += nk - matched;  // suspect units left over after matching
  if (matched > 0) {
    log.mean_cosine = cos_sum / double(matched);
    log.mean_margin = margin_sum / double(matched);
  } else {
    log.min_cosine = log.min_margin = 0.0;
  }
  rows = std::move(new_rows);
  out = std::move(new_out);
}

}  // namespace

nlohmann::json LayerAlignment::to_json() const {
  return {{"layer", layer},
          {"reference_units", reference_units},
          {"suspect_units", suspect_units},
          {"merged", merged},
          {"dropped", dropped},
          {"unmatched_reference", unmatched_reference},
          {"mean_cosine", mean_cosine},
          {"min_cosine", min_cosine},
          {"mean_margin", mean_margin},
          {"min_margin", min_margin},
          {"method", method}};
}

nlohmann::json Alignment::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& l : layers) j.push_back(l.to_json());
  return j;
}

std::vector<std::int64_t> hungarian(const std::vector<double>& cost, std::int64_t n,
                                    std::int64_t m) {
  if (n < 0 || m < 0 || n > m)
    throw InvalidArgument("hungarian: need 0 <= rows <= columns, got " + std::to_string(n) + " x " +
                          std::to_string(m));
  if (static_cast<std::int64_t>(cost.size()) != n * m)
    throw InvalidArgument("hungarian: the cost matrix has the wrong size");
  for (const double c : cost)
    if (!std::isfinite(c)) throw InvalidArgument("hungarian: a cost is not finite");
  // Potentials u (rows), v (columns), p[j] = row assigned to column j (1-based, 0 = none).
  const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(at(n + 1), 0.0), v(at(m + 1), 0.0);
  std::vector<std::int64_t> p(at(m + 1), 0), way(at(m + 1), 0);
  for (std::int64_t i = 1; i <= n; ++i) {
    p[0] = i;
    std::int64_t j0 = 0;
    std::vector<double> minv(at(m + 1), inf);
    std::vector<char> used(at(m + 1), 0);
    do {
      used[at(j0)] = 1;
      const std::int64_t i0 = p[at(j0)];
      double delta = inf;
      std::int64_t j1 = 0;
      for (std::int64_t j = 1; j <= m; ++j) {
        if (used[at(j)]) continue;
        const double cur = cost[at((i0 - 1) * m + (j - 1))] - u[at(i0)] - v[at(j)];
        if (cur < minv[at(j)]) {
          minv[at(j)] = cur;
          way[at(j)] = j0;
        }
        if (minv[at(j)] < delta) {
          delta = minv[at(j)];
          j1 = j;
        }
      }
      for (std::int64_t j = 0; j <= m; ++j) {
        if (used[at(j)]) {
          u[at(p[at(j)])] += delta;
          v[at(j)] -= delta;
        } else {
          minv[at(j)] -= delta;
        }
      }
      j0 = j1;
    } while (p[at(j0)] != 0);
    do {
      const std::int64_t j1 = way[at(j0)];
      p[at(j0)] = p[at(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::int64_t> assignment(at(n), -1);
  for (std::int64_t j = 1; j <= m; ++j)
    if (p[at(j)] != 0) assignment[at(p[at(j)] - 1)] = j - 1;
  return assignment;
}

Alignment align_to_reference(const Model& suspect, const Model& reference,
                             const AlignOptions& options) {
  suspect.validate();
  reference.validate();
  const Architecture& sa = suspect.arch;
  const Architecture& ra = reference.arch;
  if (sa.kind != ra.kind || sa.activation != ra.activation || sa.sizes.size() != ra.sizes.size() ||
      sa.sizes.front() != ra.sizes.front() || sa.sizes.back() != ra.sizes.back())
    throw InvalidArgument("cannot align a " + sa.to_spec() + " suspect to a " + ra.to_spec() +
                          " reference: kind, activation, depth, input and output sizes must agree");
  if (!(options.merge_cosine > 0.0 && options.merge_cosine <= 1.0) ||
      !(options.dead_fraction >= 0.0 && options.dead_fraction < 1.0) ||
      !(options.rescale_tolerance >= 0.0))
    throw InvalidArgument(
        "alignment options: merge_cosine must lie in (0, 1], dead_fraction in [0, 1), "
        "rescale_tolerance >= 0");
  Alignment result;
  result.model.arch = ra;
  if (sa.kind == Architecture::Kind::swiglu) {
    const Index d = sa.sizes[0];
    const MatD g = to_matd(suspect.tensors.at(kAlignGate)),
               u = to_matd(suspect.tensors.at(kAlignUp));
    MatD rows(g.rows(), 2 * d);
    rows << g, u;
    const MatD rg = to_matd(reference.tensors.at(kAlignGate)),
               rup = to_matd(reference.tensors.at(kAlignUp));
    MatD ref(rg.rows(), 2 * d);
    ref << rg, rup;
    MatD out = to_matd(suspect.tensors.at(kAlignDown));
    LayerAlignment log;
    log.layer = "mlp";
    align_layer(ref, rows, out, /*homogeneous=*/false, options, log);
    const Index h = ref.rows();
    result.model.tensors.emplace(kAlignGate, from_matd(rows.leftCols(d), {h, d}));
    result.model.tensors.emplace(kAlignUp, from_matd(rows.rightCols(d), {h, d}));
    result.model.tensors.emplace(kAlignDown, from_matd(out, {d, h}));
    result.layers.push_back(log);
    return result;
  }
  const std::size_t layers = sa.sizes.size() - 1;
  std::vector<MatD> w(layers), b(layers);
  for (std::size_t i = 0; i < layers; ++i) {
    w[i] = to_matd(suspect.tensors.at(align_weight_name(i)));
    b[i] = to_matd(suspect.tensors.at(align_bias_name(i)));
  }
  const bool homogeneous = sa.activation == Activation::relu;
  for (std::size_t i = 0; i + 1 < layers; ++i) {
    const Index in = w[i].cols();
    MatD rows(w[i].rows(), in + 1);
    rows << w[i], b[i];
    const MatD rw = to_matd(reference.tensors.at(align_weight_name(i)));
    const MatD rb = to_matd(reference.tensors.at(align_bias_name(i)));
    MatD ref(rw.rows(), in + 1);
    ref << rw, rb;
    LayerAlignment log;
    log.layer = "layers." + std::to_string(i);
    align_layer(ref, rows, w[i + 1], homogeneous, options, log);
    w[i] = rows.leftCols(in);
    b[i] = rows.rightCols(1);
    result.layers.push_back(log);
  }
  for (std::size_t i = 0; i < layers; ++i) {
    result.model.tensors.emplace(align_weight_name(i), from_matd(w[i], {w[i].rows(), w[i].cols()}));
    result.model.tensors.emplace(align_bias_name(i), from_matd(b[i], {b[i].rows()}));
  }
  result.model.validate();
  return result;
}

}  // namespace wrsec::nn
