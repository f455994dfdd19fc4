#include "attacks/knockoff.h"

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/model.h"

namespace wrsec::attacks {

nn::Model Knockoff::extract(const definitions::Artifact& release,
                            definitions::OracleAccess& oracles, Rng& coins) const {
  const auto arch = definitions::artifact_architecture(release);
  Rng init = coins.derive("init");
  nn::Model model = nn::Model::init(arch, init);
  (void)finetune_on_queries(model, oracles, train_, coins.derive("finetune"));
  return model;
}

}  // namespace wrsec::attacks
