#include "attacks/ind_via_extraction.h"

#include <cmath>
#include <limits>

#include "core/errors.h"
#include "definitions/extraction.h"

namespace wrsec::attacks {

namespace {

// ‖a − b‖² after permuting b's hidden units to match a (the function is permutation invariant,
// and extractors of releases that reorder units output them in release order).
double squared_distance(const nn::Model& a, const nn::Model& unaligned) {
  if (!(a.arch == unaligned.arch)) return std::numeric_limits<double>::infinity();
  const nn::Model b = definitions::align_hidden_units(a, unaligned);
  double d = 0;
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.shape != t.shape)
      return std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < t.data.size(); ++k) {
      const double diff = double(t.data[k]) - double(it->second.data[k]);
      d += diff * diff;
    }
  }
  return std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
}

}  // namespace

IndViaExtraction::IndViaExtraction(std::unique_ptr<definitions::Extractor> extractor)
    : extractor_(std::move(extractor)) {
  if (!extractor_) throw InvalidArgument("ind_via_extraction needs an extractor");
}

definitions::ModelPair IndViaExtraction::choose(const nn::Architecture& arch, Rng& coins) const {
  Rng first = coins.derive("first");
  Rng second = coins.derive("second");
  return {nn::Model::init(arch, first), nn::Model::init(arch, second)};
}

int IndViaExtraction::guess(const definitions::ModelPair& chosen,
                            const definitions::Artifact& challenge,
                            definitions::OracleAccess& oracles, Rng& coins) const {
  const nn::Model recovered = extractor_->extract(challenge, oracles, coins);
  return squared_distance(recovered, chosen.second) < squared_distance(recovered, chosen.first) ? 1
                                                                                                : 0;
}

}  // namespace wrsec::attacks
