#include "games/wm_removal.h"

#include <cmath>
#include <limits>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/metrics.h"

namespace wrsec::games {

WmRemovalParams WmRemovalParams::from(const definitions::Params& params) {
  WmRemovalParams p;
  p.model = params.get_string("model", p.model);
  p.delta = params.get_double("delta", p.delta);
  p.grant_data = params.get_bool("grant_data", p.grant_data);
  p.data.read(params, "wm_removal");
  p.validate();
  return p;
}

void WmRemovalParams::validate() const {
  if (!(delta >= 0 && delta <= 1)) throw InvalidArgument("wm_removal: delta must lie in [0, 1]");
}

WmRemoval::WmRemoval(WmRemovalParams params)
    : params_(std::move(params)), source_(definitions::ModelSource::parse(params_.model)) {
  params_.validate();
  const nn::Architecture arch = source_.architecture();
  if (arch.kind != nn::Architecture::Kind::mlp || arch.input_size() != 784 ||
      arch.output_size() != 10)
    throw InvalidArgument(
        "wm_removal: model must be a Fashion-MNIST classifier (mlp 784 → 10), got " +
        arch.to_spec());
}

void WmRemoval::check(const definitions::WeightReleaseScheme* scheme,
                      const definitions::Adversary& adversary) const {
  require_ownership_scheme(scheme, id());
  if (dynamic_cast<const definitions::Remover*>(&adversary) == nullptr)
    throw InvalidArgument("attack '" + adversary.id() +
                          "' is not a removal adversary and cannot play game 'wm_removal'");
}

definitions::TrialOutcome WmRemoval::play(const definitions::WeightReleaseScheme* scheme,
                                          const definitions::Adversary& adversary,
                                          Rng& coins) const {
  const auto& remover = dynamic_cast<const definitions::Remover&>(adversary);
  const Rng challenger = coins.derive("challenger");
  Rng adversary_coins = coins.derive("adversary");
  const OwnerRelease owner = release_owner_model(source_, *scheme, challenger);
  const nn::Model& model = owner.original;
  const definitions::Release& release = owner.release;
  const nn::Model& marked = owner.marked;

  const auto own = scheme->for_owner(kAdversaryIdentity);
  const auto attacker = params_.data.attacker();
  definitions::RemovalContext context;
  context.data = params_.grant_data ? attacker.get() : nullptr;
  context.scheme = own.get();
  const nn::Model attacked = remover.remove(marked, context, adversary_coins);

  const auto eval = params_.data.eval();
  const nn::Matrix marked_out = marked.forward(eval->images);
  double acc_attacked = 0;
  double max_change = std::numeric_limits<double>::quiet_NaN();
  definitions::VerifyResult after;
  std::uint64_t queries = 0;
  try {
    attacked.validate();
    const nn::Matrix attacked_out = attacked.forward(eval->images);
    acc_attacked = nn::accuracy(attacked_out, eval->labels);
    if (attacked_out.cols() == marked_out.cols()) {
      // In double, so that the number measures the transform, not float summation order.
      const nn::MatrixD x = eval->images.cast<double>();
      max_change = (attacked.forward(x) - marked.forward(x)).cwiseAbs().maxCoeff();
    }
    after = check_suspect(*scheme, release.secret, attacked, &queries);
  } catch (const InvalidArgument&) {
    // A malformed model (wrong input size, non-finite weights) is not a usable model: it keeps
    // accuracy 0 and is not verified, so it loses on utility.
    acc_attacked = 0;
  }
  const definitions::VerifyResult before = check_suspect(*scheme, release.secret, marked);

  const double acc_original = nn::accuracy(model, eval->images, eval->labels);
  const double acc_marked = nn::accuracy(marked_out, eval->labels);
  definitions::TrialOutcome outcome;
  outcome.win = !after.accepted && acc_marked - acc_attacked <= params_.delta;
  outcome.metrics = {
      {"detected", after.accepted ? 1.0 : 0.0},
      {"marked_detected", before.accepted ? 1.0 : 0.0},
      {"bit_accuracy", after.bits > 0 ? double(after.matches) / double(after.bits) : 0.0},
      {"log2_p", after.log2_p},
      {"acc_original", acc_original},
      {"acc_marked", acc_marked},
      {"acc_attacked", acc_attacked},
      {"acc_drop", acc_marked - acc_attacked},
      {"embed_cost", acc_original - acc_marked},
      {"max_logit_change", max_change},
      {"verify_queries", static_cast<double>(queries)}};
  return outcome;
}

}  // namespace wrsec::games
