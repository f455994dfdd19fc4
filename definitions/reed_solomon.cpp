#include "definitions/reed_solomon.h"

#include <NTL/GF2E.h>
#include <NTL/GF2EX.h>
#include <NTL/GF2X.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <mutex>
#include <string>

#include "core/errors.h"

// Layout: symbol j of a word (j = 0 first in the bit vector) is the coefficient of x^{n−1−j}, so
// the k message symbols come first (coefficients of x^{n−1}..x^{2t}) and the 2t parity symbols
// last. A byte b is the field element Σ_i bit_i(b)·α^i (bit 0 = least significant).
//
// NTL keeps the GF2E modulus in a thread-local context: every public call pushes the field's
// context (built once, shared read-only; NTL_THREADS makes its reference count atomic) and
// restores the caller's context on return, so calls are safe from concurrent OpenMP threads.
// Debian's NTL has no exceptions (errors abort), so inputs are validated before NTL sees them and
// the decoder never inverts zero.

namespace wrsec::definitions {
namespace {

using NTL::GF2E;
using NTL::GF2EX;
using NTL::GF2X;

const NTL::GF2EContext& field_context() {
  static const NTL::GF2EContext context = [] {
    GF2X p;  // x^8 + x^4 + x^3 + x^2 + 1 (0x11d)
    for (long e : {8L, 4L, 3L, 2L, 0L}) NTL::SetCoeff(p, e);
    return NTL::GF2EContext(p);
  }();
  return context;
}

GF2E to_field(std::uint8_t byte) {
  GF2X x;
  NTL::GF2XFromBytes(x, &byte, 1);
  return NTL::conv<GF2E>(x);
}

std::uint8_t to_byte(const GF2E& a) {
  unsigned char byte = 0;
  NTL::BytesFromGF2X(&byte, NTL::rep(a), 1);
  return byte;
}

GF2E alpha() {
  GF2X x;
  NTL::SetX(x);
  return NTL::conv<GF2E>(x);
}

// g(x) = Π_{i=1..2t} (x − α^i).
GF2EX build_generator(int t) {
  GF2EX g;
  NTL::SetCoeff(g, 0);
  const GF2E a = alpha();
  GF2E root = a;
  for (int i = 1; i <= 2 * t; ++i) {
    GF2EX factor;
    NTL::SetCoeff(factor, 1);
    NTL::SetCoeff(factor, 0, root);  // characteristic 2: −α^i = α^i
    g *= factor;
    root *= a;
  }
  return g;
}

// g(x) for this t, built on first use (under the caller's field context) and then only read.
const GF2EX& generator(int t) {
  static std::array<std::once_flag, 128> once;
  static std::array<GF2EX, 128> cache;
  std::call_once(once[static_cast<std::size_t>(t)],
                 [t] { cache[static_cast<std::size_t>(t)] = build_generator(t); });
  return cache[static_cast<std::size_t>(t)];
}

// 8·count bits (validated: length and 0/1 values) → count symbols, MSB first.
std::vector<std::uint8_t> to_symbols(const std::vector<std::uint8_t>& bits, int count,
                                     const char* what) {
  const std::size_t expected = 8 * static_cast<std::size_t>(count);
  if (bits.size() != expected)
    throw InvalidArgument(std::string("ReedSolomon::") + what + ": expected " +
                          std::to_string(expected) + " bits, got " + std::to_string(bits.size()));
  std::vector<std::uint8_t> symbols(static_cast<std::size_t>(count), 0);
  for (std::size_t i = 0; i < bits.size(); ++i) {
    if (bits[i] > 1)
      throw InvalidArgument(std::string("ReedSolomon::") + what + ": bit " + std::to_string(i) +
                            " has value " + std::to_string(bits[i]) + " (expected 0 or 1)");
    symbols[i / 8] = static_cast<std::uint8_t>(symbols[i / 8] | (bits[i] << (7 - i % 8)));
  }
  return symbols;
}

std::vector<std::uint8_t> to_bits(const std::vector<std::uint8_t>& symbols, std::size_t count) {
  std::vector<std::uint8_t> bits(8 * count);
  for (std::size_t i = 0; i < bits.size(); ++i)
    bits[i] = static_cast<std::uint8_t>((symbols[i / 8] >> (7 - i % 8)) & 1U);
  return bits;
}

// Word polynomial: symbol j → coefficient of x^{n−1−j}.
GF2EX to_poly(const std::vector<std::uint8_t>& symbols) {
  const long n = static_cast<long>(symbols.size());
  GF2EX p;
  for (long j = 0; j < n; ++j) NTL::SetCoeff(p, n - 1 - j, to_field(symbols[j]));
  return p;
}

// S_i = r(α^i) for i = 1..2t, stored as S(x) = Σ_{i=0}^{2t−1} S_{i+1} x^i; true iff all are zero.
bool syndromes(const GF2EX& r, int t, GF2EX& s) {
  const GF2E a = alpha();
  GF2E point = a;
  GF2E value;
  bool zero = true;
  NTL::clear(s);
  for (int i = 0; i < 2 * t; ++i) {
    NTL::eval(value, r, point);
    if (!NTL::IsZero(value)) zero = false;
    NTL::SetCoeff(s, i, value);
    point *= a;
  }
  return zero;
}

// Berlekamp–Massey: the shortest LFSR connection polynomial Λ (Λ(0) = 1) generating S_1..S_2t;
// returns its length L.
long berlekamp_massey(const GF2EX& s, int t, GF2EX& lambda) {
  GF2EX c;
  NTL::SetCoeff(c, 0);
  GF2EX b = c;
  GF2E last_discrepancy;
  NTL::set(last_discrepancy);
  long length = 0;
  long shift = 1;
  GF2E d;
  GF2E term;
  for (long step = 0; step < 2L * t; ++step) {
    d = NTL::coeff(s, step);
    for (long i = 1; i <= length; ++i) {
      NTL::mul(term, NTL::coeff(c, i), NTL::coeff(s, step - i));
      d += term;
    }
    if (NTL::IsZero(d)) {
      ++shift;
      continue;
    }
    // last_discrepancy is never zero: it starts at 1 and is only replaced by a non-zero d.
    const GF2E scale = d / last_discrepancy;
    GF2EX update;
    NTL::LeftShift(update, b, shift);
    update *= scale;
    if (2 * length <= step) {
      GF2EX previous = c;
      c -= update;
      length = step + 1 - length;
      b = previous;
      last_discrepancy = d;
      shift = 1;
    } else {
      c -= update;
      ++shift;
    }
  }
  lambda = c;
  return length;
}

}  // namespace

ReedSolomon::ReedSolomon(int k, int t) : k_(k), t_(t) {
  if (k < 1) throw InvalidArgument("ReedSolomon: k must be >= 1, got " + std::to_string(k));
  if (t < 1) throw InvalidArgument("ReedSolomon: t must be >= 1, got " + std::to_string(t));
  if (k > 255 || t > 127 || k + 2 * t > 255)
    throw InvalidArgument("ReedSolomon: n = k + 2t must be <= 255, got k = " + std::to_string(k) +
                          ", t = " + std::to_string(t));
}

std::vector<std::uint8_t> ReedSolomon::encode(const std::vector<std::uint8_t>& bits) const {
  const std::vector<std::uint8_t> message = to_symbols(bits, k_, "encode");
  NTL::GF2EPush push(field_context());

  const GF2EX& g = generator(t_);
  GF2EX shifted;
  NTL::LeftShift(shifted, to_poly(message), 2L * t_);
  GF2EX parity;
  NTL::rem(parity, shifted, g);
  const GF2EX codeword = shifted + parity;  // characteristic 2: − = +

  const int n = this->n();
  std::vector<std::uint8_t> symbols(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) symbols[j] = to_byte(NTL::coeff(codeword, n - 1 - j));
  WRSEC_CHECK(std::equal(message.begin(), message.end(), symbols.begin()),
              "Reed-Solomon encoding is not systematic");
  return to_bits(symbols, static_cast<std::size_t>(n));
}

std::optional<std::vector<std::uint8_t>> ReedSolomon::decode(const std::vector<std::uint8_t>& bits,
                                                             int* symbols_corrected) const {
  const int n = this->n();
  std::vector<std::uint8_t> symbols = to_symbols(bits, n, "decode");
  if (symbols_corrected != nullptr) *symbols_corrected = 0;
  NTL::GF2EPush push(field_context());

  GF2EX received = to_poly(symbols);
  GF2EX s;
  if (syndromes(received, t_, s)) return to_bits(symbols, static_cast<std::size_t>(k_));

  GF2EX lambda;
  const long errors = berlekamp_massey(s, t_, lambda);
  if (errors > t_ || NTL::deg(lambda) != errors) return std::nullopt;

  // Chien search over the n positions: Λ(α^{−p}) = 0 marks an error at x^p. If fewer than deg Λ
  // roots lie inside the codeword, some root is outside it or Λ does not split: uncorrectable.
  std::vector<long> positions;
  const GF2E alpha_inverse = NTL::inv(alpha());
  GF2E point;
  NTL::set(point);
  GF2E value;
  std::vector<GF2E> points;
  for (long p = 0; p < n; ++p) {
    NTL::eval(value, lambda, point);
    if (NTL::IsZero(value)) {
      positions.push_back(p);
      points.push_back(point);
    }
    point *= alpha_inverse;
  }
  if (static_cast<long>(positions.size()) != errors) return std::nullopt;

  // Forney (first root α^1): e_p = Ω(X_p^{−1}) / Λ'(X_p^{−1}), Ω = S·Λ mod x^{2t}.
  GF2EX omega;
  NTL::MulTrunc(omega, s, lambda, 2L * t_);
  GF2EX derivative;
  NTL::diff(derivative, lambda);
  GF2E numerator;
  GF2E denominator;
  std::vector<GF2E> values(positions.size());
  for (std::size_t i = 0; i < positions.size(); ++i) {
    NTL::eval(denominator, derivative, points[i]);
    if (NTL::IsZero(denominator)) return std::nullopt;  // repeated root
    NTL::eval(numerator, omega, points[i]);
    if (NTL::IsZero(numerator)) return std::nullopt;  // a located error of value 0: inconsistent
    NTL::div(values[i], numerator, denominator);
  }

  // The corrected word must be a codeword: its syndromes S_i − Σ_j e_j·X_j^i (linearity; the same
  // as re-evaluating the corrected word at α^1..α^2t) must all vanish.
  std::vector<GF2E> locators(positions.size());
  std::vector<GF2E> terms(positions.size());
  for (std::size_t j = 0; j < positions.size(); ++j) {
    NTL::power(locators[j], alpha(), positions[j]);
    terms[j] = values[j];
  }
  GF2E syndrome;
  for (long i = 0; i < 2L * t_; ++i) {
    syndrome = NTL::coeff(s, i);
    for (std::size_t j = 0; j < positions.size(); ++j) {
      terms[j] *= locators[j];  // e_j·X_j^{i+1}
      syndrome += terms[j];
    }
    if (!NTL::IsZero(syndrome)) return std::nullopt;
  }

  for (std::size_t j = 0; j < positions.size(); ++j) {
    const std::size_t index = static_cast<std::size_t>(n - 1 - positions[j]);
    symbols[index] = static_cast<std::uint8_t>(symbols[index] ^ to_byte(values[j]));
  }
  const int changed = static_cast<int>(positions.size());
  if (symbols_corrected != nullptr) *symbols_corrected = changed;
  return to_bits(symbols, static_cast<std::size_t>(k_));
}

}  // namespace wrsec::definitions
