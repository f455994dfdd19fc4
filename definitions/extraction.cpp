#include "definitions/extraction.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::definitions {

namespace {

constexpr std::int64_t kWindow = 256;

// Incoming parameters of the hidden units of one layer, viewed without copying: unit j is
// [a(j, :), b(j, :), bias(j)] where b and bias may be absent.
struct Units {
  const float* a = nullptr;
  std::int64_t a_cols = 0;
  const float* b = nullptr;
  std::int64_t b_cols = 0;
  const float* bias = nullptr;
  std::int64_t n = 0;

  [[nodiscard]] std::size_t dim() const { return std::size_t(a_cols + b_cols + (bias ? 1 : 0)); }
  template <class F>
  void for_each(std::int64_t j, F&& f) const {  // f(k, value) over the unit's parameters
    const float* ra = a + j * a_cols;
    for (std::int64_t c = 0; c < a_cols; ++c) f(c, double(ra[c]));
    if (b) {
      const float* rb = b + j * b_cols;
      for (std::int64_t c = 0; c < b_cols; ++c) f(a_cols + c, double(rb[c]));
    }
    if (bias) f(a_cols + b_cols, double(bias[j]));
  }
};

Units units_mlp(const nn::Model& m, std::size_t layer) {
  const auto& w = m.tensors.at("layers." + std::to_string(layer) + ".weight");
  const auto& b = m.tensors.at("layers." + std::to_string(layer) + ".bias");
  return {w.data.data(), w.shape[1], nullptr, 0, b.data.data(), w.shape[0]};
}

Units units_gated(const nn::Model& m) {
  const auto& g = m.tensors.at("mlp.gate_proj.weight");
  const auto& u = m.tensors.at("mlp.up_proj.weight");
  return {g.data.data(), g.shape[1], u.data.data(), u.shape[1], nullptr, g.shape[0]};
}

double distance2(const Units& x, std::int64_t i, const Units& y, std::int64_t j) {
  double s = 0;
  const float* xa = x.a + i * x.a_cols;
  const float* ya = y.a + j * y.a_cols;
  for (std::int64_t c = 0; c < x.a_cols; ++c)
    s += (double(xa[c]) - ya[c]) * (double(xa[c]) - ya[c]);
  if (x.b) {
    const float* xb = x.b + i * x.b_cols;
    const float* yb = y.b + j * y.b_cols;
    for (std::int64_t c = 0; c < x.b_cols; ++c)
      s += (double(xb[c]) - yb[c]) * (double(xb[c]) - yb[c]);
  }
  if (x.bias) s += (double(x.bias[i]) - y.bias[j]) * (double(x.bias[i]) - y.bias[j]);
  return s;
}

// perm[j] = the recovered unit placed at original position j.
std::vector<std::int64_t> match_units(const Units& original, const Units& recovered) {
  const std::int64_t n = original.n;
  const std::size_t dim = original.dim();
  // kKeys random projections per unit: the first orders the originals, all of them pre-filter
  // the candidates of a wide window cheaply (a noisy recovery, e.g. from bf16, moves the first key
  // by several neighbour spacings), and full distances decide among the kFinalists best.
  constexpr std::size_t kKeys = 4;
  constexpr std::int64_t kFinalists = 4;
  Rng rng(0, stable_hash("wrsec.definitions.extraction.align"), 0);
  std::vector<double> r(kKeys * dim);
  for (auto& v : r) v = rng.normal();
  const auto keys = [&](const Units& u, std::int64_t j, double* out) {
    for (std::size_t k = 0; k < kKeys; ++k) out[k] = 0;
    u.for_each(j, [&](std::int64_t c, double v) {
      for (std::size_t k = 0; k < kKeys; ++k) out[k] += v * r[k * dim + std::size_t(c)];
    });
  };
  std::vector<double> okey(kKeys * std::size_t(n)), rkey(kKeys * std::size_t(n));
#pragma omp parallel for schedule(static)
  for (std::int64_t j = 0; j < n; ++j) {
    keys(original, j, &okey[kKeys * std::size_t(j)]);
    keys(recovered, j, &rkey[kKeys * std::size_t(j)]);
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const auto first = [&](const std::vector<double>& k, std::int64_t j) {
    return k[kKeys * std::size_t(j)];
  };
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return first(okey, a) < first(okey, b) || (first(okey, a) == first(okey, b) && a < b);
  });
  std::vector<double> sorted(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) sorted[std::size_t(i)] = first(okey, order[std::size_t(i)]);
  // Candidate search in parallel, assignment sequential (deterministic).
  std::vector<std::vector<std::pair<double, std::int64_t>>> candidates(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t i = 0; i < n; ++i) {
    const auto pos =
        std::lower_bound(sorted.begin(), sorted.end(), first(rkey, i)) - sorted.begin();
    std::vector<std::pair<double, std::int64_t>> near;
    for (std::int64_t k = std::max<std::int64_t>(0, pos - kWindow);
         k < std::min<std::int64_t>(n, pos + kWindow); ++k) {
      const std::int64_t j = order[std::size_t(k)];
      double d = 0;
      for (std::size_t q = 0; q < kKeys; ++q) {
        const double diff = okey[kKeys * std::size_t(j) + q] - rkey[kKeys * std::size_t(i) + q];
        d += diff * diff;
      }
      near.emplace_back(d, j);
    }
    const auto keep = std::min<std::ptrdiff_t>(kFinalists, std::ptrdiff_t(near.size()));
    std::partial_sort(near.begin(), near.begin() + keep, near.end());
    auto& c = candidates[std::size_t(i)];
    for (std::ptrdiff_t k = 0; k < keep; ++k)
      c.emplace_back(distance2(original, near[std::size_t(k)].second, recovered, i),
                     near[std::size_t(k)].second);
    std::sort(c.begin(), c.end());
  }
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n), -1);
  std::vector<std::int64_t> unplaced;
  for (std::int64_t i = 0; i < n; ++i) {
    bool placed = false;
    for (const auto& [d, j] : candidates[std::size_t(i)]) {
      if (perm[std::size_t(j)] < 0) {
        perm[std::size_t(j)] = i;
        placed = true;
        break;
      }
    }
    if (!placed) unplaced.push_back(i);
  }
  // Leftovers (only when matching is poor): fill free positions in order.
  std::size_t next = 0;
  for (std::int64_t j = 0; j < n && next < unplaced.size(); ++j)
    if (perm[std::size_t(j)] < 0) perm[std::size_t(j)] = unplaced[next++];
  return perm;
}

void permute_rows(nn::Tensor& t, const std::vector<std::int64_t>& perm) {
  const std::int64_t cols = t.rank() == 2 ? t.shape[1] : 1;
  AlignedVector<float> out(t.data.size());
  for (std::size_t j = 0; j < perm.size(); ++j)
    std::copy_n(t.data.begin() + perm[j] * cols, cols, out.begin() + std::int64_t(j) * cols);
  t.data = std::move(out);
}

void permute_cols(nn::Tensor& t, const std::vector<std::int64_t>& perm) {
  const std::int64_t rows = t.shape[0], cols = t.shape[1];
  AlignedVector<float> out(t.data.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      out[std::size_t(r * cols + j)] = t.data[std::size_t(r * cols + perm[std::size_t(j)])];
  t.data = std::move(out);
}

}  // namespace

nn::Model align_hidden_units(const nn::Model& original, const nn::Model& recovered) {
  if (!(original.arch == recovered.arch))
    throw InvalidArgument("cannot align models of different architectures");
  nn::Model out = recovered;
  if (original.arch.kind == nn::Architecture::Kind::swiglu) {
    const auto perm = match_units(units_gated(original), units_gated(out));
    permute_rows(out.tensors.at("mlp.gate_proj.weight"), perm);
    permute_rows(out.tensors.at("mlp.up_proj.weight"), perm);
    permute_cols(out.tensors.at("mlp.down_proj.weight"), perm);
    return out;
  }
  const std::size_t layers = original.arch.sizes.size() - 1;
  for (std::size_t k = 0; k + 1 < layers; ++k) {
    const auto perm = match_units(units_mlp(original, k), units_mlp(out, k));
    permute_rows(out.tensors.at("layers." + std::to_string(k) + ".weight"), perm);
    permute_rows(out.tensors.at("layers." + std::to_string(k) + ".bias"), perm);
    permute_cols(out.tensors.at("layers." + std::to_string(k + 1) + ".weight"), perm);
  }
  return out;
}

double ExtractionScore::fraction() const {
  return parameters == 0 ? 1.0 : double(recovered) / double(parameters);
}
double ExtractionScore::hidden_fraction() const {
  return hidden == 0 ? 1.0 : double(hidden_recovered) / double(hidden);
}

ExtractionScore score_extraction(const nn::Model& original, const nn::Model& recovered,
                                 const nn::TensorMap& hidden_mask,
                                 const ExtractionCriterion& criterion) {
  if (!(criterion.tau >= 0) || !(criterion.floor >= 0))
    throw InvalidArgument("extraction criterion needs tau >= 0 and floor >= 0");
  ExtractionScore s;
  for (const auto& [name, t] : original.tensors) {
    s.parameters += std::uint64_t(t.numel());
    const auto m = hidden_mask.find(name);
    if (m == hidden_mask.end()) {
      s.hidden += std::uint64_t(t.numel());
    } else {
      if (m->second.shape != t.shape)
        throw LogicError("hidden mask for '" + name + "' has shape " + m->second.shape_string());
      for (float v : m->second.data) s.hidden += v != 0 ? 1 : 0;
    }
  }
  s.architecture_matches = original.arch == recovered.arch;
  for (const auto& [name, t] : original.tensors) {
    const auto it = recovered.tensors.find(name);
    if (it == recovered.tensors.end() || it->second.shape != t.shape)
      s.architecture_matches = false;
  }
  if (!s.architecture_matches) {
    s.max_error = s.max_error_hidden = s.median_error_hidden =
        std::numeric_limits<double>::infinity();
    return s;
  }
  const nn::Model aligned =
      criterion.align_permutations ? align_hidden_units(original, recovered) : recovered;
  std::vector<float> hidden_errors;
  hidden_errors.reserve(std::size_t(s.hidden));
  for (const auto& [name, t] : original.tensors) {
    const auto& r = aligned.tensors.at(name);
    const auto m = hidden_mask.find(name);
    double rms = 0;
    if (criterion.floor > 0) {
      for (float v : t.data) rms += double(v) * double(v);
      rms = std::sqrt(rms / double(std::max<std::int64_t>(1, t.numel())));
    }
    const double floor_abs = criterion.floor * rms;
    for (std::size_t k = 0; k < t.data.size(); ++k) {
      const double a = t.data[k], b = r.data[k];
      const double diff = std::fabs(b - a);
      const double denom = std::max(std::fabs(a), floor_abs);
      double e =
          diff == 0 ? 0.0 : (denom > 0 ? diff / denom : std::numeric_limits<double>::infinity());
      if (std::isnan(b)) e = std::numeric_limits<double>::infinity();
      const bool hidden = m == hidden_mask.end() || m->second.data[k] != 0;
      const bool ok = e <= criterion.tau;
      s.recovered += ok ? 1 : 0;
      s.max_error = std::max(s.max_error, e);
      if (hidden) {
        s.hidden_recovered += ok ? 1 : 0;
        s.max_error_hidden = std::max(s.max_error_hidden, e);
        // Stored as float (memory); an infinite error stays infinite in the median.
        hidden_errors.push_back(std::isinf(e) ? std::numeric_limits<float>::infinity()
                                              : static_cast<float>(std::min(e, 3.0e38)));
      }
    }
  }
  if (!hidden_errors.empty()) {
    auto mid = hidden_errors.begin() + std::ptrdiff_t(hidden_errors.size() / 2);
    std::nth_element(hidden_errors.begin(), mid, hidden_errors.end());
    s.median_error_hidden = *mid;
  }
  return s;
}

}  // namespace wrsec::definitions
