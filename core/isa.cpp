// Compiled for generic x86-64 (see core/CMakeLists.txt): this file runs before anything that
// needs the pinned ISA level, so it must not use it.
#include "core/isa.h"

#include <unistd.h>

#ifndef WRSEC_ISA_LEVEL
#error "WRSEC_ISA_LEVEL must be defined by the build (cmake/wrsec_helpers.cmake)"
#endif

namespace wrsec {

const char* isa_level() noexcept {
  return WRSEC_ISA_LEVEL;
}

bool cpu_supports_isa_level() noexcept {
  __builtin_cpu_init();
  // x86-64-v3 = v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT) + AVX, AVX2, BMI1, BMI2, F16C, FMA,
  // LZCNT, MOVBE. GCC 12's __builtin_cpu_supports names the ones numerics can depend on.
  return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt") &&
         __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2");
}

}  // namespace wrsec

// Runs before every other static initialiser (priority 101) of any binary that links wrsec::core
// (the library's link interface forces this symbol in).
extern "C" __attribute__((constructor(101))) void wrsec_require_isa_level() {
  if (wrsec::cpu_supports_isa_level()) return;
  static const char message[] =
      "wrsec: this CPU lacks the x86-64-v3 features (AVX2, FMA, BMI2) that wrsec's numerics are "
      "built for; use a CPU of that level (Intel Haswell, AMD Zen or later)\n";
  (void)!write(2, message, sizeof(message) - 1);
  _exit(2);
}
