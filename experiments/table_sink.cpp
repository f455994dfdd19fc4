#include "experiments/table_sink.h"

#include <iomanip>
#include <ostream>

namespace wrsec::experiments {

void TableSink::begin(const RunHeader& header) {
  if (!header.provenance) return;
  const Provenance& provenance = *header.provenance;
  out_ << "wrsec " << provenance.wrsec_version << " (" << provenance.git_describe << ", "
       << provenance.build_type << "), " << provenance.threads << " thread(s)\n";
}

void TableSink::write(const CellRecord& record) {
  const CellResult& r = record.result;
  const auto old_flags = out_.flags();
  const auto old_precision = out_.precision();
  const double level = 100.0 * (1.0 - r.alpha);
  out_ << "\ncell      " << r.spec.key() << '\n'
       << "shape     " << definitions::to_string(r.shape) << "; convention "
       << definitions::advantage_convention(r.shape) << '\n'
       << "trials    [" << r.trials.begin << ", " << r.trials.end << "), seed " << r.seed
       << ", wins " << r.counts.wins << " / " << r.counts.n;
  if (r.shape == definitions::GameShape::distinguishing)
    out_ << "  (b=0: " << r.counts.b0_guess1 << "/" << r.counts.b0
         << " guessed 1; b=1: " << r.counts.b1_guess1 << "/" << r.counts.b1 << " guessed 1)";
  out_ << '\n';
  if (!r.error.empty()) {
    out_ << "FAILED    " << r.error << '\n';
    return;
  }
  out_ << std::fixed << std::setprecision(4);
  out_ << "Adv       estimate " << r.advantage.estimate << "; lower bound " << r.advantage.lower
       << " at " << std::setprecision(2) << level << "% (one-sided Clopper-Pearson, alpha "
       << std::defaultfloat << r.alpha << ")" << std::fixed << std::setprecision(4)
       << "; upper bound " << r.advantage.upper << '\n';
  if (r.log2_p)
    out_ << "p-value   " << definitions::format_log2_p(*r.log2_p) << " against Adv = 0\n";
  if (r.reference_advantage)
    out_ << "reference " << *r.reference_advantage << " (closed form, this adversary)\n";
  out_ << "time      " << std::setprecision(3) << r.elapsed_seconds << " s\n";
  out_.flags(old_flags);
  out_.precision(old_precision);
}

void TableSink::finish() {
  out_.flush();
}

}  // namespace wrsec::experiments
