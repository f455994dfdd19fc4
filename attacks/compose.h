#pragma once
// compose: two removal attacks in sequence, M' = second(first(M)), e.g. a function-preserving
// transform followed by INT8 quantisation. Parameters: first = <attack id>, second = <attack id>,
// and each step's own parameters prefixed with its name (first.kind=clique, second.bits=8).
// The steps draw from coins.derive("first") and coins.derive("second"); both get the game's
// RemovalContext. Only removal attacks can be composed (InvalidArgument otherwise).
#include <memory>
#include <string>

#include "definitions/adversary.h"
#include "definitions/params.h"
#include "definitions/registry.h"

namespace wrsec::attacks {

class Compose final : public definitions::Remover {
 public:
  Compose(std::unique_ptr<definitions::Remover> first, std::unique_ptr<definitions::Remover> second)
      : first_(std::move(first)), second_(std::move(second)) {}
  [[nodiscard]] std::string id() const override { return "compose"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

  // Builds the two steps from `registry` (InvalidArgument naming the step on a bad id, an attack
  // that is not a remover, or a parameter of neither step).
  static std::unique_ptr<Compose> from(
      const definitions::Params& params,
      const definitions::Registry<definitions::Adversary>& registry);

 private:
  std::unique_ptr<definitions::Remover> first_, second_;
};

}  // namespace wrsec::attacks
