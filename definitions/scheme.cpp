#include "definitions/scheme.h"

#include <algorithm>

#include "core/errors.h"
#include "nn/model.h"

namespace wrsec::definitions {

std::string Capabilities::to_string() const {
  std::string out;
  if (has(Capability::infer)) out += "infer";
  if (has(Capability::verify)) out += out.empty() ? "verify" : ",verify";
  if (has(Capability::verify_black_box))
    out += out.empty() ? "verify_black_box" : ",verify_black_box";
  if (has(Capability::protected_release))
    out += out.empty() ? "protected_release" : ",protected_release";
  if (has(Capability::tee)) out += out.empty() ? "tee" : ",tee";
  return out.empty() ? "none" : out;
}

nn::Matrix WeightReleaseScheme::infer(const Artifact& /*artifact*/, const nn::Matrix& /*x*/) const {
  throw LogicError("scheme '" + id() + "' has no infer capability");
}

std::shared_ptr<const TeeDevice> WeightReleaseScheme::provision_tee(
    const Release& /*release*/) const {
  throw LogicError("scheme '" + id() + "' provisions no TEE");
}

nn::TensorMap WeightReleaseScheme::hidden_mask(const nn::Model& original,
                                               const Release& /*release*/) const {
  nn::TensorMap mask;
  for (const auto& [name, tensor] : original.tensors) {
    nn::Tensor ones(tensor.shape);
    std::fill(ones.data.begin(), ones.data.end(), 1.0F);
    mask.emplace(name, std::move(ones));
  }
  return mask;
}

double WeightReleaseScheme::infer_macs(const Artifact& /*artifact*/) const {
  throw LogicError("scheme '" + id() + "' has no infer capability");
}

VerifyResult WeightReleaseScheme::verify(const OwnerSecret& /*secret*/,
                                         const nn::Model& /*suspect*/) const {
  throw LogicError("scheme '" + id() + "' has no verify capability");
}

OwnerSecret WeightReleaseScheme::keygen(const nn::Model& /*model*/, Rng& /*coins*/) const {
  throw LogicError("scheme '" + id() + "' has no verify capability (no KeyGen)");
}

std::unique_ptr<WeightReleaseScheme> WeightReleaseScheme::for_owner(
    std::uint64_t /*owner_seed*/) const {
  throw LogicError("scheme '" + id() + "' has no verify capability (no owner identity)");
}

std::unique_ptr<WeightReleaseScheme> WeightReleaseScheme::with_owner_key(
    const OwnerKeyPair& /*key*/) const {
  throw LogicError("scheme '" + id() + "' cannot sign with an owner's key (no verify capability)");
}

VerifyResult WeightReleaseScheme::verify_queries(const OwnerSecret& /*secret*/,
                                                 const QueryFn& /*query*/) const {
  throw LogicError("scheme '" + id() + "' has no black-box verify capability");
}

}  // namespace wrsec::definitions
