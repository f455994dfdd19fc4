#include "attacks/cast.h"

#include "core/errors.h"
#include "nn/safetensors.h"

namespace wrsec::attacks {

namespace {

constexpr std::uint16_t kSignBit = 0x8000u;
constexpr std::uint16_t kHalfInf = 0x7c00u, kHalfMaxFinite = 0x7bffu;
constexpr std::uint16_t kBf16Inf = 0x7f80u, kBf16MaxFinite = 0x7f7fu;

float to_fp16_and_back(float value) {
  std::uint16_t h = nn::float_to_half(value);
  if ((h & ~kSignBit) == kHalfInf) h = static_cast<std::uint16_t>((h & kSignBit) | kHalfMaxFinite);
  return nn::half_to_float(h);
}

float to_bf16_and_back(float value) {
  std::uint16_t h = nn::float_to_bf16(value);
  if ((h & ~kSignBit) == kBf16Inf) h = static_cast<std::uint16_t>((h & kSignBit) | kBf16MaxFinite);
  return nn::bf16_to_float(h);
}

}  // namespace

float cast_round_trip(float value, const std::string& format) {
  if (format == "fp16") return to_fp16_and_back(value);
  if (format == "bf16") return to_bf16_and_back(value);
  throw InvalidArgument("cast: format must be fp16 or bf16, got '" + format + "'");
}

CastParams CastParams::from(const definitions::Params& params) {
  CastParams p;
  p.format = params.get_string("format", p.format);
  p.validate();
  return p;
}

void CastParams::validate() const {
  if (format != "fp16" && format != "bf16")
    throw InvalidArgument("cast: format must be fp16 or bf16, got '" + format + "'");
}

nn::Model Cast::remove(const nn::Model& marked, const definitions::RemovalContext& /*context*/,
                       Rng& /*coins*/) const {
  marked.validate();
  nn::Model out = marked;
  const bool half = params_.format == "fp16";
  for (auto& [name, t] : out.tensors)
    for (float& v : t.data) v = half ? to_fp16_and_back(v) : to_bf16_and_back(v);
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
