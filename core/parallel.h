#pragma once
// parallel_for(n, body): body(i) once for each i in [0, n), in one OpenMP loop. Nothing escapes
// the OpenMP region: the first exception an iteration throws is kept, the iterations not yet begun
// are skipped, and it is rethrown on the calling thread after the region.
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <utility>

namespace wrsec {

enum class Schedule {
  fixed,    // schedule(static): one contiguous block of iterations per thread, decided up front
  dynamic,  // schedule(dynamic, chunk): chunks go to threads as they become free
};

struct ParallelOptions {
  Schedule schedule = Schedule::fixed;
  std::int64_t chunk = 1;  // dynamic only: iterations handed out at a time (at least 1)
  int threads = 0;         // team size; 0 = the OpenMP default (omp_get_max_threads())
  bool parallel = true;    // false: run on the calling thread (worth it for small loops)
};

namespace detail {

// The first exception of one loop: recorded under a critical section, announced to the other
// iterations through a flag they read with a relaxed load.
class FirstError {
 public:
  [[nodiscard]] bool recorded() const noexcept { return recorded_.load(std::memory_order_relaxed); }
  // Call inside a catch handler: keeps std::current_exception() unless one is already kept.
  void record_current() noexcept;
  // After the parallel region: rethrows the kept exception, if any.
  void rethrow_if_recorded() const;

 private:
  std::atomic<bool> recorded_{false};
  std::exception_ptr error_;
};

}  // namespace detail

template <class F>
void parallel_for(std::int64_t n, const ParallelOptions& options, F&& body) {
  if (n <= 0) return;
  detail::FirstError error;
  const auto run = [&](std::int64_t i) {
    if (error.recorded()) return;
    try {
      body(i);
    } catch (...) {
      error.record_current();
    }
  };
  const bool active = options.parallel && n > 1;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  if (options.schedule == Schedule::dynamic) {
    const std::int64_t chunk = options.chunk > 0 ? options.chunk : 1;
#pragma omp parallel for schedule(dynamic, chunk) num_threads(threads) if (active)
    for (std::int64_t i = 0; i < n; ++i) run(i);
  } else {
#pragma omp parallel for schedule(static) num_threads(threads) if (active)
    for (std::int64_t i = 0; i < n; ++i) run(i);
  }
  error.rethrow_if_recorded();
}

// The default: static schedule, the OpenMP default team.
template <class F>
void parallel_for(std::int64_t n, F&& body) {
  parallel_for(n, ParallelOptions{}, std::forward<F>(body));
}

}  // namespace wrsec
