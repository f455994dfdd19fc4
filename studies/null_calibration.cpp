#include "studies/null_calibration.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>

#include "core/errors.h"

namespace wrsec::studies {

NullThresholds calibrate_null(std::vector<double> scores, double p) {
  if (scores.size() < 2) throw InvalidArgument("calibrate_null: needs at least 2 null scores");
  if (!(p > 0 && p < 1)) throw InvalidArgument("calibrate_null: p must lie in (0, 1)");
  NullThresholds t;
  double sum = 0;
  for (double s : scores) sum += s;
  t.mean = sum / double(scores.size());
  double sq = 0;
  for (double s : scores) sq += (s - t.mean) * (s - t.mean);
  t.std = std::sqrt(sq / double(scores.size() - 1));
  const boost::math::normal_distribution<double> normal;
  t.gaussian = t.mean + t.std * boost::math::quantile(boost::math::complement(normal, p));
  std::sort(scores.begin(), scores.end());
  const double m = static_cast<double>(scores.size());
  const auto r = static_cast<std::size_t>(std::ceil((1 - p) * (m + 1) - 1e-9));
  if (r >= 1 && r <= scores.size()) t.quantile = scores[r - 1];
  return t;
}

std::size_t count_above(const std::vector<double>& scores, double threshold) {
  return static_cast<std::size_t>(
      std::count_if(scores.begin(), scores.end(), [&](double s) { return s > threshold; }));
}

}  // namespace wrsec::studies
