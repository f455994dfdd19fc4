#include "experiments/results.h"

#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/errors.h"

namespace wrsec::experiments {

namespace {

// What a cell's result states before any bound: the cell, its game's shape, the trials and counts.
CellResult cell_base(const CellSpec& spec, const definitions::Game& game, std::uint64_t seed,
                     TrialRange trials, const CellCounts& counts, double alpha) {
  CellResult r;
  r.spec = spec;
  r.shape = game.shape();
  r.baseline = game.shape() == definitions::GameShape::search ? game.baseline() : 0.0;
  r.seed = seed;
  r.trials = trials;
  r.counts = counts;
  r.alpha = alpha;
  return r;
}

}  // namespace

CellResult summarize(const CellSpec& spec, const definitions::Game& game,
                     const definitions::Adversary& adversary, std::uint64_t seed, TrialRange trials,
                     const CellCounts& counts, double alpha) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw InvalidArgument("alpha must lie in (0, 1)");
  if (counts.n == 0) throw InvalidArgument("a cell needs at least one trial");
  CellResult r = cell_base(spec, game, seed, trials, counts, alpha);
  r.win_rate_two_sided = definitions::cp_two_sided(counts.wins, counts.n, alpha);
  if (r.shape == definitions::GameShape::distinguishing) {
    r.advantage = definitions::distinguishing_advantage(counts.wins, counts.n, alpha);
    r.log2_p = definitions::log2_binomial_tail(counts.wins, counts.n, 0.5);
  } else {
    r.advantage = definitions::search_advantage(counts.wins, counts.n, alpha, r.baseline);
    // Against baseline 0 any win is impossible under the null: the p-value is 0 or 1, not useful.
    if (r.baseline > 0.0 && r.baseline < 1.0)
      r.log2_p = definitions::log2_binomial_tail(counts.wins, counts.n, r.baseline);
  }
  r.reference_advantage = game.reference_advantage(adversary);
  return r;
}

CellResult failed_cell(const CellSpec& spec, const definitions::Game& game, std::uint64_t seed,
                       TrialRange trials, const CellCounts& counts, double alpha,
                       std::string error) {
  if (error.empty()) throw LogicError("failed_cell: empty error");
  CellResult r = cell_base(spec, game, seed, trials, counts, alpha);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.advantage = {nan, nan, nan, alpha};
  r.win_rate_two_sided = {nan, nan};
  r.error = std::move(error);
  return r;
}

nlohmann::json CellResult::core_json() const {
  nlohmann::json j;
  j["schema"] = "wrsec.cell.v1";
  j["cell"] = spec.key();
  j["game"] = {{"id", spec.game}, {"params", spec.game_params.values()}};
  j["scheme"] = {{"id", spec.scheme}, {"params", spec.scheme_params.values()}};
  j["attack"] = {{"id", spec.attack}, {"params", spec.attack_params.values()}};
  j["shape"] = definitions::to_string(shape);
  j["convention"] = definitions::advantage_convention(shape);
  j["baseline"] = baseline;
  j["seed"] = seed;
  j["experiment_id"] = spec.experiment_id();
  j["trials"] = {{"begin", trials.begin}, {"end", trials.end}};
  j["counts"] = {{"n", counts.n},   {"wins", counts.wins},
                 {"b0", counts.b0}, {"b0_guess1", counts.b0_guess1},
                 {"b1", counts.b1}, {"b1_guess1", counts.b1_guess1}};
  if (!counts.metrics.empty()) {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [name, summary] : counts.metrics) {
      const bool any = summary.n > summary.nonfinite;
      m[name] = {{"n", summary.n},
                 {"nonfinite", summary.nonfinite},
                 {"mean", any ? nlohmann::json(summary.mean()) : nlohmann::json(nullptr)},
                 {"min", any ? nlohmann::json(summary.min) : nlohmann::json(nullptr)},
                 {"max", any ? nlohmann::json(summary.max) : nlohmann::json(nullptr)},
                 {"sum_exact", summary.sum.to_string()}};
    }
    j["metrics"] = std::move(m);
  }
  j["alpha"] = alpha;
  j["advantage"] = {{"estimate", advantage.estimate},
                    {"lower", advantage.lower},
                    {"upper", advantage.upper},
                    {"method", "exact Clopper-Pearson (Boost.Math)"},
                    {"lower_level", "one-sided, 1-alpha"},
                    {"upper_level", shape == definitions::GameShape::distinguishing
                                        ? "two-sided over both signs, 1-alpha"
                                        : "one-sided, 1-alpha"}};
  j["win_rate"] = {{"estimate", static_cast<double>(counts.wins) / static_cast<double>(counts.n)},
                   {"two_sided", {win_rate_two_sided.lo, win_rate_two_sided.hi}}};
  j["log2_p"] = log2_p ? nlohmann::json(*log2_p) : nlohmann::json(nullptr);
  j["reference_advantage"] =
      reference_advantage ? nlohmann::json(*reference_advantage) : nlohmann::json(nullptr);
  if (!error.empty()) {
    j["status"] = "failed";
    j["error"] = error;
  }
  return j;
}

nlohmann::json CellResult::to_json(const Provenance& provenance) const {
  nlohmann::json j = core_json();
  j["elapsed_seconds"] = elapsed_seconds;
  j["started_at"] = started_at;
  j["provenance"] = provenance.to_json();
  return j;
}

namespace {

std::string hex_double(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%a", x);
  return buffer;
}

double parse_hex_double(const nlohmann::json& j, const char* what) {
  if (!j.is_string()) throw InvalidArgument(std::string("counts: '") + what + "' must be a string");
  const std::string text = j.get<std::string>();
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw InvalidArgument(std::string("counts: malformed '") + what + "': '" + text + "'");
  return x;
}

std::uint64_t get_count(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j.at(key).is_number_unsigned())
    throw InvalidArgument(std::string("counts: '") + key + "' must be a non-negative integer");
  return j.at(key).get<std::uint64_t>();
}

}  // namespace

nlohmann::json counts_to_json(const CellCounts& counts) {
  nlohmann::json j = {{"n", counts.n},   {"wins", counts.wins},
                      {"b0", counts.b0}, {"b0_guess1", counts.b0_guess1},
                      {"b1", counts.b1}, {"b1_guess1", counts.b1_guess1}};
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [name, s] : counts.metrics)
    m[name] = {{"n", s.n},
               {"nonfinite", s.nonfinite},
               {"sum_exact", s.sum.to_string()},
               {"min", hex_double(s.min)},
               {"max", hex_double(s.max)}};
  j["metrics"] = std::move(m);
  return j;
}

CellCounts counts_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw InvalidArgument("counts must be a JSON object");
  CellCounts c;
  c.n = get_count(j, "n");
  c.wins = get_count(j, "wins");
  c.b0 = get_count(j, "b0");
  c.b0_guess1 = get_count(j, "b0_guess1");
  c.b1 = get_count(j, "b1");
  c.b1_guess1 = get_count(j, "b1_guess1");
  if (c.wins > c.n || c.b0 + c.b1 > c.n || c.b0_guess1 > c.b0 || c.b1_guess1 > c.b1)
    throw InvalidArgument("counts are inconsistent (more wins or bits than trials)");
  if (j.contains("metrics")) {
    if (!j.at("metrics").is_object()) throw InvalidArgument("counts: 'metrics' must be an object");
    for (const auto& [name, m] : j.at("metrics").items()) {
      MetricSummary s;
      s.n = get_count(m, "n");
      s.nonfinite = get_count(m, "nonfinite");
      if (!m.contains("sum_exact") || !m.at("sum_exact").is_string())
        throw InvalidArgument("counts: metric '" + name + "' lacks sum_exact");
      s.sum = ExactSum::from_string(m.at("sum_exact").get<std::string>());
      s.min = parse_hex_double(m.value("min", nlohmann::json()), "min");
      s.max = parse_hex_double(m.value("max", nlohmann::json()), "max");
      c.metrics[name] = std::move(s);
    }
  }
  return c;
}

}  // namespace wrsec::experiments
