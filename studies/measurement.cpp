#include "studies/measurement.h"

#include "studies/taylormlp_measurements.h"
#include "studies/watermark_measurements.h"

namespace wrsec::studies {

void register_builtin_measurements(MeasurementRegistry& registry) {
  register_taylormlp_measurements(registry);
  register_watermark_measurements(registry);
}

const MeasurementRegistry& builtin_measurements() {
  static MeasurementRegistry registry("measurement");
  static const bool filled = (register_builtin_measurements(registry), true);
  (void)filled;
  return registry;
}

}  // namespace wrsec::studies
