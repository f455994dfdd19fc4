#include "games/misuse.h"

#include <cmath>
#include <limits>
#include <optional>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "definitions/oracle.h"
#include "games/release_challenge.h"
#include "nn/metrics.h"

namespace wrsec::games {

MisuseParams MisuseParams::from(const definitions::Params& params) {
  MisuseParams p;
  p.model = params.get_string("model", p.model);
  p.epsilon = params.get_double("epsilon", p.epsilon);
  p.kappa = params.get_double("kappa", p.kappa);
  p.inputs = params.get_string("inputs", p.inputs);
  p.eval_samples = params.get_int("eval_samples", p.eval_samples);
  p.queries = params.get_int("queries", p.queries);
  p.tee_queries = params.get_int("tee_queries", p.tee_queries);
  p.accuracy_ratio = params.get_double("accuracy_ratio", p.accuracy_ratio);
  p.validate();
  return p;
}

void MisuseParams::validate() const {
  if (!(epsilon >= 0)) throw InvalidArgument("misuse: epsilon must be >= 0");
  if (!(kappa > 0)) throw InvalidArgument("misuse: kappa must be > 0");
  if (eval_samples < 1 || eval_samples > 1'000'000)
    throw InvalidArgument("misuse: eval_samples must lie in [1, 1000000]");
  if (queries < 0) throw InvalidArgument("misuse: queries must be >= 0");
  if (tee_queries < 0) throw InvalidArgument("misuse: tee_queries must be >= 0");
  if (!(accuracy_ratio >= 0 && accuracy_ratio <= 1))
    throw InvalidArgument("misuse: accuracy_ratio must lie in [0, 1] (0 = output criterion)");
}

Misuse::Misuse(MisuseParams params)
    : params_(std::move(params)),
      source_(definitions::ModelSource::parse(params_.model)),
      inputs_(params_.inputs.empty()
                  ? definitions::InputSource::default_for(source_.architecture(), true)
                  : definitions::InputSource::parse(params_.inputs)) {
  params_.validate();
  if (params_.accuracy_ratio > 0 &&
      (!inputs_.labelled() || source_.architecture().kind != nn::Architecture::Kind::mlp))
    throw InvalidArgument("misuse: accuracy_ratio needs a classifier (an MLP; the model is " +
                          source_.architecture().to_spec() +
                          ") and labelled inputs (input source '" + inputs_.spec() + "')");
}

double max_relative_row_error(const nn::Matrix& a, const nn::Matrix& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (std::int64_t k = 0; k < a.rows(); ++k) {
    const double diff = (a.row(k) - b.row(k)).cast<double>().norm();
    const double norm = b.row(k).cast<double>().norm();
    const double e = norm > 0 ? diff / norm : diff;
    if (std::isnan(e)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, e);
  }
  return worst;
}

void Misuse::check(const definitions::WeightReleaseScheme* scheme,
                   const definitions::Adversary& adversary) const {
  if (scheme == nullptr) throw InvalidArgument("game 'misuse' needs a scheme");
  const auto caps = scheme->capabilities();
  if (!caps.has(definitions::Capability::infer) && !caps.has(definitions::Capability::tee))
    throw InvalidArgument("game 'misuse' needs a scheme with infer; '" + scheme->id() +
                          "' has none");
  definitions::check_oracle_grants(id(), *scheme, params_.queries, params_.tee_queries);
  if (dynamic_cast<const definitions::Extractor*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' does not output a model and cannot play game 'misuse'");
}

definitions::TrialOutcome Misuse::play(const definitions::WeightReleaseScheme* scheme,
                                       const definitions::Adversary& adversary, Rng& coins) const {
  const auto& extractor = dynamic_cast<const definitions::Extractor&>(adversary);
  ReleaseChallenge c(*scheme, source_, params_.queries, params_.tee_queries, coins);
  const Rng& challenger = c.challenger;
  Rng eval_coins = challenger.derive("eval");
  const nn::Model& model = c.model;
  const definitions::Release& release = c.release;
  auto& oracles = c.oracles;
  const nn::Model program = extractor.extract(release.artifact, oracles.access(), c.adversary);

  const bool by_accuracy = params_.accuracy_ratio > 0;
  nn::Labels truth;
  const nn::Matrix x =
      by_accuracy
          ? inputs_.draw_labelled(params_.eval_samples, model.arch.input_size(), eval_coins, truth)
          : inputs_.draw(params_.eval_samples, model.arch.input_size(), eval_coins);
  const nn::Matrix reference = model.forward(x);
  const double plain_cost = model.arch.macs_per_example();

  double error = std::numeric_limits<double>::infinity();
  double cost_ratio = std::numeric_limits<double>::infinity();
  double agreement = 0;
  double kl = std::numeric_limits<double>::infinity();
  double accuracy = 0;
  try {
    program.validate();
    if (program.arch.input_size() == model.arch.input_size() &&
        program.arch.output_size() == model.arch.output_size()) {
      const nn::Matrix out = program.forward(x);
      error = max_relative_row_error(out, reference);
      cost_ratio = program.arch.macs_per_example() / plain_cost;
      if (model.arch.kind == nn::Architecture::Kind::mlp) {
        agreement = nn::argmax_agreement(out, reference);
        kl = nn::kl_divergence(reference, out).mean;
        if (by_accuracy) accuracy = nn::accuracy(out, truth);
      }
    }
  } catch (const InvalidArgument&) {
    // A malformed program (bad shapes, non-finite weights) simply loses.
  }
  // The release's own output: through a TEE of the challenger's (not counted as queries) when the
  // scheme has one.
  const bool tee = scheme->capabilities().has(definitions::Capability::tee);
  std::optional<definitions::TeeOracle> challenger_tee;
  if (tee) challenger_tee.emplace(scheme->provision_tee(release), challenger.derive("tee/eval"));
  const nn::Matrix released = tee ? challenger_tee->infer(x) : scheme->infer(release.artifact, x);

  const double victim_accuracy = by_accuracy ? nn::accuracy(reference, truth) : 0.0;
  const bool agree =
      by_accuracy ? victim_accuracy > 0 && accuracy >= params_.accuracy_ratio * victim_accuracy
                  : error <= params_.epsilon;
  definitions::TrialOutcome outcome;
  outcome.win = agree && cost_ratio < params_.kappa;
  outcome.metrics = {{"output_rel_error", error},
                     {"cost_ratio", cost_ratio},
                     {"release_cost_ratio", scheme->infer_macs(release.artifact) / plain_cost},
                     {"release_output_rel_error", max_relative_row_error(released, reference)},
                     {"queries_used", static_cast<double>(oracles.infer_used())},
                     {"tee_queries_used", static_cast<double>(oracles.tee_used())}};
  if (tee) {
    // The TEE's multiply-adds per example, against the plain model's.
    outcome.metrics.emplace_back(
        "release_tee_cost_ratio",
        challenger_tee->work() / static_cast<double>(params_.eval_samples) / plain_cost);
  }
  if (model.arch.kind == nn::Architecture::Kind::mlp) {
    outcome.metrics.emplace_back("argmax_agreement", agreement);
    outcome.metrics.emplace_back("kl_mean", kl);
    outcome.metrics.emplace_back("release_kl_mean", nn::kl_divergence(reference, released).mean);
  }
  if (by_accuracy) {
    outcome.metrics.emplace_back("accuracy", accuracy);
    outcome.metrics.emplace_back("victim_accuracy", victim_accuracy);
    outcome.metrics.emplace_back("accuracy_ratio",
                                 victim_accuracy > 0 ? accuracy / victim_accuracy : 0.0);
    outcome.metrics.emplace_back("release_accuracy", nn::accuracy(released, truth));
    // The artifact's own model without the TEE (what the lock leaves), when the artifact is one.
    double artifact_accuracy = std::numeric_limits<double>::quiet_NaN();
    try {
      artifact_accuracy =
          nn::accuracy(definitions::artifact_model(release.artifact).forward(x), truth);
    } catch (const InvalidArgument&) {
    }
    if (!std::isnan(artifact_accuracy))
      outcome.metrics.emplace_back("artifact_accuracy", artifact_accuracy);
  }
  return outcome;
}

}  // namespace wrsec::games
