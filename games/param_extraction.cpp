#include "games/param_extraction.h"

#include "core/errors.h"
#include "definitions/oracle.h"
#include "games/release_challenge.h"

namespace wrsec::games {

ParamExtractionParams ParamExtractionParams::from(const definitions::Params& params) {
  ParamExtractionParams p;
  p.model = params.get_string("model", p.model);
  p.tau = params.get_double("tau", p.tau);
  p.rho = params.get_double("rho", p.rho);
  p.floor = params.get_double("floor", p.floor);
  p.scope = params.get_string("scope", p.scope);
  p.symmetry = params.get_string("symmetry", p.symmetry);
  p.queries = params.get_int("queries", p.queries);
  p.tee_queries = params.get_int("tee_queries", p.tee_queries);
  p.validate();
  return p;
}

void ParamExtractionParams::validate() const {
  if (!(tau >= 0)) throw InvalidArgument("param_extraction: tau must be >= 0");
  if (!(rho > 0 && rho <= 1)) throw InvalidArgument("param_extraction: rho must lie in (0, 1]");
  if (!(floor >= 0)) throw InvalidArgument("param_extraction: floor must be >= 0");
  if (scope != "hidden" && scope != "all")
    throw InvalidArgument("param_extraction: scope must be hidden or all, not '" + scope + "'");
  if (symmetry != "permutation" && symmetry != "none")
    throw InvalidArgument("param_extraction: symmetry must be permutation or none, not '" +
                          symmetry + "'");
  if (queries < 0) throw InvalidArgument("param_extraction: queries must be >= 0");
  if (tee_queries < 0) throw InvalidArgument("param_extraction: tee_queries must be >= 0");
}

ParamExtraction::ParamExtraction(ParamExtractionParams params)
    : params_(std::move(params)), source_(definitions::ModelSource::parse(params_.model)) {
  params_.validate();
}

void ParamExtraction::check(const definitions::WeightReleaseScheme* scheme,
                            const definitions::Adversary& adversary) const {
  if (scheme == nullptr) throw InvalidArgument("game 'param_extraction' needs a scheme");
  if (dynamic_cast<const definitions::Extractor*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' is not an extractor and cannot play game 'param_extraction'");
  definitions::check_oracle_grants(id(), *scheme, params_.queries, params_.tee_queries);
}

definitions::TrialOutcome ParamExtraction::play(const definitions::WeightReleaseScheme* scheme,
                                                const definitions::Adversary& adversary,
                                                Rng& coins) const {
  const auto& extractor = dynamic_cast<const definitions::Extractor&>(adversary);
  ReleaseChallenge c(*scheme, source_, params_.queries, params_.tee_queries, coins);
  const nn::Model& model = c.model;
  const definitions::Release& release = c.release;
  auto& oracles = c.oracles;
  // The extractor sees the public artifact and the granted oracles only.
  const nn::Model recovered = extractor.extract(release.artifact, oracles.access(), c.adversary);

  const definitions::ExtractionCriterion criterion{params_.tau, params_.floor,
                                                   params_.symmetry == "permutation"};
  const auto score = definitions::score_extraction(model, recovered,
                                                   scheme->hidden_mask(model, release), criterion);
  const double fraction = params_.scope == "hidden" ? score.hidden_fraction() : score.fraction();
  definitions::TrialOutcome out;
  out.win = fraction >= params_.rho;
  out.metrics = {{"fraction_hidden", score.hidden_fraction()},
                 {"fraction_all", score.fraction()},
                 {"max_error_hidden", score.max_error_hidden},
                 {"median_error_hidden", score.median_error_hidden},
                 {"max_error", score.max_error},
                 {"queries_used", static_cast<double>(oracles.infer_used())},
                 {"tee_queries_used", static_cast<double>(oracles.tee_used())},
                 {"tee_work", oracles.tee_work()}};
  return out;
}

}  // namespace wrsec::games
