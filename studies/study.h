#pragma once
// A study profile as played: its specs (each a spec file, optionally with fewer trials or a
// restricted sweep) and measurements, and what a finished profile hands to its reporters.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/claims.h"
#include "experiments/spec.h"
#include "studies/measurement_run.h"

namespace wrsec::studies {

struct StudySpec {
  std::filesystem::path path;
  experiments::ExperimentSpec spec;  // with the profile's trials and restrictions applied
  std::optional<std::uint64_t> trials;
  std::map<std::string, std::string> restrict;
  double estimate_seconds = 0;
};

// A complete profile's outputs, for the reporters (study_report.h, paper_inputs.h).
struct StudyOutputs {
  std::string profile;
  std::string description;
  std::uint64_t seed = 1;
  int threads = 1;
  const std::vector<StudySpec>& specs;
  const std::vector<MeasurementEntry>& measurements;
  const std::vector<experiments::Claim>& claims;
  const std::vector<experiments::ClaimOutcome>& outcomes;
};

// Every run's results.jsonl rows (in profile order), each with "study_spec" = the spec's name.
std::vector<nlohmann::json> study_cells(const StudyOutputs& outputs,
                                        const std::filesystem::path& out);
// Every measurement's rows (in profile order).
std::vector<nlohmann::json> study_measurements(const StudyOutputs& outputs,
                                               const std::filesystem::path& out);

}  // namespace wrsec::studies
