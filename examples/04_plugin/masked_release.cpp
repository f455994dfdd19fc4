#include "masked_release.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/errors.h"
#include "core/rng.h"
#include "nn/model.h"

namespace masked {

using wrsec::InvalidArgument;
namespace definitions = wrsec::definitions;
namespace nn = wrsec::nn;

MaskedReleaseParams MaskedReleaseParams::from(const definitions::Params& params) {
  MaskedReleaseParams p;
  p.scale = params.get_double("scale", p.scale);
  if (!(p.scale > 0 && std::isfinite(p.scale)))
    throw InvalidArgument("masked_release: scale must be a positive number");
  return p;
}

void apply_mask(nn::TensorMap& tensors, std::uint64_t key, double scale, int sign) {
  const wrsec::Rng stream(key, wrsec::stable_hash("masked_release mask"), 0);
  for (auto& [name, tensor] : tensors) {
    wrsec::Rng g = stream.derive(name);
    for (float& w : tensor.data)
      w = static_cast<float>(static_cast<double>(w) + sign * scale * g.normal());
  }
}

bool is_masked_release(const definitions::Artifact& artifact) {
  return artifact.metadata.is_object() && artifact.metadata.value("scheme", "") == kSchemeId;
}

nn::Model unmasked_model(const definitions::Artifact& artifact) {
  if (!is_masked_release(artifact))
    throw InvalidArgument("not a masked_release artifact (metadata 'scheme' is not '" +
                          std::string(kSchemeId) + "')");
  const auto& meta = artifact.metadata;
  if (!meta.contains("architecture") || !meta.contains("mask_key") ||
      !meta.contains("mask_scale") || !meta["mask_key"].is_string() ||
      !meta["mask_scale"].is_number())
    throw InvalidArgument("masked_release artifact without architecture, mask_key or mask_scale");
  const std::string key_text = meta["mask_key"].get<std::string>();
  std::uint64_t key = 0;
  const char* end = key_text.data() + key_text.size();
  const auto [stop, ec] = std::from_chars(key_text.data(), end, key, 16);
  if (key_text.empty() || ec != std::errc() || stop != end)
    throw InvalidArgument("masked_release artifact: mask_key '" + key_text + "' is not hex");
  nn::TensorMap tensors = artifact.tensors;
  apply_mask(tensors, key, meta["mask_scale"].get<double>(), -1);
  nn::Model model(nn::Architecture::from_json(meta["architecture"]), std::move(tensors));
  model.validate();
  return model;
}

definitions::Release MaskedRelease::release(const nn::Model& model, wrsec::Rng& coins) const {
  model.validate();
  const std::uint64_t key = coins.next_u64();  // the only coins Release uses
  char key_text[17];
  std::snprintf(key_text, sizeof key_text, "%016llx", static_cast<unsigned long long>(key));
  definitions::Release r;
  r.artifact.tensors = model.tensors;
  apply_mask(r.artifact.tensors, key, params_.scale, +1);
  // The flaw: the key is public, beside the masked weights.
  r.artifact.metadata = {{"scheme", kSchemeId},
                         {"architecture", model.arch.to_json()},
                         {"mask_key", key_text},
                         {"mask_scale", params_.scale}};
  return r;
}

nn::Matrix MaskedRelease::infer(const definitions::Artifact& artifact, const nn::Matrix& x) const {
  const nn::Model model = unmasked_model(artifact);
  if (x.cols() != model.arch.input_size())
    throw InvalidArgument("masked_release infer: input has " + std::to_string(x.cols()) +
                          " features, the model expects " +
                          std::to_string(model.arch.input_size()));
  return model.forward(x);
}

double MaskedRelease::infer_macs(const definitions::Artifact& artifact) const {
  if (!artifact.metadata.is_object() || !artifact.metadata.contains("architecture"))
    throw InvalidArgument("masked_release artifact has no 'architecture' metadata");
  return nn::Architecture::from_json(artifact.metadata["architecture"]).macs_per_example();
}

}  // namespace masked
