#include "attacks/query_regression.h"

#include <Eigen/Cholesky>
#include <cmath>

#include "core/errors.h"
#include "definitions/sources.h"

namespace wrsec::attacks {

namespace {

using MatD = Eigen::MatrixXd;  // column-major double: the solver's workspace

const nn::Tensor& need(const definitions::Artifact& a, const std::string& name) {
  const auto it = a.tensors.find(name);
  if (it == a.tensors.end())
    throw InvalidArgument("query_regression: the release has no tensor '" + name + "'");
  return it->second;
}

MatD to_d(const nn::Tensor& t) {
  return t.matrix().cast<double>();
}

// Ridge least squares: argmin_B ‖F·B − Y‖² + λ·‖B‖², λ = ridge·mean(diag FᵀF).
MatD ridge_solve(const MatD& f, const MatD& y, double ridge) {
  MatD gram = f.transpose() * f;
  const double scale = gram.diagonal().mean();
  gram.diagonal().array() += ridge * (scale > 0 ? scale : 1.0);
  return gram.ldlt().solve(f.transpose() * y);
}

double act(nn::Activation a, double z) {
  return nn::activate<double>(a, z);
}
double dact(nn::Activation a, double z) {
  return nn::activate_derivative<double>(a, z);
}

nn::Matrix query_all(definitions::OracleAccess& oracles, const nn::Matrix& x) {
  return oracles.infer->query(x);
}

}  // namespace

QueryRegressionParams QueryRegressionParams::from(const definitions::Params& params) {
  QueryRegressionParams p;
  p.inputs = params.get_string("inputs", p.inputs);
  p.ridge = params.get_double("ridge", p.ridge);
  p.iterations = params.get_int("iterations", p.iterations);
  if (!(p.ridge >= 0)) throw InvalidArgument("query_regression: ridge must be >= 0");
  if (p.iterations < 0 || p.iterations > 10000)
    throw InvalidArgument("query_regression: iterations must lie in [0, 10000]");
  if (!p.inputs.empty()) (void)definitions::InputSource::parse(p.inputs);
  return p;
}

nn::Model QueryRegression::extract(const definitions::Artifact& release,
                                   definitions::OracleAccess& oracles, Rng& coins) const {
  if (oracles.infer == nullptr || oracles.infer->budget() == oracles.infer->used())
    throw InvalidArgument(
        "query_regression needs Infer queries; give the game a queries budget (e.g. queries=2000)");
  if (!release.metadata.contains("architecture") || !release.metadata.contains("format"))
    throw InvalidArgument("query_regression reads taylor_mlp releases (paper or official format)");
  const nn::Architecture arch = nn::Architecture::from_json(release.metadata.at("architecture"));
  const std::string format = release.metadata.at("format").get<std::string>();
  const auto budget = oracles.infer->budget() - oracles.infer->used();
  const auto q = static_cast<std::int64_t>(std::min<std::uint64_t>(budget, 1'000'000));
  const definitions::InputSource inputs = params_.inputs.empty()
                                              ? definitions::InputSource::default_for(arch, false)
                                              : definitions::InputSource::parse(params_.inputs);
  Rng input_coins = coins.derive("inputs");
  const nn::Matrix x = inputs.draw(q, arch.input_size(), input_coins);
  const nn::Matrix y = query_all(oracles, x);

  nn::Model out;
  out.arch = arch;
  if (format == "official") {
    const std::string prefix = release.metadata.value("prefix", "");
    const MatD gate = to_d(need(release, prefix + "gate_proj_weight"));
    const MatD up = to_d(need(release, prefix + "up_proj_weight"));
    const MatD fg = to_d(need(release, prefix + "ffn_gate_proj_weight"));
    const MatD fu = to_d(need(release, prefix + "ffn_up_proj_weight"));
    const MatD fd = to_d(need(release, prefix + "ffn_down_proj_weight"));
    const std::int64_t hs = gate.rows(), d = gate.cols();
    if (2 * hs > 8192)
      throw InvalidArgument("query_regression: " + std::to_string(2 * hs) +
                            " unknowns per output row is beyond this small-model baseline");
    const MatD xd = x.cast<double>();
    const MatD g = xd * gate.transpose(), u = xd * up.transpose();
    const MatD hf = (xd * fg.transpose())
                        .unaryExpr([&](double v) { return act(arch.activation, v); })
                        .cwiseProduct(xd * fu.transpose());
    const MatD r = y.cast<double>() - hf * fd.transpose();
    MatD f(q, 2 * hs);
    f.leftCols(hs) = g.unaryExpr([&](double v) { return act(arch.activation, v); }).cwiseProduct(u);
    f.rightCols(hs) = g.cwiseProduct(u);
    const MatD b = ridge_solve(f, r, params_.ridge);  // [2hs, d]
    const std::int64_t h = arch.sizes[1], hp = fg.rows();
    nn::Tensor wg({h, d}), wu({h, d}), wd({d, h});
    for (std::int64_t j = 0; j < hs; ++j) {
      const double flip = (b.row(j) + b.row(hs + j)).norm() < b.row(hs + j).norm() ? -1.0 : 1.0;
      for (std::int64_t c = 0; c < d; ++c) {
        wg.matrix()(j, c) = static_cast<float>(flip * gate(j, c));
        wu.matrix()(j, c) = static_cast<float>(up(j, c));
        wd.matrix()(c, j) = static_cast<float>(b(j, c));
      }
    }
    for (std::int64_t j = 0; j < hp; ++j)
      for (std::int64_t c = 0; c < d; ++c) {
        wg.matrix()(hs + j, c) = static_cast<float>(fg(j, c));
        wu.matrix()(hs + j, c) = static_cast<float>(fu(j, c));
        wd.matrix()(c, hs + j) = static_cast<float>(fd(c, j));
      }
    out.tensors = {{"mlp.gate_proj.weight", std::move(wg)},
                   {"mlp.up_proj.weight", std::move(wu)},
                   {"mlp.down_proj.weight", std::move(wd)}};
    out.validate();
    return out;
  }
  if (format != "paper") throw InvalidArgument("query_regression: unknown format '" + format + "'");

  const std::int64_t k = release.metadata.at("layer").get<std::int64_t>();
  const auto layers = static_cast<std::int64_t>(arch.sizes.size()) - 1;
  if (k + 2 != layers)
    throw InvalidArgument(
        "query_regression (paper format) needs the expanded block to produce the output "
        "(layer = number of hidden layers − 1)");
  for (const auto& [name, t] : release.tensors)
    if (name.starts_with("layers.")) out.tensors.emplace(name, t);
  // Inputs to block k through the plaintext layers before it.
  MatD xk = x.cast<double>();
  for (std::int64_t m = 0; m < k; ++m) {
    const MatD w = to_d(need(release, "layers." + std::to_string(m) + ".weight"));
    const Eigen::VectorXd bias =
        need(release, "layers." + std::to_string(m) + ".bias").vector().cast<double>();
    xk = ((xk * w.transpose()).rowwise() + bias.transpose()).unaryExpr([&](double v) {
      return act(arch.activation, v);
    });
  }
  const MatD v = to_d(need(release, "taylor.V"));
  const MatD z = xk * v.transpose();
  const MatD yd = y.cast<double>();
  const std::int64_t h = v.rows(), o = yd.cols();
  Eigen::VectorXd b = Eigen::VectorXd::Zero(h);
  const auto fit = [&](const Eigen::VectorXd& bias, MatD& wc, MatD& s) {
    s = (z.rowwise() + bias.transpose()).unaryExpr([&](double t) {
      return act(arch.activation, t);
    });
    MatD f(q, h + 1);
    f.leftCols(h) = s;
    f.col(h).setOnes();
    wc = ridge_solve(f, yd, params_.ridge);  // [h+1, o]
    return (f * wc - yd).squaredNorm();
  };
  MatD wc, s;
  double loss = fit(b, wc, s);
  double mu = 1e-3;
  for (std::int64_t it = 0; it < params_.iterations; ++it) {
    const MatD w = wc.topRows(h).transpose();  // [o, h]
    const MatD sp =
        (z.rowwise() + b.transpose()).unaryExpr([&](double t) { return dact(arch.activation, t); });
    MatD f(q, h + 1);
    f.leftCols(h) = s;
    f.col(h).setOnes();
    const MatD resid = yd - f * wc;  // [q, o]
    const Eigen::VectorXd grad = (sp.cwiseProduct(resid * w)).colwise().sum().transpose();
    const MatD jtj = (sp.transpose() * sp).cwiseProduct(w.transpose() * w);
    bool improved = false;
    for (int tries = 0; tries < 8 && !improved; ++tries) {
      MatD a = jtj;
      a.diagonal() += mu * jtj.diagonal() + Eigen::VectorXd::Constant(h, 1e-12);
      const Eigen::VectorXd step = a.ldlt().solve(grad);
      MatD wc2, s2;
      const double loss2 = fit(b + step, wc2, s2);
      if (std::isfinite(loss2) && loss2 < loss) {
        b += step;
        wc = std::move(wc2);
        s = std::move(s2);
        loss = loss2;
        mu = std::max(mu / 3, 1e-9);
        improved = true;
      } else {
        mu *= 10;
      }
    }
    if (!improved) break;
  }
  const MatD w = wc.topRows(h).transpose();
  nn::Tensor vt({h, v.cols()}), bt({h}), wt({o, h}), ct({o});
  vt = need(release, "taylor.V");
  for (std::int64_t j = 0; j < h; ++j) bt.data[std::size_t(j)] = static_cast<float>(b(j));
  for (std::int64_t i = 0; i < o; ++i) {
    ct.data[std::size_t(i)] = static_cast<float>(wc(h, i));
    for (std::int64_t j = 0; j < h; ++j) wt.matrix()(i, j) = static_cast<float>(w(i, j));
  }
  out.tensors["layers." + std::to_string(k) + ".weight"] = std::move(vt);
  out.tensors["layers." + std::to_string(k) + ".bias"] = std::move(bt);
  out.tensors["layers." + std::to_string(k + 1) + ".weight"] = std::move(wt);
  out.tensors["layers." + std::to_string(k + 1) + ".bias"] = std::move(ct);
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
