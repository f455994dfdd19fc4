#include "unmask.h"

#include "masked_release.h"

namespace masked {

wrsec::nn::Model Unmask::extract(const wrsec::definitions::Artifact& release,
                                 wrsec::definitions::OracleAccess& /*oracles*/,
                                 wrsec::Rng& /*coins*/) const {
  return unmasked_model(release);
}

bool Unmask::reads(const wrsec::definitions::Artifact& release) const {
  return is_masked_release(release);
}

}  // namespace masked
