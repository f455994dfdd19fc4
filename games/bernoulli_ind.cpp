#include "games/bernoulli_ind.h"

#include <boost/math/distributions/binomial.hpp>
#include <cmath>

#include "core/errors.h"

namespace wrsec::games {

using definitions::Adversary;
using definitions::Distinguisher;

BernoulliIndParams BernoulliIndParams::from(const definitions::Params& params) {
  BernoulliIndParams p;
  p.p0 = params.get_double("p0", p.p0);
  p.p1 = params.get_double("p1", p.p1);
  p.samples = params.get_int("samples", p.samples);
  p.validate();
  return p;
}

void BernoulliIndParams::validate() const {
  if (!(p0 >= 0.0 && p0 <= 1.0)) throw InvalidArgument("bernoulli_ind: p0 must lie in [0, 1]");
  if (!(p1 >= 0.0 && p1 <= 1.0)) throw InvalidArgument("bernoulli_ind: p1 must lie in [0, 1]");
  if (samples < 1 || samples > 1'000'000)
    throw InvalidArgument("bernoulli_ind: samples must lie in [1, 1000000]");
}

double bernoulli_total_variation(double p0, double p1, std::int64_t m) {
  const auto trials = static_cast<double>(m);
  const boost::math::binomial_distribution<double> d0(trials, p0);
  const boost::math::binomial_distribution<double> d1(trials, p1);
  long double sum = 0.0L;
  for (std::int64_t k = 0; k <= m; ++k) {
    const auto kd = static_cast<double>(k);
    sum += std::fabs(static_cast<long double>(boost::math::pdf(d1, kd)) -
                     static_cast<long double>(boost::math::pdf(d0, kd)));
  }
  return static_cast<double>(sum / 2.0L);
}

BernoulliInd::BernoulliInd(BernoulliIndParams params) : params_(params) {
  params_.validate();
}

void BernoulliInd::check(const definitions::WeightReleaseScheme* scheme,
                         const Adversary& adversary) const {
  if (scheme != nullptr)
    throw InvalidArgument("game 'bernoulli_ind' plays without a scheme (scheme 'none')");
  if (dynamic_cast<const Distinguisher*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' is not a distinguisher and cannot play game 'bernoulli_ind'");
}

definitions::TrialOutcome BernoulliInd::play(const definitions::WeightReleaseScheme* /*scheme*/,
                                             const Adversary& adversary, Rng& coins) const {
  Rng challenger = coins.derive("challenger");
  Rng adversary_coins = coins.derive("adversary");
  const int b = challenger.bit() ? 1 : 0;
  const double p = b == 1 ? params_.p1 : params_.p0;

  definitions::Artifact view;
  nn::Tensor samples({params_.samples});
  for (float& x : samples.data) x = challenger.bernoulli(p) ? 1.0f : 0.0f;
  view.tensors.emplace("samples", std::move(samples));
  view.metadata = {{"p0", params_.p0}, {"p1", params_.p1}, {"samples", params_.samples}};

  definitions::OracleAccess no_oracles;
  const auto& distinguisher = static_cast<const Distinguisher&>(adversary);
  const int guess = distinguisher.guess(view, no_oracles, adversary_coins);
  if (guess != 0 && guess != 1)
    throw LogicError("distinguisher '" + adversary.id() + "' returned a guess other than 0 or 1");
  return {guess == b, b, guess, {}};
}

std::optional<double> BernoulliInd::reference_advantage(const Adversary& adversary) const {
  if (adversary.id() == "likelihood_ratio")
    return bernoulli_total_variation(params_.p0, params_.p1, params_.samples);
  if (adversary.id() == "coin_flip") return 0.0;
  return std::nullopt;
}

}  // namespace wrsec::games
