#include "attacks/ambiguity.h"

#include "core/errors.h"
#include "definitions/owner_key.h"
#include "definitions/scheme.h"

namespace wrsec::attacks {

AmbiguityParams AmbiguityParams::from(const definitions::Params& params) {
  AmbiguityParams p;
  p.strategy = params.get_string("strategy", p.strategy);
  p.tries = params.get_int("tries", p.tries);
  p.validate();
  return p;
}

void AmbiguityParams::validate() const {
  if (strategy != "copy_bits" && strategy != "own_key" && strategy != "fake_signature")
    throw InvalidArgument(
        "ambiguity: strategy must be copy_bits, own_key or fake_signature, got '" + strategy + "'");
  if (tries < 1 || tries > 100000)
    throw InvalidArgument("ambiguity: tries must lie in [1, 100000]");
}

Ambiguity::Ambiguity(AmbiguityParams params) : params_(std::move(params)) {
  params_.validate();
}

definitions::OwnerSecret Ambiguity::forge(const nn::Model& target,
                                          const definitions::ForgeryContext& context,
                                          Rng& coins) const {
  if (context.scheme == nullptr)
    throw InvalidArgument("attack 'ambiguity' needs the scheme's algorithm (the game grants none)");
  const definitions::WeightReleaseScheme& scheme = *context.scheme;
  if (params_.strategy == "fake_signature") {
    auto claim = definitions::OwnerClaim::from_json(context.owner_claim);
    claim.statement += "; owner=adversary";
    claim.key_seed_hex.reset();
    claim.message.reset();
    if (coins.bit()) {
      // A random signature instead of the owner's (of the right length).
      std::string sig;
      for (std::size_t i = 0; i < claim.signature_hex.size(); ++i)
        sig += "0123456789abcdef"[coins.below(16)];
      sig[0] = sig[0] == '0' ? '1' : sig[0];
      claim.signature_hex = sig;
    }
    definitions::OwnerSecret forged;
    forged.metadata["claim"] = claim.to_json();
    return forged;
  }
  definitions::OwnerSecret best;
  for (std::int64_t t = 0; t < params_.tries; ++t) {
    Rng key_coins = coins.derive("claim").derive(static_cast<std::uint64_t>(t));
    definitions::OwnerSecret claim = scheme.keygen(target, key_coins);
    if (params_.strategy == "copy_bits") {
      auto c = definitions::OwnerClaim::from_json(claim.metadata.at("claim"));
      const auto key =
          definitions::MarkKey::from_signature(c.public_key, c.statement, c.signature_hex);
      c.key_seed_hex = key.hex();
      // Read what the target carries under this key, then claim exactly that.
      // (Symbols that are not bits, e.g. trigger labels, come in the claim's message format.)
      const definitions::VerifyResult read = scheme.verify(claim, target);
      c.message = read.details.value("claim_message", read.extracted);
      claim.metadata["claim"] = c.to_json();
    }
    if (scheme.verify(claim, target).accepted) return claim;
    best = std::move(claim);
  }
  return best;
}

}  // namespace wrsec::attacks
