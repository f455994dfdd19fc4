#include "schemes/spread_spectrum.h"

#include <cmath>

#include "core/errors.h"
#include "definitions/statistics.h"

namespace wrsec::schemes {

namespace {

// Mean and population std of the carrier.
std::pair<double, double> moments(const nn::Model& model, const CarrierLayout& layout) {
  double sum = 0, sq = 0;
  for (const std::string& name : layout.names)
    for (float v : model.tensors.at(name).data) sum += v;
  const double mean = sum / static_cast<double>(layout.size);
  for (const std::string& name : layout.names)
    for (float v : model.tensors.at(name).data) sq += (v - mean) * (v - mean);
  return {mean, std::sqrt(sq / static_cast<double>(layout.size))};
}

}  // namespace

SpreadSpectrumParams SpreadSpectrumParams::from(const definitions::Params& params) {
  SpreadSpectrumParams p;
  MarkParams defaults;
  defaults.layers = {0};
  p.mark = MarkParams::from(params, defaults);
  p.strength = params.get_double("strength", p.strength);
  p.detector = params.get_string("detector", p.detector);
  p.validate();
  return p;
}

void SpreadSpectrumParams::validate() const {
  mark.validate("spread_spectrum");
  if (!(strength > 0 && strength <= 1000))
    throw InvalidArgument("spread_spectrum: strength must lie in (0, 1000]");
  if (detector != "bits" && detector != "zscore")
    throw InvalidArgument("spread_spectrum: detector must be 'bits' or 'zscore', got '" + detector +
                          "'");
}

SpreadSpectrum::SpreadSpectrum(SpreadSpectrumParams params)
    : WatermarkScheme(params.mark), config_(std::move(params)) {
  config_.validate();
}

void SpreadSpectrum::check_model(const nn::Model& model) const {
  WatermarkScheme::check_model(model);
  const CarrierLayout layout = CarrierLayout::of(model, carrier_names());
  if (layout.size < mark_.bits)
    throw InvalidArgument("spread_spectrum: the carrier has fewer weights than bits");
  if (moments(model, layout).second == 0)
    throw InvalidArgument("spread_spectrum: the carrier weights are constant");
}

nlohmann::json SpreadSpectrum::public_params(const nn::Model& model) const {
  return {{"carrier", CarrierLayout::of(model, carrier_names()).size}};
}

SpreadSpectrum::Chips SpreadSpectrum::chips(std::int64_t carrier, const ResolvedKey& key) const {
  Chips c;
  c.k = carrier / static_cast<std::int64_t>(symbols());
  Rng support = key.key.rng("spread_spectrum.support");
  c.positions = keyed_positions(carrier, c.k * static_cast<std::int64_t>(symbols()), support);
  Rng sign = key.key.rng("spread_spectrum.chips");
  c.chip.resize(c.positions.size());
  for (float& v : c.chip) v = sign.bit() ? 1.0F : -1.0F;
  return c;
}

nn::Model SpreadSpectrum::embed(const nn::Model& model, const ResolvedKey& key,
                                Rng& /*coins*/) const {
  const CarrierLayout layout = CarrierLayout::of(model, carrier_names());
  const Chips c = chips(layout.size, key);
  const double alpha =
      config_.strength * moments(model, layout).second / std::sqrt(static_cast<double>(c.k));
  nn::Model marked = model;
  for (std::size_t j = 0; j < key.expected.size(); ++j) {
    const double amp = alpha * (key.expected[j] ? 1.0 : -1.0);
    for (std::int64_t i = 0; i < c.k; ++i) {
      const std::size_t at = j * static_cast<std::size_t>(c.k) + static_cast<std::size_t>(i);
      float& w = layout.at(marked, c.positions[at]);
      w = static_cast<float>(w + amp * c.chip[at]);
    }
  }
  return marked;
}

std::optional<SpreadSpectrum::Correlations> SpreadSpectrum::correlate(
    const nn::Model& suspect, const ResolvedKey& key) const {
  const CarrierLayout layout = CarrierLayout::of(suspect, carrier_names());
  if (key.params.value("carrier", std::int64_t{-1}) != layout.size) return std::nullopt;
  const Chips c = chips(layout.size, key);
  const auto [mean, sigma] = moments(suspect, layout);
  Correlations out;
  out.sigma = sigma;
  out.k = c.k;
  out.corr.assign(symbols(), 0.0);
  for (std::size_t j = 0; j < out.corr.size(); ++j)
    for (std::int64_t i = 0; i < c.k; ++i) {
      const std::size_t at = j * static_cast<std::size_t>(c.k) + static_cast<std::size_t>(i);
      out.corr[j] += (layout.at(suspect, c.positions[at]) - mean) * c.chip[at];
    }
  return out;
}

std::optional<std::vector<std::uint8_t>> SpreadSpectrum::read(const nn::Model& suspect,
                                                              const ResolvedKey& key) const {
  const auto c = correlate(suspect, key);
  if (!c) return std::nullopt;
  std::vector<std::uint8_t> bits(c->corr.size());
  for (std::size_t j = 0; j < bits.size(); ++j) bits[j] = c->corr[j] > 0 ? 1 : 0;
  return bits;
}

void SpreadSpectrum::refine(const ResolvedKey& key, const nn::Model& reading,
                            definitions::VerifyResult& r) const {
  const auto c = correlate(reading, key);
  if (!c) return;
  double sum = 0;
  for (std::size_t j = 0; j < c->corr.size(); ++j)
    sum += key.expected[j] ? c->corr[j] : -c->corr[j];
  const double z =
      c->sigma > 0 ? sum / (c->sigma * std::sqrt(static_cast<double>(c->k * c->corr.size()))) : 0.0;
  const double log2_p_z = definitions::log2_normal_tail(z);
  r.details["zscore"] = {{"z", z}, {"log2_p", log2_p_z}, {"approximation", "normal (CLT)"}};
  if (config_.detector == "zscore" && !mark_.threshold) {
    r.log2_p = log2_p_z;
    r.accepted = log2_p_z <= std::log2(mark_.target_fpr);
    r.details["rule"] = "zero-bit z-score: P[N(0,1) >= z] <= target_fpr";
    r.details.erase("critical_matches");  // the decision is no longer on the match count
  }
}

std::vector<std::string> SpreadSpectrum::symbol_carriers(const nn::Model& reading,
                                                         const ResolvedKey& key) const {
  if (carrier_names().size() == 1) return WatermarkScheme::symbol_carriers(reading, key);
  const CarrierLayout layout = CarrierLayout::of(reading, carrier_names());
  const Chips c = chips(layout.size, key);
  std::vector<std::string> out(symbols());
  for (std::size_t j = 0; j < out.size(); ++j) {
    const auto at = [&](std::int64_t i) {
      return layout
          .locate(c.positions[j * static_cast<std::size_t>(c.k) + static_cast<std::size_t>(i)])
          .first;
    };
    const std::size_t first = at(0);
    bool one = true;
    for (std::int64_t i = 1; i < c.k && one; ++i) one = at(i) == first;
    out[j] = one ? layout.names[first] : std::string();
  }
  return out;
}

}  // namespace wrsec::schemes
