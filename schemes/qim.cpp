#include "schemes/qim.h"

#include <cmath>

#include "core/errors.h"

namespace wrsec::schemes {

namespace {

// Q_b(x) with the step and dither of one bit.
double lattice(double x, double delta, double dither, int b) {
  const double offset = dither + 0.5 * b;
  return delta * (std::round(x / delta - offset) + offset);
}

double max_abs(const nn::Tensor& t) {
  double m = 0;
  for (float v : t.data) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

}  // namespace

QimParams QimParams::from(const definitions::Params& params) {
  QimParams p;
  MarkParams defaults;
  defaults.layers = {1};
  p.mark = MarkParams::from(params, defaults);
  p.support = params.get_int("support", p.support);
  p.robust_bits = params.get_int("robust_bits", p.robust_bits);
  p.margin = params.get_double("margin", p.margin);
  p.validate();
  return p;
}

void QimParams::validate() const {
  mark.validate("qim");
  if (support < 1 || support > 65536) throw InvalidArgument("qim: support must lie in [1, 65536]");
  if (robust_bits < 3 || robust_bits > 16)
    throw InvalidArgument("qim: robust_bits must lie in [3, 16]");
  if (!(margin > 1 && margin <= 100)) throw InvalidArgument("qim: margin must lie in (1, 100]");
}

Qim::Qim(QimParams params) : WatermarkScheme(params.mark), config_(std::move(params)) {
  config_.validate();
}

double Qim::step(double max_abs_weight) const {
  const double levels = std::ldexp(1.0, static_cast<int>(config_.robust_bits) - 1) - 1;
  return config_.margin * 2 * std::sqrt(static_cast<double>(config_.support)) * max_abs_weight /
         (levels - 1);
}

void Qim::check_model(const nn::Model& model) const {
  WatermarkScheme::check_model(model);
  const auto names = carrier_names();
  for (std::size_t t = 0; t < names.size(); ++t) {
    const std::int64_t count =
        (mark_.bits - static_cast<std::int64_t>(t) + static_cast<std::int64_t>(names.size()) - 1) /
        static_cast<std::int64_t>(names.size());
    const nn::Tensor& w = model.tensors.at(names[t]);
    if (w.numel() < count * config_.support)
      throw InvalidArgument(
          "qim: tensor " + names[t] + " has " + std::to_string(w.numel()) +
          " weights, fewer than its bits·support = " + std::to_string(count * config_.support));
    if (max_abs(w) == 0) throw InvalidArgument("qim: tensor " + names[t] + " is all zero");
  }
}

nlohmann::json Qim::public_params(const nn::Model& model) const {
  nlohmann::json sizes = nlohmann::json::object();
  nlohmann::json steps = nlohmann::json::object();
  for (const std::string& name : carrier_names()) {
    const nn::Tensor& w = model.tensors.at(name);
    sizes[name] = w.numel();
    steps[name] = step(max_abs(w));
  }
  return {{"sizes", sizes}, {"delta", steps}};
}

std::optional<std::vector<Qim::Bit>> Qim::bits_of(const nn::Model& model,
                                                  const ResolvedKey& key) const {
  const auto names = carrier_names();
  if (!key.params.contains("sizes") || !key.params.contains("delta")) return std::nullopt;
  const nlohmann::json& sizes = key.params["sizes"];
  const nlohmann::json& steps = key.params["delta"];
  std::vector<Bit> bits(symbols());
  Rng dither = key.key.rng("qim.dither");
  for (auto& b : bits) b.dither = dither.uniform();
  const auto k = config_.support;
  for (std::size_t t = 0; t < names.size(); ++t) {
    const auto it = model.tensors.find(names[t]);
    if (it == model.tensors.end() || !sizes.contains(names[t]) || !steps.contains(names[t]) ||
        !sizes[names[t]].is_number_integer() || !steps[names[t]].is_number())
      return std::nullopt;
    const std::int64_t numel = it->second.numel();
    const double delta = steps[names[t]].get<double>();
    if (sizes[names[t]].get<std::int64_t>() != numel || !(delta > 0)) return std::nullopt;
    std::vector<std::size_t> mine;
    for (std::size_t j = t; j < bits.size(); j += names.size()) mine.push_back(j);
    if (static_cast<std::int64_t>(mine.size()) * k > numel) return std::nullopt;
    Rng support_rng = key.key.rng("qim.support/" + names[t]);
    Rng sign_rng = key.key.rng("qim.sign/" + names[t]);
    const auto positions =
        keyed_positions(numel, static_cast<std::int64_t>(mine.size()) * k, support_rng);
    for (std::size_t m = 0; m < mine.size(); ++m) {
      Bit& b = bits[mine[m]];
      b.tensor = names[t];
      b.delta = delta;
      for (std::int64_t i = 0; i < k; ++i) {
        b.index.push_back(positions[m * static_cast<std::size_t>(k) + static_cast<std::size_t>(i)]);
        b.sign.push_back(sign_rng.bit() ? 1.0F : -1.0F);
      }
    }
  }
  return bits;
}

nn::Model Qim::embed(const nn::Model& model, const ResolvedKey& key, Rng& /*coins*/) const {
  const auto bits = bits_of(model, key);
  WRSEC_CHECK(bits.has_value(), "qim: the owner's key does not fit the model it was made for");
  nn::Model marked = model;
  const double norm = 1 / std::sqrt(static_cast<double>(config_.support));
  for (std::size_t j = 0; j < bits->size(); ++j) {
    const Bit& b = (*bits)[j];
    AlignedVector<float>& w = marked.tensors.at(b.tensor).data;
    double p = 0;
    for (std::size_t i = 0; i < b.index.size(); ++i)
      p += w[static_cast<std::size_t>(b.index[i])] * b.sign[i] * norm;
    const double shift = lattice(p, b.delta, b.dither, key.expected[j]) - p;
    for (std::size_t i = 0; i < b.index.size(); ++i) {
      float& v = w[static_cast<std::size_t>(b.index[i])];
      v = static_cast<float>(v + shift * b.sign[i] * norm);
    }
  }
  return marked;
}

std::optional<std::vector<std::uint8_t>> Qim::read(const nn::Model& suspect,
                                                   const ResolvedKey& key) const {
  const auto bits = bits_of(suspect, key);
  if (!bits) return std::nullopt;
  const double norm = 1 / std::sqrt(static_cast<double>(config_.support));
  std::vector<std::uint8_t> out(bits->size());
  for (std::size_t j = 0; j < bits->size(); ++j) {
    const Bit& b = (*bits)[j];
    const AlignedVector<float>& w = suspect.tensors.at(b.tensor).data;
    double p = 0;
    for (std::size_t i = 0; i < b.index.size(); ++i)
      p += w[static_cast<std::size_t>(b.index[i])] * b.sign[i] * norm;
    const double d0 = std::fabs(p - lattice(p, b.delta, b.dither, 0));
    const double d1 = std::fabs(p - lattice(p, b.delta, b.dither, 1));
    out[j] = d1 < d0 ? 1 : 0;
  }
  return out;
}

std::vector<std::string> Qim::symbol_carriers(const nn::Model& reading,
                                              const ResolvedKey& key) const {
  if (carrier_names().size() == 1) return WatermarkScheme::symbol_carriers(reading, key);
  const auto bits = bits_of(reading, key);
  if (!bits) return {};
  std::vector<std::string> out;
  out.reserve(bits->size());
  for (const Bit& b : *bits) out.push_back(b.tensor);
  return out;
}

}  // namespace wrsec::schemes
