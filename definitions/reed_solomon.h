#pragma once
// Reed–Solomon payload coding over GF(2^8) (field polynomial x^8 + x^4 + x^3 + x^2 + 1, 0x11d,
// primitive element α = x), arithmetic through NTL's GF2E/GF2EX.
//   RS(n, k), n = k + 2t ≤ 255: codewords c(x) = x^{2t}·m(x) + (x^{2t}·m(x) mod g(x)) (systematic,
//   message symbols first), g(x) = Π_{i=1..2t} (x − α^i).
//   Decoding corrects any pattern of ≤ t symbol errors (syndromes, Berlekamp–Massey, Chien
//   search, Forney), hence any ≤ t bit errors; more errors are detected or miscorrected.
// Bits ↔ symbols: 8 bits per symbol, most significant bit first.
// Symbol j of a word is the coefficient of x^{n−1−j}; a byte b is the element Σ_i bit_i(b)·α^i.
#include <cstdint>
#include <optional>
#include <vector>

namespace wrsec::definitions {

class ReedSolomon {
 public:
  // InvalidArgument unless k >= 1, t >= 1 and k + 2t <= 255.
  ReedSolomon(int k, int t);
  [[nodiscard]] int k() const { return k_; }
  [[nodiscard]] int t() const { return t_; }
  [[nodiscard]] int n() const { return k_ + 2 * t_; }
  // Bit errors always corrected (= t: each bit error touches one symbol).
  [[nodiscard]] int guaranteed_bit_errors() const { return t_; }

  // 8k message bits (0/1) → 8n code bits; InvalidArgument for a wrong length or a value > 1.
  [[nodiscard]] std::vector<std::uint8_t> encode(const std::vector<std::uint8_t>& bits) const;
  // 8n received bits → 8k message bits, or nullopt when the decoder detects more than t symbol
  // errors. symbols_corrected (if non-null) receives the number of symbols it changed.
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> decode(
      const std::vector<std::uint8_t>& bits, int* symbols_corrected = nullptr) const;

 private:
  int k_;
  int t_;
};

}  // namespace wrsec::definitions
