#pragma once
// Progress on a terminal: cells done, trials done, trials/s and ETA on one self-overwriting line
// of stderr, at most a few times a second. Enabled only when stderr is a TTY and $CI is unset.
#include <chrono>
#include <cstdint>
#include <iosfwd>

namespace wrsec::experiments {

class Progress {
 public:
  // total_trials: the budget of every cell together (an upper bound when cells stop early).
  Progress(std::ostream* out, std::size_t cells, std::uint64_t total_trials);
  // Whether stderr is an interactive terminal outside CI.
  static bool wanted();
  void update(std::size_t cells_done, std::uint64_t trials_done, bool force = false);
  void finish();

 private:
  std::ostream* out_;
  std::size_t cells_;
  std::uint64_t total_;
  std::uint64_t first_seen_ = 0;
  bool started_ = false;
  std::chrono::steady_clock::time_point t0_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace wrsec::experiments
