#pragma once
// Running one cell end to end: instantiate the components, play the trial range, summarize the
// counts into bounds, and time it.
#include "experiments/catalog.h"
#include "experiments/results.h"

namespace wrsec::experiments {

struct CellRunOptions {
  std::uint64_t seed = 0;
  TrialRange trials;
  int threads = 1;
  double alpha = 0.05;
};

CellResult run_cell(const Catalog& catalog, const CellSpec& spec, const CellRunOptions& options);

}  // namespace wrsec::experiments
