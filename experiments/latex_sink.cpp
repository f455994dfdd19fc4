#include "experiments/latex_sink.h"

#include <sstream>

#include "experiments/report_format.h"

namespace wrsec::experiments {

LatexSink::LatexSink(const std::filesystem::path& path) : file_(path) {}

void LatexSink::begin(const RunHeader& /*header*/) {
  file_.write(
      "\\begin{tabular}{rlllrrrrr}\n\\toprule\n"
      "\\# & game & scheme & attack & trials & wins & $\\widehat{\\mathrm{Adv}}$ & lower & "
      "upper \\\\\n\\midrule\n");
}

void LatexSink::write(const CellRecord& record) {
  const CellResult& r = record.result;
  std::ostringstream tex;
  tex << record.index << " & " << tex_escape(r.spec.game) << " & " << tex_escape(r.spec.scheme)
      << " & " << tex_escape(r.spec.attack) << " & " << r.counts.n << " & " << r.counts.wins;
  if (r.error.empty())
    tex << " & " << fmt(r.advantage.estimate) << " & " << fmt(r.advantage.lower) << " & "
        << fmt(r.advantage.upper) << " \\\\\n";
  else
    tex << " & \\multicolumn{3}{l}{failed} \\\\\n";
  file_.write(tex.str());
}

void LatexSink::finish() {
  file_.write("\\bottomrule\n\\end{tabular}\n");
  file_.commit();
}

}  // namespace wrsec::experiments
