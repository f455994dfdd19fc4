#pragma once
// Claims: each quantitative statement a paper makes, as a check on experiment outputs.
//   rows     = the JSON lines of `source` (a file under the reproduction directory, or a list of
//              them, read in order; a path component may hold shell wildcards, "runs/removal_*/
//              results.jsonl", matching the files that exist in lexicographic order) that satisfy
//              every condition of `where` (path → value, [any of], {"not": v}, {">=": x},
//              {"<=": x}); paths are dotted ("scheme.params.order", "advantage.lower")
//   measured = aggregate(value over rows): each (the worst row for the comparison) | min | max |
//              mean | count
//   met      = rows >= min_rows and measured `require` target within tolerance, where
//              ">=": measured >= target - tolerance, "<=": measured <= target + tolerance,
//              "==": |measured - target| <= tolerance
// A claim may name a LaTeX macro that the paper uses for the measured value.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace wrsec::experiments {

struct Claim {
  std::string id;
  std::string text;
  std::vector<std::string> sources;  // "source": a path or a list of paths
  nlohmann::json where = nlohmann::json::object();
  std::string value;
  std::string aggregate = "each";
  std::string require = ">=";
  double target = 0.0;
  double tolerance = 0.0;
  std::size_t min_rows = 1;
  std::vector<std::string> profiles;  // empty: every profile
  std::string macro;
  int digits = 4;

  // InvalidArgument naming the claim and the key for a malformed entry.
  static Claim from_json(const nlohmann::json& j);
  [[nodiscard]] bool applies_to(const std::string& profile) const;
  [[nodiscard]] std::string statement() const;  // e.g. "min advantage.lower >= 0.99 (tol 0)"
};

struct ClaimOutcome {
  std::string id;
  bool met = false;
  std::size_t rows = 0;
  std::optional<double> measured;
  std::string witness;  // the deciding row's "cell" (or its index) for `each`, min and max
  std::string problem;  // why it failed, when it did
  [[nodiscard]] nlohmann::json to_json(const Claim& claim) const;
};

// Evaluates one claim against the outputs under dir.
ClaimOutcome evaluate_claim(const Claim& claim, const std::filesystem::path& dir);

// The value at a dotted path of a JSON object; null when absent.
nlohmann::json json_at(const nlohmann::json& j, const std::string& path);

// Reads JSON lines; InvalidArgument naming the file and line for malformed input.
std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path);

}  // namespace wrsec::experiments
