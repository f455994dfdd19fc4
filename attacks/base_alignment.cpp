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

nn::Model BaseAlignment::extract(const definitions::Artifact& release,
                                 definitions::OracleAccess& /*oracles*/, Rng& coins) const {
  nn::Model model = definitions::artifact_model(release);
  Rng base_coins = coins.derive("base");
  const nn::Model base = base_.draw(base_coins);
  if (!(base.arch == model.arch))
    throw InvalidArgument("base_alignment: the base is " + base.arch.to_spec() + ", the release " +
                          model.arch.to_spec());
  const auto locked = model.tensors.at("layers.0.weight").matrix();
  const auto reference = base.tensors.at("layers.0.weight").matrix();
  const Eigen::Index h = locked.rows(), d = locked.cols();
  const auto sorted_columns = [&](const auto& w) {
    Eigen::MatrixXd s(h, d);
    std::vector<double> col(static_cast<std::size_t>(h));
    for (Eigen::Index j = 0; j < d; ++j) {
      for (Eigen::Index r = 0; r < h; ++r) col[static_cast<std::size_t>(r)] = w(r, j);
      std::sort(col.begin(), col.end());
      for (Eigen::Index r = 0; r < h; ++r) s(r, j) = col[static_cast<std::size_t>(r)];
    }
    return s;
  };
  const Eigen::MatrixXd a = sorted_columns(reference);  // base inputs i
  const Eigen::MatrixXd b = sorted_columns(locked);     // locked positions j
  // cost(i, j) = ‖a_i‖² + ‖b_j‖² − 2⟨a_i, b_j⟩
  const Eigen::VectorXd na = a.colwise().squaredNorm().transpose();
  const Eigen::VectorXd nb = b.colwise().squaredNorm().transpose();
  const Eigen::MatrixXd cross = a.transpose() * b;
  std::vector<std::int64_t> pi;
  if (d <= nn::kMaxHungarian) {
    std::vector<double> cost(static_cast<std::size_t>(d * d));
    for (Eigen::Index i = 0; i < d; ++i)
      for (Eigen::Index j = 0; j < d; ++j)
        cost[static_cast<std::size_t>(i * d + j)] = na(i) + nb(j) - 2 * cross(i, j);
    pi = nn::hungarian(cost, d, d);
  } else {
    Eigen::MatrixXd score(d, d);
    for (Eigen::Index i = 0; i < d; ++i)
      for (Eigen::Index j = 0; j < d; ++j) score(i, j) = 2 * cross(i, j) - na(i) - nb(j);
    pi = greedy_assignment(score);
  }
  auto w = model.tensors.at("layers.0.weight").matrix();
  const nn::Matrix old = w;
  for (Eigen::Index i = 0; i < d; ++i)
    w.col(i) = old.col(static_cast<Eigen::Index>(pi[static_cast<std::size_t>(i)]));
  return model;
}

}  // namespace wrsec::attacks
