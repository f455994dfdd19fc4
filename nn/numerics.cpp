#include "nn/numerics.h"

#include <Eigen/Core>

#include "core/isa.h"

#if !defined(EIGEN_TEST_SPECIFIC_BLOCKING_SIZES) || !defined(EIGEN_NO_CPUID) || \
    !defined(EIGEN_DONT_PARALLELIZE)
#error "wrsec must be compiled with its numerics definitions (cmake/wrsec_helpers.cmake)"
#endif

namespace wrsec::nn {

std::string numerics_id() {
  return std::string(isa_level()) + " fp-contract=off eigen-" +
         std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
         std::to_string(EIGEN_MINOR_VERSION) + " gemm-kc" +
         std::to_string(EIGEN_TEST_SPECIFIC_BLOCKING_SIZE_K) + "-mc" +
         std::to_string(EIGEN_TEST_SPECIFIC_BLOCKING_SIZE_M) + "-nc" +
         std::to_string(EIGEN_TEST_SPECIFIC_BLOCKING_SIZE_N) + " no-cpuid f32gemm-chain-lane8";
}

}  // namespace wrsec::nn
