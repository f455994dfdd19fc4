#pragma once
// The ISA level wrsec's numerics are pinned to (x86-64-v3: AVX2, FMA, BMI2, ...). Every
// translation unit is compiled for exactly this level and nothing dispatches on the CPU at run
// time, so a spec and a seed give the same bits on any CPU of this level. A binary refuses to
// start on a CPU below it (one line on stderr, exit code 2) instead of dying of SIGILL.
namespace wrsec {

// The level the build targets, e.g. "x86-64-v3".
[[nodiscard]] const char* isa_level() noexcept;
// Whether the running CPU implements every feature of isa_level().
[[nodiscard]] bool cpu_supports_isa_level() noexcept;

}  // namespace wrsec
