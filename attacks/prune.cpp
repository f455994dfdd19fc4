#include "attacks/prune.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/errors.h"

namespace wrsec::attacks {

namespace {

bool is_output_tensor(const nn::Architecture& arch, const std::string& name) {
  if (arch.kind == nn::Architecture::Kind::swiglu) return name == "mlp.down_proj.weight";
  const std::string last = "layers." + std::to_string(arch.sizes.size() - 2) + ".";
  return name.starts_with(last);
}

// Names of the selected tensors in Architecture::tensor_shapes() order.
std::vector<std::string> selected(const nn::Architecture& arch, const PruneParams& p) {
  std::vector<std::string> names;
  for (const auto& [name, shape] : arch.tensor_shapes()) {
    if (shape.size() == 1 && !p.biases) continue;
    if (p.skip_last && is_output_tensor(arch, name)) continue;
    names.push_back(name);
  }
  return names;
}

// Zeroes the k smallest-magnitude entries of the concatenation of `tensors` (in order), ties by
// lower position. Uses the k-th smallest magnitude t: every |w| < t is zeroed, then entries with
// |w| = t in order until k are zeroed.
void zero_smallest(const std::vector<nn::Tensor*>& tensors, std::int64_t k) {
  if (k <= 0) return;
  std::vector<float> mags;
  for (const nn::Tensor* t : tensors)
    for (const float v : t->data) mags.push_back(std::fabs(v));
  const auto kth = mags.begin() + (k - 1);
  std::nth_element(mags.begin(), kth, mags.end());
  const float threshold = *kth;
  std::int64_t below = 0;
  for (const nn::Tensor* t : tensors)
    for (const float v : t->data) below += std::fabs(v) < threshold ? 1 : 0;
  std::int64_t ties = k - below;  // entries equal to the threshold still to zero, in order
  for (nn::Tensor* t : tensors)
    for (float& v : t->data) {
      const float m = std::fabs(v);
      if (m < threshold) {
        v = 0.0f;
      } else if (m == threshold && ties > 0) {
        v = 0.0f;
        --ties;
      }
    }
}

}  // namespace

std::int64_t prune_count(double rate, std::int64_t n) {
  const double p = rate * static_cast<double>(n);
  const double r = std::round(p);
  if (std::fabs(p - r) <= 8.0 * DBL_EPSILON * p) return static_cast<std::int64_t>(r);
  return static_cast<std::int64_t>(std::ceil(p));
}

PruneParams PruneParams::from(const definitions::Params& params) {
  PruneParams p;
  p.rate = params.get_double("rate", p.rate);
  p.scope = params.get_string("scope", p.scope);
  p.biases = params.get_bool("biases", p.biases);
  p.skip_last = params.get_bool("skip_last", p.skip_last);
  p.validate();
  return p;
}

void PruneParams::validate() const {
  if (!(rate >= 0.0 && rate < 1.0)) throw InvalidArgument("prune: rate must lie in [0, 1)");
  if (scope != "tensor" && scope != "global")
    throw InvalidArgument("prune: scope must be tensor or global, got '" + scope + "'");
}

nn::Model Prune::remove(const nn::Model& marked, const definitions::RemovalContext& /*context*/,
                        Rng& /*coins*/) const {
  marked.validate();
  nn::Model out = marked;
  std::vector<nn::Tensor*> tensors;
  for (const std::string& name : selected(out.arch, params_))
    tensors.push_back(&out.tensors.at(name));
  if (params_.scope == "tensor") {
    for (nn::Tensor* t : tensors) zero_smallest({t}, prune_count(params_.rate, t->numel()));
  } else {
    std::int64_t total = 0;
    for (const nn::Tensor* t : tensors) total += t->numel();
    zero_smallest(tensors, prune_count(params_.rate, total));
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
