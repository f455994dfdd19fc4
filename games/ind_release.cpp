#include "games/ind_release.h"

#include "core/errors.h"
#include "definitions/oracle.h"

namespace wrsec::games {

IndReleaseParams IndReleaseParams::from(const definitions::Params& params) {
  IndReleaseParams p;
  p.arch = params.get_string("arch", p.arch);
  p.queries = params.get_int("queries", p.queries);
  p.tee_queries = params.get_int("tee_queries", p.tee_queries);
  p.validate();
  return p;
}

void IndReleaseParams::validate() const {
  (void)nn::Architecture::parse(arch);
  if (queries < 0) throw InvalidArgument("ind_release: queries must be >= 0");
  if (tee_queries < 0) throw InvalidArgument("ind_release: tee_queries must be >= 0");
}

IndRelease::IndRelease(IndReleaseParams params)
    : params_(std::move(params)), arch_(nn::Architecture::parse(params_.arch)) {}

void IndRelease::check(const definitions::WeightReleaseScheme* scheme,
                       const definitions::Adversary& adversary) const {
  if (scheme == nullptr) throw InvalidArgument("game 'ind_release' needs a scheme");
  if (dynamic_cast<const definitions::ReleaseDistinguisher*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' is not a release distinguisher and cannot play game 'ind_release'");
  definitions::check_oracle_grants(id(), *scheme, params_.queries, params_.tee_queries);
}

definitions::TrialOutcome IndRelease::play(const definitions::WeightReleaseScheme* scheme,
                                           const definitions::Adversary& adversary,
                                           Rng& coins) const {
  const auto& distinguisher = dynamic_cast<const definitions::ReleaseDistinguisher&>(adversary);
  Rng challenger = coins.derive("challenger");
  const Rng adversary_coins = coins.derive("adversary");
  Rng choose_coins = adversary_coins.derive("choose");
  Rng guess_coins = adversary_coins.derive("guess");
  Rng release_coins = challenger.derive("release");
  const int b = challenger.bit() ? 1 : 0;

  const definitions::ModelPair pair = distinguisher.choose(arch_, choose_coins);
  for (const nn::Model* m : {&pair.first, &pair.second}) {
    if (!(m->arch == arch_))
      throw InvalidArgument("attack '" + adversary.id() + "' chose a model of architecture " +
                            m->arch.to_spec() + ", the game asks for " + arch_.to_spec());
    m->validate();
  }
  const definitions::Release release =
      scheme->release(b == 1 ? pair.second : pair.first, release_coins);
  definitions::TrialOracles oracles(*scheme, release, static_cast<std::uint64_t>(params_.queries),
                                    static_cast<std::uint64_t>(params_.tee_queries),
                                    challenger.derive("tee"));
  const int guess = distinguisher.guess(pair, release.artifact, oracles.access(), guess_coins);
  if (guess != 0 && guess != 1)
    throw LogicError("distinguisher '" + adversary.id() + "' returned a guess other than 0 or 1");
  definitions::TrialOutcome out{
      guess == b, b, guess, {{"queries_used", static_cast<double>(oracles.infer_used())}}};
  if (scheme->capabilities().has(definitions::Capability::tee))
    out.metrics.emplace_back("tee_queries_used", static_cast<double>(oracles.tee_used()));
  return out;
}

}  // namespace wrsec::games
