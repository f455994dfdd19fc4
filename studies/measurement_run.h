#pragma once
// A measurement's directory, resumable unit by unit (the measurement counterpart of a run
// directory):
//   DIR/manifest.json     id, parameters, seed, unit count, deterministic flag
//   DIR/unit-NNNNN.json   the rows of one finished unit and its wall time (written atomically)
//   DIR/rows.jsonl        every unit's rows in unit order, written once all units are present
// Rows carry no wall-clock stamp or host, so a deterministic measurement's rows.jsonl is
// byte-identical however it was interrupted, resumed or split.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "definitions/params.h"
#include "studies/measurement.h"

namespace wrsec::studies {

// One measurement of a profile: a name (its directory), a registered id and its parameters.
struct MeasurementEntry {
  std::string name;
  std::string id;
  definitions::Params params;
  [[nodiscard]] nlohmann::json to_json() const;
};

struct MeasurementRunOptions {
  std::uint64_t seed = 1;
  int threads = 1;
  std::filesystem::path scratch;
  std::ostream* log = nullptr;
  // Which units this process plays (shards); null = all.
  std::function<bool(std::size_t unit)> mine;
  // Called after each unit is recorded (tests).
  std::function<void(std::size_t unit)> after_unit;
};

// Plays the missing units of `entry` (those `mine` selects) into dir, creating it if needed; a dir
// holding another measurement, parameters or seed is refused. Writes rows.jsonl when every unit
// is present. Returns true when the measurement is complete.
bool run_measurement(const MeasurementEntry& entry, const std::filesystem::path& dir,
                     const MeasurementRunOptions& options);

// Copies the unit files of shard directories of one measurement into out (created if needed) and
// writes rows.jsonl; InvalidArgument when a unit is missing or the shards disagree.
void merge_measurement(const std::vector<std::filesystem::path>& inputs,
                       const std::filesystem::path& out);

// The unit count of a measurement as configured (validates id and parameters).
std::size_t measurement_units(const MeasurementEntry& entry);

}  // namespace wrsec::studies
