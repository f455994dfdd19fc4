#include "studies/scorecard.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "definitions/game.h"
#include "experiments/plugin.h"
#include "experiments/report_format.h"
#include "experiments/run_dir.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using experiments::fmt;
using experiments::md_cell;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double number(const json& j) {
  return j.is_number() ? j.get<double>() : kNaN;
}

std::string attack_text(const json& attack) {
  std::string text = attack.value("id", "?");
  const json params = attack.value("params", json::object());
  if (!params.empty()) {
    std::string inner;
    for (const auto& [k, v] : params.items())
      inner +=
          (inner.empty() ? "" : " ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    text += "(" + inner + ")";
  }
  return text;
}

std::string percent(double level) {
  std::ostringstream s;
  s << level * 100 << " %";
  return s.str();
}

// Mean of a metric over the non-failed cells, pooled by finite sample counts; NaN if none.
double pooled_mean(const std::vector<ScoreCell>& cells, const std::string& metric) {
  double sum = 0, count = 0;
  for (const auto& c : cells) {
    if (!c.error.empty() || !c.metrics.contains(metric)) continue;
    const json& m = c.metrics[metric];
    const double finite = number(m.value("n", json(0))) - number(m.value("nonfinite", json(0)));
    if (!(finite > 0) || !m.value("mean", json()).is_number()) continue;
    sum += m["mean"].get<double>() * finite;
    count += finite;
  }
  return count > 0 ? sum / count : kNaN;
}

void decide(ScoreNotion& n, double level) {
  const std::string at = " at " + percent(level);
  if (!n.plan.applicable) {
    n.kind = "not applicable";
    n.verdict = "not applicable: " + n.plan.reason;
    return;
  }
  std::size_t failed = 0;
  const ScoreCell* best = nullptr;
  double max_upper = -std::numeric_limits<double>::infinity();
  bool any_above = false;
  for (const auto& c : n.cells) {
    if (!c.error.empty()) {
      ++failed;
      continue;
    }
    // The best adversary: the highest lower bound; among equals, the higher estimate, then the
    // one that used fewer oracle queries (a zero-query break says more than a query-based one).
    const auto queries = [](const ScoreCell& x) {
      return x.metrics.contains("queries_used")
                 ? number(x.metrics["queries_used"].value("mean", json()))
                 : 0.0;
    };
    if (best == nullptr || c.lower > best->lower ||
        (c.lower == best->lower && (c.estimate > best->estimate ||
                                    (c.estimate == best->estimate && queries(c) < queries(*best)))))
      best = &c;
    max_upper = std::max(max_upper, c.upper);
    any_above = any_above || c.estimate > n.tolerance;
  }
  if (best != nullptr) n.best = *best;
  if (best != nullptr && best->lower > n.tolerance) {
    n.kind = "broken";
    n.verdict = "broken: Adv >= " + fmt(best->lower, 3) + at + " (" + best->attack + ", estimate " +
                fmt(best->estimate, 3) + ")";
  } else if (failed > 0) {
    const auto first = std::find_if(n.cells.begin(), n.cells.end(),
                                    [](const ScoreCell& c) { return !c.error.empty(); });
    n.kind = "incomplete";
    n.verdict = "incomplete: " + std::to_string(failed) + " of " + std::to_string(n.cells.size()) +
                " cell(s) failed (" + first->attack + ": " + first->error + ")";
  } else if (!any_above) {
    n.kind = "not broken";
    n.verdict = "not broken by the battery: Adv <= " + fmt(max_upper, 3) + at + " for all " +
                std::to_string(n.cells.size()) + " adversary setting(s)";
  } else {
    n.kind = "inconclusive";
    n.verdict = "inconclusive: " + best->attack + " has Adv estimate " + fmt(best->estimate, 3) +
                " in [" + fmt(best->lower, 3) + ", " + fmt(best->upper, 3) + "]" + at +
                " (more trials: --profile full or --trials)";
  }
}

std::string params_line(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) out += (out.empty() ? "" : ", ") + ("`" + k + "=" + v + "`");
  return out.empty() ? "none" : out;
}

json cell_json(const ScoreCell& c) {
  json j = {{"attack", c.attack},     {"n", c.n},         {"wins", c.wins},
            {"estimate", c.estimate}, {"lower", c.lower}, {"upper", c.upper},
            {"metrics", c.metrics}};
  if (!c.error.empty()) j["error"] = c.error;
  return j;
}

}  // namespace

Scorecard make_scorecard(const BatteryPlan& plan, const fs::path& out) {
  Scorecard card;
  card.plan = plan;
  for (const auto& p : experiments::loaded_plugins()) card.plugins.push_back(p.to_json());
  const double level = 1 - plan.family_alpha;
  for (const auto& np : plan.notions) {
    ScoreNotion n;
    n.id = np.id;
    n.title = np.title;
    n.game = np.game;
    n.tolerance = np.tolerance;
    n.plan = np;
    if (np.applicable) {
      const fs::path dir = out / "runs" / np.id;
      if (!fs::exists(dir / "results.jsonl"))
        throw InvalidArgument("'" + dir.string() + "' has no results (play the evaluation first)");
      for (const json& r : experiments::read_results(dir)) {
        ScoreCell c;
        c.attack = attack_text(r.value("attack", json::object()));
        c.n = r["counts"].value("n", std::uint64_t{0});
        c.wins = r["counts"].value("wins", std::uint64_t{0});
        c.estimate = number(r["advantage"]["estimate"]);
        c.lower = number(r["advantage"]["lower"]);
        c.upper = number(r["advantage"]["upper"]);
        c.error = r.value("error", "");
        c.metrics = r.value("metrics", json::object());
        n.convention = r.value("convention", "");
        n.alpha_cell = r.value("alpha", 0.0);
        if (!c.error.empty()) ++card.failed_cells;
        n.cells.push_back(std::move(c));
      }
    }
    decide(n, level);
    card.notions.push_back(std::move(n));
  }

  // Utility: what the release costs, read from the cells that measure it.
  std::ostringstream text;
  for (const auto& n : card.notions) {
    if (n.id == "misuse" && n.plan.applicable) {
      const double err = pooled_mean(n.cells, "release_output_rel_error");
      const double cost = pooled_mean(n.cells, "release_cost_ratio");
      const double kl = pooled_mean(n.cells, "release_kl_mean");
      card.utility["release_output_rel_error_mean"] = err;
      card.utility["release_cost_ratio_mean"] = cost;
      if (!std::isnan(kl)) card.utility["release_kl_mean"] = kl;
      text << "Infer's output differs from the original model's by a mean max-relative row error "
              "of "
           << fmt(err, 3) << (std::isnan(kl) ? "" : " (mean KL " + fmt(kl, 3) + ")")
           << "; Infer costs " << fmt(cost, 3) << " x the plain model's multiply-accumulates";
      const double tee = pooled_mean(n.cells, "release_tee_cost_ratio");
      if (!std::isnan(tee)) {
        card.utility["release_tee_cost_ratio_mean"] = tee;
        text << " on the host, and its TEE does " << fmt(tee, 3) << " x as many";
      }
      text << ".";
    }
    if (n.id == "removal" && n.plan.applicable) {
      const double cost = pooled_mean(n.cells, "embed_cost");
      const double original = pooled_mean(n.cells, "acc_original");
      const double marked = pooled_mean(n.cells, "acc_marked");
      card.utility["embed_accuracy_cost_mean"] = cost;
      card.utility["accuracy_original_mean"] = original;
      card.utility["accuracy_marked_mean"] = marked;
      text << "Embedding the mark costs " << fmt(cost * 100, 3)
           << " accuracy points on average (original " << fmt(original * 100, 3) << " %, marked "
           << fmt(marked * 100, 3)
           << " %); the marked model is published in the clear, so Infer costs 1 x the plain "
              "model.";
    }
  }
  card.utility_text = text.str();
  if (card.utility_text.empty())
    card.utility_text = "No notion the battery played measures the release's utility.";
  return card;
}

json Scorecard::to_json() const {
  json n = json::array();
  for (const auto& s : notions) {
    json cells = json::array();
    for (const auto& c : s.cells) cells.push_back(cell_json(c));
    const json planned = s.plan.to_json();
    n.push_back({{"id", s.id},
                 {"title", s.title},
                 {"game", s.game},
                 {"applicable", s.plan.applicable},
                 {"reason", s.plan.reason},
                 {"kind", s.kind},
                 {"verdict", s.verdict},
                 {"convention", s.convention},
                 {"tolerance", s.tolerance},
                 {"alpha_per_cell", s.alpha_cell},
                 {"trials_per_cell", s.plan.trials},
                 {"game_params", planned["game_params"]},
                 {"best", s.best ? cell_json(*s.best) : json(nullptr)},
                 {"cells", cells},
                 {"not_played", planned["skipped"]}});
  }
  json j = plan.to_json();
  j.erase("notions");
  j["schema"] = "wrsec.scorecard.v1";
  j["level"] = 1 - plan.family_alpha;
  j["notions"] = n;
  j["utility"] = utility;
  j["utility_text"] = utility_text;
  j["failed_cells"] = failed_cells;
  j["plugins"] = plugins;
  return j;
}

std::string Scorecard::markdown() const {
  std::ostringstream md;
  const double level = 1 - plan.family_alpha;
  md << "# Scorecard: scheme `" << plan.scheme << "` (profile " << plan.profile << ")\n\n"
     << "Scheme parameters: " << params_line(plan.scheme_params)
     << ". Declared capabilities: " << plan.capabilities << ". Seed " << plan.seed << ".\n\n"
     << "Every bound below is an exact Clopper-Pearson bound (Boost.Math); they hold "
        "simultaneously at "
     << percent(level) << ": the family-wise alpha " << fmt(plan.family_alpha)
     << " is split evenly over the " << plan.played()
     << " notion(s) played and Bonferroni-corrected over each notion's cells. A notion is "
        "broken when an adversary's lower bound exceeds the notion's tolerance.\n\n";
  if (!plugins.empty()) {
    md << "Plug-ins loaded:";
    for (const auto& p : plugins)
      md << " `" << p.value("name", "") << "` (" << p.value("path", "") << ", sha256 "
         << p.value("sha256", "").substr(0, 16) << "...)";
    md << "\n\n";
  }
  md << "## Verdicts\n\n| notion | game | verdict | best adversary | Adv estimate | Adv bounds | "
        "tolerance |\n|---|---|---|---|---:|---|---:|\n";
  for (const auto& n : notions) {
    md << "| " << n.id << " | " << n.game << " | " << md_cell(n.verdict) << " | ";
    if (n.best)
      md << "`" << md_cell(n.best->attack) << "` | " << fmt(n.best->estimate, 3) << " | ["
         << fmt(n.best->lower, 3) << ", " << fmt(n.best->upper, 3) << "] | ";
    else
      md << "– | – | – | ";
    md << fmt(n.tolerance, 3) << " |\n";
  }
  md << "\n## Utility cost of the release\n\n" << utility_text << "\n";
  for (const auto& n : notions) {
    md << "\n## " << n.id << ": " << n.title << "\n\n";
    if (!n.plan.applicable) {
      md << "Not applicable: " << n.plan.reason << ".\n";
      continue;
    }
    md << "Game `" << n.game << "` (" << params_line(n.plan.game_params) << "), " << n.plan.trials
       << " trials per adversary setting, each bound at alpha " << fmt(n.alpha_cell, 3)
       << ". Convention: " << n.convention << "\n\n"
       << "**Verdict: " << md_cell(n.verdict) << "**\n\n"
       << "| adversary | trials | wins | Adv estimate | Adv lower | Adv upper | status "
          "|\n|---|---:|---:|---:|---:|---:|---|\n";
    for (const auto& c : n.cells)
      md << "| `" << md_cell(c.attack) << "` | " << c.n << " | " << c.wins << " | "
         << fmt(c.estimate, 3) << " | " << fmt(c.lower, 3) << " | " << fmt(c.upper, 3) << " | "
         << (c.error.empty() ? "ok" : "**failed**: " + md_cell(c.error)) << " |\n";
    if (!n.plan.skipped.empty()) {
      md << "\n<details><summary>" << n.plan.skipped.size()
         << " adversary setting(s) not played against this notion</summary>\n\n";
      for (const auto& [attack, why] : n.plan.skipped)
        md << "- `" << attack << "`: " << why << "\n";
      md << "\n</details>\n";
    }
  }
  return md.str();
}

std::string Scorecard::latex() const {
  using experiments::tex_escape;
  std::ostringstream tex;
  tex << "% wrsec evaluate scorecard: scheme " << plan.scheme << ", profile " << plan.profile
      << " (generated)\n"
      << "\\begin{tabular}{llll}\n\\toprule\nnotion & best adversary & Adv (bounds at "
      << (1 - plan.family_alpha) * 100 << "\\,\\%) & verdict \\\\\n\\midrule\n";
  for (const auto& n : notions) {
    tex << tex_escape(n.id) << " & ";
    if (n.best)
      tex << "\\texttt{" << tex_escape(n.best->attack) << "} & " << fmt(n.best->estimate, 3) << " ["
          << fmt(n.best->lower, 3) << ", " << fmt(n.best->upper, 3) << "]";
    else
      tex << "-- & --";
    tex << " & " << tex_escape(n.kind) << " \\\\\n";
  }
  tex << "\\bottomrule\n\\end{tabular}\n";
  return tex.str();
}

void write_scorecard(const Scorecard& card, const fs::path& out) {
  AtomicFile md(out / "scorecard.md");
  md.write(card.markdown());
  AtomicFile js(out / "scorecard.json");
  js.write(card.to_json().dump(2) + "\n");
  AtomicFile tex(out / "scorecard.tex");
  tex.write(card.latex());
  md.commit();
  js.commit();
  tex.commit();
}

}  // namespace wrsec::studies
