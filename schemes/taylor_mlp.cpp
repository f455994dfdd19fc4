#include "schemes/taylor_mlp.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/parallel.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/taylor.h"

namespace wrsec::schemes {
namespace {

using nn::MatrixD;
using Index = std::int64_t;

constexpr const char* kSchemeId = "taylor_mlp";
constexpr const char* kCalibrationStream = "wrsec.schemes.taylor_mlp.calibration";

// Paper-form tensor names.
constexpr const char* kPaperV = "taylor.V";
constexpr const char* kPaperZ0 = "taylor.z0";
constexpr const char* kPaperTheta = "taylor.theta";

// Official-form tensor names (without prefix).
constexpr const char* kUp = "up_proj_weight";
constexpr const char* kGate = "gate_proj_weight";
constexpr const char* kLocalPoint = "local_point";
constexpr const char* kLocalOutput = "local_approx_output";
constexpr const char* kFuse = "fuse_weight";
constexpr const char* kDiscount = "discount_factor";
constexpr const char* kFfnGate = "ffn_gate_proj_weight";
constexpr const char* kFfnUp = "ffn_up_proj_weight";
constexpr const char* kFfnDown = "ffn_down_proj_weight";
constexpr const char* kLeftoverGate = "gate_proj.weight";

// The original model's SwiGLU tensor names (nn/model.h).
constexpr const char* kModelGate = "mlp.gate_proj.weight";
constexpr const char* kModelUp = "mlp.up_proj.weight";
constexpr const char* kModelDown = "mlp.down_proj.weight";

// Units of work below which loops stay serial (thread start-up would dominate).
constexpr double kParallelWork = 65536.0;

std::string layer_weight(Index i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string layer_bias(Index i) {
  return "layers." + std::to_string(i) + ".bias";
}

// body(i) for i in [0, n), on OpenMP threads only when the work is large enough to pay for them.
// Each i is computed by one thread in a fixed way, so results do not depend on the thread count.
template <class F>
void parallel_if_large(Index n, double work, F&& body) {
  wrsec::parallel_for(n, {.parallel = work > kParallelWork}, std::forward<F>(body));
}

// The released dtype: float32 values, or values of a 16-bit type.
struct Dtype {
  bool low = false;
  nn::LowPrecision type = nn::LowPrecision::bf16;
  static Dtype of(const std::string& name) {
    if (name == "f32") return {};
    return {true, nn::parse_low_precision(name)};
  }
};

// A value as released: float32, rounded to the dtype (nearest even) when it is 16-bit.
inline float released(double value, Dtype dt) {
  const auto f = static_cast<float>(value);
  return dt.low ? nn::round_to(dt.type, f) : f;
}

// Copies a tensor, rounding to the dtype.
nn::Tensor released_copy(const nn::Tensor& t, Dtype dt) {
  nn::Tensor out = t;
  if (dt.low)
    for (float& v : out.data) v = released(v, dt);
  return out;
}

// Rejects a release whose values overflowed float32 / bfloat16 (e.g. a very high order).
void check_finite_release(const nn::TensorMap& tensors) {
  for (const auto& [name, t] : tensors)
    if (!nn::all_finite(t))
      throw InvalidArgument("taylor_mlp release: tensor '" + name +
                            "' overflows the released dtype (order too high for these weights)");
}

// log(n!) for n = 1..order, by summing logarithms (std::lgamma is not thread-safe everywhere).
std::vector<double> log_factorials(int order) {
  std::vector<double> out(static_cast<std::size_t>(order));
  double acc = 0.0;
  for (int n = 1; n <= order; ++n) {
    acc += std::log(static_cast<double>(n));
    out[static_cast<std::size_t>(n - 1)] = acc;
  }
  return out;
}

MatrixD to_double(const nn::Tensor& t) {
  return t.matrix().cast<double>();
}
nn::VectorT<double> vec_double(const nn::Tensor& t) {
  return t.vector().cast<double>();
}

const nn::Tensor& model_tensor(const nn::Model& model, const std::string& name) {
  const auto it = model.tensors.find(name);
  if (it == model.tensors.end()) throw InvalidArgument("model is missing tensor '" + name + "'");
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// Metadata shared by infer, hidden_mask and infer_macs.

struct Meta {
  std::string format;
  nn::Architecture arch;
  int order = 0;
  std::string prefix;
  std::string dtype;
  Index layer = 0;           // paper
  Index select_dim = 0;      // official
  Index grad_order_min = 0;  // official
  double delta_threshold = 0.0;
};

const nlohmann::json& meta_field(const nlohmann::json& meta, const char* key) {
  if (!meta.is_object() || !meta.contains(key))
    throw InvalidArgument(std::string("taylor_mlp artifact has no '") + key + "' metadata");
  return meta.at(key);
}

std::string meta_string(const nlohmann::json& meta, const char* key) {
  const auto& v = meta_field(meta, key);
  if (!v.is_string())
    throw InvalidArgument(std::string("taylor_mlp metadata '") + key + "' must be a string");
  return v.get<std::string>();
}

Index meta_int(const nlohmann::json& meta, const char* key) {
  const auto& v = meta_field(meta, key);
  if (!v.is_number_integer())
    throw InvalidArgument(std::string("taylor_mlp metadata '") + key + "' must be an integer");
  return v.get<Index>();
}

double meta_number(const nlohmann::json& meta, const char* key) {
  const auto& v = meta_field(meta, key);
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    throw InvalidArgument(std::string("taylor_mlp metadata '") + key + "' must be a finite number");
  return v.get<double>();
}

Index hidden_layers(const nn::Architecture& arch) {
  return static_cast<Index>(arch.sizes.size()) - 2;
}

Meta parse_meta(const nlohmann::json& meta) {
  if (meta_string(meta, "scheme") != kSchemeId)
    throw InvalidArgument("artifact metadata 'scheme' is not 'taylor_mlp'");
  Meta m;
  m.format = meta_string(meta, "format");
  m.arch = nn::Architecture::from_json(meta_field(meta, "architecture"));
  const Index order = meta_int(meta, "order");
  if (order < 1 || order > nn::kMaxTaylorOrder)
    throw InvalidArgument("taylor_mlp metadata 'order' must be in [1, 32], got " +
                          std::to_string(order));
  m.order = static_cast<int>(order);
  const nn::Activation act = nn::activation_from_string(meta_string(meta, "activation"));
  if (act != m.arch.activation)
    throw InvalidArgument("taylor_mlp metadata 'activation' differs from the architecture's");
  if (act == nn::Activation::relu)
    throw InvalidArgument(
        "TaylorMLP needs an analytic activation (silu, gelu, gelu_tanh), got relu");
  m.prefix = meta_string(meta, "prefix");
  const std::string dtype = meta_string(meta, "dtype");
  if (dtype != "f32" && dtype != "bf16" && dtype != "f16")
    throw InvalidArgument("taylor_mlp metadata 'dtype' must be f32, bf16 or f16, got '" + dtype +
                          "'");
  m.dtype = dtype;
  if (m.format == "paper") {
    if (m.arch.kind != nn::Architecture::Kind::mlp)
      throw InvalidArgument("taylor_mlp paper artifact needs an mlp architecture");
    if (!m.prefix.empty())
      throw InvalidArgument("taylor_mlp paper artifact has a non-empty prefix");
    m.layer = meta_int(meta, "layer");
    if (m.layer < 0 || m.layer >= hidden_layers(m.arch))
      throw InvalidArgument("taylor_mlp metadata 'layer' = " + std::to_string(m.layer) +
                            " is not a hidden layer of the architecture");
  } else if (m.format == "official") {
    if (m.arch.kind != nn::Architecture::Kind::swiglu)
      throw InvalidArgument("taylor_mlp official artifact needs a swiglu architecture");
    m.select_dim = meta_int(meta, "select_dim");
    if (m.select_dim < 1 || m.select_dim > m.arch.sizes[1])
      throw InvalidArgument("taylor_mlp metadata 'select_dim' must be in [1, hidden size], got " +
                            std::to_string(m.select_dim));
    m.grad_order_min = meta_int(meta, "grad_order_min");
    if (m.grad_order_min < 0)
      throw InvalidArgument("taylor_mlp metadata 'grad_order_min' must be >= 0");
    m.delta_threshold = meta_number(meta, "delta_threshold");
    if (m.delta_threshold < 0.0)
      throw InvalidArgument("taylor_mlp metadata 'delta_threshold' must be >= 0");
  } else {
    throw InvalidArgument("taylor_mlp metadata 'format' must be paper or official, got '" +
                          m.format + "'");
  }
  return m;
}

// Checks that exactly the expected tensors are present, with their shapes and finite values.
void check_tensors(const nn::TensorMap& tensors,
                   const std::vector<std::pair<std::string, std::vector<Index>>>& expected,
                   const std::vector<std::pair<std::string, std::vector<Index>>>& optional) {
  auto check = [&](const std::string& name, const std::vector<Index>& shape) {
    const nn::Tensor& t = tensors.at(name);
    if (t.shape != shape || t.numel() != nn::checked_numel(shape))
      throw InvalidArgument("taylor_mlp artifact tensor '" + name + "' has shape " +
                            t.shape_string() + ", expected " + nn::Tensor(shape).shape_string());
    if (!nn::all_finite(t))
      throw InvalidArgument("taylor_mlp artifact tensor '" + name +
                            "' contains a non-finite value (NaN or Inf)");
  };
  std::size_t found = 0;
  for (const auto& [name, shape] : expected) {
    if (tensors.count(name) == 0)
      throw InvalidArgument("taylor_mlp artifact is missing tensor '" + name + "'");
    check(name, shape);
    ++found;
  }
  for (const auto& [name, shape] : optional) {
    if (tensors.count(name) == 0) continue;
    check(name, shape);
    ++found;
  }
  if (found != tensors.size()) {
    for (const auto& [name, t] : tensors) {
      bool known = false;
      for (const auto& e : expected) known = known || e.first == name;
      for (const auto& e : optional) known = known || e.first == name;
      if (!known) throw InvalidArgument("taylor_mlp artifact has unexpected tensor '" + name + "'");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Paper form.

using Shapes = std::vector<std::pair<std::string, std::vector<Index>>>;

Shapes paper_shapes(const Meta& m) {
  const auto& s = m.arch.sizes;
  const Index layers = static_cast<Index>(s.size()) - 1;
  const Index k = m.layer;
  const auto sz = [&](Index i) { return s[static_cast<std::size_t>(i)]; };
  Shapes out;
  for (Index i = 0; i < layers; ++i) {
    if (i == k || i == k + 1) continue;
    out.push_back({layer_weight(i), {sz(i + 1), sz(i)}});
    out.push_back({layer_bias(i), {sz(i + 1)}});
  }
  out.push_back({kPaperV, {sz(k + 1), sz(k)}});
  out.push_back({kPaperZ0, {sz(k + 1)}});
  out.push_back({kPaperTheta, {m.order + 1, sz(k + 2), sz(k + 1)}});
  return out;
}

// x ← act(x·Wᵀ + b) (or without act for the output layer), in double.
MatrixD dense(const MatrixD& x, const nn::Tensor& w, const nn::Tensor& b, bool activate,
              nn::Activation act) {
  MatrixD z = nn::linear_forward<double>(x, to_double(w), vec_double(b));
  return activate ? nn::activation_forward<double>(act, z) : z;
}

definitions::Release release_paper(const TaylorMlpParams& p, const nn::Model& model,
                                   const nn::Matrix& calibration) {
  const nn::Architecture& arch = model.arch;
  const Index layers = static_cast<Index>(arch.sizes.size()) - 1;
  const Index k = p.layer;
  if (k >= hidden_layers(arch))
    throw InvalidArgument("parameter 'layer' = " + std::to_string(k) + " is out of range: the " +
                          "mlp has " + std::to_string(hidden_layers(arch)) + " hidden layer(s)");
  const Dtype dt = Dtype::of(p.dtype);
  const int order = static_cast<int>(p.order);
  const nn::Activation act = arch.activation;

  // z = V·x_k over the calibration inputs, x_k propagated through layers 0..k-1.
  MatrixD xk = calibration.cast<double>();
  for (Index i = 0; i < k; ++i)
    xk = dense(xk, model_tensor(model, layer_weight(i)), model_tensor(model, layer_bias(i)), true,
               act);
  const nn::Tensor& v = model_tensor(model, layer_weight(k));
  const nn::Tensor& b = model_tensor(model, layer_bias(k));
  const nn::Tensor& w = model_tensor(model, layer_weight(k + 1));
  const nn::Tensor& c = model_tensor(model, layer_bias(k + 1));
  const MatrixD z = nn::matmul_nt<double>(xk, to_double(v));
  const Index h = v.shape[0];
  const Index o = w.shape[0];

  definitions::Release r;
  nn::Tensor z0({h});
  for (Index j = 0; j < h; ++j) {
    double value = 0.0;
    if (p.expansion == "midpoint")
      value = 0.5 * (z.col(j).minCoeff() + z.col(j).maxCoeff());
    else if (p.expansion == "mean")
      value = z.col(j).mean();
    z0.data[static_cast<std::size_t>(j)] = released(value, dt);
  }

  // Coefficients c_n(a_j), a_j = z0_j + b_j with the released z0 (the expansion point the user
  // subtracts), so Θ is exactly the Taylor polynomial about the published point.
  std::vector<std::vector<double>> coef(static_cast<std::size_t>(h));
  parallel_if_large(h, double(h) * order * order, [&](Index j) {
    const auto uj = static_cast<std::size_t>(j);
    const double a = double(z0.data[uj]) + double(b.data[uj]);
    coef[uj] = nn::taylor_coefficients(act, a, order);
  });

  nn::Tensor theta({order + 1, o, h});
  const auto wm = w.matrix();
  parallel_if_large((order + 1) * o, double(order + 1) * double(o) * double(h), [&](Index row) {
    const Index n = row / o;
    const Index i = row % o;
    const double bias_share =
        n == 0 ? double(c.data[static_cast<std::size_t>(i)]) / double(h) : 0.0;
    float* dst = theta.data.data() + row * h;
    for (Index j = 0; j < h; ++j)
      dst[j] = released(
          double(wm(i, j)) * coef[static_cast<std::size_t>(j)][static_cast<std::size_t>(n)] +
              bias_share,
          dt);
  });

  r.artifact.tensors.emplace(kPaperV, released_copy(v, dt));
  r.artifact.tensors.emplace(kPaperZ0, std::move(z0));
  r.artifact.tensors.emplace(kPaperTheta, std::move(theta));
  for (Index i = 0; i < layers; ++i) {
    if (i == k || i == k + 1) continue;
    r.artifact.tensors.emplace(layer_weight(i),
                               released_copy(model_tensor(model, layer_weight(i)), dt));
    r.artifact.tensors.emplace(layer_bias(i),
                               released_copy(model_tensor(model, layer_bias(i)), dt));
  }
  check_finite_release(r.artifact.tensors);
  r.artifact.metadata = {{"scheme", kSchemeId},
                         {"format", "paper"},
                         {"architecture", arch.to_json()},
                         {"order", order},
                         {"activation", nn::to_string(act)},
                         {"prefix", ""},
                         {"dtype", p.dtype},
                         {"layer", k},
                         {"expansion", p.expansion}};
  r.secret.metadata = {{"scheme", kSchemeId}, {"format", "paper"}};
  return r;
}

nn::Matrix infer_paper(const Meta& m, const definitions::Artifact& artifact, const nn::Matrix& x) {
  const auto& t = artifact.tensors;
  const auto& s = m.arch.sizes;
  const Index layers = static_cast<Index>(s.size()) - 1;
  const Index k = m.layer;
  const nn::Activation act = m.arch.activation;

  MatrixD hx = x.cast<double>();
  for (Index i = 0; i < k; ++i)
    hx = dense(hx, t.at(layer_weight(i)), t.at(layer_bias(i)), true, act);
  const MatrixD z = nn::matmul_nt<double>(hx, to_double(t.at(kPaperV)));
  const nn::VectorT<double> z0 = vec_double(t.at(kPaperZ0));
  const MatrixD delta = z.rowwise() - z0.transpose();

  const nn::Tensor& theta = t.at(kPaperTheta);
  const Index o = theta.shape[1];
  const Index h = theta.shape[2];
  MatrixD y = MatrixD::Zero(x.rows(), o);
  MatrixD power = MatrixD::Ones(x.rows(), h);
  for (int n = 0; n <= m.order; ++n) {
    if (n > 0) power = power.cwiseProduct(delta);
    const MatrixD theta_n =
        nn::ConstMatrixMap(theta.data.data() + Index(n) * o * h, o, h).cast<double>();
    y += nn::matmul_nt<double>(power, theta_n);
  }
  // The block's output is layer k+1's pre-activation; the rest of the network follows.
  if (k + 1 < layers - 1) y = nn::activation_forward<double>(act, y);
  for (Index i = k + 2; i < layers; ++i)
    y = dense(y, t.at(layer_weight(i)), t.at(layer_bias(i)), i + 1 < layers, act);
  return y.cast<float>();
}

// ---------------------------------------------------------------------------------------------
// Official form.

Shapes official_shapes(const Meta& m) {
  const Index d = m.arch.sizes[0];
  const Index h = m.arch.sizes[1];
  const Index hs = m.select_dim;
  const std::string& p = m.prefix;
  return {{p + kUp, {hs, d}},          {p + kGate, {hs, d}},          {p + kLocalPoint, {hs}},
          {p + kLocalOutput, {d, hs}}, {p + kFuse, {d, hs, m.order}}, {p + kDiscount, {m.order}},
          {p + kFfnGate, {h - hs, d}}, {p + kFfnUp, {h - hs, d}},     {p + kFfnDown, {d, h - hs}}};
}

Index selected_count(const TaylorMlpParams& p, Index h) {
  if (p.select_dim >= 1) {
    if (p.select_dim > h)
      throw InvalidArgument("parameter 'select_dim' = " + std::to_string(p.select_dim) +
                            " exceeds the hidden size " + std::to_string(h));
    return p.select_dim;
  }
  const auto hs = static_cast<Index>(std::llround(p.select_ratio * double(h)));
  return std::clamp<Index>(hs, 1, h);
}

nlohmann::json official_metadata(const TaylorMlpParams& p, const nn::Architecture& arch, Index hs) {
  return {{"scheme", kSchemeId},
          {"format", "official"},
          {"architecture", arch.to_json()},
          {"order", p.order},
          {"activation", nn::to_string(arch.activation)},
          {"prefix", ""},
          {"dtype", p.dtype},
          {"select_dim", hs},
          {"grad_order_min", p.grad_order_min},
          {"delta_threshold", p.delta_threshold}};
}

definitions::OwnerSecret official_secret(const std::vector<double>& sign,
                                         const std::vector<Index>& sel) {
  const auto hs = static_cast<Index>(sel.size());
  nn::Tensor sign_t({hs});
  nn::Tensor selected_t({hs});
  for (Index j = 0; j < hs; ++j) {
    const auto uj = static_cast<std::size_t>(j);
    sign_t.data[uj] = static_cast<float>(sign[uj]);
    selected_t.data[uj] = static_cast<float>(sel[uj]);
  }
  definitions::OwnerSecret secret;
  secret.tensors.emplace("sign", std::move(sign_t));
  secret.tensors.emplace("selected", std::move(selected_t));
  secret.metadata = {{"scheme", kSchemeId}, {"format", "official"}};
  return secret;
}

// The official release in bf16/f16: the model is taken in the dtype (its weights rounded once),
// the calibration extremes rounded to it, the gap max − min computed in it (as the official code
// does), the h_s smallest gaps selected (stable: ties by index; torch.sort may order ties
// otherwise) and the rest in ascending index as in f32 (the official code keeps them in gap
// order; neither order is secret or changes the function), then official_lowp_release.
definitions::Release release_official_lowp(const TaylorMlpParams& p, const nn::Model& model,
                                           const std::vector<double>& gmin_d,
                                           const std::vector<double>& gmax_d, Rng& coins) {
  const nn::Architecture& arch = model.arch;
  if (arch.activation != nn::Activation::silu)
    throw InvalidArgument("taylor_mlp format 'official' with dtype " + p.dtype +
                          " follows the official code's arithmetic, which exists for silu only; "
                          "the model's activation is " +
                          nn::to_string(arch.activation) + " (use dtype f32)");
  const Dtype dt = Dtype::of(p.dtype);
  const Index h = arch.sizes[1];
  const Index hs = selected_count(p, h);
  const nn::Tensor gate = released_copy(model_tensor(model, kModelGate), dt);
  const nn::Tensor up = released_copy(model_tensor(model, kModelUp), dt);
  const nn::Tensor down = released_copy(model_tensor(model, kModelDown), dt);

  OfficialLowpInputs in;
  in.type = dt.type;
  in.order = static_cast<int>(p.order);
  in.gate = &gate;
  in.up = &up;
  in.down = &down;
  std::vector<float> gap(static_cast<std::size_t>(h));
  for (std::size_t u = 0; u < gap.size(); ++u) {
    in.gmin.push_back(released(gmin_d[u], dt));
    in.gmax.push_back(released(gmax_d[u], dt));
    gap[u] = nn::round_to(dt.type, in.gmax[u] - in.gmin[u]);
  }
  std::vector<Index> order_by_gap(static_cast<std::size_t>(h));
  std::iota(order_by_gap.begin(), order_by_gap.end(), Index{0});
  std::stable_sort(order_by_gap.begin(), order_by_gap.end(), [&](Index a, Index b) {
    return gap[static_cast<std::size_t>(a)] < gap[static_cast<std::size_t>(b)];
  });
  in.selected.assign(order_by_gap.begin(), order_by_gap.begin() + hs);
  in.unselected.assign(order_by_gap.begin() + hs, order_by_gap.end());
  std::sort(in.unselected.begin(), in.unselected.end());
  std::vector<double> sign(static_cast<std::size_t>(hs));
  for (double& sj : sign) sj = coins.bit() ? -1.0 : 1.0;
  in.sign.assign(sign.begin(), sign.end());

  definitions::Release r;
  r.artifact.tensors = official_lowp_release(in);
  if (p.keep_gate_proj) r.artifact.tensors.emplace(kLeftoverGate, gate);
  check_finite_release(r.artifact.tensors);
  r.artifact.metadata = official_metadata(p, arch, hs);
  r.secret = official_secret(sign, in.selected);
  return r;
}

definitions::Release release_official(const TaylorMlpParams& p, const nn::Model& model,
                                      const nn::Matrix& calibration, Rng& coins) {
  const nn::Architecture& arch = model.arch;
  const Index d = arch.sizes[0];
  const Index h = arch.sizes[1];
  const Index hs = selected_count(p, h);
  const Index hp = h - hs;
  const Dtype dt = Dtype::of(p.dtype);
  const int order = static_cast<int>(p.order);
  const nn::Activation act = arch.activation;
  const auto gate = model_tensor(model, kModelGate).matrix();
  const auto up = model_tensor(model, kModelUp).matrix();
  const auto down = model_tensor(model, kModelDown).matrix();

  // Calibration statistics of g = W_gate·x per unit, in double, a block of units at a time so
  // that only a [block, samples] slice of g is ever held.
  const MatrixD xd = calibration.cast<double>();
  std::vector<double> gmin(static_cast<std::size_t>(h));
  std::vector<double> gmax(static_cast<std::size_t>(h));
  constexpr Index kBlock = 2048;
  for (Index r0 = 0; r0 < h; r0 += kBlock) {
    const Index rows = std::min(kBlock, h - r0);
    const MatrixD g = nn::matmul_nt<double>(gate.middleRows(r0, rows).cast<double>(), xd);
    for (Index j = 0; j < rows; ++j) {
      gmin[static_cast<std::size_t>(r0 + j)] = g.row(j).minCoeff();
      gmax[static_cast<std::size_t>(r0 + j)] = g.row(j).maxCoeff();
    }
  }

  if (dt.low) return release_official_lowp(p, model, gmin, gmax, coins);

  // Selection: the hs smallest gaps, in ascending gap order (stable: ties by index); the rest in
  // ascending index.
  std::vector<Index> order_by_gap(static_cast<std::size_t>(h));
  std::iota(order_by_gap.begin(), order_by_gap.end(), Index{0});
  std::stable_sort(order_by_gap.begin(), order_by_gap.end(), [&](Index a, Index b) {
    const auto ua = static_cast<std::size_t>(a);
    const auto ub = static_cast<std::size_t>(b);
    return gmax[ua] - gmin[ua] < gmax[ub] - gmin[ub];
  });
  const std::vector<Index> sel(order_by_gap.begin(), order_by_gap.begin() + hs);
  std::vector<Index> rest(order_by_gap.begin() + hs, order_by_gap.end());
  std::sort(rest.begin(), rest.end());

  // The secret: one uniform sign per selected unit, in release order.
  std::vector<double> sign(static_cast<std::size_t>(hs));
  for (double& sj : sign) sj = coins.bit() ? -1.0 : 1.0;

  // Expansion points as released (rounded), and per unit the table σ^{(n)}(z0_j)·s_j^n.
  std::vector<double> z0(static_cast<std::size_t>(hs));
  for (Index j = 0; j < hs; ++j) {
    const auto uj = static_cast<std::size_t>(j);
    const auto u = static_cast<std::size_t>(sel[uj]);
    z0[uj] = double(released(0.5 * (gmin[u] + gmax[u]), dt));
  }
  const auto stride = static_cast<std::size_t>(order + 1);
  std::vector<double> deriv(static_cast<std::size_t>(hs) * stride);
  parallel_if_large(hs, double(hs) * order * order, [&](Index j) {
    const auto uj = static_cast<std::size_t>(j);
    const std::vector<double> c = nn::taylor_coefficients(act, z0[uj], order);
    double factorial = 1.0;
    double sign_power = 1.0;
    for (int n = 0; n <= order; ++n) {
      if (n > 0) {
        factorial *= double(n);
        sign_power *= sign[uj];
      }
      deriv[uj * stride + static_cast<std::size_t>(n)] =
          c[static_cast<std::size_t>(n)] * factorial * sign_power;
    }
  });

  definitions::Release r;
  const std::string prefix;  // a single block
  nn::Tensor up_s({hs, d});
  nn::Tensor gate_s({hs, d});
  nn::Tensor local_point({hs});
  parallel_if_large(hs, double(hs) * double(d), [&](Index j) {
    const auto uj = static_cast<std::size_t>(j);
    const Index src = sel[uj];
    float* up_dst = up_s.data.data() + j * d;
    float* gate_dst = gate_s.data.data() + j * d;
    for (Index i = 0; i < d; ++i) {
      up_dst[i] = released(up(src, i), dt);
      gate_dst[i] = released(sign[uj] * double(gate(src, i)), dt);
    }
    local_point.data[uj] = released(sign[uj] * z0[uj], dt);
  });

  nn::Tensor local_output({d, hs});
  nn::Tensor fuse({d, hs, order});
  parallel_if_large(d, double(d) * double(hs) * double(order + 1), [&](Index i) {
    float* lo = local_output.data.data() + i * hs;
    float* fu = fuse.data.data() + i * hs * order;
    for (Index j = 0; j < hs; ++j) {
      const auto uj = static_cast<std::size_t>(j);
      const double wij = down(i, sel[uj]);
      const double* dj = deriv.data() + uj * stride;
      lo[j] = released(wij * dj[0], dt);
      float* fj = fu + j * order;
      for (int n = 1; n <= order; ++n) fj[n - 1] = released(wij * dj[n], dt);
    }
  });

  nn::Tensor discount({order});
  const std::vector<double> logfact = log_factorials(order);
  for (int n = 0; n < order; ++n)
    discount.data[static_cast<std::size_t>(n)] = released(logfact[static_cast<std::size_t>(n)], dt);

  nn::Tensor ffn_gate({hp, d});
  nn::Tensor ffn_up({hp, d});
  nn::Tensor ffn_down({d, hp});
  parallel_if_large(hp, double(hp) * double(d), [&](Index j) {
    const Index src = rest[static_cast<std::size_t>(j)];
    for (Index i = 0; i < d; ++i) {
      ffn_gate.data[static_cast<std::size_t>(j * d + i)] = released(gate(src, i), dt);
      ffn_up.data[static_cast<std::size_t>(j * d + i)] = released(up(src, i), dt);
    }
  });
  parallel_if_large(d, double(hp) * double(d), [&](Index i) {
    float* dst = ffn_down.data.data() + i * hp;
    for (Index j = 0; j < hp; ++j)
      dst[j] = released(down(i, rest[static_cast<std::size_t>(j)]), dt);
  });

  auto& out = r.artifact.tensors;
  out.emplace(prefix + kUp, std::move(up_s));
  out.emplace(prefix + kGate, std::move(gate_s));
  out.emplace(prefix + kLocalPoint, std::move(local_point));
  out.emplace(prefix + kLocalOutput, std::move(local_output));
  out.emplace(prefix + kFuse, std::move(fuse));
  out.emplace(prefix + kDiscount, std::move(discount));
  out.emplace(prefix + kFfnGate, std::move(ffn_gate));
  out.emplace(prefix + kFfnUp, std::move(ffn_up));
  out.emplace(prefix + kFfnDown, std::move(ffn_down));
  if (p.keep_gate_proj)
    out.emplace(prefix + kLeftoverGate, released_copy(model_tensor(model, kModelGate), dt));
  check_finite_release(out);
  r.artifact.metadata = official_metadata(p, arch, hs);
  r.secret = official_secret(sign, sel);
  return r;
}

nn::Matrix infer_official_block(const Meta& m, const definitions::Artifact& artifact,
                                const nn::Matrix& x) {
  const auto& t = artifact.tensors;
  const std::string& p = m.prefix;
  const Index hs = m.select_dim;
  const Index hp = m.arch.sizes[1] - hs;
  const Index d = m.arch.sizes[0];
  const int order = m.order;
  const Index rows = x.rows();

  // Products are taken weights-first ([units, batch]) so that nn::matmul_nt's fixed row tiles
  // (and its OpenMP threads) run over units even for a handful of input rows.
  const nn::Matrix ut = nn::matmul_nt<float>(t.at(p + kUp).matrix(), x);    // [h_s, B]
  const nn::Matrix gt = nn::matmul_nt<float>(t.at(p + kGate).matrix(), x);  // [h_s, B]
  const float* point = t.at(p + kLocalPoint).data.data();
  const float* discount = t.at(p + kDiscount).data.data();

  // q[b, j·N + n−1] = sign(Δ)^n·exp(n·log|Δ| − log n!)·u_j, zero for n > grad_order_min where
  // |Δ| > delta_threshold: the official per-order factors, laid out to match fuse_weight
  // [d, h_s, N] viewed as [d, h_s·N].
  nn::Matrix q(rows, hs * order);
  parallel_if_large(rows, double(rows) * double(hs) * order, [&](Index b) {
    float* qb = q.data() + b * hs * order;
    for (Index j = 0; j < hs; ++j) {
      const double delta = double(gt(j, b) - point[j]);
      const double uj = ut(j, b);
      const double log_abs = std::log(std::abs(delta));
      const double sgn = delta > 0.0 ? 1.0 : (delta < 0.0 ? -1.0 : 0.0);
      const bool outside = std::abs(delta) > m.delta_threshold;
      double sgn_n = 1.0;
      for (int n = 1; n <= order; ++n) {
        sgn_n *= sgn;
        double term = sgn_n * std::exp(double(n) * log_abs - double(discount[n - 1])) * uj;
        if (n > m.grad_order_min && outside) term = 0.0;
        qb[j * order + n - 1] = static_cast<float>(term);
      }
    }
  });

  const nn::Tensor& fuse = t.at(p + kFuse);
  const nn::Matrix u = ut.transpose();
  nn::Matrix out_t = nn::matmul_nt<float>(t.at(p + kLocalOutput).matrix(), u);  // [d, B]
  out_t += nn::matmul_nt<float>(nn::ConstMatrixMap(fuse.data.data(), d, hs * order), q);
  if (hp > 0) {
    // The plaintext units: W_down,ffn·(σ(W_gate,ffn·x) ⊙ W_up,ffn·x).
    const nn::Matrix fg = nn::matmul_nt<float>(t.at(p + kFfnGate).matrix(), x);  // [h−h_s, B]
    const nn::Matrix fu = nn::matmul_nt<float>(t.at(p + kFfnUp).matrix(), x);
    nn::Matrix hidden(rows, hp);
    parallel_if_large(rows, double(rows) * double(hp) * 8.0, [&](Index b) {
      for (Index j = 0; j < hp; ++j)
        hidden(b, j) = nn::activate<float>(m.arch.activation, fg(j, b)) * fu(j, b);
    });
    out_t += nn::matmul_nt<float>(t.at(p + kFfnDown).matrix(), hidden);
  }
  return out_t.transpose();
}

// Rows are processed in fixed blocks so that the per-order buffer q stays small at Llama scale.
nn::Matrix infer_official(const Meta& m, const definitions::Artifact& artifact,
                          const nn::Matrix& x) {
  constexpr Index kRowBlock = 256;
  if (x.rows() <= kRowBlock) return infer_official_block(m, artifact, x);
  nn::Matrix out(x.rows(), m.arch.output_size());
  for (Index r0 = 0; r0 < x.rows(); r0 += kRowBlock) {
    const Index n = std::min(kRowBlock, Index{x.rows()} - r0);
    out.middleRows(r0, n) = infer_official_block(m, artifact, x.middleRows(r0, n));
  }
  return out;
}

// Original indices of the selected units, from the owner secret.
std::vector<Index> secret_selection(const definitions::OwnerSecret& secret, Index hs, Index h) {
  const auto it = secret.tensors.find("selected");
  if (it == secret.tensors.end())
    throw InvalidArgument("taylor_mlp owner secret is missing tensor 'selected'");
  const nn::Tensor& sel = it->second;
  if (sel.shape != std::vector<Index>{hs})
    throw InvalidArgument("taylor_mlp secret tensor 'selected' has shape " + sel.shape_string() +
                          ", expected [" + std::to_string(hs) + "]");
  std::vector<Index> out;
  out.reserve(static_cast<std::size_t>(hs));
  for (float v : sel.data) {
    if (!std::isfinite(v) || v < 0.0F || double(v) >= double(h) || std::floor(v) != v)
      throw InvalidArgument("taylor_mlp secret tensor 'selected' holds an invalid unit index");
    out.push_back(static_cast<Index>(v));
  }
  return out;
}

}  // namespace

// -------------------------------------------------------------------------------------------------

TaylorMlpParams TaylorMlpParams::from(const definitions::Params& params) {
  TaylorMlpParams p;
  p.format = params.get_string("format", p.format);
  p.order = params.get_int("order", p.order);
  p.expansion = params.get_string("expansion", p.expansion);
  p.layer = params.get_int("layer", p.layer);
  p.select_ratio = params.get_double("select_ratio", p.select_ratio);
  p.select_dim = params.get_int("select_dim", p.select_dim);
  p.grad_order_min = params.get_int("grad_order_min", p.grad_order_min);
  p.delta_threshold = params.get_double("delta_threshold", p.delta_threshold);
  p.keep_gate_proj = params.get_bool("keep_gate_proj", p.keep_gate_proj);
  p.dtype = params.get_string("dtype", p.dtype);
  p.calibration = params.get_string("calibration", p.calibration);
  p.calibration_samples = params.get_int("calibration_samples", p.calibration_samples);
  const std::int64_t seed = params.get_int("calibration_seed", 0);
  if (seed < 0)
    throw InvalidArgument("parameter 'calibration_seed' must be >= 0, got " + std::to_string(seed));
  p.calibration_seed = static_cast<std::uint64_t>(seed);
  return p;
}

void TaylorMlpParams::validate() const {
  if (format != "paper" && format != "official")
    throw InvalidArgument("parameter 'format' must be paper or official, got '" + format + "'");
  if (order < 1 || order > nn::kMaxTaylorOrder)
    throw InvalidArgument("parameter 'order' must be in [1, 32], got " + std::to_string(order));
  if (expansion != "midpoint" && expansion != "mean" && expansion != "zero")
    throw InvalidArgument("parameter 'expansion' must be midpoint, mean or zero, got '" +
                          expansion + "'");
  if (format == "official" && expansion != "midpoint")
    throw InvalidArgument("parameter 'expansion' must be midpoint for format 'official', got '" +
                          expansion + "'");
  if (layer < 0)
    throw InvalidArgument("parameter 'layer' must be >= 0, got " + std::to_string(layer));
  if (!(select_ratio > 0.0 && select_ratio <= 1.0))
    throw InvalidArgument("parameter 'select_ratio' must be in (0, 1], got " +
                          std::to_string(select_ratio));
  if (select_dim != -1 && select_dim < 1)
    throw InvalidArgument("parameter 'select_dim' must be >= 1 (or -1 to use select_ratio), got " +
                          std::to_string(select_dim));
  if (grad_order_min < 0)
    throw InvalidArgument("parameter 'grad_order_min' must be >= 0, got " +
                          std::to_string(grad_order_min));
  if (!(std::isfinite(delta_threshold) && delta_threshold > 0.0))
    throw InvalidArgument("parameter 'delta_threshold' must be a positive number, got " +
                          std::to_string(delta_threshold));
  if (dtype != "f32" && dtype != "bf16" && dtype != "f16")
    throw InvalidArgument("parameter 'dtype' must be f32, bf16 or f16, got '" + dtype + "'");
  if (calibration_samples < 1)
    throw InvalidArgument("parameter 'calibration_samples' must be >= 1, got " +
                          std::to_string(calibration_samples));
  if (!calibration.empty()) {
    try {
      (void)definitions::InputSource::parse(calibration);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(std::string("parameter 'calibration': ") + e.what());
    }
  }
}

TaylorMlp::TaylorMlp(TaylorMlpParams params) : params_(std::move(params)) {
  params_.validate();
}

nn::Matrix TaylorMlp::calibration_inputs(const nn::Architecture& arch) const {
  const auto source = params_.calibration.empty()
                          ? definitions::InputSource::default_for(arch, false)
                          : definitions::InputSource::parse(params_.calibration);
  Rng rng(params_.calibration_seed, stable_hash(kCalibrationStream), 0);
  return source.draw(params_.calibration_samples, arch.input_size(), rng);
}

definitions::Release TaylorMlp::release(const nn::Model& model, Rng& coins) const {
  model.validate();
  const nn::Architecture& arch = model.arch;
  if (params_.format == "paper") {
    if (arch.kind != nn::Architecture::Kind::mlp || arch.sizes.size() < 3)
      throw InvalidArgument(
          "taylor_mlp format 'paper' needs an mlp model with a hidden layer, got " +
          arch.to_spec());
  } else if (arch.kind != nn::Architecture::Kind::swiglu) {
    throw InvalidArgument("taylor_mlp format 'official' needs a swiglu model, got " +
                          arch.to_spec());
  }
  if (arch.activation == nn::Activation::relu)
    throw InvalidArgument(
        "TaylorMLP needs an analytic activation (silu, gelu, gelu_tanh); relu has no Taylor "
        "series at 0");
  const nn::Matrix calibration = calibration_inputs(arch);
  if (params_.format == "paper") return release_paper(params_, model, calibration);
  return release_official(params_, model, calibration, coins);
}

nn::Matrix TaylorMlp::infer(const definitions::Artifact& artifact, const nn::Matrix& x) const {
  const Meta m = parse_meta(artifact.metadata);
  if (m.format == "paper")
    check_tensors(artifact.tensors, paper_shapes(m), {});
  else
    check_tensors(artifact.tensors, official_shapes(m),
                  {{m.prefix + kLeftoverGate, {m.arch.sizes[1], m.arch.sizes[0]}}});
  if (x.cols() != m.arch.input_size())
    throw InvalidArgument("taylor_mlp infer: input has " + std::to_string(x.cols()) +
                          " features, the model expects " + std::to_string(m.arch.input_size()));
  return m.format == "paper" ? infer_paper(m, artifact, x) : infer_official(m, artifact, x);
}

nn::TensorMap TaylorMlp::hidden_mask(const nn::Model& original,
                                     const definitions::Release& release) const {
  const Meta m = parse_meta(release.artifact.metadata);
  if (!(m.arch == original.arch))
    throw InvalidArgument("taylor_mlp hidden_mask: the release is of a different architecture");
  original.validate();
  nn::TensorMap mask;
  for (const auto& [name, tensor] : original.tensors) mask.emplace(name, nn::Tensor(tensor.shape));
  const auto fill = [](nn::Tensor& t) { std::fill(t.data.begin(), t.data.end(), 1.0F); };
  if (m.format == "paper") {
    fill(mask.at(layer_bias(m.layer)));
    fill(mask.at(layer_weight(m.layer + 1)));
    fill(mask.at(layer_bias(m.layer + 1)));
    return mask;
  }
  const Index d = m.arch.sizes[0];
  const Index h = m.arch.sizes[1];
  const std::vector<Index> sel = secret_selection(release.secret, m.select_dim, h);
  const bool gate_leaked = release.artifact.tensors.count(m.prefix + kLeftoverGate) != 0;
  nn::Tensor& gate = mask.at(kModelGate);
  nn::Tensor& down = mask.at(kModelDown);
  for (Index j : sel) {
    if (!gate_leaked) std::fill_n(gate.data.begin() + static_cast<std::ptrdiff_t>(j * d), d, 1.0F);
    for (Index i = 0; i < d; ++i) down.data[static_cast<std::size_t>(i * h + j)] = 1.0F;
  }
  (void)mask.at(kModelUp);  // W_up is published in the clear: all zeros
  return mask;
}

double TaylorMlp::infer_macs(const definitions::Artifact& artifact) const {
  const Meta m = parse_meta(artifact.metadata);
  const auto& s = m.arch.sizes;
  const double order = m.order;
  if (m.format == "official") {
    const double d = double(s[0]);
    const double h = double(s[1]);
    const double hs = double(m.select_dim);
    return (order + 3.0) * hs * d + 3.0 * (h - hs) * d;
  }
  double macs = 0.0;
  const Index layers = static_cast<Index>(s.size()) - 1;
  for (Index i = 0; i < layers; ++i) {
    const double in = double(s[static_cast<std::size_t>(i)]);
    const double out = double(s[static_cast<std::size_t>(i + 1)]);
    if (i == m.layer + 1)
      macs += (order + 1.0) * in * out;  // Θ: (N+1)·h·o
    else
      macs += in * out;  // V (i = k) and the plaintext layers
  }
  return macs;
}

nn::TensorMap official_lowp_release(const OfficialLowpInputs& in) {
  const nn::LowPrecision t = in.type;
  const auto R = [t](float v) { return nn::round_to(t, v); };
  if (in.gate == nullptr || in.up == nullptr || in.down == nullptr)
    throw InvalidArgument("official_lowp_release: a weight tensor is missing");
  if (in.order < 1 || in.order > nn::kMaxTaylorOrder)
    throw InvalidArgument("official_lowp_release: order must be in [1, 32], got " +
                          std::to_string(in.order));
  const nn::Tensor& gate = *in.gate;
  const nn::Tensor& up = *in.up;
  const nn::Tensor& down = *in.down;
  if (gate.rank() != 2 || up.shape != gate.shape || down.rank() != 2 ||
      down.shape[0] != gate.shape[1] || down.shape[1] != gate.shape[0])
    throw InvalidArgument("official_lowp_release: gate, up [h, d] and down [d, h] do not fit");
  const Index h = gate.shape[0];
  const Index d = gate.shape[1];
  const auto hs = static_cast<Index>(in.selected.size());
  const Index hp = h - hs;
  const int order = in.order;
  if (hs < 1 || static_cast<Index>(in.unselected.size()) != hp ||
      static_cast<Index>(in.sign.size()) != hs || static_cast<Index>(in.gmin.size()) != h ||
      static_cast<Index>(in.gmax.size()) != h)
    throw InvalidArgument("official_lowp_release: selection, signs or statistics do not fit h");
  std::vector<char> seen(static_cast<std::size_t>(h), 0);
  for (const auto* list : {&in.selected, &in.unselected})
    for (Index u : *list) {
      if (u < 0 || u >= h || seen[static_cast<std::size_t>(u)] != 0)
        throw InvalidArgument(
            "official_lowp_release: selected and unselected units must "
            "partition 0..h-1");
      seen[static_cast<std::size_t>(u)] = 1;
    }
  for (int s : in.sign)
    if (s != 1 && s != -1) throw InvalidArgument("official_lowp_release: signs must be +1 or -1");
  const auto of_type = [&](float v) { return std::isfinite(v) && R(v) == v; };
  for (const nn::Tensor* w : {&gate, &up, &down})
    if (!std::all_of(w->data.begin(), w->data.end(), of_type))
      throw InvalidArgument("official_lowp_release: weights must be finite " + nn::to_string(t) +
                            " values");
  if (!std::all_of(in.gmin.begin(), in.gmin.end(), of_type) ||
      !std::all_of(in.gmax.begin(), in.gmax.end(), of_type))
    throw InvalidArgument("official_lowp_release: statistics must be finite " + nn::to_string(t) +
                          " values");

  // Per selected unit: z0 = (min + max) / 2, silu(z0) and the silu_grad table, all in T.
  const auto n_order = static_cast<std::size_t>(order);
  std::vector<float> z0(static_cast<std::size_t>(hs));
  std::vector<float> silu0(z0.size());
  std::vector<float> deriv(z0.size() * n_order);
  parallel_if_large(hs, double(hs) * order * order, [&](Index j) {
    const auto uj = static_cast<std::size_t>(j);
    const auto u = static_cast<std::size_t>(in.selected[uj]);
    const float z = R(R(in.gmin[u] + in.gmax[u]) / 2.0f);
    z0[uj] = z;
    silu0[uj] = nn::lowp_silu(t, z);
    const std::vector<float> g = nn::official_silu_derivatives(t, z, order);
    std::copy(g.begin(), g.end(), deriv.begin() + static_cast<std::ptrdiff_t>(uj * n_order));
  });

  nn::Tensor up_s({hs, d});
  nn::Tensor gate_s({hs, d});
  nn::Tensor local_point({hs});
  for (Index j = 0; j < hs; ++j) {
    const auto uj = static_cast<std::size_t>(j);
    const Index src = in.selected[uj];
    const auto sj = static_cast<float>(in.sign[uj]);
    for (Index i = 0; i < d; ++i) {
      up_s.data[static_cast<std::size_t>(j * d + i)] =
          up.data[static_cast<std::size_t>(src * d + i)];
      gate_s.data[static_cast<std::size_t>(j * d + i)] =
          sj * gate.data[static_cast<std::size_t>(src * d + i)];
    }
    local_point.data[uj] = sj * z0[uj];
  }

  nn::Tensor local_output({d, hs});
  nn::Tensor fuse({d, hs, order});
  parallel_if_large(d, double(d) * double(hs) * double(order + 1), [&](Index i) {
    float* lo = local_output.data.data() + i * hs;
    float* fu = fuse.data.data() + i * hs * order;
    for (Index j = 0; j < hs; ++j) {
      const auto uj = static_cast<std::size_t>(j);
      const float w = down.data[static_cast<std::size_t>(i * h + in.selected[uj])];
      lo[j] = R(silu0[uj] * w);
      const float* dj = deriv.data() + uj * n_order;
      float* fj = fu + j * order;
      float sign_power = 1.0f;
      for (int n = 1; n <= order; ++n) {
        sign_power *= static_cast<float>(in.sign[uj]);
        fj[n - 1] = sign_power * R(w * dj[n - 1]);
      }
    }
  });

  // log(n!) as torch.log(torch.arange(1, n + 1)).sum() in binary32, then cast to T.
  nn::Tensor discount({order});
  float log_factorial = 0.0f;
  for (int n = 1; n <= order; ++n) {
    log_factorial += std::log(static_cast<float>(n));
    discount.data[static_cast<std::size_t>(n - 1)] = R(log_factorial);
  }

  nn::Tensor ffn_gate({hp, d});
  nn::Tensor ffn_up({hp, d});
  nn::Tensor ffn_down({d, hp});
  for (Index j = 0; j < hp; ++j) {
    const Index src = in.unselected[static_cast<std::size_t>(j)];
    std::copy_n(gate.data.begin() + src * d, d, ffn_gate.data.begin() + j * d);
    std::copy_n(up.data.begin() + src * d, d, ffn_up.data.begin() + j * d);
    for (Index i = 0; i < d; ++i)
      ffn_down.data[static_cast<std::size_t>(i * hp + j)] =
          down.data[static_cast<std::size_t>(i * h + src)];
  }

  nn::TensorMap out;
  out.emplace(kUp, std::move(up_s));
  out.emplace(kGate, std::move(gate_s));
  out.emplace(kLocalPoint, std::move(local_point));
  out.emplace(kLocalOutput, std::move(local_output));
  out.emplace(kFuse, std::move(fuse));
  out.emplace(kDiscount, std::move(discount));
  out.emplace(kFfnGate, std::move(ffn_gate));
  out.emplace(kFfnUp, std::move(ffn_up));
  out.emplace(kFfnDown, std::move(ffn_down));
  return out;
}

}  // namespace wrsec::schemes
