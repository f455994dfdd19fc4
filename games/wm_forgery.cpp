#include "games/wm_forgery.h"

#include "core/errors.h"
#include "definitions/artifact.h"
#include "definitions/owner_key.h"

namespace wrsec::games {

WmForgeryParams WmForgeryParams::from(const definitions::Params& params) {
  WmForgeryParams p;
  p.model = params.get_string("model", p.model);
  p.target = params.get_string("target", p.target);
  p.nulls.read(params, "wm_forgery");
  p.validate();
  return p;
}

void WmForgeryParams::validate() const {
  if (target != "owner" && target != "independent")
    throw InvalidArgument("wm_forgery: target must be 'owner' or 'independent', got '" + target +
                          "'");
}

WmForgery::WmForgery(WmForgeryParams params)
    : params_(std::move(params)), source_(definitions::ModelSource::parse(params_.model)) {
  params_.validate();
  if (params_.target == "independent") nulls_ = params_.nulls.models(params_.model, id());
}

void WmForgery::check(const definitions::WeightReleaseScheme* scheme,
                      const definitions::Adversary& adversary) const {
  require_ownership_scheme(scheme, id());
  if (dynamic_cast<const definitions::Forger*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' does not forge claims and cannot play game 'wm_forgery'");
}

definitions::TrialOutcome WmForgery::play(const definitions::WeightReleaseScheme* scheme,
                                          const definitions::Adversary& adversary,
                                          Rng& coins) const {
  const auto& forger = dynamic_cast<const definitions::Forger&>(adversary);
  const Rng challenger = coins.derive("challenger");
  Rng adversary_coins = coins.derive("adversary");
  const OwnerRelease owner = release_owner_model(source_, *scheme, challenger);
  const definitions::Release& release = owner.release;
  const nn::Model target = params_.target == "owner" ? owner.marked : nulls_.model(coins.trial());
  const auto own = scheme->for_owner(kAdversaryIdentity);
  definitions::ForgeryContext context;
  context.scheme = own.get();
  context.owner_claim = release.secret.metadata.at("claim");
  const definitions::OwnerSecret forged = forger.forge(target, context, adversary_coins);

  const auto owner_claim = definitions::OwnerClaim::from_json(context.owner_claim);
  bool distinct = false, signature_valid = false, owner_key = false;
  try {
    const auto claim = definitions::OwnerClaim::from_json(forged.metadata.at("claim"));
    // New iff it names another key or another statement: fields the binding rule does not use
    // (or another serialisation) do not make the owner's claim someone else's.
    distinct =
        claim.public_key != owner_claim.public_key || claim.statement != owner_claim.statement;
    signature_valid =
        definitions::verify_statement(claim.public_key, claim.statement, claim.signature_hex);
    owner_key = claim.public_key == owner_claim.public_key;
  } catch (const std::exception&) {
    // A malformed claim is simply not a claim: it cannot win.
  }
  const definitions::VerifyResult v = check_suspect(*scheme, forged, target);
  definitions::TrialOutcome outcome;
  outcome.win = distinct && v.accepted;
  outcome.metrics = {{"signature_valid", signature_valid ? 1.0 : 0.0},
                     {"claims_owner_key", owner_key ? 1.0 : 0.0},
                     {"match_fraction", v.bits ? double(v.matches) / double(v.bits) : 0.0},
                     {"log2_p", v.log2_p}};
  return outcome;
}

}  // namespace wrsec::games
