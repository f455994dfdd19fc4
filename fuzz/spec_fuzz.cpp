// Fuzzes the experiment spec grammar (experiments/spec.h): ExperimentSpec::parse (INI lines,
// keys, stop rule, sweep lists, ranges and component values), its grid (cell_count, cells, cell
// keys, alpha per cell, batch size), restrict_axis on each axis, and CellConfig::parse of the
// same text. Components are not instantiated (the params harness does that).
#include <string>

#include "experiments/spec.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace wrsec;

void check_grid(const experiments::ExperimentSpec& spec) {
  const std::size_t count = spec.cell_count();
  if (count == 0 || count > 100000) std::abort();  // a parsed spec has 1..100000 cells
  const double alpha = spec.alpha_per_cell();
  if (!(alpha > 0 && alpha <= spec.alpha)) std::abort();
  if (spec.batch_size() == 0) std::abort();
  if (count > 4096) return;  // keeps one input in milliseconds
  const auto cells = spec.cells();
  if (cells.size() != count) std::abort();
  for (const auto& cell : cells) (void)cell.experiment_id();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(fuzz::as_text(data, size));
  fuzz::expect_valid_or_rejected([&] {
    const auto spec = experiments::ExperimentSpec::parse(text, "<fuzz>", "fuzz");
    check_grid(spec);
    for (const auto& axis : spec.sweep) {
      // The first value, and then every value, as a restriction of the axis.
      fuzz::expect_valid_or_rejected([&] {
        auto restricted = spec;
        restricted.restrict_axis(axis.key, axis.values.front());
        check_grid(restricted);
      });
      if (axis.values.size() > 256) continue;  // restrict_axis is quadratic in the values
      std::string all;
      for (const auto& v : axis.values) all += (all.empty() ? "" : ", ") + v;
      fuzz::expect_valid_or_rejected([&] {
        auto restricted = spec;
        restricted.restrict_axis(axis.key, all);
        check_grid(restricted);
      });
    }
  });
  fuzz::expect_valid_or_rejected([&] { (void)experiments::CellConfig::parse(text, "<fuzz>"); });
  return 0;
}
