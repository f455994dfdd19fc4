#include "attacks/static_basis.h"

#include <algorithm>
#include <numeric>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "definitions/oracle.h"
#include "nn/layers.h"
#include "nn/model.h"

namespace wrsec::attacks {

StaticBasisParams StaticBasisParams::from(const definitions::Params& params) {
  StaticBasisParams p;
  p.batch = params.get_int("batch", p.batch);
  p.spare = params.get_int("spare", p.spare);
  p.max_noise_queries = params.get_int("max_noise_queries", p.max_noise_queries);
  p.tol = params.get_double("tol", p.tol);
  p.out_queries = params.get_int("out_queries", p.out_queries);
  if (p.batch < 1 || p.spare < 1 || p.max_noise_queries < p.batch)
    throw InvalidArgument(
        "static_basis: batch and spare must be >= 1 and max_noise_queries >= batch");
  if (!(p.tol > 0 && p.tol < 1)) throw InvalidArgument("static_basis: tol must lie in (0, 1)");
  if (p.out_queries < 1 || p.out_queries > 4096)
    throw InvalidArgument("static_basis: out_queries must lie in [1, 4096]");
  return p;
}

std::vector<std::int64_t> greedy_assignment(const Eigen::MatrixXd& score) {
  const Eigen::Index n = score.rows(), m = score.cols();
  WRSEC_CHECK(n <= m, "greedy_assignment needs rows <= columns");
  std::vector<std::int64_t> out(static_cast<std::size_t>(n), -1);
  std::vector<bool> taken(static_cast<std::size_t>(m), false);
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> best(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) best[static_cast<std::size_t>(i)] = score.row(i).maxCoeff();
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
    return best[static_cast<std::size_t>(a)] > best[static_cast<std::size_t>(b)];
  });
  for (const Eigen::Index i : order) {
    Eigen::Index arg = -1;
    for (Eigen::Index j = 0; j < m; ++j)
      if (!taken[static_cast<std::size_t>(j)] && (arg < 0 || score(i, j) > score(i, arg))) arg = j;
    out[static_cast<std::size_t>(i)] = arg;
    taken[static_cast<std::size_t>(arg)] = true;
  }
  return out;
}

nn::Model StaticBasis::extract(const definitions::Artifact& release,
                               definitions::OracleAccess& oracles, Rng& coins) const {
  if (oracles.tee == nullptr)
    throw InvalidArgument(
        "static_basis needs the release's TEE oracle (game parameter tee_queries)");
  nn::Model model = definitions::artifact_model(release);
  const std::int64_t d = model.arch.input_size();
  // 1. The noise subspace from repeated queries of one input: each difference u_t − u_1 is
  // reduced against the orthonormal basis found so far (twice, for stability); a residual above
  // tol times the difference's norm extends the basis. Saturated once `spare` differences in a
  // row add nothing.
  nn::Matrix x0(1, d);
  for (std::int64_t j = 0; j < d; ++j) x0(0, j) = static_cast<float>(coins.normal());
  Eigen::MatrixXd q(d, 0);
  Eigen::VectorXd first;
  std::int64_t idle = 0;
  const std::int64_t cap = std::min<std::int64_t>(params_.max_noise_queries, d + params_.spare + 1);
  for (std::int64_t asked = 0; asked < cap && idle < params_.spare;) {
    const std::int64_t n = std::min(params_.batch, cap - asked);
    const nn::Matrix u = oracles.tee->query(x0.replicate(n, 1));
    asked += n;
    for (Eigen::Index r = 0; r < u.rows() && idle < params_.spare; ++r) {
      const Eigen::VectorXd v = u.row(r).cast<double>().transpose();
      if (first.size() == 0) {
        first = v;
        continue;
      }
      Eigen::VectorXd diff = v - first;
      const double norm = diff.norm();
      for (int pass = 0; pass < 2 && q.cols() > 0; ++pass) diff -= q * (q.transpose() * diff);
      if (norm > 0 && diff.norm() > params_.tol * norm && q.cols() < d) {
        q.conservativeResize(d, q.cols() + 1);
        q.col(q.cols() - 1) = diff / diff.norm();
        idle = 0;
      } else {
        ++idle;
      }
    }
  }
  if (idle < params_.spare || q.cols() >= d) return model;  // full-rank masks: nothing found
  // 2. The d unit vectors through the TEE; Z = U·(I − Q·Qᵀ) = P·(I − Q·Qᵀ).
  const nn::Matrix u = oracles.tee->query(nn::Matrix::Identity(d, d));
  const Eigen::MatrixXd ud = u.cast<double>();
  const Eigen::MatrixXd z = ud - (ud * q) * q.transpose();
  const auto pi = greedy_assignment(z);
  // 3. Unlock the input side: column i of the clear weights is column π(i) of the locked ones.
  const auto unpermute_columns = [&](Eigen::Ref<nn::Matrix> w, const std::vector<std::int64_t>& p) {
    const nn::Matrix locked = w;
    for (std::int64_t i = 0; i < d; ++i)
      w.col(static_cast<Eigen::Index>(i)) =
          locked.col(static_cast<Eigen::Index>(p[static_cast<std::size_t>(i)]));
  };
  if (model.arch.kind != nn::Architecture::Kind::swiglu) {
    unpermute_columns(model.tensors.at("layers.0.weight").matrix(), pi);
    return model;
  }
  unpermute_columns(model.tensors.at("mlp.gate_proj.weight").matrix(), pi);
  unpermute_columns(model.tensors.at("mlp.up_proj.weight").matrix(), pi);
  // 4. The output basis: π itself when the residual basis is shared; per layer, read it off
  // `out_queries` protected outputs y = Infer(x) against the host's y' = h(x)·W'_downᵀ, whose
  // column π_out(j) is y's column j.
  std::vector<std::int64_t> pi_out = pi;
  if (release.metadata.value("residual", "shared") == "per_layer") {
    nn::Matrix x(params_.out_queries, d);
    for (Eigen::Index r = 0; r < x.rows(); ++r)
      for (Eigen::Index j = 0; j < d; ++j) x(r, j) = static_cast<float>(0.25 * coins.normal());
    const Eigen::MatrixXd y = oracles.tee->infer(x).cast<double>();
    const nn::Matrix& g = model.tensors.at("mlp.gate_proj.weight").matrix();
    const nn::Matrix& up = model.tensors.at("mlp.up_proj.weight").matrix();
    const nn::Matrix hidden =
        nn::activation_forward<float>(model.arch.activation, nn::linear_forward<float>(x, g))
            .cwiseProduct(nn::linear_forward<float>(x, up));
    const Eigen::MatrixXd y_host =
        nn::linear_forward<float>(hidden, model.tensors.at("mlp.down_proj.weight").matrix())
            .cast<double>();
    // score(j, k) = −‖y[:, j] − y'[:, k]‖²
    const Eigen::VectorXd ny = y.colwise().squaredNorm().transpose();
    const Eigen::VectorXd nh = y_host.colwise().squaredNorm().transpose();
    Eigen::MatrixXd score = 2 * (y.transpose() * y_host);
    score.colwise() -= ny;
    score.rowwise() -= nh.transpose();
    pi_out = greedy_assignment(score);
  }
  auto down = model.tensors.at("mlp.down_proj.weight").matrix();
  const nn::Matrix locked_down = down;
  for (std::int64_t j = 0; j < d; ++j)
    down.row(static_cast<Eigen::Index>(j)) =
        locked_down.row(static_cast<Eigen::Index>(pi_out[static_cast<std::size_t>(j)]));
  return model;
}

}  // namespace wrsec::attacks
