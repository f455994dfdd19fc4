#pragma once
// What a weight-release scheme outputs.
//   Artifact:    the public part, given to everyone including every adversary.
//   OwnerSecret: what the owner keeps (keys, masks, signatures); reaches only the challenger and
//                Verify, never an adversary (adversary interfaces take no OwnerSecret).
// Both are named tensors plus JSON metadata, so they serialise as safetensors.
#include <nlohmann/json.hpp>

#include "nn/model.h"
#include "nn/tensor.h"

namespace wrsec::definitions {

struct Artifact {
  nn::TensorMap tensors;
  nlohmann::json metadata = nlohmann::json::object();
};

struct OwnerSecret {
  nn::TensorMap tensors;
  nlohmann::json metadata = nlohmann::json::object();
};

struct Release {
  Artifact artifact;
  OwnerSecret secret;
};

// A model published in the clear (plaintext and every watermarking scheme): the tensors plus
// metadata {"scheme": id, "architecture": arch.to_json()}.
[[nodiscard]] Artifact model_artifact(const nn::Model& model, const std::string& scheme_id);
// The architecture an artifact declares (metadata "architecture"); InvalidArgument if absent or
// malformed.
[[nodiscard]] nn::Architecture artifact_architecture(const Artifact& artifact);
// The model of such an artifact; InvalidArgument if the metadata or tensors are malformed.
[[nodiscard]] nn::Model artifact_model(const Artifact& artifact);

}  // namespace wrsec::definitions
