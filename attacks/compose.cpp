#include "attacks/compose.h"

#include "core/errors.h"

namespace wrsec::attacks {

nn::Model Compose::remove(const nn::Model& marked, const definitions::RemovalContext& context,
                          Rng& coins) const {
  Rng first_coins = coins.derive("first");
  Rng second_coins = coins.derive("second");
  const nn::Model once = first_->remove(marked, context, first_coins);
  return second_->remove(once, context, second_coins);
}

std::unique_ptr<Compose> Compose::from(
    const definitions::Params& params,
    const definitions::Registry<definitions::Adversary>& registry) {
  const auto step = [&](const std::string& name) -> std::unique_ptr<definitions::Remover> {
    const std::string id = params.get_string(name, "");
    if (id.empty())
      throw InvalidArgument("compose: parameter '" + name + "' (an attack id) is required");
    if (id == "compose") throw InvalidArgument("compose: a step cannot itself be compose");
    definitions::Params own;
    const std::string prefix = name + ".";
    for (const auto& [key, value] : params.values())
      if (key.rfind(prefix, 0) == 0)
        own.set(key.substr(prefix.size()), params.get_string(key, value));
    std::unique_ptr<definitions::Adversary> made;
    try {
      made = registry.create(id, own);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("compose: " + name + ": " + e.what());
    }
    auto* remover = dynamic_cast<definitions::Remover*>(made.get());
    if (remover == nullptr)
      throw InvalidArgument("compose: " + name + " = " + id + " is not a removal attack");
    made.release();
    return std::unique_ptr<definitions::Remover>(remover);
  };
  auto first = step("first");
  auto second = step("second");
  return std::make_unique<Compose>(std::move(first), std::move(second));
}

}  // namespace wrsec::attacks
