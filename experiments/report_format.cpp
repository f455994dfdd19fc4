#include "experiments/report_format.h"

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

namespace wrsec::experiments {

std::string fmt(double v, int precision) {
  if (std::isnan(v)) return "–";
  std::ostringstream o;
  if (v != 0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5))
    o << std::scientific << std::setprecision(2) << v;
  else
    o << std::fixed << std::setprecision(precision) << v;
  return o.str();
}

double metric(const CellResult& r, const std::string& name, const char* which) {
  const auto it = r.counts.metrics.find(name);
  if (it == r.counts.metrics.end() || it->second.n == it->second.nonfinite)
    return std::numeric_limits<double>::quiet_NaN();
  const MetricSummary& m = it->second;
  const std::string w = which;
  return w == "mean" ? m.mean() : w == "min" ? m.min : m.max;
}

}  // namespace wrsec::experiments
