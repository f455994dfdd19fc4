// The plug-in's one entry point: registers the scheme masked_release and the adversary unmask.
// Build it against an installed wrsec (README.md) and load it with
//   wrsec --plugin ./masked_release.so evaluate --scheme masked_release --out eval
#include <memory>

#include "definitions/plugin.h"
#include "masked_release.h"
#include "unmask.h"

namespace {

void register_components(wrsec::definitions::PluginRegistrar& r) {
  r.schemes.add(
      "masked_release",
      "example plug-in: weights plus a keyed Gaussian mask whose key is published "
      "(broken on purpose; + scale)",
      [](const wrsec::definitions::Params& p) {
        return std::make_unique<masked::MaskedRelease>(masked::MaskedReleaseParams::from(p));
      });
  r.attacks.add(
      "unmask",
      "example plug-in: extracts masked_release weights by regenerating the mask from "
      "the published key",
      [](const wrsec::definitions::Params&) { return std::make_unique<masked::Unmask>(); });
}

}  // namespace

WRSEC_PLUGIN("masked_release", register_components)
