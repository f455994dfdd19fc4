#pragma once
// Counter-based randomness (Random123 Philox4x64-10).
//   key     = (master seed, experiment id)
//   counter = (trial index, stream tag, draw block, 0)
// A generator is a pure function of (key, counter): trial i of a cell draws the same coins on any
// thread, in any shard, after any resume. Child streams (challenger coins, adversary coins, data
// shuffles) are derived with derive(tag) and never overlap their parent. All transforms
// (uniform, bounded integers, normals) are our own, so outputs do not depend on the standard
// library's distribution algorithms.
#include <cstdint>
#include <string_view>

namespace wrsec {

// 64-bit id of a string (FNV-1a followed by a SplitMix64 finaliser); used for experiment ids and
// stream tags so that names, not magic numbers, select streams.
[[nodiscard]] std::uint64_t stable_hash(std::string_view text) noexcept;

class Rng {
 public:
  Rng(std::uint64_t master_seed, std::uint64_t experiment_id, std::uint64_t trial,
      std::uint64_t stream = 0) noexcept;

  // Independent child stream, a pure function of (this stream, tag); draws of the parent are not
  // affected by creating children.
  [[nodiscard]] Rng derive(std::uint64_t tag) const noexcept;
  [[nodiscard]] Rng derive(std::string_view tag) const noexcept { return derive(stable_hash(tag)); }

  std::uint64_t next_u64() noexcept;
  // Uniform on [0, 1) with 53 random bits.
  double uniform() noexcept;
  // Uniform on (0, 1): never 0, safe for log.
  double uniform_open() noexcept;
  // Uniform integer in [0, n) without bias (Lemire's multiply-and-reject); n must be > 0.
  std::uint64_t below(std::uint64_t n);
  bool bit() noexcept { return (next_u64() >> 63) != 0; }
  // Bernoulli(p) for p in [0, 1].
  bool bernoulli(double p);
  // Standard normal by Box–Muller (both outputs used).
  double normal() noexcept;

  [[nodiscard]] std::uint64_t master_seed() const noexcept { return key_[0]; }
  [[nodiscard]] std::uint64_t experiment_id() const noexcept { return key_[1]; }
  [[nodiscard]] std::uint64_t trial() const noexcept { return trial_; }
  [[nodiscard]] std::uint64_t stream() const noexcept { return stream_; }

 private:
  void refill() noexcept;

  std::uint64_t key_[2];
  std::uint64_t trial_;
  std::uint64_t stream_;
  std::uint64_t block_ = 0;
  std::uint64_t buffer_[4] = {0, 0, 0, 0};
  unsigned used_ = 4;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace wrsec
