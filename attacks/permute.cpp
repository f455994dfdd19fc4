#include "attacks/permute.h"

#include "core/errors.h"

namespace wrsec::attacks {

nn::Model Permute::remove(const nn::Model& marked, const definitions::RemovalContext& /*context*/,
                          Rng& coins) const {
  marked.validate();
  nn::Model out = marked;
  if (out.arch.kind == nn::Architecture::Kind::swiglu) {
    Rng r = coins.derive("hidden");
    permute_hidden_units(out, 0, random_permutation(out.arch.sizes[1], r));
  } else {
    for (std::size_t l = 0; l + 2 < out.arch.sizes.size(); ++l) {
      Rng r = coins.derive("layers." + std::to_string(l));
      permute_hidden_units(out, l, random_permutation(out.arch.sizes[l + 1], r));
    }
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
