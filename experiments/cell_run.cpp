#include "experiments/cell_run.h"

#include <chrono>

#include "core/errors.h"

namespace wrsec::experiments {

CellResult run_cell(const Catalog& catalog, const CellSpec& spec, const CellRunOptions& options) {
  if (options.trials.size() == 0) throw InvalidArgument("trials must be at least 1");
  if (!(options.alpha > 0.0 && options.alpha < 1.0))
    throw InvalidArgument("alpha must lie in (0, 1)");
  const CellInstance cell = instantiate(catalog, spec);
  const std::string started = utc_timestamp();
  const auto t0 = std::chrono::steady_clock::now();
  const RunOptions run{options.seed, spec.experiment_id(), options.trials, options.threads};
  const CellCounts counts = play_trials(*cell.game, cell.scheme.get(), *cell.adversary, run);
  const auto t1 = std::chrono::steady_clock::now();
  CellResult result = summarize(spec, *cell.game, *cell.adversary, options.seed, options.trials,
                                counts, options.alpha);
  result.elapsed_seconds = std::chrono::duration<double>(t1 - t0).count();
  result.started_at = started;
  return result;
}

}  // namespace wrsec::experiments
