#include "definitions/reed_solomon.h"

#include <gtest/gtest.h>

#include <NTL/GF2E.h>
#include <NTL/GF2X.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::definitions {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Independent oracle: table-based GF(256) (0x11d, α = 2) and systematic encoding by synthetic
// division, message symbols first (highest-degree coefficient first). Shares no code with NTL.
// ---------------------------------------------------------------------------------------------
class Gf256 {
 public:
  Gf256() {
    unsigned x = 1;
    for (int i = 0; i < 255; ++i) {
      exp_[i] = static_cast<std::uint8_t>(x);
      log_[x] = i;
      x <<= 1;
      if ((x & 0x100U) != 0) x ^= 0x11dU;
    }
    for (int i = 255; i < 510; ++i) exp_[i] = exp_[i - 255];
  }
  [[nodiscard]] std::uint8_t exp(int i) const { return exp_[i % 255]; }
  [[nodiscard]] std::uint8_t mul(std::uint8_t a, std::uint8_t b) const {
    return (a == 0 || b == 0) ? 0 : exp_[log_[a] + log_[b]];
  }
  // g(x) = Π_{i=1..2t}(x + α^i), highest degree first.
  [[nodiscard]] Bytes generator(int t) const {
    Bytes g{1};
    for (int i = 1; i <= 2 * t; ++i) {
      Bytes next(g.size() + 1, 0);
      for (std::size_t j = 0; j < g.size(); ++j) {
        next[j] ^= g[j];
        next[j + 1] ^= mul(g[j], exp(i));
      }
      g = next;
    }
    return g;
  }
  [[nodiscard]] Bytes encode(const Bytes& message, int t) const {
    const Bytes g = generator(t);
    Bytes buffer = message;
    buffer.resize(message.size() + 2 * static_cast<std::size_t>(t), 0);
    for (std::size_t i = 0; i < message.size(); ++i) {
      const std::uint8_t c = buffer[i];
      if (c == 0) continue;
      for (std::size_t j = 1; j < g.size(); ++j) buffer[i + j] ^= mul(g[j], c);
    }
    Bytes codeword = message;
    codeword.insert(codeword.end(), buffer.begin() + static_cast<std::ptrdiff_t>(message.size()),
                    buffer.end());
    return codeword;
  }
  // Word (highest degree first) evaluated at α^i by Horner.
  [[nodiscard]] std::uint8_t eval(const Bytes& word, int i) const {
    std::uint8_t acc = 0;
    for (std::uint8_t c : word) acc = static_cast<std::uint8_t>(mul(acc, exp(i)) ^ c);
    return acc;
  }

 private:
  std::array<std::uint8_t, 510> exp_{};
  std::array<int, 256> log_{};
};

const Gf256& gf() {
  static const Gf256 field;
  return field;
}

Bytes to_bits(const Bytes& symbols) {
  Bytes bits;
  for (std::uint8_t s : symbols)
    for (int b = 7; b >= 0; --b) bits.push_back(static_cast<std::uint8_t>((s >> b) & 1U));
  return bits;
}

Bytes to_symbols(const Bytes& bits) {
  Bytes symbols(bits.size() / 8, 0);
  for (std::size_t i = 0; i < bits.size(); ++i)
    symbols[i / 8] = static_cast<std::uint8_t>(symbols[i / 8] | (bits[i] << (7 - i % 8)));
  return symbols;
}

Bytes random_symbols(Rng& rng, int count) {
  Bytes s(static_cast<std::size_t>(count));
  for (auto& v : s) v = static_cast<std::uint8_t>(rng.below(256));
  return s;
}

// `count` distinct positions in [0, n), uniformly (partial Fisher–Yates).
std::vector<int> distinct_positions(Rng& rng, int n, int count) {
  std::vector<int> all(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) all[i] = i;
  for (int i = 0; i < count; ++i) {
    const int j = i + static_cast<int>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(all[i], all[j]);
  }
  all.resize(static_cast<std::size_t>(count));
  return all;
}

// Adds `count` symbol errors with non-zero values at distinct random positions (in symbols).
void add_symbol_errors(Rng& rng, Bytes& symbols, int count) {
  for (int p : distinct_positions(rng, static_cast<int>(symbols.size()), count))
    symbols[p] = static_cast<std::uint8_t>(symbols[p] ^ (1 + rng.below(255)));
}

Rng rng_for(const std::string& name, int k, int t) {
  return Rng(20240601, stable_hash("reed_solomon_test/" + name),
             static_cast<std::uint64_t>(k) * 1000 + static_cast<std::uint64_t>(t));
}

const std::vector<std::pair<int, int>> kCodes = {{1, 1}, {4, 2},   {11, 2},   {8, 4},
                                                 {5, 7}, {32, 16}, {200, 27}, {1, 127}};

int trials_for(int t) {
  return t <= 16 ? 200 : 20;
}

// ---------------------------------------------------------------------------------------------

TEST(ReedSolomon, ParametersAndValidation) {
  const ReedSolomon rs(8, 4);
  EXPECT_EQ(rs.k(), 8);
  EXPECT_EQ(rs.t(), 4);
  EXPECT_EQ(rs.n(), 16);
  EXPECT_EQ(rs.guaranteed_bit_errors(), 4);
  EXPECT_NO_THROW(ReedSolomon(253, 1));
  EXPECT_NO_THROW(ReedSolomon(1, 127));

  EXPECT_THROW(ReedSolomon(0, 4), InvalidArgument);
  EXPECT_THROW(ReedSolomon(-3, 4), InvalidArgument);
  EXPECT_THROW(ReedSolomon(8, 0), InvalidArgument);
  EXPECT_THROW(ReedSolomon(8, -1), InvalidArgument);
  EXPECT_THROW(ReedSolomon(254, 1), InvalidArgument);
  EXPECT_THROW(ReedSolomon(1, 128), InvalidArgument);
  EXPECT_THROW(ReedSolomon(256, 0), InvalidArgument);
  EXPECT_THROW(ReedSolomon(1 << 30, 1 << 30), InvalidArgument);

  EXPECT_THROW((void)rs.encode(Bytes(63, 0)), InvalidArgument);
  EXPECT_THROW((void)rs.encode(Bytes(65, 0)), InvalidArgument);
  EXPECT_THROW((void)rs.encode(Bytes{}), InvalidArgument);
  EXPECT_THROW((void)rs.encode(Bytes(128, 0)), InvalidArgument);  // a codeword, not a message
  Bytes bad(64, 0);
  bad[17] = 2;
  EXPECT_THROW((void)rs.encode(bad), InvalidArgument);

  EXPECT_THROW((void)rs.decode(Bytes(64, 0)), InvalidArgument);  // a message, not a codeword
  EXPECT_THROW((void)rs.decode(Bytes(127, 0)), InvalidArgument);
  Bytes bad_word(128, 0);
  bad_word[127] = 2;
  EXPECT_THROW((void)rs.decode(bad_word), InvalidArgument);
  bad_word[127] = 255;
  EXPECT_THROW((void)rs.decode(bad_word), InvalidArgument);
}

TEST(ReedSolomon, OracleGeneratorIsTheKnownOne) {
  // x^4 + 30x^3 + 216x^2 + 231x + 116 = (x−α)(x−α²)(x−α³)(x−α⁴) over 0x11d.
  EXPECT_EQ(gf().generator(2), (Bytes{1, 30, 216, 231, 116}));
  EXPECT_EQ(gf().generator(4), (Bytes{1, 227, 44, 178, 71, 172, 8, 224, 37}));
}

TEST(ReedSolomon, GoldenCodewords) {
  struct Golden {
    int t;
    Bytes message;
    Bytes codeword;
  };
  const std::vector<Golden> golden = {
      {2, {0x12, 0x34, 0x56, 0x78}, {0x12, 0x34, 0x56, 0x78, 0xfa, 0x8c, 0x6f, 0xe2}},
      {2,  // RS(15, 11)
       {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
       {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x1e, 0x60, 0x74, 0xdd}},
      {4,
       {'w', 'r', 's', 'e', 'c'},
       {'w', 'r', 's', 'e', 'c', 0xec, 0x12, 0x16, 0xc0, 0xba, 0x55, 0x3f, 0x25}},
  };
  for (const auto& g : golden) {
    ASSERT_EQ(gf().encode(g.message, g.t), g.codeword);  // the oracle agrees with the literal
    const ReedSolomon rs(static_cast<int>(g.message.size()), g.t);
    const Bytes code_bits = rs.encode(to_bits(g.message));
    EXPECT_EQ(to_symbols(code_bits), g.codeword);
    int corrected = -1;
    const auto decoded = rs.decode(code_bits, &corrected);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, to_bits(g.message));
    EXPECT_EQ(corrected, 0);
  }
}

TEST(ReedSolomon, MatchesOracleAndVanishesAtGeneratorRoots) {
  for (const auto& [k, t] : kCodes) {
    SCOPED_TRACE("k=" + std::to_string(k) + " t=" + std::to_string(t));
    const ReedSolomon rs(k, t);
    Rng rng = rng_for("oracle", k, t);
    for (int trial = 0; trial < 20; ++trial) {
      const Bytes message = random_symbols(rng, k);
      const Bytes codeword = to_symbols(rs.encode(to_bits(message)));
      ASSERT_EQ(codeword, gf().encode(message, t));
      for (int i = 1; i <= 2 * t; ++i) ASSERT_EQ(gf().eval(codeword, i), 0) << "root α^" << i;
    }
  }
}

TEST(ReedSolomon, IsSystematic) {
  for (const auto& [k, t] : kCodes) {
    const ReedSolomon rs(k, t);
    Rng rng = rng_for("systematic", k, t);
    for (int trial = 0; trial < 20; ++trial) {
      Bytes bits(8 * static_cast<std::size_t>(k));
      for (auto& b : bits) b = rng.bit() ? 1 : 0;
      const Bytes code = rs.encode(bits);
      ASSERT_EQ(code.size(), 8 * static_cast<std::size_t>(rs.n()));
      for (std::uint8_t b : code) ASSERT_LE(b, 1);
      ASSERT_TRUE(std::equal(bits.begin(), bits.end(), code.begin()));
    }
  }
  // The zero message encodes to the zero codeword.
  const ReedSolomon rs(8, 4);
  EXPECT_EQ(rs.encode(Bytes(64, 0)), Bytes(128, 0));
}

TEST(ReedSolomon, CorrectsUpToTSymbolErrors) {
  for (const auto& [k, t] : kCodes) {
    SCOPED_TRACE("k=" + std::to_string(k) + " t=" + std::to_string(t));
    const ReedSolomon rs(k, t);
    Rng rng = rng_for("correct", k, t);
    for (int trial = 0; trial < trials_for(t); ++trial) {
      const Bytes message = random_symbols(rng, k);
      Bytes word = to_symbols(rs.encode(to_bits(message)));
      const int errors = trial < 2 ? (trial == 0 ? 0 : t)
                                   : static_cast<int>(rng.below(static_cast<std::uint64_t>(t) + 1));
      add_symbol_errors(rng, word, errors);
      int corrected = -1;
      const auto decoded = rs.decode(to_bits(word), &corrected);
      ASSERT_TRUE(decoded.has_value()) << "trial " << trial << ", " << errors << " errors";
      ASSERT_EQ(*decoded, to_bits(message)) << "trial " << trial;
      ASSERT_EQ(corrected, errors) << "trial " << trial;
    }
  }
}

TEST(ReedSolomon, CorrectsErrorsInParityAndAtTheEnds) {
  const ReedSolomon rs(8, 4);
  Rng rng = rng_for("ends", 8, 4);
  const Bytes message = random_symbols(rng, 8);
  const Bytes code = to_symbols(rs.encode(to_bits(message)));
  for (const std::vector<int>& positions :
       {std::vector<int>{0}, std::vector<int>{15}, std::vector<int>{0, 15},
        std::vector<int>{12, 13, 14, 15}, std::vector<int>{0, 1, 2, 3},
        std::vector<int>{0, 7, 8, 15}}) {
    Bytes word = code;
    for (int p : positions) word[p] ^= 0xff;
    int corrected = -1;
    const auto decoded = rs.decode(to_bits(word), &corrected);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, to_bits(message));
    EXPECT_EQ(corrected, static_cast<int>(positions.size()));
  }
}

TEST(ReedSolomon, CorrectsTBitErrors) {
  for (const auto& [k, t] : kCodes) {
    SCOPED_TRACE("k=" + std::to_string(k) + " t=" + std::to_string(t));
    const ReedSolomon rs(k, t);
    Rng rng = rng_for("bits", k, t);
    for (int trial = 0; trial < trials_for(t); ++trial) {
      const Bytes message = random_symbols(rng, k);
      const Bytes code = rs.encode(to_bits(message));
      // Exactly t bit errors in t distinct symbols: t symbol errors.
      Bytes spread = code;
      for (int s : distinct_positions(rng, rs.n(), t)) spread[8 * s + rng.below(8)] ^= 1;
      int corrected = -1;
      auto decoded = rs.decode(spread, &corrected);
      ASSERT_TRUE(decoded.has_value()) << "trial " << trial;
      ASSERT_EQ(*decoded, to_bits(message));
      ASSERT_EQ(corrected, t);
      // t bit errors anywhere (some may share a symbol): at most t symbol errors.
      Bytes anywhere = code;
      std::set<int> symbols_hit;
      for (int b : distinct_positions(rng, 8 * rs.n(), t)) {
        anywhere[b] ^= 1;
        symbols_hit.insert(b / 8);
      }
      decoded = rs.decode(anywhere, &corrected);
      ASSERT_TRUE(decoded.has_value()) << "trial " << trial;
      ASSERT_EQ(*decoded, to_bits(message));
      ASSERT_EQ(corrected, static_cast<int>(symbols_hit.size()));
    }
  }
}

TEST(ReedSolomon, BeyondTErrorsAreNeverClaimedAsTheMessage) {
  for (const auto& [k, t] : kCodes) {
    SCOPED_TRACE("k=" + std::to_string(k) + " t=" + std::to_string(t));
    const ReedSolomon rs(k, t);
    Rng rng = rng_for("beyond", k, t);
    int trials = 0;
    int detected = 0;
    for (int trial = 0; trial < trials_for(t); ++trial) {
      const int errors = t + 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(t)));
      if (errors > rs.n()) continue;
      const Bytes message = random_symbols(rng, k);
      Bytes word = to_symbols(rs.encode(to_bits(message)));
      add_symbol_errors(rng, word, errors);
      int corrected = -1;
      const auto decoded = rs.decode(to_bits(word), &corrected);
      ++trials;
      if (!decoded.has_value()) {
        ++detected;
        continue;
      }
      // A miscorrection: a different codeword within distance t of the received word.
      ASSERT_NE(*decoded, to_bits(message)) << "trial " << trial;
      ASSERT_GE(corrected, 1);
      ASSERT_LE(corrected, t);
    }
    if (t >= 4) {
      EXPECT_GT(2 * detected, trials) << detected << " of " << trials << " detected";
    }
    RecordProperty("detected_k" + std::to_string(k) + "_t" + std::to_string(t),
                   std::to_string(detected) + "/" + std::to_string(trials));
  }
}

TEST(ReedSolomon, ConcurrentCallsAgreeAndRestoreTheCallersModulus) {
  const ReedSolomon rs(32, 16);
  Rng rng = rng_for("threads", 32, 16);
  constexpr int kWords = 64;
  std::vector<Bytes> messages;
  std::vector<Bytes> received;
  std::vector<Bytes> expected_codes;
  for (int i = 0; i < kWords; ++i) {
    messages.push_back(random_symbols(rng, 32));
    expected_codes.push_back(rs.encode(to_bits(messages.back())));
    Bytes word = to_symbols(expected_codes.back());
    add_symbol_errors(rng, word, i % 17);
    received.push_back(to_bits(word));
  }
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      // A different modulus in this thread's NTL context must survive the calls.
      NTL::GF2X p;
      NTL::SetCoeff(p, 5);
      NTL::SetCoeff(p, 2);
      NTL::SetCoeff(p, 0);
      NTL::GF2E::init(p);
      for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < kWords; ++i) {
          if (rs.encode(to_bits(messages[i])) != expected_codes[i]) ++failures[w];
          int corrected = -1;
          const auto decoded = rs.decode(received[i], &corrected);
          if (!decoded || *decoded != to_bits(messages[i]) || corrected != i % 17) ++failures[w];
        }
      }
      if (NTL::GF2E::degree() != 5) ++failures[w];
    });
  }
  for (auto& th : threads) th.join();
  for (int w = 0; w < 4; ++w) EXPECT_EQ(failures[w], 0) << "thread " << w;
}

}  // namespace
}  // namespace wrsec::definitions
