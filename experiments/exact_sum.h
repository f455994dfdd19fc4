#pragma once
// ExactSum: the exact sum of finite doubles, held as an integer multiple of 2^-1126 (GMP), so that
// a sum is independent of the order of addition: per-trial metrics summed over any thread schedule
// or any split into shards give the same bits. value() rounds the exact sum to a double.
#include <cstdint>
#include <memory>
#include <string>

namespace wrsec::experiments {

class ExactSum {
 public:
  ExactSum();
  ~ExactSum();
  ExactSum(const ExactSum& other);
  ExactSum& operator=(const ExactSum& other);
  ExactSum(ExactSum&&) noexcept;
  ExactSum& operator=(ExactSum&&) noexcept;

  // InvalidArgument for NaN or ±inf.
  void add(double x);
  ExactSum& operator+=(const ExactSum& other);
  // The exact sum rounded to the nearest double (ties to even).
  [[nodiscard]] double value() const;
  // Lossless text form (hexadecimal integer count of 2^-1126 units) and its inverse.
  [[nodiscard]] std::string to_string() const;
  static ExactSum from_string(const std::string& text);
  friend bool operator==(const ExactSum& a, const ExactSum& b);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wrsec::experiments
