#include "studies/study_report.h"

#include <cmath>
#include <set>
#include <sstream>

#include "experiments/provenance.h"
#include "experiments/report_format.h"
#include "experiments/run_dir.h"
#include "studies/row_sink.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using experiments::fmt;
using nlohmann::json;

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
    md << "| " << c.id << ": " << markdown_cell(c.text) << " | " << markdown_cell(c.statement())
       << " | " << (r.measured ? fmt(*r.measured, 6) : "–") << " | " << (r.met ? "yes" : "**NO**")
       << " |\n";
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
    md << "| " << o.claims[i].id << " | " << markdown_cell(o.claims[i].statement()) << " | "
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
      md << "| " << markdown_cell(r.value("cell", "")) << " | "
         << markdown_cell(experiments::json_at(r, "counts.n")) << " | "
         << markdown_cell(experiments::json_at(r, "counts.wins")) << " | "
         << markdown_cell(experiments::json_at(r, "advantage.estimate")) << " | "
         << markdown_cell(experiments::json_at(r, "advantage.lower")) << " | "
         << markdown_cell(experiments::json_at(r, "advantage.upper")) << " | "
         << markdown_cell(experiments::json_at(r, "alpha")) << " |\n";
  }
  md << "\n## Measurements (measurements/<name>/rows.jsonl and rows.csv; wall times are best of "
        "repeats)\n";
  for (const auto& m : o.measurements) {
    MarkdownRowSink table(md, m.id);
    table.begin(m.name);
    for (const auto& row :
         experiments::read_json_lines(out / "measurements" / m.name / "rows.jsonl"))
      table.write(row);
    table.finish();
  }
  return md.str();
}

}  // namespace wrsec::studies
