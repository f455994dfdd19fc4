#pragma once
// The `watermark_robustness` experiment: ownership schemes × removal attacks on a Fashion-MNIST
// MLP (zoo:mlp_784_64_64_10_relu@1), each cell a game with exact bounds.
//   removal:      wm_removal for every scheme × attack: accuracy before/after, detection rate
//                 after the transform, removal advantage Adv = Pr[Verify fails ∧ drop ≤ 5 pp]
//                 with one-sided CP bounds, embedding cost (the identity cells)
//   fpr:          wm_false_positive: a fresh key per trial against 20 independently trained null
//                 models (zoo seeds 100..119), 150 keys each (500 in the full profile); FPR
//                 upper bound, next to the exact size of the binomial rule at target_fpr
//   calibration:  empirical null of the match count on the same null models: WRT's Gaussian
//                 threshold and the nonparametric quantile (strict rule), fitted on 50 keys per
//                 model and tested on 100 others
//   forgery:      wm_forgery with the ambiguity forger, signature-bound versus naive verification
//   claims:       the pre-registered outcomes checked on this run (README, issue acceptance)
// Outputs in out_dir: cells.jsonl (wrsec.cell.v1 per cell), calibration.jsonl, claims.jsonl,
// removal.csv, report.md; each written atomically at the end.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

namespace wrsec::experiments {

struct WatermarkRobustnessOptions {
  std::string profile = "full";  // small | full
  std::filesystem::path out_dir = "runs/watermark_robustness";
  std::uint64_t seed = 1;
  int threads = 1;
  double alpha = 0.05;
  std::ostream* log = nullptr;
};

// Runs the experiment; returns the number of failed claims (0 = all as expected). Throws
// InvalidArgument for bad options.
int run_watermark_robustness(const WatermarkRobustnessOptions& options);

}  // namespace wrsec::experiments
