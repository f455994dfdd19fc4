#include "schemes/plaintext.h"

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/model.h"

namespace wrsec::schemes {

definitions::Release Plaintext::release(const nn::Model& model, Rng& /*coins*/) const {
  definitions::Release r;
  r.artifact = definitions::model_artifact(model, id());
  return r;
}

nn::Matrix Plaintext::infer(const definitions::Artifact& artifact, const nn::Matrix& x) const {
  const nn::Model model = definitions::artifact_model(artifact);
  if (x.cols() != model.arch.input_size())
    throw InvalidArgument("plaintext infer: input has " + std::to_string(x.cols()) +
                          " features, the model expects " +
                          std::to_string(model.arch.input_size()));
  return model.forward(x);
}

double Plaintext::infer_macs(const definitions::Artifact& artifact) const {
  return definitions::artifact_architecture(artifact).macs_per_example();
}

}  // namespace wrsec::schemes
