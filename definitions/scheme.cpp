#include "definitions/scheme.h"

#include "core/errors.h"

namespace wrsec::definitions {

std::string Capabilities::to_string() const {
  std::string out;
  if (has(Capability::infer)) out += "infer";
  if (has(Capability::verify)) out += out.empty() ? "verify" : ",verify";
  return out.empty() ? "none" : out;
}

nn::Matrix WeightReleaseScheme::infer(const Artifact& /*artifact*/, const nn::Matrix& /*x*/) const {
  throw LogicError("scheme '" + id() + "' has no infer capability");
}

VerifyResult WeightReleaseScheme::verify(const OwnerSecret& /*secret*/,
                                         const nn::Model& /*suspect*/) const {
  throw LogicError("scheme '" + id() + "' has no verify capability");
}

}  // namespace wrsec::definitions
