#include "games/secret_location.h"

#include "core/errors.h"
#include "definitions/oracle.h"
#include "games/release_challenge.h"

namespace wrsec::games {

SecretLocationParams SecretLocationParams::from(const definitions::Params& params) {
  SecretLocationParams p;
  p.model = params.get_string("model", p.model);
  p.min_precision = params.get_double("min_precision", p.min_precision);
  p.min_recall = params.get_double("min_recall", p.min_recall);
  p.queries = params.get_int("queries", p.queries);
  p.tee_queries = params.get_int("tee_queries", p.tee_queries);
  p.validate();
  return p;
}

void SecretLocationParams::validate() const {
  if (!(min_precision > 0 && min_precision <= 1))
    throw InvalidArgument("secret_location: min_precision must lie in (0, 1]");
  if (!(min_recall > 0 && min_recall <= 1))
    throw InvalidArgument("secret_location: min_recall must lie in (0, 1]");
  if (queries < 0) throw InvalidArgument("secret_location: queries must be >= 0");
  if (tee_queries < 0) throw InvalidArgument("secret_location: tee_queries must be >= 0");
}

SecretLocation::SecretLocation(SecretLocationParams params)
    : params_(std::move(params)), source_(definitions::ModelSource::parse(params_.model)) {
  params_.validate();
}

void SecretLocation::check(const definitions::WeightReleaseScheme* scheme,
                           const definitions::Adversary& adversary) const {
  if (scheme == nullptr) throw InvalidArgument("game 'secret_location' needs a scheme");
  if (dynamic_cast<const definitions::Locator*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' does not locate secret positions and cannot play game "
                          "'secret_location'");
  const auto caps = scheme->capabilities();
  if (!caps.has(definitions::Capability::protected_release))
    throw InvalidArgument("game 'secret_location' needs a protected release; '" + scheme->id() +
                          "' is not one");
  definitions::check_oracle_grants(id(), *scheme, params_.queries, params_.tee_queries);
}

definitions::TrialOutcome SecretLocation::play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const {
  const auto& locator = dynamic_cast<const definitions::Locator&>(adversary);
  ReleaseChallenge c(*scheme, source_, params_.queries, params_.tee_queries, coins);
  const auto& oracles = c.oracles;
  const nn::TensorMap flags = locator.locate(c.release.artifact, c.oracles.access(), c.adversary);
  const nn::TensorMap secret = scheme->hidden_mask(c.model, c.release);

  for (const auto& [name, f] : flags)
    if (secret.count(name) == 0)
      throw InvalidArgument("attack '" + adversary.id() + "' flagged '" + name +
                            "', which is no parameter of the model");
  double flagged = 0, hidden = 0, hit = 0, weights = 0;
  for (const auto& [name, s] : secret) {
    const auto f = flags.find(name);
    if (f != flags.end() && f->second.shape != s.shape)
      throw InvalidArgument("attack '" + adversary.id() + "' flagged tensor '" + name +
                            "' with the wrong shape");
    for (std::size_t i = 0; i < s.data.size(); ++i) {
      const bool in_s = s.data[i] != 0;
      const bool in_f = f != flags.end() && f->second.data[i] != 0;
      hidden += in_s ? 1 : 0;
      flagged += in_f ? 1 : 0;
      hit += in_s && in_f ? 1 : 0;
    }
    weights += static_cast<double>(s.data.size());
  }
  // Only a sparse secret can be located: flagging everything has precision |S|/N and recall 1.
  if (hidden == 0 || hidden / weights >= params_.min_precision)
    throw InvalidArgument("game 'secret_location': scheme '" + scheme->id() + "' hides " +
                          std::to_string(static_cast<std::uint64_t>(hidden)) + " of " +
                          std::to_string(static_cast<std::uint64_t>(weights)) +
                          " parameters, so flagging everything (or nothing) decides the game; "
                          "it applies to a secret of fewer than min_precision of them");
  const double precision = flagged > 0 ? hit / flagged : 0.0;
  const double recall = hit / hidden;
  definitions::TrialOutcome out;
  out.win = precision >= params_.min_precision && recall >= params_.min_recall;
  out.metrics = {{"precision", precision},
                 {"recall", recall},
                 {"flagged", flagged},
                 {"secret", hidden},
                 {"weights", weights},
                 {"queries_used", static_cast<double>(oracles.infer_used())},
                 {"tee_queries_used", static_cast<double>(oracles.tee_used())}};
  return out;
}

}  // namespace wrsec::games
