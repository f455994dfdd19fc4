#pragma once
// Watermark studies' non-game measurements (registered as watermark.*):
//   watermark.null_calibration  one unit per scheme: match counts of fresh keys (KeyGen on the
//                               owner's model) against independently trained null models; WRT's
//                               Gaussian threshold and the conformal quantile threshold fitted on
//                               calibration_keys keys per null model and their false-accept rates
//                               on test_keys other keys (rule: accept iff matches > threshold),
//                               next to the exact size of the binomial rule p <= target
// Rows are a pure function of (parameters, seed): deterministic.
#include "studies/measurement.h"

namespace wrsec::studies {

void register_watermark_measurements(MeasurementRegistry& registry);

}  // namespace wrsec::studies
