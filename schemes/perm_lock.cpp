#include "schemes/perm_lock.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/permutation.h"

namespace wrsec::schemes {
namespace {

using nn::Matrix;

std::string weight_name(std::size_t i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string bias_name(std::size_t i) {
  return "layers." + std::to_string(i) + ".bias";
}

// The TEE of one release: π, the noise basis and the noise-removal rows; the locked model for
// the host's part of Infer.
class PermLockTee final : public definitions::TeeDevice {
 public:
  PermLockTee(nn::Model locked, std::vector<std::int64_t> pi, Matrix basis, PermLockParams p)
      : locked_(std::move(locked)), pi_(std::move(pi)), basis_(std::move(basis)), p_(std::move(p)) {
    // The original first layer W_0 = W'_0 with columns un-permuted, for the noise removal.
    const auto w = locked_.tensors.at(weight_name(0)).matrix();
    w0_.resize(w.rows(), w.cols());
    for (std::size_t j = 0; j < pi_.size(); ++j)
      w0_.col(static_cast<Eigen::Index>(j)) = w.col(static_cast<Eigen::Index>(pi_[j]));
    if (p_.mode == "static_basis") removal_ = basis_.transpose() * w0_.transpose();  // [K, h]
  }

  Matrix host_view(const Matrix& x, Rng& coins) const override {
    Matrix noise;
    return view(x, coins, noise);
  }

  Matrix infer(const Matrix& x, Rng& coins) const override {
    Matrix noise;
    const Matrix u = view(x, coins, noise);
    Matrix z = nn::linear_forward<float>(u, locked_.tensors.at(weight_name(0)).matrix(),
                                         locked_.tensors.at(bias_name(0)).vector());
    if (p_.mode == "static_basis") z -= noise * removal_;  // noise holds c here
    if (p_.mode == "fresh") z -= noise * w0_.transpose();
    const std::size_t layers = locked_.arch.sizes.size() - 1;
    for (std::size_t i = 1; i < layers; ++i) {
      const Matrix a = nn::activation_forward<float>(locked_.arch.activation, z);
      z = nn::linear_forward<float>(a, locked_.tensors.at(weight_name(i)).matrix(),
                                    locked_.tensors.at(bias_name(i)).vector());
    }
    return z;
  }

  double work_per_row() const override {
    const auto d = static_cast<double>(pi_.size());
    const auto h = static_cast<double>(w0_.rows());
    if (p_.mode == "static_basis") return d + static_cast<double>(p_.basis) * h;
    if (p_.mode == "fresh") return d + d * h;
    return d;
  }

  std::string mode() const override {
    return p_.mode == "static_basis" ? "static_basis(K=" + std::to_string(p_.basis) + ")" : p_.mode;
  }

 private:
  // u = (x + n)·P; `noise` receives c (static_basis) or n (fresh).
  Matrix view(const Matrix& x, Rng& coins, Matrix& noise) const {
    const auto d = static_cast<Eigen::Index>(pi_.size());
    if (x.cols() != d)
      throw InvalidArgument("perm_lock TEE: input has " + std::to_string(x.cols()) +
                            " features, expected " + std::to_string(d));
    Matrix masked = x;
    if (p_.mode == "static_basis") {
      noise.resize(x.rows(), basis_.cols());
      for (Eigen::Index r = 0; r < noise.rows(); ++r)
        for (Eigen::Index k = 0; k < noise.cols(); ++k)
          noise(r, k) = static_cast<float>(p_.noise * coins.normal());
      masked += noise * basis_.transpose();
    } else if (p_.mode == "fresh") {
      noise.resize(x.rows(), d);
      for (Eigen::Index r = 0; r < noise.rows(); ++r)
        for (Eigen::Index k = 0; k < d; ++k)
          noise(r, k) = static_cast<float>(p_.noise * coins.normal());
      masked += noise;
    }
    Matrix u(x.rows(), d);
    for (Eigen::Index j = 0; j < d; ++j) u.col(pi_[static_cast<std::size_t>(j)]) = masked.col(j);
    return u;
  }

  nn::Model locked_;
  std::vector<std::int64_t> pi_;
  Matrix basis_;    // [d, K], orthonormal columns
  Matrix w0_;       // [h, d]
  Matrix removal_;  // [K, h] = Bᵀ·W_0ᵀ
  PermLockParams p_;
};

}  // namespace

PermLockParams PermLockParams::from(const definitions::Params& params) {
  PermLockParams p;
  p.mode = params.get_string("mode", p.mode);
  p.basis = params.get_int("basis", p.basis);
  p.noise = params.get_double("noise", p.noise);
  p.permute_hidden = params.get_bool("permute_hidden", p.permute_hidden);
  p.validate();
  return p;
}

void PermLockParams::validate() const {
  if (mode != "clear" && mode != "static_basis" && mode != "fresh")
    throw InvalidArgument("perm_lock: mode must be clear, static_basis or fresh, got '" + mode +
                          "'");
  if (basis < 1) throw InvalidArgument("perm_lock: basis (K) must be >= 1");
  if (!(noise > 0) || !std::isfinite(noise))
    throw InvalidArgument("perm_lock: noise must be a finite number > 0");
}

PermLock::PermLock(PermLockParams params) : params_(std::move(params)) {
  params_.validate();
}

definitions::Release PermLock::release(const nn::Model& model, Rng& coins) const {
  if (model.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("perm_lock: only MLP models are supported, got " + model.arch.to_spec());
  model.validate();
  const std::int64_t d = model.arch.input_size();
  if (params_.mode == "static_basis" && params_.basis >= d)
    throw InvalidArgument("perm_lock: basis K = " + std::to_string(params_.basis) +
                          " must be below the input size " + std::to_string(d));
  nn::Model locked = model;
  const std::size_t layers = model.arch.sizes.size() - 1;
  if (params_.permute_hidden) {
    for (std::size_t l = 0; l + 1 < layers; ++l) {
      Rng rng = coins.derive("hidden").derive(l);
      nn::permute_hidden_units(locked, l, nn::random_permutation(model.arch.sizes[l + 1], rng));
    }
  }
  Rng pi_rng = coins.derive("input");
  const auto pi = nn::random_permutation(d, pi_rng);
  {
    auto w = locked.tensors.at(weight_name(0)).matrix();
    const Matrix old = w;
    for (std::int64_t j = 0; j < d; ++j)
      w.col(static_cast<Eigen::Index>(pi[static_cast<std::size_t>(j)])) = old.col(j);
  }
  definitions::Release r;
  r.artifact = definitions::model_artifact(locked, id());
  r.artifact.metadata["mode"] = params_.mode;  // public (Kerckhoffs): the form, not the key
  if (params_.mode == "static_basis") r.artifact.metadata["basis"] = params_.basis;
  nn::Tensor pi_tensor({d});
  for (std::int64_t j = 0; j < d; ++j)
    pi_tensor.data[static_cast<std::size_t>(j)] =
        static_cast<float>(pi[static_cast<std::size_t>(j)]);
  r.secret.tensors["pi"] = pi_tensor;
  if (params_.mode == "static_basis") {
    Rng basis_rng = coins.derive("basis");
    Eigen::MatrixXd g(d, params_.basis);
    for (Eigen::Index i = 0; i < g.rows(); ++i)
      for (Eigen::Index k = 0; k < g.cols(); ++k) g(i, k) = basis_rng.normal();
    const Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(g).householderQ() *
                              Eigen::MatrixXd::Identity(d, params_.basis);
    nn::Tensor basis({d, params_.basis});
    basis.matrix() = q.cast<float>();
    r.secret.tensors["basis"] = basis;
  }
  return r;
}

std::shared_ptr<const definitions::TeeDevice> PermLock::provision_tee(
    const definitions::Release& release) const {
  const nn::Model locked = definitions::artifact_model(release.artifact);
  const auto it = release.secret.tensors.find("pi");
  if (it == release.secret.tensors.end() || it->second.numel() != locked.arch.input_size())
    throw InvalidArgument("perm_lock: the secret holds no permutation of the model's inputs");
  std::vector<std::int64_t> pi(static_cast<std::size_t>(it->second.numel()));
  for (std::size_t j = 0; j < pi.size(); ++j) pi[j] = static_cast<std::int64_t>(it->second.data[j]);
  if (release.artifact.metadata.value("mode", std::string()) != params_.mode)
    throw InvalidArgument("perm_lock: the release was made in mode '" +
                          release.artifact.metadata.value("mode", std::string()) +
                          "', this scheme provisions '" + params_.mode + "'");
  Matrix basis;
  if (params_.mode == "static_basis") {
    const auto b = release.secret.tensors.find("basis");
    if (b == release.secret.tensors.end() || b->second.rank() != 2 ||
        b->second.shape[0] != locked.arch.input_size() || b->second.shape[1] != params_.basis)
      throw InvalidArgument("perm_lock: the secret holds no " + std::to_string(params_.basis) +
                            "-dimensional noise basis of the inputs");
    basis = b->second.matrix();
  }
  return std::make_shared<const PermLockTee>(locked, std::move(pi), std::move(basis), params_);
}

double PermLock::infer_macs(const definitions::Artifact& artifact) const {
  if (!artifact.metadata.contains("architecture"))
    throw InvalidArgument("perm_lock artifact has no 'architecture' metadata");
  return nn::Architecture::from_json(artifact.metadata.at("architecture")).macs_per_example();
}

nn::TensorMap PermLock::hidden_mask(const nn::Model& original,
                                    const definitions::Release& /*release*/) const {
  nn::TensorMap mask;
  for (const auto& [name, t] : original.tensors) {
    nn::Tensor m(t.shape);
    std::fill(m.data.begin(), m.data.end(), name == weight_name(0) ? 1.0F : 0.0F);
    mask[name] = std::move(m);
  }
  return mask;
}

}  // namespace wrsec::schemes
