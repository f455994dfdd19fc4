#include "experiments/csv_sink.h"

#include <set>
#include <sstream>
#include <string>

#include "experiments/report_format.h"

namespace wrsec::experiments {
CsvSink::CsvSink(const std::filesystem::path& path) : file_(path) {}

void CsvSink::begin(const RunHeader& /*header*/) {
  records_.clear();
}

void CsvSink::write(const CellRecord& record) {
  records_.push_back(record);
}

void CsvSink::finish() {
  std::set<std::string> metric_names;
  for (const auto& rec : records_)
    for (const auto& [name, m] : rec.result.counts.metrics) metric_names.insert(name);
  std::ostringstream csv;
  csv << "cell,game,scheme,attack,params,trials_begin,trials_end,n,wins,estimate,lower,upper,"
         "alpha,stopped_early";
  for (const auto& m : metric_names) csv << "," << m << "_mean";
  csv << "\n";
  csv.precision(17);
  for (const auto& rec : records_) {
    const CellResult& r = rec.result;
    csv << rec.index << "," << csv_field(r.spec.game) << "," << csv_field(r.spec.scheme) << ","
        << csv_field(r.spec.attack) << "," << csv_field(params_text(r.spec)) << ","
        << r.trials.begin << "," << r.trials.end << "," << r.counts.n << "," << r.counts.wins << ","
        << r.advantage.estimate << "," << r.advantage.lower << "," << r.advantage.upper << ","
        << r.alpha << "," << (rec.stopped_early ? 1 : 0);
    for (const auto& m : metric_names) {
      csv << ",";
      const auto it = r.counts.metrics.find(m);
      if (it != r.counts.metrics.end() && it->second.n > it->second.nonfinite)
        csv << it->second.mean();
    }
    csv << "\n";
  }
  file_.write(csv.str());
  file_.commit();
}

}  // namespace wrsec::experiments
