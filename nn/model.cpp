#include "nn/model.h"

#include <cmath>

#include "core/errors.h"
#include "nn/safetensors.h"

namespace wrsec::nn {
namespace {

std::string mlp_weight(std::size_t i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string mlp_bias(std::size_t i) {
  return "layers." + std::to_string(i) + ".bias";
}
const std::string kGate = "mlp.gate_proj.weight";
const std::string kUp = "mlp.up_proj.weight";
const std::string kDown = "mlp.down_proj.weight";

const Tensor& get(const TensorMap& tensors, const std::string& name) {
  const auto it = tensors.find(name);
  if (it == tensors.end()) throw InvalidArgument("model has no tensor '" + name + "'");
  return it->second;
}

// Weights as T matrices: a view for float, a converted copy for double.
template <class T>
auto weight_as(const TensorMap& tensors, const std::string& name) {
  if constexpr (std::is_same_v<T, float>) {
    return get(tensors, name).matrix();
  } else {
    return MatrixT<T>(get(tensors, name).matrix().template cast<T>());
  }
}

template <class T>
auto bias_as(const TensorMap& tensors, const std::string& name) {
  if constexpr (std::is_same_v<T, float>) {
    return get(tensors, name).vector();
  } else {
    return VectorT<T>(get(tensors, name).vector().template cast<T>());
  }
}

// Adds g into grads[name], creating a zero tensor of the given shape first.
template <class Derived>
void accumulate(TensorMap& grads, const std::string& name, const std::vector<std::int64_t>& shape,
                const Eigen::DenseBase<Derived>& g) {
  auto it = grads.find(name);
  if (it == grads.end()) it = grads.emplace(name, Tensor(shape)).first;
  WRSEC_CHECK(it->second.numel() == g.size(), "gradient size mismatch for " + name);
  // Element by element, so the split over threads does not change the result.
  const auto& src = g.derived();
  float* dst = it->second.data.data();
  const float* from = src.data();
  const Eigen::Index n = src.size();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (Eigen::Index i = 0; i < n; ++i) dst[i] += from[i];
}

template <class T>
MatrixT<T> forward_impl(const Model& m, const MatrixT<T>& x) {
  if (x.cols() != m.arch.input_size())
    throw InvalidArgument("model input has " + std::to_string(x.cols()) + " features, expected " +
                          std::to_string(m.arch.input_size()));
  if (m.arch.kind == Architecture::Kind::swiglu) {
    return swiglu_forward<T>(x, weight_as<T>(m.tensors, kGate), weight_as<T>(m.tensors, kUp),
                             weight_as<T>(m.tensors, kDown), nullptr, m.arch.activation);
  }
  const std::size_t layers = m.arch.sizes.size() - 1;
  MatrixT<T> h = x;
  for (std::size_t i = 0; i < layers; ++i) {
    MatrixT<T> z = linear_forward<T>(h, weight_as<T>(m.tensors, mlp_weight(i)),
                                     bias_as<T>(m.tensors, mlp_bias(i)));
    h = i + 1 < layers ? activation_forward<T>(m.arch.activation, z) : std::move(z);
  }
  return h;
}

}  // namespace

std::string to_string(Architecture::Kind kind) {
  return kind == Architecture::Kind::mlp ? "mlp" : "swiglu";
}

Architecture::Kind architecture_kind_from_string(std::string_view name) {
  if (name == "mlp") return Architecture::Kind::mlp;
  if (name == "swiglu") return Architecture::Kind::swiglu;
  throw InvalidArgument("unknown architecture kind '" + std::string(name) +
                        "' (expected mlp or swiglu)");
}

void Architecture::validate() const {
  if (kind == Kind::mlp && sizes.size() < 2)
    throw InvalidArgument("mlp architecture needs sizes [in, ..., out] with at least 2 entries");
  if (kind == Kind::swiglu && sizes.size() != 2)
    throw InvalidArgument("swiglu architecture needs sizes [d_model, d_hidden]");
  if (kind == Kind::swiglu && activation == Activation::relu)
    throw InvalidArgument(
        "a gated (swiglu) block needs a smooth activation (silu, gelu, gelu_tanh)");
  for (std::int64_t s : sizes)
    if (s <= 0) throw InvalidArgument("architecture sizes must be positive");
}

std::int64_t Architecture::output_size() const {
  return kind == Kind::mlp ? sizes.back() : sizes.front();
}

double Architecture::macs_per_example() const {
  validate();
  if (kind == Kind::swiglu) return 3.0 * double(sizes[0]) * double(sizes[1]);
  double macs = 0;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
    macs += double(sizes[i]) * double(sizes[i + 1]);
  return macs;
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> Architecture::tensor_shapes() const {
  validate();
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  if (kind == Kind::swiglu) {
    out.push_back({kGate, {sizes[1], sizes[0]}});
    out.push_back({kUp, {sizes[1], sizes[0]}});
    out.push_back({kDown, {sizes[0], sizes[1]}});
    return out;
  }
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    out.push_back({mlp_weight(i), {sizes[i + 1], sizes[i]}});
    out.push_back({mlp_bias(i), {sizes[i + 1]}});
  }
  return out;
}

nlohmann::json Architecture::to_json() const {
  return {{"kind", to_string(kind)}, {"sizes", sizes}, {"activation", to_string(activation)}};
}

Architecture Architecture::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("kind") || !j.contains("sizes") || !j.contains("activation"))
    throw InvalidArgument("architecture JSON needs the keys kind, sizes and activation: " +
                          j.dump());
  Architecture a;
  try {
    a.kind = architecture_kind_from_string(j.at("kind").get<std::string>());
    a.sizes = j.at("sizes").get<std::vector<std::int64_t>>();
    a.activation = activation_from_string(j.at("activation").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(std::string("malformed architecture JSON: ") + e.what());
  }
  a.validate();
  return a;
}

std::string Architecture::to_spec() const {
  std::string out = to_string(kind) + ":";
  for (std::size_t i = 0; i < sizes.size(); ++i) out += (i ? "," : "") + std::to_string(sizes[i]);
  return out + ":" + to_string(activation);
}

Architecture Architecture::parse(std::string_view spec) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("malformed architecture '" + std::string(spec) + "': " + why +
                           " (expected kind:sizes:activation, e.g. mlp:784,64,10:silu)");
  };
  const auto c1 = spec.find(':');
  const auto c2 = c1 == std::string_view::npos ? c1 : spec.find(':', c1 + 1);
  if (c2 == std::string_view::npos || spec.find(':', c2 + 1) != std::string_view::npos)
    throw bad("needs exactly two ':'");
  Architecture a;
  try {
    a.kind = architecture_kind_from_string(spec.substr(0, c1));
    a.activation = activation_from_string(spec.substr(c2 + 1));
  } catch (const InvalidArgument& e) {
    throw bad(e.what());
  }
  const std::string sizes(spec.substr(c1 + 1, c2 - c1 - 1));
  std::size_t pos = 0;
  while (pos <= sizes.size()) {
    const auto comma = std::min(sizes.find(',', pos), sizes.size());
    const std::string item = sizes.substr(pos, comma - pos);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 9)
      throw bad("size '" + item + "' is not a positive integer");
    a.sizes.push_back(std::stoll(item));
    pos = comma + 1;
  }
  try {
    a.validate();
  } catch (const InvalidArgument& e) {
    throw bad(e.what());
  }
  return a;
}

Model Model::init(const Architecture& arch, Rng& rng) {
  Model m;
  m.arch = arch;
  for (const auto& [name, shape] : arch.tensor_shapes()) {
    Tensor t(shape);
    const double fan_in = static_cast<double>(shape.size() == 2 ? shape[1] : 0);
    double bound;
    if (shape.size() == 1) {
      // Bias of layer i: fan_in is the layer's input size.
      const std::size_t layer = std::stoul(name.substr(7, name.find('.', 7) - 7));
      bound = 1.0 / std::sqrt(static_cast<double>(arch.sizes[layer]));
    } else {
      const bool last =
          (arch.kind == Architecture::Kind::swiglu && name == kDown) ||
          (arch.kind == Architecture::Kind::mlp && name == mlp_weight(arch.sizes.size() - 2));
      bound = std::sqrt((last ? 3.0 : 6.0) / fan_in);
    }
    Rng r = rng.derive(name);
    for (float& v : t.data) v = static_cast<float>(bound * (2.0 * r.uniform() - 1.0));
    m.tensors.emplace(name, std::move(t));
  }
  return m;
}

Matrix Model::forward(const Matrix& x) const {
  return forward(x, nullptr);
}

MatrixD Model::forward(const MatrixD& x) const {
  return forward_impl<double>(*this, x);
}

Matrix Model::forward(const Matrix& x, ForwardTrace* trace) const {
  if (!trace) return forward_impl<float>(*this, x);
  if (x.cols() != arch.input_size())
    throw InvalidArgument("model input has " + std::to_string(x.cols()) + " features, expected " +
                          std::to_string(arch.input_size()));
  if (arch.kind == Architecture::Kind::swiglu) {
    trace->x = x;
    return swiglu_forward<float>(x, get(tensors, kGate).matrix(), get(tensors, kUp).matrix(),
                                 get(tensors, kDown).matrix(), &trace->swiglu, arch.activation);
  }
  const std::size_t layers = arch.sizes.size() - 1;
  trace->inputs.assign(layers, Matrix());
  trace->pre.assign(layers, Matrix());
  trace->inputs[0] = x;
  for (std::size_t i = 0; i < layers; ++i) {
    trace->pre[i] = linear_forward<float>(trace->inputs[i], get(tensors, mlp_weight(i)).matrix(),
                                          get(tensors, mlp_bias(i)).vector());
    if (i + 1 < layers)
      trace->inputs[i + 1] = activation_forward<float>(arch.activation, trace->pre[i]);
  }
  return trace->pre.back();
}

Matrix Model::backward(const ForwardTrace& trace, const Matrix& dout, TensorMap& grads,
                       bool need_dx) const {
  if (arch.kind == Architecture::Kind::swiglu) {
    const auto& wg = get(tensors, kGate);
    const auto& wu = get(tensors, kUp);
    const auto& wd = get(tensors, kDown);
    SwigluGrad<float> g = swiglu_backward<float>(trace.x, wg.matrix(), wu.matrix(), wd.matrix(),
                                                 trace.swiglu, dout, need_dx, arch.activation);
    accumulate(grads, kGate, wg.shape, g.dw_gate);
    accumulate(grads, kUp, wu.shape, g.dw_up);
    accumulate(grads, kDown, wd.shape, g.dw_down);
    return g.dx;
  }
  const std::size_t layers = arch.sizes.size() - 1;
  WRSEC_CHECK(trace.pre.size() == layers, "backward needs the trace of a forward pass");
  Matrix dz = dout;
  for (std::size_t i = layers; i-- > 0;) {
    const auto& w = get(tensors, mlp_weight(i));
    LinearGrad<float> g = linear_backward<float>(trace.inputs[i], w.matrix(), dz, i > 0 || need_dx);
    accumulate(grads, mlp_weight(i), w.shape, g.dw);
    accumulate(grads, mlp_bias(i), {arch.sizes[i + 1]}, g.db);
    if (i == 0) return need_dx ? std::move(g.dx) : Matrix();
    dz = activation_backward<float>(arch.activation, trace.pre[i - 1], g.dx);
  }
  return {};
}

void Model::validate() const {
  const auto shapes = arch.tensor_shapes();
  for (const auto& [name, shape] : shapes) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw InvalidArgument("model is missing tensor '" + name + "'");
    const Tensor& t = it->second;
    if (t.shape != shape || t.numel() != checked_numel(shape))
      throw InvalidArgument("tensor '" + name + "' has shape " + t.shape_string() + ", expected " +
                            Tensor(shape).shape_string());
    for (float v : t.data)
      if (!std::isfinite(v))
        throw InvalidArgument("tensor '" + name + "' contains a non-finite value (NaN or Inf)");
  }
  if (tensors.size() != shapes.size()) {
    for (const auto& [name, t] : tensors) {
      bool known = false;
      for (const auto& s : shapes) known = known || s.first == name;
      if (!known)
        throw InvalidArgument("model has unexpected tensor '" + name + "' for architecture " +
                              arch.to_json().dump());
    }
  }
}

void Model::to_safetensors(const std::filesystem::path& path,
                           const std::map<std::string, std::string>& metadata) const {
  validate();
  auto meta = metadata;
  meta["wrsec.architecture"] = arch.to_json().dump();
  write_safetensors(path, tensors, meta, DType::f32);
}

Model Model::from_safetensors(const std::filesystem::path& path) {
  return from_safetensors(path, nullptr);
}

Model Model::from_safetensors(const std::filesystem::path& path,
                              std::map<std::string, std::string>* metadata) {
  return from_safetensors(SafetensorsView(path), metadata);
}

Model Model::from_safetensors(const SafetensorsView& view,
                              std::map<std::string, std::string>* metadata) {
  const std::filesystem::path& path = view.path();
  SafetensorsFile file = read_safetensors(view);
  const auto it = file.metadata.find("wrsec.architecture");
  if (it == file.metadata.end())
    throw InvalidArgument(path.string() + " has no metadata key wrsec.architecture");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(path.string() + ": wrsec.architecture is not JSON: " + e.what());
  }
  Model m(Architecture::from_json(j), std::move(file.tensors));
  try {
    m.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(path.string() + ": " + e.what());
  }
  if (metadata) *metadata = std::move(file.metadata);
  return m;
}

}  // namespace wrsec::nn
