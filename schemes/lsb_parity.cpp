#include "schemes/lsb_parity.h"

#include <bit>
#include <cmath>

#include "core/errors.h"

namespace wrsec::schemes {

namespace {

std::uint32_t lsb(float w) {
  return std::bit_cast<std::uint32_t>(w) & 1U;
}

float flip_lsb(float w) {
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(w) ^ 1U);
}

}  // namespace

LsbParityParams LsbParityParams::from(const definitions::Params& params) {
  LsbParityParams p;
  MarkParams defaults;
  defaults.layers = {1};
  p.mark = MarkParams::from(params, defaults);
  p.group = params.get_int("group", p.group);
  p.validate();
  return p;
}

void LsbParityParams::validate() const {
  mark.validate("lsb_parity");
  if (group < 1 || group > 4096) throw InvalidArgument("lsb_parity: group must lie in [1, 4096]");
}

LsbParity::LsbParity(LsbParityParams params) : WatermarkScheme(params.mark), group_(params.group) {
  params.validate();
}

nlohmann::json LsbParity::public_params(const nn::Model& model) const {
  return {{"carrier", CarrierLayout::of(model, carrier_names()).size}};
}

void LsbParity::check_model(const nn::Model& model) const {
  WatermarkScheme::check_model(model);
  const CarrierLayout layout = CarrierLayout::of(model, carrier_names());
  if (layout.size < mark_.bits * group_)
    throw InvalidArgument(
        "lsb_parity: the carrier has " + std::to_string(layout.size) +
        " weights, fewer than bits·group = " + std::to_string(mark_.bits * group_));
}

std::vector<std::int64_t> LsbParity::groups(const CarrierLayout& layout,
                                            const ResolvedKey& key) const {
  Rng rng = key.key.rng("lsb_parity.groups");
  return keyed_positions(layout.size, static_cast<std::int64_t>(symbols()) * group_, rng);
}

nn::Model LsbParity::embed(const nn::Model& model, const ResolvedKey& key, Rng& /*coins*/) const {
  nn::Model marked = model;
  const CarrierLayout layout = CarrierLayout::of(model, carrier_names());
  const auto positions = groups(layout, key);
  for (std::size_t j = 0; j < key.expected.size(); ++j) {
    std::uint32_t parity = 0;
    std::int64_t smallest = -1;
    for (std::int64_t g = 0; g < group_; ++g) {
      const std::int64_t i = positions[j * static_cast<std::size_t>(group_) + g];
      const float w = layout.at(marked, i);
      parity ^= lsb(w);
      if (smallest < 0 || std::fabs(w) < std::fabs(layout.at(marked, smallest))) smallest = i;
    }
    if (parity != key.expected[j]) {
      float& w = layout.at(marked, smallest);
      w = flip_lsb(w);
    }
  }
  return marked;
}

std::optional<std::vector<std::uint8_t>> LsbParity::read(const nn::Model& suspect,
                                                         const ResolvedKey& key) const {
  const CarrierLayout layout = CarrierLayout::of(suspect, carrier_names());
  if (key.params.value("carrier", std::int64_t{-1}) != layout.size) return std::nullopt;
  const auto positions = groups(layout, key);
  std::vector<std::uint8_t> bits(symbols());
  for (std::size_t j = 0; j < bits.size(); ++j) {
    std::uint32_t parity = 0;
    for (std::int64_t g = 0; g < group_; ++g)
      parity ^= lsb(layout.at(suspect, positions[j * static_cast<std::size_t>(group_) + g]));
    bits[j] = static_cast<std::uint8_t>(parity);
  }
  return bits;
}

std::vector<std::string> LsbParity::symbol_carriers(const nn::Model& reading,
                                                    const ResolvedKey& key) const {
  if (carrier_names().size() == 1) return WatermarkScheme::symbol_carriers(reading, key);
  const CarrierLayout layout = CarrierLayout::of(reading, carrier_names());
  const auto positions = groups(layout, key);
  const auto g = static_cast<std::size_t>(group_);
  std::vector<std::string> out(symbols());
  for (std::size_t j = 0; j < out.size(); ++j) {
    const std::size_t first = layout.locate(positions[j * g]).first;
    bool one = true;
    for (std::size_t i = 1; i < g && one; ++i)
      one = layout.locate(positions[j * g + i]).first == first;
    out[j] = one ? layout.names[first] : std::string();
  }
  return out;
}

}  // namespace wrsec::schemes
