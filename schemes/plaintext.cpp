#include "schemes/plaintext.h"

#include "core/errors.h"
#include "nn/model.h"

namespace wrsec::schemes {

definitions::Release Plaintext::release(const nn::Model& model, Rng& /*coins*/) const {
  model.validate();
  definitions::Release r;
  r.artifact.tensors = model.tensors;
  r.artifact.metadata = {{"scheme", id()}, {"architecture", model.arch.to_json()}};
  return r;
}

nn::Matrix Plaintext::infer(const definitions::Artifact& artifact, const nn::Matrix& x) const {
  if (!artifact.metadata.contains("architecture"))
    throw InvalidArgument("plaintext artifact has no 'architecture' metadata");
  const nn::Model model(nn::Architecture::from_json(artifact.metadata.at("architecture")),
                        artifact.tensors);
  model.validate();
  if (x.cols() != model.arch.input_size())
    throw InvalidArgument("plaintext infer: input has " + std::to_string(x.cols()) +
                          " features, the model expects " +
                          std::to_string(model.arch.input_size()));
  return model.forward(x);
}

double Plaintext::infer_macs(const definitions::Artifact& artifact) const {
  if (!artifact.metadata.contains("architecture"))
    throw InvalidArgument("plaintext artifact has no 'architecture' metadata");
  return nn::Architecture::from_json(artifact.metadata.at("architecture")).macs_per_example();
}

}  // namespace wrsec::schemes
