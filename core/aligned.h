#pragma once
// Storage aligned to 64 bytes (a cache line, and a multiple of every SIMD packet up to AVX-512).
// Eigen's vectorised reductions and elementwise functions peel the leading elements up to the
// first packet-aligned address, so with 32-byte AVX packets over 16-byte-aligned malloc memory
// the summation order (and which elements take the scalar path) would depend on where the heap
// placed a buffer. Every buffer Eigen maps (nn::Tensor) uses this allocator, which makes the
// alignment, and hence the order, a function of the shape alone.
#include <algorithm>
#include <cstddef>
#include <new>
#include <vector>

namespace wrsec {

inline constexpr std::size_t kBufferAlignment = 64;

template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kBufferAlignment}));
  }
  void deallocate(T* p, std::size_t) noexcept {
    ::operator delete (p, std::align_val_t{kBufferAlignment});
  }
  template <class U>
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator<U>&) noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Element-wise equality with a plain vector (found by argument-dependent lookup; != and the
// reversed order follow from C++20's rewritten comparisons).
template <class T>
bool operator==(const AlignedVector<T>& a, const std::vector<T>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace wrsec
