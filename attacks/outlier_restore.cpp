#include "attacks/outlier_restore.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "nn/model.h"

namespace wrsec::attacks {
namespace {

bool is_weight_tensor(const std::string& name) {
  return name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
}

}  // namespace

OutlierRestoreParams OutlierRestoreParams::from(const definitions::Params& params) {
  OutlierRestoreParams p;
  p.detect = params.get_string("detect", p.detect);
  p.tolerance = params.get_double("tolerance", p.tolerance);
  p.repeats = params.get_int("repeats", p.repeats);
  p.restore = params.get_string("restore", p.restore);
  p.base = params.get_string("base", p.base);
  p.train = QueryTraining::from(params, "outlier_restore");
  if (p.detect != "bounds" && p.detect != "repeats")
    throw InvalidArgument("outlier_restore: detect must be bounds or repeats, got '" + p.detect +
                          "'");
  if (!(p.tolerance >= 0 && p.tolerance < 0.5))
    throw InvalidArgument("outlier_restore: tolerance must lie in [0, 0.5)");
  if (p.repeats < 2) throw InvalidArgument("outlier_restore: repeats must be >= 2");
  if (p.restore != "zero" && p.restore != "base")
    throw InvalidArgument("outlier_restore: restore must be zero or base, got '" + p.restore + "'");
  if (p.restore == "base" && p.base.empty())
    throw InvalidArgument("outlier_restore: restore=base needs base (the public model's source)");
  if (p.restore == "zero" && !p.base.empty())
    throw InvalidArgument("outlier_restore: base is only read with restore=base");
  return p;
}

OutlierRestore::OutlierRestore(OutlierRestoreParams params) : params_(std::move(params)) {
  if (!params_.base.empty()) base_ = definitions::ModelSource::parse(params_.base);
}

nn::TensorMap OutlierRestore::locate(const definitions::Artifact& release,
                                     definitions::OracleAccess& /*oracles*/, Rng& /*coins*/) const {
  const nn::Model model = definitions::artifact_model(release);
  nn::TensorMap flags;
  for (const auto& [name, t] : model.tensors) {
    nn::Tensor f(t.shape);
    std::fill(f.data.begin(), f.data.end(), 0.0F);
    if (is_weight_tensor(name) && !t.data.empty()) {
      if (params_.detect == "bounds") {
        const auto [lo_it, hi_it] = std::minmax_element(t.data.begin(), t.data.end());
        const double lo = *lo_it, hi = *hi_it;
        const double tol = params_.tolerance * (hi - lo);
        for (std::size_t i = 0; i < t.data.size(); ++i)
          if (std::abs(t.data[i] - lo) <= tol || std::abs(t.data[i] - hi) <= tol) f.data[i] = 1;
      } else {
        std::unordered_map<float, std::int64_t> count;
        for (float v : t.data) ++count[v];
        for (std::size_t i = 0; i < t.data.size(); ++i)
          if (count[t.data[i]] >= params_.repeats) f.data[i] = 1;
      }
    }
    flags[name] = std::move(f);
  }
  return flags;
}

nn::Model OutlierRestore::extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const {
  nn::Model model = definitions::artifact_model(release);
  std::optional<nn::Model> base;
  if (base_) {
    Rng base_coins = coins.derive("base");
    base = base_->draw(base_coins);
    if (!(base->arch == model.arch))
      throw InvalidArgument("outlier_restore: the base is " + base->arch.to_spec() +
                            ", the release " + model.arch.to_spec());
  }
  Rng locate_coins = coins.derive("locate");
  const nn::TensorMap flags = locate(release, oracles, locate_coins);
  for (auto& [name, t] : model.tensors) {
    const nn::Tensor& f = flags.at(name);
    for (std::size_t i = 0; i < t.data.size(); ++i)
      if (f.data[i] != 0) t.data[i] = base ? base->tensors.at(name).data[i] : 0.0F;
  }
  (void)finetune_on_queries(model, oracles, params_.train, coins.derive("finetune"));
  return model;
}

}  // namespace wrsec::attacks
