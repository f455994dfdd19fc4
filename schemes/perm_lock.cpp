#include "schemes/perm_lock.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <vector>

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
constexpr const char* kGateName = "mlp.gate_proj.weight";
constexpr const char* kUpName = "mlp.up_proj.weight";
constexpr const char* kDownName = "mlp.down_proj.weight";

bool gated(const nn::Model& m) {
  return m.arch.kind == nn::Architecture::Kind::swiglu;
}

// w with columns (or rows) moved: new column pi[j] = old column j; `undo` inverts it.
void move_columns(Eigen::Ref<Matrix> w, const std::vector<std::int64_t>& pi, bool undo = false) {
  const Matrix old = w;
  for (std::size_t j = 0; j < pi.size(); ++j) {
    const auto from = static_cast<Eigen::Index>(undo ? pi[j] : static_cast<std::int64_t>(j));
    const auto to = static_cast<Eigen::Index>(undo ? static_cast<std::int64_t>(j) : pi[j]);
    w.col(to) = old.col(from);
  }
}
void move_rows(Eigen::Ref<Matrix> w, const std::vector<std::int64_t>& pi, bool undo = false) {
  const Matrix old = w;
  for (std::size_t j = 0; j < pi.size(); ++j) {
    const auto from = static_cast<Eigen::Index>(undo ? pi[j] : static_cast<std::int64_t>(j));
    const auto to = static_cast<Eigen::Index>(undo ? static_cast<std::int64_t>(j) : pi[j]);
    w.row(to) = old.row(from);
  }
}

std::vector<std::int64_t> read_permutation(const definitions::OwnerSecret& secret,
                                           const std::string& name, std::int64_t n) {
  const auto it = secret.tensors.find(name);
  if (it == secret.tensors.end() || it->second.numel() != n)
    throw InvalidArgument("perm_lock: the secret holds no permutation '" + name + "' of " +
                          std::to_string(n) + " coordinates");
  std::vector<std::int64_t> pi(static_cast<std::size_t>(n));
  std::vector<bool> seen(pi.size(), false);
  for (std::size_t j = 0; j < pi.size(); ++j) {
    const float v = it->second.data[j];
    if (!(v >= 0) || v >= static_cast<float>(n) || v != std::floor(v) ||
        seen[static_cast<std::size_t>(v)])
      throw InvalidArgument("perm_lock: the secret's '" + name + "' is not a permutation");
    pi[j] = static_cast<std::int64_t>(v);
    seen[static_cast<std::size_t>(v)] = true;
  }
  return pi;
}

nn::Tensor permutation_tensor(const std::vector<std::int64_t>& pi) {
  nn::Tensor t({static_cast<std::int64_t>(pi.size())});
  for (std::size_t j = 0; j < pi.size(); ++j) t.data[j] = static_cast<float>(pi[j]);
  return t;
}

// The TEE of one release: π (and π_out for a gated block with per-layer residual bases), the
// noise basis and the noise-removal rows; the locked model for the host's part of Infer.
class PermLockTee final : public definitions::TeeDevice {
 public:
  PermLockTee(nn::Model locked, std::vector<std::int64_t> pi, std::vector<std::int64_t> pi_out,
              Matrix basis, PermLockParams p)
      : locked_(std::move(locked)),
        pi_(std::move(pi)),
        pi_out_(std::move(pi_out)),
        basis_(std::move(basis)),
        p_(std::move(p)) {
    // The original input-side weights (columns un-permuted), for the noise removal: W_0 for an
    // MLP, [W_gate; W_up] for a gated block.
    if (gated(locked_)) {
      const auto& g = locked_.tensors.at(kGateName).matrix();
      const auto& u = locked_.tensors.at(kUpName).matrix();
      locked_first_.resize(g.rows() + u.rows(), g.cols());
      locked_first_.topRows(g.rows()) = g;
      locked_first_.bottomRows(u.rows()) = u;
      first_ = locked_first_;
    } else {
      first_ = locked_.tensors.at(weight_name(0)).matrix();
    }
    move_columns(first_, pi_, /*undo=*/true);
    if (p_.mode == "static_basis") removal_ = basis_.transpose() * first_.transpose();  // [K, ·]
  }

  Matrix host_view(const Matrix& x, Rng& coins) const override {
    Matrix noise;
    return view(x, coins, noise);
  }

  Matrix infer(const Matrix& x, Rng& coins) const override {
    Matrix noise;
    const Matrix u = view(x, coins, noise);
    // The host's first linear map(s) on u, then the TEE's noise removal.
    Matrix z =
        gated(locked_)
            ? Matrix(nn::linear_forward<float>(u, locked_first_))  // [rows, 2h]: gate then up
            : Matrix(nn::linear_forward<float>(u, locked_.tensors.at(weight_name(0)).matrix(),
                                               locked_.tensors.at(bias_name(0)).vector()));
    if (p_.mode == "static_basis") z -= noise * removal_;  // noise holds c here
    if (p_.mode == "fresh") z -= noise * first_.transpose();
    if (gated(locked_)) {
      const Eigen::Index h = locked_.arch.sizes[1];
      const Matrix a = nn::activation_forward<float>(locked_.arch.activation, z.leftCols(h))
                           .cwiseProduct(z.rightCols(h));
      Matrix y = nn::linear_forward<float>(a, locked_.tensors.at(kDownName).matrix());
      move_columns(y, pi_out_, /*undo=*/true);  // the TEE returns the output in the clear basis
      return y;
    }
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
    const auto h = static_cast<double>(first_.rows());  // 2h for a gated block
    const double permutes = gated(locked_) ? 2 * d : d;
    if (p_.mode == "static_basis") return permutes + static_cast<double>(p_.basis) * h;
    if (p_.mode == "fresh") return permutes + d * h;
    return permutes;
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
    move_columns(masked, pi_);
    return masked;
  }

  nn::Model locked_;
  std::vector<std::int64_t> pi_;
  std::vector<std::int64_t> pi_out_;  // the output's basis (gated blocks; = π when shared)
  Matrix basis_;                      // [d, K], orthonormal columns
  Matrix first_;                      // [h, d] (MLP) or [2h, d] (gated), columns un-permuted
  Matrix locked_first_;  // gated: [W'_gate; W'_up] as released, the host's first product
  Matrix removal_;       // [K, ·] = Bᵀ·first_ᵀ
  PermLockParams p_;
};

}  // namespace

PermLockParams PermLockParams::from(const definitions::Params& params) {
  PermLockParams p;
  p.mode = params.get_string("mode", p.mode);
  p.basis = params.get_int("basis", p.basis);
  p.noise = params.get_double("noise", p.noise);
  p.permute_hidden = params.get_bool("permute_hidden", p.permute_hidden);
  p.residual = params.get_string("residual", p.residual);
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
  if (residual != "shared" && residual != "per_layer")
    throw InvalidArgument("perm_lock: residual must be shared or per_layer, got '" + residual +
                          "'");
}

PermLock::PermLock(PermLockParams params) : params_(std::move(params)) {
  params_.validate();
}

definitions::Release PermLock::release(const nn::Model& model, Rng& coins) const {
  const bool is_gated = gated(model);
  if (model.arch.kind != nn::Architecture::Kind::mlp && !is_gated)
    throw InvalidArgument("perm_lock: only MLPs and gated (swiglu) blocks are supported, got " +
                          model.arch.to_spec());
  if (!is_gated && params_.residual != "shared")
    throw InvalidArgument("perm_lock: residual=" + params_.residual +
                          " applies to gated blocks (an MLP has no residual stream)");
  model.validate();
  const std::int64_t d = model.arch.input_size();
  if (params_.mode == "static_basis" && params_.basis >= d)
    throw InvalidArgument("perm_lock: basis K = " + std::to_string(params_.basis) +
                          " must be below the input size " + std::to_string(d));
  nn::Model locked = model;
  const std::size_t hidden_layers = is_gated ? 1 : model.arch.sizes.size() - 2;
  if (params_.permute_hidden) {
    for (std::size_t l = 0; l < hidden_layers; ++l) {
      Rng rng = coins.derive("hidden").derive(l);
      nn::permute_hidden_units(locked, l, nn::random_permutation(model.arch.sizes[l + 1], rng));
    }
  }
  Rng pi_rng = coins.derive("input");
  const auto pi = nn::random_permutation(d, pi_rng);
  std::vector<std::int64_t> pi_out;
  if (is_gated) {
    move_columns(locked.tensors.at(kGateName).matrix(), pi);
    move_columns(locked.tensors.at(kUpName).matrix(), pi);
    if (params_.residual == "per_layer") {
      Rng out_rng = coins.derive("output");
      pi_out = nn::random_permutation(d, out_rng);
    } else {
      pi_out = pi;
    }
    move_rows(locked.tensors.at(kDownName).matrix(), pi_out);
  } else {
    move_columns(locked.tensors.at(weight_name(0)).matrix(), pi);
  }
  definitions::Release r;
  r.artifact = definitions::model_artifact(locked, id());
  r.artifact.metadata["mode"] = params_.mode;  // public (Kerckhoffs): the form, not the key
  if (params_.mode == "static_basis") r.artifact.metadata["basis"] = params_.basis;
  if (is_gated) r.artifact.metadata["residual"] = params_.residual;
  r.secret.tensors["pi"] = permutation_tensor(pi);
  if (is_gated && params_.residual == "per_layer")
    r.secret.tensors["pi_out"] = permutation_tensor(pi_out);
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
  if (release.artifact.metadata.value("mode", std::string()) != params_.mode)
    throw InvalidArgument("perm_lock: the release was made in mode '" +
                          release.artifact.metadata.value("mode", std::string()) +
                          "', this scheme provisions '" + params_.mode + "'");
  const std::int64_t d = locked.arch.input_size();
  std::vector<std::int64_t> pi = read_permutation(release.secret, "pi", d);
  std::vector<std::int64_t> pi_out;
  if (gated(locked)) {
    if (release.artifact.metadata.value("residual", std::string()) != params_.residual)
      throw InvalidArgument("perm_lock: the release's residual basis is '" +
                            release.artifact.metadata.value("residual", std::string()) +
                            "', this scheme provisions '" + params_.residual + "'");
    pi_out = params_.residual == "per_layer" ? read_permutation(release.secret, "pi_out", d) : pi;
  }
  Matrix basis;
  if (params_.mode == "static_basis") {
    const auto b = release.secret.tensors.find("basis");
    if (b == release.secret.tensors.end() || b->second.rank() != 2 || b->second.shape[0] != d ||
        b->second.shape[1] != params_.basis)
      throw InvalidArgument("perm_lock: the secret holds no " + std::to_string(params_.basis) +
                            "-dimensional noise basis of the inputs");
    basis = b->second.matrix();
  }
  return std::make_shared<const PermLockTee>(locked, std::move(pi), std::move(pi_out),
                                             std::move(basis), params_);
}

double PermLock::infer_macs(const definitions::Artifact& artifact) const {
  return definitions::artifact_architecture(artifact).macs_per_example();
}

nn::TensorMap PermLock::hidden_mask(const nn::Model& original,
                                    const definitions::Release& /*release*/) const {
  nn::TensorMap mask;
  for (const auto& [name, t] : original.tensors) {
    nn::Tensor m(t.shape);
    // MLP: the first layer's column order is the secret. Gated block: the gate and up columns
    // and the down projection's rows (the residual basis) are all permuted.
    std::fill(m.data.begin(), m.data.end(),
              gated(original) || name == weight_name(0) ? 1.0F : 0.0F);
    mask[name] = std::move(m);
  }
  return mask;
}

}  // namespace wrsec::schemes
