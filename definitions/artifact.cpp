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

nn::Model artifact_model(const Artifact& artifact) {
  if (!artifact.metadata.contains("architecture"))
    throw InvalidArgument("artifact has no 'architecture' metadata");
  nn::Model model(nn::Architecture::from_json(artifact.metadata.at("architecture")),
                  artifact.tensors);
  model.validate();
  return model;
}

}  // namespace wrsec::definitions
