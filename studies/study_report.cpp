#include "studies/study_report.h"

#include <cmath>
#include <set>
#include <sstream>

#include "experiments/provenance.h"
#include "experiments/report_format.h"
#include "experiments/run_dir.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using experiments::fmt;
using nlohmann::json;

namespace {

std::string cell_text(const json& v) {
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (x != 0 && (std::fabs(x) < 1e-3 || std::fabs(x) >= 1e6)) {
      std::ostringstream out;
      out.precision(3);
      out << std::scientific << x;
      return out.str();
    }
    return fmt(x, 4);
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string md_escape(std::string s) {
  std::string out;
  for (const char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::vector<json> study_cells(const StudyOutputs& outputs, const fs::path& out) {
  std::vector<json> cells;
  for (const auto& s : outputs.specs)
    for (auto& row : experiments::read_results(out / "runs" / s.spec.name)) {
      row["study_spec"] = s.spec.name;
      cells.push_back(std::move(row));
    }
  return cells;
}

std::vector<json> study_measurements(const StudyOutputs& outputs, const fs::path& out) {
  std::vector<json> rows;
  for (const auto& m : outputs.measurements)
    for (auto& row : experiments::read_json_lines(out / "measurements" / m.name / "rows.jsonl"))
      rows.push_back(std::move(row));
  return rows;
}

std::string claims_markdown(const StudyOutputs& o, const fs::path& claims_file) {
  std::ostringstream md;
  md << "# Claims (" << claims_file.string() << ", profile " << o.profile << ")\n\n"
     << "| claim | requirement | measured | met |\n|---|---|---:|---|\n";
  for (std::size_t i = 0; i < o.claims.size(); ++i) {
    const auto& c = o.claims[i];
    const auto& r = o.outcomes[i];
    md << "| " << c.id << ": " << md_escape(c.text) << " | " << md_escape(c.statement()) << " | "
       << (r.measured ? fmt(*r.measured, 6) : "–") << " | " << (r.met ? "yes" : "**NO**") << " |\n";
  }
  return md.str();
}

std::string study_markdown(const StudyOutputs& o, const fs::path& out) {
  const auto prov = experiments::Provenance::current(o.threads);
  std::ostringstream md;
  std::size_t met = 0;
  for (const auto& r : o.outcomes) met += r.met ? 1 : 0;
  md << "# Reproduction: profile " << o.profile << "\n\n";
  if (!o.description.empty()) md << o.description << "\n\n";
  md << "wrsec " << prov.wrsec_version << " (" << prov.git_describe << ", " << prov.build_type
     << ", " << prov.numerics << "), " << o.threads << " thread(s) of " << prov.hardware_threads
     << "; measurement seed " << o.seed << ". " << met << " of " << o.claims.size()
     << " claims met.\n\n"
     << "Search games: Adv = Pr[win] (baseline 0); distinguishing games: Adv = |2 Pr[win] - 1|. "
        "Bounds are exact Clopper-Pearson, one-sided at 1 - alpha per cell, with alpha per cell "
        "as each spec's correction sets it (column alpha).\n\n";
  md << "## Claims\n\n| claim | requirement | measured | met |\n|---|---|---:|---|\n";
  for (std::size_t i = 0; i < o.claims.size(); ++i)
    md << "| " << o.claims[i].id << " | " << md_escape(o.claims[i].statement()) << " | "
       << (o.outcomes[i].measured ? fmt(*o.outcomes[i].measured, 6) : "–") << " | "
       << (o.outcomes[i].met ? "yes" : "**NO**") << " |\n";
  md << "\n## Game grids (one run directory each: runs/<spec>/)\n";
  for (const auto& s : o.specs) {
    const auto rows = experiments::read_results(out / "runs" / s.spec.name);
    md << "\n### " << s.spec.name << "\n\n";
    if (!s.spec.description.empty()) md << s.spec.description << " ";
    md << "Spec " << s.path.filename().string() << ", " << rows.size() << " cell(s), "
       << s.spec.trials << " trials each, family alpha " << s.spec.alpha << " ("
       << experiments::to_string(s.spec.correction) << "). Full table: runs/" << s.spec.name
       << "/report.md.\n\n"
       << "| cell | n | wins | Adv | lower | upper | alpha "
          "|\n|---|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& r : rows)
      md << "| " << md_escape(r.value("cell", "")) << " | "
         << cell_text(experiments::json_at(r, "counts.n")) << " | "
         << cell_text(experiments::json_at(r, "counts.wins")) << " | "
         << cell_text(experiments::json_at(r, "advantage.estimate")) << " | "
         << cell_text(experiments::json_at(r, "advantage.lower")) << " | "
         << cell_text(experiments::json_at(r, "advantage.upper")) << " | "
         << cell_text(experiments::json_at(r, "alpha")) << " |\n";
  }
  md << "\n## Measurements (measurements/<name>/rows.jsonl; wall times are best of repeats)\n";
  for (const auto& m : o.measurements) {
    const auto rows = experiments::read_json_lines(out / "measurements" / m.name / "rows.jsonl");
    md << "\n### " << m.name << " (" << m.id << ")\n\n";
    if (rows.empty()) continue;
    std::vector<std::string> columns;
    std::set<std::string> seen = {"measurement", "unit", "kind"};
    for (const auto& r : rows)
      for (const auto& [k, v] : r.items())
        if (!v.is_structured() && seen.insert(k).second) columns.push_back(k);
    md << "|";
    for (const auto& c : columns) md << " " << c << " |";
    md << "\n|";
    for (std::size_t i = 0; i < columns.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& r : rows) {
      md << "|";
      for (const auto& c : columns)
        md << " " << (r.contains(c) ? md_escape(cell_text(r[c])) : "") << " |";
      md << "\n";
    }
  }
  return md.str();
}

}  // namespace wrsec::studies
