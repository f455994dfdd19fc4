#pragma once
// overwrite: the adversary embeds its own mark with the same scheme and its own key
// (M' = Release_adv(M).model, run through the scheme instance the game grants under the
// adversary's identity; schemes that embed by training use the adversary's data). Removes the
// owner's mark only if the second embedding disturbs the first.
#include "definitions/adversary.h"

namespace wrsec::attacks {

class Overwrite final : public definitions::Remover {
 public:
  [[nodiscard]] std::string id() const override { return "overwrite"; }
  // InvalidArgument when the game grants no scheme instance.
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;
};

}  // namespace wrsec::attacks
