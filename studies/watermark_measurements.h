#pragma once
// Watermark studies' non-game measurements (registered as watermark.*):
//   watermark.null_calibration  one unit per scheme: match counts of fresh keys (KeyGen on the
//                               owner's model) against independently trained null models; WRT's
//                               Gaussian threshold and the conformal quantile threshold fitted on
//                               calibration_keys keys per null model and their false-accept rates
//                               on test_keys other keys (rule: accept iff matches > threshold),
//                               next to the exact size of the binomial rule p <= target
//   watermark.tpr_at_fpr        one unit per scheme: thresholds on the match count frozen for FPR
//                               1e-2, 1e-3, 1e-4 (conformal quantile of calibration_keys keys x
//                               null_count independent models; KeyGen on the owner's model, so the
//                               verifier aligns as it does for a suspect), the FPR on test_keys
//                               held-out keys, and per transform (';'-separated removal attacks)
//                               the TPR over `positives` marked-then-transformed models, each with
//                               95% Clopper-Pearson bounds, the ROC over all count thresholds and
//                               the AUC (Mann-Whitney against the held-out nulls)
// Rows are a pure function of (parameters, seed): deterministic.
#include "studies/measurement.h"

namespace wrsec::studies {

void register_watermark_measurements(MeasurementRegistry& registry);

}  // namespace wrsec::studies
