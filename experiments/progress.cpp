#include "experiments/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ostream>

namespace wrsec::experiments {

Progress::Progress(std::ostream* out, std::size_t cells, std::uint64_t total_trials)
    : out_(out), cells_(cells), total_(total_trials) {}

bool Progress::wanted() {
  const char* ci = std::getenv("CI");
  return ::isatty(STDERR_FILENO) == 1 && (ci == nullptr || *ci == '\0');
}

void Progress::update(std::size_t cells_done, std::uint64_t trials_done, bool force) {
  if (out_ == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  if (!started_) {
    started_ = true;
    t0_ = last_ = now;
    first_seen_ = trials_done;  // trials restored by a resume do not count towards the rate
  }
  if (!force && now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  const double seconds = std::chrono::duration<double>(now - t0_).count();
  const double rate = seconds > 0 ? static_cast<double>(trials_done - first_seen_) / seconds : 0.0;
  char eta[32] = "--:--";
  if (rate > 0 && total_ > trials_done) {
    const auto left = static_cast<long long>(static_cast<double>(total_ - trials_done) / rate);
    std::snprintf(eta, sizeof(eta), "%lld:%02lld:%02lld", left / 3600, (left / 60) % 60, left % 60);
  }
  char line[160];
  std::snprintf(line, sizeof(line), "\r  cells %zu/%zu  trials %llu/%llu  %.1f trials/s  ETA %s ",
                cells_done, cells_, static_cast<unsigned long long>(trials_done),
                static_cast<unsigned long long>(total_), rate, eta);
  *out_ << line << std::flush;
}

void Progress::finish() {
  if (out_ != nullptr && started_) *out_ << '\n' << std::flush;
}

}  // namespace wrsec::experiments
