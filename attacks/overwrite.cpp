#include "attacks/overwrite.h"

#include "core/errors.h"
#include "definitions/artifact.h"
#include "definitions/scheme.h"

namespace wrsec::attacks {

nn::Model Overwrite::remove(const nn::Model& marked, const definitions::RemovalContext& context,
                            Rng& coins) const {
  marked.validate();
  if (context.scheme == nullptr)
    throw InvalidArgument("attack 'overwrite' needs the scheme's algorithm (the game grants none)");
  Rng release_coins = coins.derive("overwrite");
  return definitions::artifact_model(context.scheme->release(marked, release_coins).artifact);
}

}  // namespace wrsec::attacks
