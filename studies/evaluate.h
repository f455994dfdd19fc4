#pragma once
// `wrsec evaluate`: the battery. For one scheme (built-in or from a plug-in) and a profile (quick
// or full), every security notion of the battery is checked for applicability against the
// scheme's declared capabilities, and every registered adversary against the notion's game
// (Game::check) and, for extractors and release distinguishers, against the scheme's public
// release form (reads()). The applicable cells become one spec per notion, played as a bundle
// through the reproduction runner (resume, shards, merge, MPI), and the results become a
// scorecard (studies/scorecard.h). Nothing is skipped silently: an inapplicable notion or
// adversary is listed with its reason.
//   OUT/evaluation.json   the plan: scheme, parameters, profile, notions, cells, reasons
//   OUT/bundle/           claims.json (one profile) and specs/<notion>.ini, as played
//   OUT/study.json, OUT/runs/<notion>/   the reproduction runner's directories
//   OUT/scorecard.md, OUT/scorecard.json, OUT/scorecard.tex
// The family-wise error level (0.05) is split evenly over the notions played and Bonferroni-
// corrected over each notion's cells, so every bound of the scorecard holds simultaneously at 95 %.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/communicator.h"
#include "experiments/run_dir.h"

namespace wrsec::studies {

struct EvaluateOptions {
  std::string scheme;
  std::vector<std::pair<std::string, std::string>> scheme_params;  // KEY, VALUE
  std::string profile = "quick";                                   // quick | full
  std::optional<std::string> model;     // replaces the profile's candidate models
  std::optional<std::uint64_t> trials;  // replaces every notion's trials
  std::optional<double> tolerance;      // replaces every notion's tolerance
  std::vector<std::string> notions;     // play only these notions (empty: all)
  std::uint64_t seed = 1;
  std::filesystem::path out;
  int threads = 1;
  experiments::Shard shard;
  const experiments::Communicator* comm = nullptr;
  std::ostream* log = nullptr;
  std::ostream* progress = nullptr;
};

// One security notion as the battery plays it for the scheme.
struct NotionPlan {
  std::string id;     // spec and run directory name
  std::string title;  // what the notion means, in a few words
  std::string game;
  bool applicable = false;
  std::string reason;  // why it is not applicable
  std::vector<std::pair<std::string, std::string>> game_params;
  std::vector<std::string> attacks;                          // cells, in spec syntax
  std::vector<std::pair<std::string, std::string>> skipped;  // attack, why not played
  std::uint64_t trials = 0;
  double tolerance = 0.05;  // an advantage certified above this breaks the notion

  [[nodiscard]] nlohmann::json to_json() const;
};

struct BatteryPlan {
  std::string scheme;
  std::vector<std::pair<std::string, std::string>> scheme_params;
  std::string capabilities;
  std::string profile;
  std::uint64_t seed = 1;
  double family_alpha = 0.05;
  std::vector<NotionPlan> notions;

  [[nodiscard]] std::size_t played() const;
  [[nodiscard]] double alpha_per_notion() const;
  [[nodiscard]] nlohmann::json to_json() const;
};

// The profiles: name and description.
std::vector<std::pair<std::string, std::string>> evaluate_profiles();

// Decides what the battery plays (instantiates the scheme and every adversary; releases one
// probe artifact per hiding notion). InvalidArgument for an unknown scheme, a bad parameter or an
// unknown profile.
BatteryPlan plan_battery(const EvaluateOptions& options);

// The spec text of one applicable notion.
std::string notion_spec(const BatteryPlan& plan, const NotionPlan& notion);

// Plans, writes the bundle, plays it into options.out (continuing what is there) and, unless this
// is a shard, writes the scorecard. Returns the number of cells that failed (their trials threw).
std::size_t run_evaluate(const EvaluateOptions& options);

// Merges complete shard directories of one evaluation into options.out and writes its scorecard.
std::size_t merge_evaluations(const std::vector<std::filesystem::path>& inputs,
                              const EvaluateOptions& options);

}  // namespace wrsec::studies
