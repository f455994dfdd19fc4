#include "attacks/knockoff.h"

#include "core/errors.h"
#include "nn/model.h"

namespace wrsec::attacks {

nn::Model Knockoff::extract(const definitions::Artifact& release,
                            definitions::OracleAccess& oracles, Rng& coins) const {
  if (!release.metadata.contains("architecture"))
    throw InvalidArgument("knockoff: the release names no architecture");
  const auto arch = nn::Architecture::from_json(release.metadata.at("architecture"));
  Rng init = coins.derive("init");
  nn::Model model = nn::Model::init(arch, init);
  (void)finetune_on_queries(model, oracles, train_, coins.derive("finetune"));
  return model;
}

}  // namespace wrsec::attacks
