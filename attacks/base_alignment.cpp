#include "attacks/base_alignment.h"

#include <algorithm>

#include "attacks/static_basis.h"
#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/align.h"
#include "nn/model.h"

namespace wrsec::attacks {

BaseAlignmentParams BaseAlignmentParams::from(const definitions::Params& params) {
  BaseAlignmentParams p;
  p.base = params.get_string("base", "");
  if (p.base.empty())
    throw InvalidArgument("base_alignment: base (the public base model's source) is required");
  return p;
}

BaseAlignment::BaseAlignment(BaseAlignmentParams params)
    : params_(std::move(params)), base_(definitions::ModelSource::parse(params_.base)) {}

namespace {

// Column j of w (rows × cols) sorted, as column j of the result: invariant to a row permutation.
Eigen::MatrixXd sorted_columns(const nn::Matrix& w) {
  Eigen::MatrixXd s(w.rows(), w.cols());
  std::vector<double> col(static_cast<std::size_t>(w.rows()));
  for (Eigen::Index j = 0; j < w.cols(); ++j) {
    for (Eigen::Index r = 0; r < w.rows(); ++r) col[static_cast<std::size_t>(r)] = w(r, j);
    std::sort(col.begin(), col.end());
    for (Eigen::Index r = 0; r < w.rows(); ++r) s(r, j) = col[static_cast<std::size_t>(r)];
  }
  return s;
}

// cost(i, j) = ‖a_i − b_j‖² over the columns of a (reference, i) and b (locked, j).
Eigen::MatrixXd column_costs(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  const Eigen::VectorXd na = a.colwise().squaredNorm().transpose();
  const Eigen::VectorXd nb = b.colwise().squaredNorm().transpose();
  const Eigen::MatrixXd cross = a.transpose() * b;
  Eigen::MatrixXd cost(cross.rows(), cross.cols());
  for (Eigen::Index i = 0; i < cost.rows(); ++i)
    for (Eigen::Index j = 0; j < cost.cols(); ++j) cost(i, j) = na(i) + nb(j) - 2 * cross(i, j);
  return cost;
}

// π with π(i) = the locked coordinate matched to reference coordinate i, by minimum total cost
// (Hungarian up to nn::kMaxHungarian, else greedy).
std::vector<std::int64_t> match(const Eigen::MatrixXd& cost) {
  const Eigen::Index d = cost.rows();
  if (d <= nn::kMaxHungarian) {
    std::vector<double> flat(static_cast<std::size_t>(d * d));
    for (Eigen::Index i = 0; i < d; ++i)
      for (Eigen::Index j = 0; j < d; ++j) flat[static_cast<std::size_t>(i * d + j)] = cost(i, j);
    return nn::hungarian(flat, d, d);
  }
  return greedy_assignment(-cost);
}

void unpermute_columns(Eigen::Ref<nn::Matrix> w, const std::vector<std::int64_t>& pi) {
  const nn::Matrix old = w;
  for (std::size_t i = 0; i < pi.size(); ++i)
    w.col(static_cast<Eigen::Index>(i)) = old.col(static_cast<Eigen::Index>(pi[i]));
}

}  // namespace

nn::Model BaseAlignment::extract(const definitions::Artifact& release,
                                 definitions::OracleAccess& /*oracles*/, Rng& coins) const {
  nn::Model model = definitions::artifact_model(release);
  Rng base_coins = coins.derive("base");
  const nn::Model base = base_.draw(base_coins);
  if (!(base.arch == model.arch))
    throw InvalidArgument("base_alignment: the base is " + base.arch.to_spec() + ", the release " +
                          model.arch.to_spec());
  if (model.arch.kind != nn::Architecture::Kind::swiglu) {
    auto w = model.tensors.at("layers.0.weight").matrix();
    unpermute_columns(
        w, match(column_costs(sorted_columns(base.tensors.at("layers.0.weight").matrix()),
                              sorted_columns(w))));
    return model;
  }
  // Gated block: an input coordinate's signature is its sorted gate and up columns; an output
  // coordinate's is its sorted down row (all invariant to the hidden permutation).
  const auto stacked = [](const nn::Model& m) {
    const auto& g = m.tensors.at("mlp.gate_proj.weight").matrix();
    const auto& u = m.tensors.at("mlp.up_proj.weight").matrix();
    Eigen::MatrixXd s(2 * g.rows(), g.cols());
    s.topRows(g.rows()) = sorted_columns(g);
    s.bottomRows(u.rows()) = sorted_columns(u);
    return s;
  };
  const auto down_rows = [](const nn::Model& m) {
    return sorted_columns(m.tensors.at("mlp.down_proj.weight").matrix().transpose());
  };
  const Eigen::MatrixXd in_cost = column_costs(stacked(base), stacked(model));
  const Eigen::MatrixXd out_cost = column_costs(down_rows(base), down_rows(model));
  std::vector<std::int64_t> pi, pi_out;
  if (release.metadata.value("residual", "shared") == "per_layer") {
    pi = match(in_cost);
    pi_out = match(out_cost);
  } else {
    pi = match(in_cost + out_cost);  // one basis: both signatures vote
    pi_out = pi;
  }
  unpermute_columns(model.tensors.at("mlp.gate_proj.weight").matrix(), pi);
  unpermute_columns(model.tensors.at("mlp.up_proj.weight").matrix(), pi);
  auto down = model.tensors.at("mlp.down_proj.weight").matrix();
  const nn::Matrix old = down;
  for (std::size_t j = 0; j < pi_out.size(); ++j)
    down.row(static_cast<Eigen::Index>(j)) = old.row(static_cast<Eigen::Index>(pi_out[j]));
  return model;
}

}  // namespace wrsec::attacks
