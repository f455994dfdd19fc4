#include "definitions/owner_key.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "definitions/statistics.h"

namespace wrsec::definitions {
namespace {

using nlohmann::json;

const OwnerKeyPair& key_1024() {
  static const OwnerKeyPair key = [] {
    Rng coins(11, stable_hash("owner_key_test"), 0);
    return generate_owner_key(coins, 1024);
  }();
  return key;
}

const OwnerKeyPair& other_key_1024() {
  static const OwnerKeyPair key = [] {
    Rng coins(11, stable_hash("owner_key_test"), 1);
    return generate_owner_key(coins, 1024);
  }();
  return key;
}

// A hex digit different from c (keeps the string canonical unless it is the leading digit).
char other_digit(char c) {
  return c == '1' ? '3' : '1';
}

std::string bits_string(const std::vector<std::uint8_t>& bits) {
  std::string s;
  for (std::uint8_t b : bits) s.push_back(static_cast<char>('0' + b));
  return s;
}

// The message of an InvalidArgument thrown by f (fails the test if none is thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InvalidArgument";
  return "";
}

TEST(OwnerKey, KeygenIsDeterministicInCoins) {
  Rng a(5, 6, 7);
  Rng b(5, 6, 7);
  Rng c(5, 6, 8);
  const OwnerKeyPair ka = generate_owner_key(a, 512);
  const OwnerKeyPair kb = generate_owner_key(b, 512);
  const OwnerKeyPair kc = generate_owner_key(c, 512);
  EXPECT_EQ(ka.public_key, kb.public_key);
  EXPECT_EQ(ka.d_hex, kb.d_hex);
  EXPECT_NE(ka.public_key.n_hex, kc.public_key.n_hex);
  EXPECT_NE(ka.d_hex, kc.d_hex);
  EXPECT_EQ(a.next_u64(), b.next_u64());  // keygen consumed the same coins
  // A second key from the same (advanced) stream is a new key.
  EXPECT_NE(generate_owner_key(a, 512).public_key, ka.public_key);
}

TEST(OwnerKey, KeyShape) {
  for (const OwnerKeyPair* key : {&key_1024(), &other_key_1024()}) {
    EXPECT_EQ(key->public_key.bits(), 1024);
    EXPECT_EQ(key->public_key.e, 65537u);
    EXPECT_EQ(key->public_key.n_hex.size(), 256u);
    EXPECT_NE(key->public_key.n_hex[0], '0');
    EXPECT_EQ(key->public_key.n_hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  EXPECT_NE(key_1024().public_key, other_key_1024().public_key);
  for (int bits : {512, 514, 768}) {
    Rng coins(1, 2, static_cast<std::uint64_t>(bits));
    EXPECT_EQ(generate_owner_key(coins, bits).public_key.bits(), bits);
  }
}

TEST(OwnerKey, KeygenRejectsBadSizes) {
  for (int bits : {0, -2, 256, 510, 511, 513, 8193, 8194, 16384}) {
    Rng coins(1, 2, 3);
    EXPECT_THROW((void)generate_owner_key(coins, bits), InvalidArgument) << bits;
  }
}

TEST(OwnerKey, KeygenIsThreadSafeAndDeterministic) {
  constexpr int kThreads = 4;
  std::vector<OwnerKeyPair> sequential(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    Rng coins(3, 4, static_cast<std::uint64_t>(t));
    sequential[t] = generate_owner_key(coins, 512);
  }
  std::vector<OwnerKeyPair> parallel(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &parallel] {
      Rng coins(3, 4, static_cast<std::uint64_t>(t));
      parallel[t] = generate_owner_key(coins, 512);
      const std::string sig = sign_statement(parallel[t], "thread statement");
      if (!verify_statement(parallel[t].public_key, "thread statement", sig))
        parallel[t].d_hex = "verification failed";
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(parallel[t].public_key, sequential[t].public_key) << t;
    EXPECT_EQ(parallel[t].d_hex, sequential[t].d_hex) << t;
  }
}

TEST(OwnerKey, SignVerifyRoundTrip1024) {
  const OwnerKeyPair& key = key_1024();
  const std::string binary("\0\xff binary", 9);
  for (const std::string& statement : {std::string(), std::string("model 3f2a"), binary}) {
    const std::string sig = sign_statement(key, statement);
    EXPECT_TRUE(verify_statement(key.public_key, statement, sig)) << statement;
    EXPECT_EQ(sign_statement(key, statement), sig);  // deterministic: one signature per statement
    EXPECT_LE(sig.size(), key.public_key.n_hex.size());
  }
}

TEST(OwnerKey, SignVerifyRoundTrip2048AndTiming) {
  Rng coins(2024, stable_hash("owner_key_test.2048"), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const OwnerKeyPair key = generate_owner_key(coins, 2048);
  const auto t1 = std::chrono::steady_clock::now();
  constexpr int kSigns = 20;
  std::string sig;
  for (int i = 0; i < kSigns; ++i) sig = sign_statement(key, "statement " + std::to_string(i));
  const auto t2 = std::chrono::steady_clock::now();
  constexpr int kVerifies = 200;
  int ok = 0;
  for (int i = 0; i < kVerifies; ++i)
    ok += verify_statement(key.public_key, "statement " + std::to_string(kSigns - 1), sig);
  const auto t3 = std::chrono::steady_clock::now();
  const auto ms = [](auto a, auto b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  std::cout << "[timing] 2048-bit keygen " << ms(t0, t1) << " ms; sign " << ms(t1, t2) / kSigns
            << " ms; verify " << ms(t2, t3) / kVerifies << " ms\n";
  EXPECT_EQ(key.public_key.bits(), 2048);
  EXPECT_EQ(ok, kVerifies);
  EXPECT_FALSE(verify_statement(key.public_key, "statement 0", sig));
}

TEST(OwnerKey, VerifyRejectsForgeriesAndMalformedInput) {
  const OwnerKeyPair& key = key_1024();
  const PublicKey& pk = key.public_key;
  const std::string statement = "model abc owned by alice";
  const std::string sig = sign_statement(key, statement);
  ASSERT_TRUE(verify_statement(pk, statement, sig));

  EXPECT_FALSE(verify_statement(pk, statement + " ", sig));
  EXPECT_FALSE(verify_statement(pk, "model abc owned by mallory", sig));
  std::string tampered = sig;
  tampered.back() = other_digit(tampered.back());
  EXPECT_FALSE(verify_statement(pk, statement, tampered));
  tampered = sig;
  tampered[tampered.size() / 2] = other_digit(tampered[tampered.size() / 2]);
  EXPECT_FALSE(verify_statement(pk, statement, tampered));

  // Another key's signature, either way round.
  const std::string other_sig = sign_statement(other_key_1024(), statement);
  EXPECT_FALSE(verify_statement(pk, statement, other_sig));
  EXPECT_FALSE(verify_statement(other_key_1024().public_key, statement, sig));
  EXPECT_TRUE(verify_statement(other_key_1024().public_key, statement, other_sig));

  // Out-of-range and non-canonical encodings of σ.
  EXPECT_FALSE(verify_statement(pk, statement, "0"));
  EXPECT_FALSE(verify_statement(pk, statement, pk.n_hex));                           // σ = n
  EXPECT_FALSE(verify_statement(pk, statement, std::string(pk.n_hex.size(), 'f')));  // σ > n
  EXPECT_FALSE(verify_statement(pk, statement, pk.n_hex + "0"));
  EXPECT_FALSE(verify_statement(pk, statement, std::string(2000, 'f')));
  EXPECT_FALSE(verify_statement(pk, statement, ""));
  EXPECT_FALSE(verify_statement(pk, statement, "xyz"));
  EXPECT_FALSE(verify_statement(pk, statement, "-" + sig));
  EXPECT_FALSE(verify_statement(pk, statement, "0x" + sig));
  EXPECT_FALSE(verify_statement(pk, statement, sig + " "));
  EXPECT_FALSE(verify_statement(pk, statement, "0" + sig));  // leading zero: not canonical
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper != sig) {
    EXPECT_FALSE(verify_statement(pk, statement, upper));
  }

  // Bad keys.
  PublicKey bad = pk;
  bad.e = 3;
  EXPECT_FALSE(verify_statement(bad, statement, sig));
  for (std::uint64_t e : {0u, 1u, 2u, 65536u}) {
    bad.e = e;
    EXPECT_FALSE(verify_statement(bad, statement, sig)) << e;
  }
  bad = pk;
  bad.n_hex.back() = static_cast<char>(bad.n_hex.back() - 1);  // even n
  EXPECT_FALSE(verify_statement(bad, statement, sig));
  bad.n_hex = "";
  EXPECT_FALSE(verify_statement(bad, statement, sig));
  bad.n_hex = "0";
  EXPECT_FALSE(verify_statement(bad, statement, "1"));
  bad.n_hex = "1";
  EXPECT_FALSE(verify_statement(bad, statement, "0"));
  bad.n_hex = "f1";  // odd but tiny
  EXPECT_FALSE(verify_statement(bad, statement, "1"));
  bad.n_hex = "0" + pk.n_hex;
  EXPECT_FALSE(verify_statement(bad, statement, sig));
  bad.n_hex = "zz";
  EXPECT_FALSE(verify_statement(bad, statement, sig));
}

TEST(OwnerKey, SignRejectsInconsistentKeys) {
  OwnerKeyPair key = key_1024();
  key.d_hex = other_key_1024().d_hex;
  EXPECT_THROW((void)sign_statement(key, "x"), InvalidArgument);
  key = key_1024();
  key.d_hex = "not hex";
  EXPECT_THROW((void)sign_statement(key, "x"), InvalidArgument);
  key.d_hex = "0";
  EXPECT_THROW((void)sign_statement(key, "x"), InvalidArgument);
  key = key_1024();
  key.public_key.n_hex = "2";
  EXPECT_THROW((void)sign_statement(key, "x"), InvalidArgument);
}

TEST(MarkKey, IsAPureFunctionOfTheClaim) {
  const OwnerKeyPair& key = key_1024();
  const OwnerClaim a = make_claim(key, "statement A");
  const OwnerClaim b = make_claim(key, "statement B");
  const MarkKey ka = MarkKey::from_signature(a.public_key, a.statement, a.signature_hex);
  const MarkKey ka2 = MarkKey::from_signature(a.public_key, a.statement, a.signature_hex);
  const MarkKey kb = MarkKey::from_signature(b.public_key, b.statement, b.signature_hex);
  EXPECT_EQ(ka.digest(), ka2.digest());
  EXPECT_NE(ka.digest(), kb.digest());
  EXPECT_EQ(ka.hex().size(), 64u);
  // Every field enters the digest.
  PublicKey other_e = a.public_key;
  other_e.e = 3;
  EXPECT_NE(MarkKey::from_signature(other_e, a.statement, a.signature_hex).digest(), ka.digest());
  EXPECT_NE(MarkKey::from_signature(a.public_key, a.statement, b.signature_hex).digest(),
            ka.digest());
  // Length prefixes: moving a boundary between fields changes the digest.
  EXPECT_NE(MarkKey::from_signature(a.public_key, "ab", "c").digest(),
            MarkKey::from_signature(a.public_key, "a", "bc").digest());

  Rng r1 = ka.rng("uchida.projection");
  Rng r2 = ka2.rng("uchida.projection");
  Rng r3 = ka.rng("uchida.dither");
  Rng r4 = kb.rng("uchida.projection");
  const std::uint64_t first = r1.next_u64();
  EXPECT_EQ(first, r2.next_u64());
  EXPECT_NE(first, r3.next_u64());
  EXPECT_NE(first, r4.next_u64());
}

TEST(MarkKey, GoldenDigestAndBits) {
  // Values computed independently from the documented encodings with Python's hashlib.
  const MarkKey k = MarkKey::from_signature(PublicKey{"c5", 65537}, "model X", "1f");
  EXPECT_EQ(k.hex(), "bd9d7c8d034632de3c5d7be780116b265f9f5e94f15c61c0a546c3f3f7ca2abb");
  const MarkKey zero = MarkKey::from_seed_hex(std::string(64, '0'));
  EXPECT_EQ(bits_string(zero.message_bits(64)),
            "0101011011101001100111010000111000110111010000011110110111011001");
  std::string seed;
  for (std::uint8_t i = 0; i < 32; ++i) seed += to_hex(&i, 1);
  const MarkKey counting = MarkKey::from_seed_hex(seed);  // bytes 00 01 ... 1f
  EXPECT_EQ(counting.digest()[31], 0x1f);
  EXPECT_EQ(bits_string(counting.message_bits(300)).substr(256),
            "11001000000011001100100001110100101110100101");
  // Rng seeding: (master, experiment, trial, stream) = big-endian words of the digest.
  Rng expected = Rng(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL, 0x1011121314151617ULL,
                     0x18191a1b1c1d1e1fULL)
                     .derive("p");
  Rng got = counting.rng("p");
  EXPECT_EQ(got.next_u64(), expected.next_u64());
}

TEST(MarkKey, FromSeedHex) {
  const std::string seed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  const MarkKey k = MarkKey::from_seed_hex(seed);
  EXPECT_EQ(k.hex(), seed);
  EXPECT_EQ(k.digest()[1], 0x11);
  std::string upper = seed;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(MarkKey::from_seed_hex(upper).digest(), k.digest());
  for (const std::string& bad : {std::string(), seed.substr(1), seed + "0", seed.substr(2),
                                 "g" + seed.substr(1), seed.substr(0, 63) + " "}) {
    EXPECT_THROW((void)MarkKey::from_seed_hex(bad), InvalidArgument) << bad;
  }
}

TEST(MarkKey, MessageBits) {
  const MarkKey a =
      MarkKey::from_signature(key_1024().public_key, "s", sign_statement(key_1024(), "s"));
  const MarkKey b = MarkKey::from_signature(other_key_1024().public_key, "s",
                                            sign_statement(other_key_1024(), "s"));
  constexpr std::size_t kBits = 4096;
  const std::vector<std::uint8_t> ma = a.message_bits(kBits);
  const std::vector<std::uint8_t> mb = b.message_bits(kBits);
  ASSERT_EQ(ma.size(), kBits);
  EXPECT_NE(ma, mb);
  EXPECT_TRUE(a.message_bits(0).empty());
  const std::vector<std::uint8_t> prefix = a.message_bits(77);
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), ma.begin()));
  std::size_t ones = 0, agree = 0;
  for (std::size_t i = 0; i < kBits; ++i) {
    ASSERT_LE(ma[i], 1);
    ones += ma[i];
    agree += ma[i] == mb[i];
  }
  // Both counts ~ Bin(4096, 1/2) for uniform independent bits: each tail at 2.5e-7, so the two
  // checks fail by chance with probability <= 1e-6 (about ±5 sd, [1887, 2209]; the former ±4 sd
  // failed with probability 1.3e-4).
  const auto within = [](std::size_t k) {
    const double tail = std::log2(2.5e-7);
    return definitions::log2_binomial_tail(k, kBits, 0.5) > tail &&
           definitions::log2_binomial_tail(kBits - k, kBits, 0.5) > tail;
  };
  EXPECT_TRUE(within(ones)) << ones;
  EXPECT_TRUE(within(agree)) << agree;
}

TEST(PublicKeyJson, RoundTrip) {
  const PublicKey& pk = key_1024().public_key;
  const json j = pk.to_json();
  EXPECT_EQ(j.at("n"), pk.n_hex);
  EXPECT_EQ(j.at("e"), 65537);
  EXPECT_EQ(PublicKey::from_json(j), pk);
  EXPECT_EQ(PublicKey::from_json(json::parse(j.dump())), pk);
}

TEST(PublicKeyJson, MalformedFieldsAreNamed) {
  const json good = key_1024().public_key.to_json();
  const auto expect_named = [&](json j, const std::string& field) {
    const std::string what = error_of([&] { (void)PublicKey::from_json(j); });
    EXPECT_NE(what.find("'" + field + "'"), std::string::npos) << j.dump() << " -> " << what;
  };
  json j = good;
  j.erase("n");
  expect_named(j, "n");
  j = good;
  j.erase("e");
  expect_named(j, "e");
  const std::string n = good.at("n");
  std::string even = n;
  even.back() = static_cast<char>(even.back() - 1);
  std::string upper = n;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const json& bad_n : {json(12345), json(nullptr), json::array(), json(""), json("xyz"),
                            json("0x" + n), json("0" + n), json(even), json(upper),
                            json(std::string(63, 'f')), json("1"), json("-" + n)}) {
    j = good;
    j["n"] = bad_n;
    if (bad_n == json(upper) && upper == n) continue;
    expect_named(j, "n");
  }
  // n >= 2^255 is accepted; the largest odd n below 2^255 is not.
  j = good;
  j["n"] = "8" + std::string(62, '0') + "1";
  EXPECT_NO_THROW((void)PublicKey::from_json(j));
  j["n"] = "7" + std::string(63, 'f');
  expect_named(j, "n");
  for (const json& bad_e : {json("65537"), json(-3), json(3.0), json(65537.5), json(0), json(1),
                            json(2), json(65536), json(nullptr), json(true)}) {
    j = good;
    j["e"] = bad_e;
    expect_named(j, "e");
  }
  j = good;
  j["e"] = 3;
  EXPECT_EQ(PublicKey::from_json(j).e, 3u);
  j = good;
  j["extra"] = 1;
  expect_named(j, "extra");
  EXPECT_THROW((void)PublicKey::from_json(json::array()), InvalidArgument);
  EXPECT_THROW((void)PublicKey::from_json(json("n")), InvalidArgument);
}

TEST(OwnerClaimJson, RoundTripAndFingerprint) {
  const OwnerClaim plain = make_claim(key_1024(), "model 1234 owned by alice");
  EXPECT_TRUE(verify_statement(plain.public_key, plain.statement, plain.signature_hex));
  const json j = plain.to_json();
  EXPECT_FALSE(j.contains("key_seed"));
  EXPECT_FALSE(j.contains("message"));
  const OwnerClaim back = OwnerClaim::from_json(json::parse(j.dump()));
  EXPECT_EQ(back.statement, plain.statement);
  EXPECT_EQ(back.public_key, plain.public_key);
  EXPECT_EQ(back.signature_hex, plain.signature_hex);
  EXPECT_FALSE(back.key_seed_hex.has_value());
  EXPECT_FALSE(back.message.has_value());
  EXPECT_EQ(back.fingerprint(), plain.fingerprint());
  EXPECT_EQ(plain.fingerprint(), to_hex(sha256(j.dump())));
  EXPECT_EQ(plain.fingerprint().size(), 64u);

  OwnerClaim full = plain;
  full.key_seed_hex = std::string(64, 'a');
  full.message = std::vector<std::uint8_t>{1, 0, 1, 1, 0};
  const json jf = full.to_json();
  EXPECT_EQ(jf.at("message"), json::parse("[1,0,1,1,0]"));
  const OwnerClaim full_back = OwnerClaim::from_json(jf);
  EXPECT_EQ(full_back.key_seed_hex, full.key_seed_hex);
  EXPECT_EQ(full_back.message, full.message);
  EXPECT_EQ(full_back.fingerprint(), full.fingerprint());
  EXPECT_NE(full.fingerprint(), plain.fingerprint());

  OwnerClaim empty_message = plain;
  empty_message.message = std::vector<std::uint8_t>{};
  EXPECT_EQ(OwnerClaim::from_json(empty_message.to_json()).message, empty_message.message);
  EXPECT_NE(empty_message.fingerprint(), plain.fingerprint());

  EXPECT_NE(make_claim(key_1024(), "model 1234 owned by bob").fingerprint(), plain.fingerprint());

  OwnerClaim bad_utf8 = plain;
  bad_utf8.statement = "\xff\xfe";
  EXPECT_THROW((void)bad_utf8.fingerprint(), InvalidArgument);
}

TEST(OwnerClaimJson, MalformedFieldsAreNamed) {
  OwnerClaim claim = make_claim(key_1024(), "s");
  claim.key_seed_hex = std::string(64, '0');
  claim.message = std::vector<std::uint8_t>{0, 1};
  const json good = claim.to_json();
  EXPECT_NO_THROW((void)OwnerClaim::from_json(good));
  const auto expect_named = [&](const json& j, const std::string& field) {
    const std::string what = error_of([&] { (void)OwnerClaim::from_json(j); });
    EXPECT_NE(what.find("'" + field + "'"), std::string::npos) << j.dump() << " -> " << what;
  };
  for (const char* field : {"statement", "public_key", "signature"}) {
    json j = good;
    j.erase(field);
    expect_named(j, field);
  }
  const auto with = [&](const char* field, json value) {
    json j = good;
    j[field] = std::move(value);
    return j;
  };
  expect_named(with("statement", 7), "statement");
  expect_named(with("statement", nullptr), "statement");
  expect_named(with("public_key", "abc"), "public_key");
  expect_named(with("signature", 5), "signature");
  expect_named(with("signature", json::array()), "signature");
  expect_named(with("key_seed", 1), "key_seed");
  expect_named(with("key_seed", std::string(63, '0')), "key_seed");
  expect_named(with("key_seed", std::string(64, 'g')), "key_seed");
  expect_named(with("message", "0101"), "message");
  expect_named(with("message", json::parse("[0, 2]")), "message");
  expect_named(with("message", json::parse("[0, -1]")), "message");
  expect_named(with("message", json::parse("[0, \"1\"]")), "message");
  expect_named(with("message", json::parse("[0, true]")), "message");
  expect_named(with("message", json::parse("[0, 1.0]")), "message");
  expect_named(with("message", json::parse("[[0]]")), "message");
  expect_named(with("extra", 1), "extra");

  // Errors inside the public key name both the claim field and the key field.
  json j = good;
  j["public_key"]["n"] = "1234";  // even
  std::string what = error_of([&] { (void)OwnerClaim::from_json(j); });
  EXPECT_NE(what.find("'public_key'"), std::string::npos) << what;
  EXPECT_NE(what.find("'n'"), std::string::npos) << what;
  j = good;
  j["public_key"].erase("e");
  what = error_of([&] { (void)OwnerClaim::from_json(j); });
  EXPECT_NE(what.find("'e'"), std::string::npos) << what;
  EXPECT_THROW((void)OwnerClaim::from_json(json::array()), InvalidArgument);

  // A malformed signature is not a parse error: it just fails verification.
  const OwnerClaim forged = OwnerClaim::from_json(with("signature", "zz"));
  EXPECT_FALSE(verify_statement(forged.public_key, forged.statement, forged.signature_hex));
}

nn::TensorMap small_model() {
  nn::TensorMap m;
  m["a"] = nn::Tensor(std::vector<std::int64_t>{2});
  m["a"].data = {1.0f, -2.5f};
  m["b.w"] = nn::Tensor(std::vector<std::int64_t>{1, 2});
  m["b.w"].data = {0.5f, 3.0f};
  return m;
}

TEST(TensorsDigest, GoldenAndSensitivity) {
  const nn::TensorMap m = small_model();
  // Python: sha256 of the documented encoding (struct '>Q' lengths/dims, '<f' values).
  EXPECT_EQ(tensors_digest_hex(m),
            "e6a08da3f5933fe0e1efccc274f267295640c34f864133ccfae5f2ebcdb5326e");
  EXPECT_EQ(tensors_digest_hex(m), tensors_digest_hex(small_model()));

  nn::TensorMap ulp = m;
  ulp["b.w"].data[1] = std::nextafter(3.0f, 4.0f);
  EXPECT_NE(tensors_digest_hex(ulp), tensors_digest_hex(m));
  ulp = m;
  ulp["a"].data[0] = std::nextafter(1.0f, 0.0f);
  EXPECT_NE(tensors_digest_hex(ulp), tensors_digest_hex(m));
  nn::TensorMap zero_sign = m;
  zero_sign["a"].data[0] = 0.0f;
  nn::TensorMap neg_zero = m;
  neg_zero["a"].data[0] = -0.0f;
  EXPECT_NE(tensors_digest_hex(zero_sign), tensors_digest_hex(neg_zero));

  nn::TensorMap renamed;
  renamed["a"] = m.at("a");
  renamed["b.v"] = m.at("b.w");
  EXPECT_NE(tensors_digest_hex(renamed), tensors_digest_hex(m));
  nn::TensorMap reshaped = m;
  reshaped["b.w"].shape = {2, 1};
  EXPECT_NE(tensors_digest_hex(reshaped), tensors_digest_hex(m));
  reshaped["b.w"].shape = {2};
  EXPECT_NE(tensors_digest_hex(reshaped), tensors_digest_hex(m));
  nn::TensorMap dropped = m;
  dropped.erase("b.w");
  EXPECT_NE(tensors_digest_hex(dropped), tensors_digest_hex(m));
  EXPECT_EQ(tensors_digest_hex({}), to_hex(sha256("")));

  nn::TensorMap inconsistent = m;
  inconsistent["a"].data.push_back(0.0f);
  EXPECT_THROW((void)tensors_digest_hex(inconsistent), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::definitions
