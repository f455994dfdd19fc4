#include "attacks/likelihood_ratio.h"

#include <cmath>

#include "core/errors.h"

namespace wrsec::attacks {
namespace {

// k·log p + (m−k)·log(1−p) with the convention 0·log 0 = 0.
double log_likelihood(double p, double k, double m) {
  const double ones = k == 0.0 ? 0.0 : k * std::log(p);
  const double zeros = (m - k) == 0.0 ? 0.0 : (m - k) * std::log1p(-p);
  return ones + zeros;
}

}  // namespace

int LikelihoodRatio::guess(const definitions::Artifact& challenge,
                           definitions::OracleAccess& /*oracles*/, Rng& coins) const {
  const auto it = challenge.tensors.find("samples");
  if (it == challenge.tensors.end() || !challenge.metadata.contains("p0") ||
      !challenge.metadata.contains("p1"))
    throw InvalidArgument("likelihood_ratio needs a challenge with 'samples', 'p0' and 'p1'");
  const double p0 = challenge.metadata.at("p0").get<double>();
  const double p1 = challenge.metadata.at("p1").get<double>();
  double k = 0.0;
  for (float x : it->second.data) k += x;
  const auto m = static_cast<double>(it->second.data.size());
  const double l1 = log_likelihood(p1, k, m);
  const double l0 = log_likelihood(p0, k, m);
  if (l1 > l0) return 1;
  if (l1 < l0) return 0;
  return coins.bit() ? 1 : 0;
}

}  // namespace wrsec::attacks
