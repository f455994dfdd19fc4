#include "studies/watermark_measurements.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "definitions/sources.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"
#include "experiments/spec.h"
#include "games/watermark_common.h"
#include "studies/null_calibration.h"

namespace wrsec::studies {

namespace {

using definitions::Params;
using nlohmann::json;

// The largest tail probability P[Bin(T, p0) >= k] that is still <= target (log2), i.e. the exact
// size of the binomial rule for a perfectly independent model, and its threshold k.
std::pair<std::uint64_t, double> binomial_rule(std::uint64_t bits, double p0, double target) {
  const double log_target = std::log2(target);
  for (std::uint64_t k = 0; k <= bits; ++k) {
    const double lp = definitions::log2_binomial_tail(k, bits, p0);
    if (lp <= log_target) return {k, lp};
  }
  return {bits + 1, -std::numeric_limits<double>::infinity()};
}

std::vector<std::string> split_ids(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b == std::string::npos) throw InvalidArgument("schemes: empty scheme id in '" + text + "'");
    out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

// The owner's model (a zoo model: drawing it uses no coins).
nn::Model owner_model(const definitions::ModelSource& source) {
  Rng unused(0, 0, 0);
  return source.draw(unused);
}

// Match counts of fresh keys against null models: KeyGen on the owner's model (so that the
// verifier aligns to it, as for a suspect) with coins (seed, tag, k), key k read against null
// model k / keys_per_model; split into the first `calibration` keys of every model and the rest.
struct NullScores {
  std::vector<double> calibration, test;
  std::uint64_t bits = 0;
  double p0 = 0.5;
};
NullScores null_scores(const definitions::WeightReleaseScheme& scheme, const nn::Model& owner,
                       const games::NullModels& nulls, std::uint64_t keys_per_model,
                       std::uint64_t calibration, std::uint64_t seed, const std::string& tag) {
  for (std::uint64_t i = 0; i < nulls.count(); ++i) (void)nulls.model(i);  // train up front
  const std::uint64_t n = keys_per_model * nulls.count();
  std::vector<double> scores(n);
  std::vector<std::uint64_t> bits(n);
  std::vector<double> p0(n);
  ParallelOptions dynamic;
  dynamic.schedule = Schedule::dynamic;
  parallel_for(static_cast<std::int64_t>(n), dynamic, [&](std::int64_t i) {
    const auto k = static_cast<std::uint64_t>(i);
    Rng coins(seed, stable_hash(tag), k);
    const auto secret = scheme.keygen(owner, coins);
    const auto v = games::check_suspect(scheme, secret, nulls.model(k / keys_per_model));
    scores[k] = static_cast<double>(v.matches);
    bits[k] = v.bits;
    p0[k] = v.p0;
  });
  NullScores out;
  out.bits = bits.front();
  out.p0 = p0.front();
  for (std::uint64_t i = 0; i < n; ++i)
    (i % keys_per_model < calibration ? out.calibration : out.test).push_back(scores[i]);
  return out;
}

class NullCalibration final : public Measurement {
 public:
  explicit NullCalibration(const Params& p)
      : schemes_(split_ids(
            p.get_string("schemes", "uchida,spread_spectrum,lsb_parity,qim,trigger_set"))),
        zoo_(p.get_string("model", "mlp_784_64_64_10_relu")),
        null_first_(p.get_int("null_first", 100)),
        null_count_(p.get_int("null_count", 20)),
        calibration_keys_(p.get_int("calibration_keys", 50)),
        test_keys_(p.get_int("test_keys", 100)) {
    for (const auto& s : schemes_) (void)experiments::Catalog::global().schemes.create(s, {});
    if (null_first_ < 0 || null_count_ < 1 || null_count_ > 1000)
      throw InvalidArgument("null_first must be >= 0 and null_count in [1, 1000]");
    if (calibration_keys_ < 2 || test_keys_ < 1 || calibration_keys_ + test_keys_ > 100000)
      throw InvalidArgument("calibration_keys must be >= 2, test_keys >= 1 (at most 100000 keys)");
  }
  std::size_t units() const override { return schemes_.size(); }
  std::string unit_label(std::size_t u) const override {
    return "empirical null of " + schemes_.at(u) + " on " + std::to_string(null_count_) +
           " null models";
  }
  bool deterministic() const override { return true; }

  json run_unit(std::size_t u, const MeasurementContext& c) const override {
    const std::string& scheme_id = schemes_.at(u);
    const auto scheme = experiments::Catalog::global().schemes.create(scheme_id, {});
    const auto owner_source = definitions::ModelSource::parse("zoo:" + zoo_ + "@1");
    const nn::Model owner = owner_model(owner_source);
    const games::NullModels nulls(zoo_, std::uint64_t(null_first_), std::uint64_t(null_count_));
    const NullScores ns = null_scores(*scheme, owner, nulls,
                                      static_cast<std::uint64_t>(calibration_keys_ + test_keys_),
                                      static_cast<std::uint64_t>(calibration_keys_), c.seed,
                                      "watermark_robustness.calibration/" + scheme_id);
    const std::vector<double>& calibration = ns.calibration;
    const std::vector<double>& test = ns.test;
    json rows = json::array();
    const auto [k, size] = binomial_rule(ns.bits, ns.p0, 1e-3);
    for (const double p : {0.05, 1e-3}) {
      const NullThresholds t = calibrate_null(calibration, p);
      json row = {{"kind", "null_calibration"},
                  {"scheme", scheme_id},
                  {"p", p},
                  {"bits", ns.bits},
                  {"p0", ns.p0},
                  {"binomial_rule_k", k},
                  {"binomial_rule_log2_size", size},
                  {"null_models", nulls.count()},
                  {"calibration_scores", calibration.size()},
                  {"test_scores", test.size()},
                  {"mean", t.mean},
                  {"std", t.std},
                  {"gaussian_threshold", t.gaussian},
                  {"gaussian_test_false_accepts", count_above(test, t.gaussian)}};
      if (t.quantile) {
        row["quantile_threshold"] = *t.quantile;
        row["quantile_test_false_accepts"] = count_above(test, *t.quantile);
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  std::vector<std::string> schemes_;
  std::string zoo_;
  std::int64_t null_first_, null_count_, calibration_keys_, test_keys_;
};

// Splits "a; b(c=1 d=2); e" at the semicolons.
std::vector<std::string> split_transforms(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ';');) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b == std::string::npos) throw InvalidArgument("transforms: empty entry in '" + text + "'");
    out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

// AUC = P[positive score > null score] + P[equal]/2 (Mann–Whitney), exact over all pairs.
double auc(std::vector<double> nulls, const std::vector<double>& positives) {
  std::sort(nulls.begin(), nulls.end());
  double sum = 0.0;
  for (const double x : positives) {
    const auto lo = std::lower_bound(nulls.begin(), nulls.end(), x);
    const auto hi = std::upper_bound(nulls.begin(), nulls.end(), x);
    sum += static_cast<double>(lo - nulls.begin()) + 0.5 * static_cast<double>(hi - lo);
  }
  return sum / (static_cast<double>(nulls.size()) * static_cast<double>(positives.size()));
}

class TprAtFpr final : public Measurement {
 public:
  explicit TprAtFpr(const Params& p)
      : schemes_(split_ids(p.get_string("schemes", "uchida,spread_spectrum,qim"))),
        transforms_(split_transforms(p.get_string(
            "transforms",
            "identity; permute; scale_neurons; dummy_neurons(kind=split); "
            "dummy_neurons(kind=clique); quantize(bits=8 granularity=tensor); "
            "compose(first=permute second=quantize second.bits=8 second.granularity=tensor); "
            "finetune(mode=ftal)"))),
        zoo_(p.get_string("model", "mlp_784_64_64_10_relu")),
        null_first_(p.get_int("null_first", 100)),
        null_count_(p.get_int("null_count", 20)),
        calibration_keys_(p.get_int("calibration_keys", 500)),
        test_keys_(p.get_int("test_keys", 150)),
        positives_(p.get_int("positives", 64)) {
    for (const auto& s : schemes_) (void)experiments::Catalog::global().schemes.create(s, {});
    for (const auto& t : transforms_) {
      auto [id, params] = experiments::parse_component("transforms", t);
      auto made = experiments::Catalog::global().attacks.create(id, params);
      if (dynamic_cast<const definitions::Remover*>(made.get()) == nullptr)
        throw InvalidArgument("transforms: '" + t + "' is not a removal attack");
    }
    if (null_first_ < 0 || null_count_ < 1 || null_count_ > 1000)
      throw InvalidArgument("null_first must be >= 0 and null_count in [1, 1000]");
    if (calibration_keys_ < 1 || test_keys_ < 1 || calibration_keys_ + test_keys_ > 100000)
      throw InvalidArgument("calibration_keys and test_keys must be >= 1 (at most 100000 keys)");
    if (positives_ < 1 || positives_ > 100000)
      throw InvalidArgument("positives must lie in [1, 100000]");
  }
  std::size_t units() const override { return schemes_.size(); }
  std::string unit_label(std::size_t u) const override {
    return "TPR at fixed FPR of " + schemes_.at(u) + " (" + std::to_string(transforms_.size()) +
           " transforms)";
  }
  bool deterministic() const override { return true; }

  json run_unit(std::size_t u, const MeasurementContext& c) const override {
    const std::string& scheme_id = schemes_.at(u);
    const auto scheme = experiments::Catalog::global().schemes.create(scheme_id, {});
    const auto owner_source = definitions::ModelSource::parse("zoo:" + zoo_ + "@1");
    const nn::Model owner = owner_model(owner_source);
    const games::NullModels nulls(zoo_, std::uint64_t(null_first_), std::uint64_t(null_count_));
    ParallelOptions dynamic;
    dynamic.schedule = Schedule::dynamic;
    // The null: fresh keys against independently trained models. Calibration keys freeze the
    // thresholds; test keys, never seen by the calibration, measure the false-positive rate.
    const NullScores ns = null_scores(*scheme, owner, nulls,
                                      static_cast<std::uint64_t>(calibration_keys_ + test_keys_),
                                      static_cast<std::uint64_t>(calibration_keys_), c.seed,
                                      "watermark.tpr_at_fpr.null/" + scheme_id);
    const std::vector<double>& calibration = ns.calibration;
    const std::vector<double>& test = ns.test;
    const std::uint64_t bits = ns.bits;
    const std::vector<double> targets = {1e-2, 1e-3, 1e-4};
    std::vector<std::optional<double>> thresholds;
    for (const double a : targets) thresholds.push_back(calibrate_null(calibration, a).quantile);

    games::WatermarkData data;
    const auto attacker = data.attacker();
    const auto adversary_scheme = scheme->for_owner(games::kAdversaryIdentity);
    json rows = json::array();
    for (std::size_t t = 0; t < transforms_.size(); ++t) {
      const auto [id, params] = experiments::parse_component("transforms", transforms_[t]);
      const auto made = experiments::Catalog::global().attacks.create(id, params);
      const auto& remover = dynamic_cast<const definitions::Remover&>(*made);
      std::vector<double> positive(static_cast<std::size_t>(positives_));
      parallel_for(positives_, dynamic, [&](std::int64_t i) {
        const Rng challenger(c.seed, stable_hash("watermark.tpr_at_fpr.positive/" + scheme_id),
                             static_cast<std::uint64_t>(i));
        const auto owned = games::release_owner_model(owner_source, *scheme, challenger);
        definitions::RemovalContext context;
        context.data = attacker.get();
        context.scheme = adversary_scheme.get();  // the algorithm under the adversary's identity
        Rng attack_coins = challenger.derive("transform").derive(transforms_[t]);
        const nn::Model suspect = remover.remove(owned.marked, context, attack_coins);
        positive[static_cast<std::size_t>(i)] = static_cast<double>(
            games::check_suspect(*scheme, owned.release.secret, suspect).matches);
      });
      json roc = json::array();
      for (std::uint64_t k = 0; k <= bits + 1; ++k) {  // accept iff score > k - 1
        const double thr = static_cast<double>(k) - 0.5;
        roc.push_back({{"threshold", thr},
                       {"fpr", double(count_above(test, thr)) / double(test.size())},
                       {"tpr", double(count_above(positive, thr)) / double(positive.size())}});
      }
      for (std::size_t a = 0; a < targets.size(); ++a) {
        json row = {{"kind", "tpr_at_fpr"},         {"scheme", scheme_id},
                    {"transform", transforms_[t]},  {"null", "independent models x random keys"},
                    {"target_fpr", targets[a]},     {"bits", bits},
                    {"null_models", nulls.count()}, {"calibration_scores", calibration.size()},
                    {"test_nulls", test.size()},    {"positives", positive.size()},
                    {"auc", auc(test, positive)}};
        if (a == 0) row["roc"] = roc;
        if (!thresholds[a]) {
          row["threshold"] = nullptr;
          row["note"] = "too few calibration scores for this FPR (need >= 1/FPR - 1)";
        } else {
          const double thr = *thresholds[a];
          const std::uint64_t fp = count_above(test, thr), tp = count_above(positive, thr);
          const auto tn = static_cast<std::uint64_t>(test.size()),
                     pn = static_cast<std::uint64_t>(positive.size());
          row["threshold"] = thr;
          row["false_positives"] = fp;
          row["fpr"] = double(fp) / double(tn);
          row["fpr_upper"] = definitions::cp_upper(fp, tn, 0.05);
          row["true_positives"] = tp;
          row["tpr"] = double(tp) / double(pn);
          row["tpr_lower"] = definitions::cp_lower(tp, pn, 0.05);
          row["tpr_upper"] = definitions::cp_upper(tp, pn, 0.05);
          row["supported"] = definitions::cp_upper(fp, tn, 0.05) <= targets[a];
        }
        rows.push_back(std::move(row));
      }
    }
    return rows;
  }

 private:
  std::vector<std::string> schemes_, transforms_;
  std::string zoo_;
  std::int64_t null_first_, null_count_, calibration_keys_, test_keys_, positives_;
};

}  // namespace

void register_watermark_measurements(MeasurementRegistry& r) {
  r.add("watermark.tpr_at_fpr",
        "TPR at FPR 1e-2, 1e-3, 1e-4 per scheme x transform: thresholds frozen on calibration "
        "nulls (random keys x independent models), FPR measured on held-out nulls, TPR on "
        "marked-then-transformed models, with Clopper-Pearson bounds, the ROC and the AUC "
        "(schemes, transforms ';'-separated, model, null_first, null_count, calibration_keys, "
        "test_keys, positives)",
        [](const Params& p) { return std::make_unique<TprAtFpr>(p); });
  r.add("watermark.null_calibration",
        "empirical null of each scheme's match count on independently trained models: Gaussian "
        "and quantile thresholds with held-out false accepts (schemes, model, null_first, "
        "null_count, calibration_keys, test_keys)",
        [](const Params& p) { return std::make_unique<NullCalibration>(p); });
}

}  // namespace wrsec::studies
