#include "experiments/exact_sum.h"

#include <gmp.h>
#include <mpfr.h>

#include <cmath>

#include "core/errors.h"

namespace wrsec::experiments {

namespace {
constexpr long kScaleBits = 1126;  // 2^-1126 divides every double (the least subnormal is 2^-1074)
}

struct ExactSum::Impl {
  mpz_t units;
  Impl() { mpz_init(units); }
  Impl(const Impl& o) { mpz_init_set(units, o.units); }
  Impl& operator=(const Impl&) = delete;
  ~Impl() { mpz_clear(units); }
};

ExactSum::ExactSum() : impl_(std::make_unique<Impl>()) {}
ExactSum::~ExactSum() = default;
ExactSum::ExactSum(const ExactSum& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
ExactSum& ExactSum::operator=(const ExactSum& other) {
  if (this != &other) mpz_set(impl_->units, other.impl_->units);
  return *this;
}
ExactSum::ExactSum(ExactSum&& other) noexcept : impl_(std::make_unique<Impl>()) {
  mpz_swap(impl_->units, other.impl_->units);
}
ExactSum& ExactSum::operator=(ExactSum&& other) noexcept {
  mpz_swap(impl_->units, other.impl_->units);
  return *this;
}

void ExactSum::add(double x) {
  if (!std::isfinite(x)) throw InvalidArgument("ExactSum: cannot add a non-finite value");
  if (x == 0.0) return;
  int exponent = 0;
  const double mantissa = std::frexp(x, &exponent);  // x = mantissa·2^exponent, |mantissa| ∈ [½,1)
  const double integer = std::ldexp(mantissa, 53);  // exact: a 53-bit integer
  mpz_t term;
  mpz_init_set_d(term, integer);
  const long shift = exponent - 53 + kScaleBits;  // ≥ 0 for every finite double
  WRSEC_CHECK(shift >= 0, "ExactSum scale too small");
  mpz_mul_2exp(term, term, static_cast<mp_bitcnt_t>(shift));
  mpz_add(impl_->units, impl_->units, term);
  mpz_clear(term);
}

ExactSum& ExactSum::operator+=(const ExactSum& other) {
  mpz_add(impl_->units, impl_->units, other.impl_->units);
  return *this;
}

double ExactSum::value() const {
  mpfr_t f;
  mpfr_init2(f, 53);
  mpfr_set_z_2exp(f, impl_->units, -kScaleBits, MPFR_RNDN);
  const double v = mpfr_get_d(f, MPFR_RNDN);
  mpfr_clear(f);
  return v;
}

std::string ExactSum::to_string() const {
  char* text = mpz_get_str(nullptr, 16, impl_->units);
  std::string out(text);
  void (*free_fn)(void*, size_t) = nullptr;
  mp_get_memory_functions(nullptr, nullptr, &free_fn);
  free_fn(text, out.size() + 1);
  return out;
}

ExactSum ExactSum::from_string(const std::string& text) {
  ExactSum s;
  if (text.empty() || mpz_set_str(s.impl_->units, text.c_str(), 16) != 0)
    throw InvalidArgument("malformed exact sum '" + text + "'");
  return s;
}

bool operator==(const ExactSum& a, const ExactSum& b) {
  return mpz_cmp(a.impl_->units, b.impl_->units) == 0;
}

}  // namespace wrsec::experiments
