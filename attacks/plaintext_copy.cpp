#include "attacks/plaintext_copy.h"

#include "core/errors.h"

namespace wrsec::attacks {

nn::Model PlaintextCopy::extract(const definitions::Artifact& release,
                                 definitions::OracleAccess& /*oracles*/, Rng& /*coins*/) const {
  if (release.metadata.value("scheme", "") != "plaintext")
    throw InvalidArgument("plaintext_copy reads plaintext releases only, got scheme '" +
                          release.metadata.value("scheme", "") + "'");
  nn::Model m(nn::Architecture::from_json(release.metadata.at("architecture")), release.tensors);
  m.validate();
  return m;
}

}  // namespace wrsec::attacks
