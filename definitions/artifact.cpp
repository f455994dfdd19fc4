#include "definitions/artifact.h"

#include "core/errors.h"

namespace wrsec::definitions {

Artifact model_artifact(const nn::Model& model, const std::string& scheme_id) {
  model.validate();
  Artifact a;
  a.tensors = model.tensors;
  a.metadata = {{"scheme", scheme_id}, {"architecture", model.arch.to_json()}};
  return a;
}

nn::Architecture artifact_architecture(const Artifact& artifact) {
  if (!artifact.metadata.contains("architecture"))
    throw InvalidArgument("artifact has no 'architecture' metadata");
  return nn::Architecture::from_json(artifact.metadata.at("architecture"));
}

nn::Model artifact_model(const Artifact& artifact) {
  nn::Model model(artifact_architecture(artifact), artifact.tensors);
  model.validate();
  return model;
}

}  // namespace wrsec::definitions
