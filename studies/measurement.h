#pragma once
// Measurements: the quantities a study needs that are not games (wall times next to a FLOP model,
// utility versus N, streamed Llama-shaped layers, the empirical null of a verification score).
// A measurement is a list of units (one order N, one layer, one scheme); unit i yields JSON rows
// and depends only on (parameters, seed, i), so a run is resumed unit by unit and split over
// shards by unit. `deterministic()` says whether the rows are a pure function of those inputs
// (no wall times); only deterministic rows belong in byte-identity comparisons.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "definitions/params.h"
#include "definitions/registry.h"

namespace wrsec::studies {

struct MeasurementContext {
  std::uint64_t seed = 1;
  int threads = 1;
  std::filesystem::path scratch;  // a private directory for large temporary files
  std::ostream* log = nullptr;    // progress lines, if set
};

class Measurement {
 public:
  virtual ~Measurement() = default;
  [[nodiscard]] virtual std::size_t units() const = 0;
  [[nodiscard]] virtual std::string unit_label(std::size_t unit) const = 0;
  // The rows of one unit (a JSON array of objects).
  [[nodiscard]] virtual nlohmann::json run_unit(std::size_t unit,
                                                const MeasurementContext& context) const = 0;
  [[nodiscard]] virtual bool deterministic() const = 0;
};

using MeasurementRegistry = definitions::Registry<Measurement>;

// Every built-in measurement (taylormlp.*, watermark.*, machine.*).
void register_builtin_measurements(MeasurementRegistry& registry);
const MeasurementRegistry& builtin_measurements();

}  // namespace wrsec::studies
