#pragma once
// The scorecard of `wrsec evaluate`: per security notion, the verdict from the exact bounds of
// every adversary the battery played (studies/evaluate.h). With tolerance t for the notion and
// bounds that hold simultaneously at 95 % (family alpha split over notions, Bonferroni inside):
//   broken                      some adversary's lower bound exceeds t (the best one is named)
//   not broken by the battery   no adversary's estimate exceeds t; Adv <= max upper bound
//   inconclusive                some estimate exceeds t but no lower bound does
//   incomplete                  cells failed (a trial threw) and no other cell breaks it
//   not applicable              the reason (capability, release form, adversary kinds)
// plus the release's utility cost (output error and Infer cost for protected releases, accuracy
// cost of embedding for ownership schemes), in Markdown, JSON and LaTeX.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "studies/evaluate.h"

namespace wrsec::studies {

struct ScoreCell {
  std::string attack;  // spec syntax, e.g. quantize(bits=8 granularity=tensor)
  std::uint64_t n = 0, wins = 0;
  double estimate = 0, lower = 0, upper = 0;
  std::string error;  // non-empty: the cell failed
  nlohmann::json metrics = nlohmann::json::object();
};

struct ScoreNotion {
  std::string id, title, game;
  std::string kind;     // broken | not broken | inconclusive | incomplete | not applicable
  std::string verdict;  // the verdict line
  std::string convention;
  double tolerance = 0.05;
  double alpha_cell = 0;  // the level of each cell's bounds
  std::optional<ScoreCell> best;
  std::vector<ScoreCell> cells;
  NotionPlan plan;
};

struct Scorecard {
  BatteryPlan plan;
  std::vector<ScoreNotion> notions;
  nlohmann::json utility = nlohmann::json::object();
  std::string utility_text;  // one or two sentences
  std::size_t failed_cells = 0;
  nlohmann::json plugins = nlohmann::json::array();

  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] std::string markdown() const;
  [[nodiscard]] std::string latex() const;
};

// Reads OUT/runs/<notion>/results.jsonl of every played notion; InvalidArgument if one is missing.
Scorecard make_scorecard(const BatteryPlan& plan, const std::filesystem::path& out);

// OUT/scorecard.md, OUT/scorecard.json, OUT/scorecard.tex (each written atomically).
void write_scorecard(const Scorecard& card, const std::filesystem::path& out);

}  // namespace wrsec::studies
