#pragma once
// Experiment specs: an INI file (read with Boost.Program_options) naming one game, scheme and
// adversary, their fixed parameters, the trial budget, alpha, the master seed, and sweep axes.
// The cells of a spec are the Cartesian product of its axes (the first axis varies slowest):
//
//   name = bernoulli_power          # optional; default: the file's stem
//   game = bernoulli_ind            # required
//   scheme = none                   # optional (default none)
//   attack = likelihood_ratio       # required
//   trials = 4000                   # required: trials per cell (the budget when stopping early)
//   seed = 1                        # required: master seed
//   alpha = 0.05                    # family-wise error level (default 0.05)
//   correction = bonferroni         # bonferroni (alpha/K per cell, the default) | none
//   stop_when = lower > 0.1         # optional: none | lower>X | upper<Y (anytime-valid)
//   first_look = 64                 # first checkpoint when stopping early (default 64)
//   batch = 500                     # trials between checkpoints (default: trials/16, at least 16)
//   [game]                          # fixed parameters of each component
//   p0 = 0.4
//   [sweep]                         # axes: a list "a, b, c" or an inclusive range "lo:step:hi"
//   game.p1 = 0.45:0.05:0.6
//   attack = quantize, quantize(bits=4 granularity=channel), prune(rate=0.5)
//
// An axis named game, scheme or attack sweeps the component id; "id(k=v k=v)" adds parameters
// for that value (overriding the component's section for that key). A range whose three parts
// are integers is exact over all of int64. Unknown keys, missing required keys, bad values or
// ranges, more than 100000 points in a range or cells in the grid are rejected with an
// InvalidArgument naming the key; a line that is not "key = value" or "[section]", by number.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "definitions/sequential.h"
#include "experiments/catalog.h"

namespace wrsec::experiments {

enum class Correction { bonferroni, none };
[[nodiscard]] const char* to_string(Correction c);

struct SweepAxis {
  std::string key;                  // "game", "scheme.order", ...
  std::vector<std::string> values;  // expanded (ranges become their points)
};

struct ExperimentSpec {
  std::string name;
  std::string description;
  CellSpec base;  // ids and fixed parameters before the sweep is applied
  std::uint64_t trials = 0;
  std::uint64_t seed = 0;
  double alpha = 0.05;
  Correction correction = Correction::bonferroni;
  definitions::StopRule stop;
  std::uint64_t first_look = 64;
  std::uint64_t batch = 0;  // 0 = trials/16, at least min(trials, 16)
  std::vector<SweepAxis> sweep;

  // Parses the text of a spec; origin names it in error messages (a path or "<string>").
  static ExperimentSpec parse(const std::string& text, const std::string& origin,
                              const std::string& default_name = "spec");
  // Reads and parses a file; InvalidArgument if it cannot be read.
  static ExperimentSpec load(const std::filesystem::path& path);

  // The cells of the grid, in order (one cell when there is no axis); InvalidArgument for more
  // than 100000 cells (a parsed spec has at most that many).
  [[nodiscard]] std::vector<CellSpec> cells() const;
  // The product of the axes' sizes, saturated at SIZE_MAX.
  [[nodiscard]] std::size_t cell_count() const;
  // The error level of each cell's bounds before any early-stopping spend: alpha / K under
  // Bonferroni over the K cells, alpha without correction.
  [[nodiscard]] double alpha_per_cell() const;
  // Trials between checkpoints when not stopping early.
  [[nodiscard]] std::uint64_t batch_size() const;
  // Keeps only the given values of sweep axis `key` (same syntax as the [sweep] section; each must
  // be a value of the axis), in the spec's order; InvalidArgument otherwise. A profile uses this
  // to play a subset of a spec's grid: the cells it keeps are the full grid's cells.
  void restrict_axis(const std::string& key, const std::string& values);
};

// A single-cell configuration (wrsec run --config FILE): the spec grammar's game, scheme, attack,
// trials, seed and alpha keys and [game]/[scheme]/[attack] sections, validated as in a spec, plus
// first-trial, threads (1 to 1024) and out. Every key is optional (the command line completes and
// overrides the file); there is no name, correction, stopping rule or sweep. Unknown keys and bad
// values are rejected with an InvalidArgument naming the file and the key.
//
//   game = bernoulli_ind
//   attack = likelihood_ratio
//   trials = 2000
//   [game]
//   p0 = 0.4
struct CellConfig {
  CellSpec cell;  // ids the file does not give stay empty (scheme: none)
  std::optional<std::uint64_t> trials;
  std::optional<std::uint64_t> first_trial;
  std::optional<std::uint64_t> seed;
  std::optional<int> threads;
  std::optional<double> alpha;
  std::optional<std::string> out;

  // Parses the text of a config; origin names it in error messages ("config file '<origin>'").
  static CellConfig parse(const std::string& text, const std::string& origin);
  // Reads and parses a file; InvalidArgument "cannot read config file '<path>'" if it cannot be
  // read.
  static CellConfig load(const std::filesystem::path& path);
};

// Reads a whole file into a string; InvalidArgument naming it if it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// Reads and parses a JSON file; InvalidArgument "<what> '<path>' is not JSON: ..." (or cannot be
// read).
nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what);

// One component of a sweep axis: "id" or "id(k=v k=v ...)"; InvalidArgument naming the axis key.
std::pair<std::string, definitions::Params> parse_component(const std::string& key,
                                                            const std::string& text);

}  // namespace wrsec::experiments
