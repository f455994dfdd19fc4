#include "core/rng.h"

#include <Random123/philox.h>

#include <cmath>
#include <numbers>

#include "core/errors.h"

namespace wrsec {
namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

__extension__ typedef unsigned __int128 U128;

}  // namespace

std::uint64_t stable_hash(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return splitmix64(h);
}

Rng::Rng(std::uint64_t master_seed, std::uint64_t experiment_id, std::uint64_t trial,
         std::uint64_t stream) noexcept
    : key_{master_seed, experiment_id}, trial_(trial), stream_(stream) {}

Rng Rng::derive(std::uint64_t tag) const noexcept {
  // The child's stream tag mixes the parent's tag with the child's; splitmix64 is a bijection,
  // so distinct tags under one parent give distinct streams.
  return Rng(key_[0], key_[1], trial_,
             splitmix64(stream_ ^ splitmix64(tag + 0x5851f42d4c957f2dULL)));
}

void Rng::refill() noexcept {
  r123::Philox4x64 philox;
  r123::Philox4x64::ctr_type ctr = {{trial_, stream_, block_, 0}};
  r123::Philox4x64::key_type key = {{key_[0], key_[1]}};
  const auto out = philox(ctr, key);
  for (unsigned i = 0; i < 4; ++i) buffer_[i] = out[i];
  ++block_;
  used_ = 0;
}

std::uint64_t Rng::next_u64() noexcept {
  if (used_ == 4) refill();
  return buffer_[used_++];
}

double Rng::uniform() noexcept {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Rng::uniform_open() noexcept {
  return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53;
}

std::uint64_t Rng::below(std::uint64_t n) {
  if (n == 0) throw InvalidArgument("Rng::below: the range must be non-empty (n > 0)");
  U128 m = static_cast<U128>(next_u64()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<U128>(next_u64()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

bool Rng::bernoulli(double p) {
  if (!(p >= 0.0 && p <= 1.0)) throw InvalidArgument("Rng::bernoulli: p must lie in [0, 1]");
  return uniform() < p;
}

double Rng::normal() noexcept {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const double r = std::sqrt(-2.0 * std::log(uniform_open()));
  const double theta = 2.0 * std::numbers::pi * uniform();
  spare_normal_ = r * std::sin(theta);
  has_spare_normal_ = true;
  return r * std::cos(theta);
}

}  // namespace wrsec
