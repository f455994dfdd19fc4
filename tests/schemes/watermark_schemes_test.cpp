// Tests of the ownership schemes (schemes/watermark.h and uchida, spread_spectrum, lsb_parity, qim,
// trigger_set): every scheme is built through the registry and checked against the statements of
// its header: Verify's statistics (matches, log2 P[Bin(T, p0) >= k], the decision), the null over
// independent keys, determinism in the coins, KeyGen = the secret of Release, signature binding
// (and its absence under binding = none), rejection of suspects that do not fit, parameter errors,
// and the scheme-specific embedding formulas and robustness guarantees.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "attacks/registry.h"
#include "core/errors.h"
#include "definitions/adversary.h"
#include "definitions/artifact.h"
#include "definitions/owner_key.h"
#include "definitions/params.h"
#include "definitions/registry.h"
#include "definitions/scheme.h"
#include "definitions/statistics.h"
#include "nn/metrics.h"
#include "nn/model.h"
#include "nn/train.h"
#include "schemes/owner_data.h"
#include "schemes/qim.h"
#include "schemes/registry.h"
#include "schemes/trigger_set.h"
#include "schemes/uchida.h"
#include "schemes/watermark.h"
#include "tests/support/binomial_margin.h"

namespace wrsec::schemes {
namespace {

using definitions::OwnerClaim;
using definitions::OwnerSecret;
using definitions::VerifyResult;
using Scheme = definitions::WeightReleaseScheme;
using ParamMap = std::map<std::string, std::string>;

constexpr const char* kArch = "mlp:784,64,64,10:relu";
const std::vector<std::string> kAllSchemes = {"uchida", "spread_spectrum", "lsb_parity", "qim",
                                              "trigger_set"};

Rng test_rng(std::uint64_t seed) {
  return Rng(seed, stable_hash("test"), 0);
}

nn::Model random_model(std::uint64_t seed, const std::string& spec = kArch) {
  Rng rng = test_rng(seed);
  return nn::Model::init(nn::Architecture::parse(spec), rng);
}

bool trains(const std::string& id) {
  return id == "uchida" || id == "trigger_set";
}

// The parameters every test uses for a scheme (fast keys, small fine-tuning budgets), overridden
// by `extra`.
ParamMap test_params(const std::string& id, const ParamMap& extra = {}) {
  ParamMap p = {{"rsa_bits", "1024"}};
  // Budgets that embed every symbol of every key used here. With 2000 samples (16 steps per
  // epoch) at the default learning rates, uchida stops at 27-32 of 32 bits after max_epochs and
  // trigger_set at about 47 of 100 triggers; uchida's embedding stops once every bit reads back
  // and converges slowly for the last bits, so it gets max_epochs = 12 here.
  if (trains(id)) {
    p["samples"] = "4000";
    p["epochs"] = "1";
    p["lr"] = "1e-3";
  }
  if (id == "uchida") p["max_epochs"] = "12";
  for (const auto& [k, v] : extra) p[k] = v;
  return p;
}

const definitions::Registry<Scheme>& scheme_registry() {
  static definitions::Registry<Scheme> registry("scheme");
  static const bool filled = (register_builtin_schemes(registry), true);
  (void)filled;
  return registry;
}

std::unique_ptr<Scheme> make_scheme(const std::string& id, const ParamMap& extra = {}) {
  return scheme_registry().create(id, definitions::Params(test_params(id, extra)));
}

const WatermarkScheme& as_watermark(const Scheme& s) {
  const auto* w = dynamic_cast<const WatermarkScheme*>(&s);
  if (w == nullptr) throw LogicError(s.id() + " is not a WatermarkScheme");
  return *w;
}

std::unique_ptr<definitions::Remover> make_remover(const std::string& id, const ParamMap& p) {
  definitions::Registry<definitions::Adversary> registry("attack");
  attacks::register_builtin_attacks(registry);
  auto adversary = registry.create(id, definitions::Params(p));
  auto* remover = dynamic_cast<definitions::Remover*>(adversary.get());
  if (remover == nullptr) throw LogicError(id + " is not a remover");
  adversary.release();
  return std::unique_ptr<definitions::Remover>(remover);
}

nn::Model attack(const std::string& id, const ParamMap& p, const nn::Model& m) {
  Rng coins = test_rng(4242);
  return make_remover(id, p)->remove(m, definitions::RemovalContext{}, coins);
}

// A base model for a scheme: random for the white-box raw-weight schemes, trained for one epoch
// on 5000 defender images for the fine-tuning schemes.
const nn::Model& trained_base() {
  static const nn::Model model = [] {
    nn::Model m = random_model(1);
    OwnerDataSpec spec;
    spec.samples = 5000;
    const auto data = owner_data(spec);
    nn::TrainConfig config;
    config.learning_rate = 1e-3;
    config.epochs = 1;
    nn::train(m, data->images, data->labels, config, test_rng(11).derive("pretrain"));
    return m;
  }();
  return model;
}

nn::Model base_model(const std::string& id) {
  return trains(id) ? trained_base() : random_model(1);
}

// One release per scheme, shared by the tests.
struct Released {
  std::unique_ptr<Scheme> scheme;
  nn::Model base;
  definitions::Release rel;
  nn::Model marked;
  double seconds = 0;
};

const Released& released(const std::string& id) {
  static std::map<std::string, std::unique_ptr<Released>> cache;
  auto& slot = cache[id];
  if (!slot) {
    slot = std::make_unique<Released>();
    slot->scheme = make_scheme(id);
    slot->base = base_model(id);
    (void)as_watermark(*slot->scheme).owner();  // keygen of the owner outside the timing
    Rng coins = test_rng(5).derive("release");
    const auto t0 = std::chrono::steady_clock::now();
    slot->rel = slot->scheme->release(slot->base, coins);
    slot->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    slot->marked = definitions::artifact_model(slot->rel.artifact);
    std::printf("[   info   ] %s: release %.3f s\n", id.c_str(), slot->seconds);
  }
  return *slot;
}

OwnerClaim claim_of(const OwnerSecret& secret) {
  return OwnerClaim::from_json(secret.metadata.at("claim"));
}

OwnerSecret with_claim(const OwnerSecret& secret, const OwnerClaim& claim) {
  OwnerSecret s = secret;
  s.metadata["claim"] = claim.to_json();
  return s;
}

definitions::MarkKey bound_key(const OwnerClaim& claim) {
  return definitions::MarkKey::from_signature(claim.public_key, claim.statement,
                                              claim.signature_hex);
}

// The trigger labels of a key as trigger_set.h defines them (uniform in {0..C-1}).
std::vector<std::uint8_t> trigger_labels(const definitions::MarkKey& key, std::size_t count,
                                         std::uint64_t classes) {
  Rng rng = key.rng("trigger_set.labels");
  std::vector<std::uint8_t> out(count);
  for (auto& y : out) y = static_cast<std::uint8_t>(rng.below(classes));
  return out;
}

// The symbols a bound claim's mark should carry for the default test parameters.
std::vector<std::uint8_t> expected_symbols_of(const std::string& id, const OwnerClaim& claim) {
  const auto key = bound_key(claim);
  if (id == "trigger_set") return trigger_labels(key, 100, 10);
  return key.message_bits(32);
}

// log2 P[Bin(n, p) >= k] by direct summation in long double (reference for n <= a few hundred).
double log2_tail_reference(std::uint64_t k, std::uint64_t n, double p) {
  long double sum = 0;
  for (std::uint64_t i = k; i <= n; ++i) {
    const long double log_term =
        std::lgamma(static_cast<long double>(n) + 1) -
        std::lgamma(static_cast<long double>(i) + 1) -
        std::lgamma(static_cast<long double>(n - i) + 1) +
        static_cast<long double>(i) * std::log(static_cast<long double>(p)) +
        static_cast<long double>(n - i) * std::log1p(-static_cast<long double>(p));
    sum += std::exp(log_term);
  }
  return static_cast<double>(std::log2(std::min<long double>(sum, 1)));
}

std::size_t count_matches(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  std::size_t m = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) m += a[i] == b[i] ? 1 : 0;
  return m;
}

// ---- Statistical margins --------------------------------------------------------------------
// What a fine-tuning embedding (uchida, trigger_set) achieves, and what a trained model or a key
// derived from a trained model's digest shows under the null, are random quantities: one different
// rounding in training gives another model. Assertions on them fail by chance with probability at
// most kFalseFailure; a raw-weight scheme's embedding of a random (untrained) model is exact or
// deterministic and keeps its exact assertions.

using test_support::at_least;
using test_support::at_most;
using test_support::kFalseFailure;

// A lower bound, with room to spare, on the probability that a fine-tuning embedding carries a
// given symbol (both loop until every symbol reads back, up to max_epochs). Measured over 16
// releases with test_params under two GEMM blockings (Eigen cache sizes, so different roundings):
// trigger_set missed 2 of 1600 triggers (its loop often runs to max_epochs), uchida 0 of 512 bits
// (it never needed more than half its max_epochs); the 95% CP upper bounds on the miss rates are
// 3.9e-3 and 5.8e-3.
double symbol_rate(const std::string& id) {
  return id == "trigger_set" ? 0.95 : 0.99;
}

// The symbols a freshly marked model must carry: every one for the raw-weight schemes (exact by
// construction, or a deterministic computation on a random model with a wide margin), otherwise at
// least at_least(T, symbol_rate): 82 of 100 triggers, 27 of 32 uchida bits. Both are above the
// binomial rule's acceptance threshold at target_fpr 1e-3 (21 of 100, 26 of 32), and far above
// what an unmarked model shows (10 of 100, 16 of 32 on average).
std::uint64_t min_carried(const std::string& id, std::uint64_t symbols) {
  return trains(id) ? at_least(symbols, symbol_rate(id)) : symbols;
}

// A model that does not carry the key's mark: its matches follow Bin(T, p0) exactly (the symbols
// are uniform and independent of the model). Verify's decision then rejects with probability >=
// 1 - target_fpr only, so where the model or the key comes from training (and so changes with
// one rounding) the test asserts the null's 1 - kFalseFailure quantile instead (27 of 100, 29 of
// 32); the decision itself is asserted only where it is deterministic (`decision_is_fixed`).
void expect_unmarked(const VerifyResult& v, std::uint64_t symbols, double p0,
                     bool decision_is_fixed, const std::string& what) {
  EXPECT_FALSE(v.details.contains("rejected")) << what << ": " << v.details.dump();
  EXPECT_EQ(v.bits, symbols) << what;
  EXPECT_LE(v.matches, at_most(symbols, p0)) << what;
  if (decision_is_fixed) {
    EXPECT_FALSE(v.accepted) << what;
  }
  EXPECT_EQ(v.accepted, v.log2_p <= std::log2(1e-3)) << what;
}

bool rejected(const VerifyResult& r) {
  return !r.accepted && r.details.contains("rejected") && r.details["rejected"].is_string() &&
         !r.details["rejected"].get<std::string>().empty();
}

std::string invalid_argument_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidArgument, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected InvalidArgument, nothing was thrown";
  return {};
}

// ================================================================================================
// Properties every ownership scheme has.

class EveryScheme : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Schemes, EveryScheme, ::testing::ValuesIn(kAllSchemes),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

TEST_P(EveryScheme, CapabilitiesAndInfer) {
  const auto& r = released(GetParam());
  const auto caps = r.scheme->capabilities();
  EXPECT_TRUE(caps.has(definitions::Capability::infer));
  EXPECT_TRUE(caps.has(definitions::Capability::verify));
  EXPECT_EQ(caps.has(definitions::Capability::verify_black_box), GetParam() == "trigger_set");
  EXPECT_EQ(r.scheme->id(), GetParam());
  // The artifact is the marked model in the clear: Infer is its forward pass, nothing is hidden.
  Rng xr = test_rng(3).derive("inputs");
  nn::Matrix x(5, 784);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(xr.uniform());
  EXPECT_EQ(r.scheme->infer(r.rel.artifact, x), r.marked.forward(x));
  EXPECT_DOUBLE_EQ(r.scheme->infer_macs(r.rel.artifact), r.base.arch.macs_per_example());
  for (const auto& [name, t] : r.scheme->hidden_mask(r.base, r.rel))
    EXPECT_TRUE(std::all_of(t.data.begin(), t.data.end(), [](float v) { return v == 0; })) << name;
  if (GetParam() != "trigger_set") {
    EXPECT_THROW((void)r.scheme->verify_queries(
                     r.rel.secret, [&](const nn::Matrix& q) { return r.marked.forward(q); }),
                 LogicError);
  }
}

// (1) Release → Verify(secret, marked model) accepts with every symbol matching (raw-weight
// schemes), or at least min_carried of them (the fine-tuning schemes: see symbol_rate).
TEST_P(EveryScheme, MarkedModelVerifiesWithAllSymbols) {
  const std::string id = GetParam();
  const auto& r = released(id);
  const auto& scheme = as_watermark(*r.scheme);
  const OwnerClaim claim = claim_of(r.rel.secret);

  // The claim: the KeyGen statement, signed by the owner's key.
  // Shape "wrsec-mark v1; scheme=<id>; model=<64 hex>; nonce=<32 hex>[; params={...}]"
  // (checked by hand: <regex> trips a false -Wmaybe-uninitialized in GCC 12 under ASan).
  const auto is_hex = [](const std::string& t) {
    return !t.empty() && t.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  const std::string prefix = "wrsec-mark v1; scheme=" + id + "; model=";
  ASSERT_TRUE(claim.statement.starts_with(prefix)) << claim.statement;
  const std::string rest = claim.statement.substr(prefix.size());
  ASSERT_GE(rest.size(), 64U + 8 + 32) << claim.statement;
  EXPECT_TRUE(is_hex(rest.substr(0, 64))) << claim.statement;
  EXPECT_EQ(rest.substr(64, 8), "; nonce=") << claim.statement;
  EXPECT_TRUE(is_hex(rest.substr(72, 32))) << claim.statement;
  const std::string tail = rest.substr(104);
  EXPECT_TRUE(tail.empty() || (tail.starts_with("; params={") && tail.ends_with("}")))
      << claim.statement;
  EXPECT_NE(claim.statement.find("model=" + definitions::tensors_digest_hex(r.base.tensors)),
            std::string::npos);
  EXPECT_EQ(claim.public_key, scheme.owner().public_key);
  EXPECT_EQ(claim.public_key.bits(), 1024);
  EXPECT_TRUE(
      definitions::verify_statement(claim.public_key, claim.statement, claim.signature_hex));
  EXPECT_FALSE(claim.key_seed_hex.has_value());
  EXPECT_FALSE(claim.message.has_value());
  const auto& record = r.rel.secret.metadata.at("record");
  EXPECT_EQ(record.at("model"), definitions::tensors_digest_hex(r.base.tensors));
  EXPECT_EQ(record.at("marked"), definitions::tensors_digest_hex(r.marked.tensors));
  EXPECT_EQ(record.at("claim"), claim.fingerprint());
  EXPECT_EQ(r.rel.secret.metadata.at("scheme"), id);
  EXPECT_NE(definitions::tensors_digest_hex(r.marked.tensors),
            definitions::tensors_digest_hex(r.base.tensors));

  const VerifyResult v = r.scheme->verify(r.rel.secret, r.marked);
  const std::uint64_t symbols = id == "trigger_set" ? 100 : 32;
  const double p0 = id == "trigger_set" ? 0.1 : 0.5;
  EXPECT_TRUE(v.accepted) << v.details.dump();
  EXPECT_FALSE(v.details.contains("rejected"));
  EXPECT_EQ(v.bits, symbols);
  EXPECT_GE(v.matches, min_carried(id, symbols)) << v.matches << " of " << symbols;
  EXPECT_DOUBLE_EQ(v.p0, p0);
  EXPECT_DOUBLE_EQ(v.target_fpr, 1e-3);
  // log2 P[Bin(T, p0) >= matches] (p0^T when every symbol matches).
  EXPECT_NEAR(v.log2_p, log2_tail_reference(v.matches, symbols, p0), 1e-9 * symbols);
  EXPECT_EQ(v.details.at("rule"), "binomial p <= target_fpr");
  // The symbols read are compared with the key's message m = K.message_bits(T) (trigger labels
  // for trigger_set): all of them equal it for the raw-weight schemes.
  const auto expected = expected_symbols_of(id, claim);
  ASSERT_EQ(v.extracted.size(), symbols);
  EXPECT_EQ(count_matches(v.extracted, expected), v.matches);
  if (!trains(id)) {
    EXPECT_EQ(v.extracted, expected);
  }
  // The unmarked model does not carry the mark (for the fine-tuning schemes both the trained base
  // and the key, which signs its digest, change with one rounding).
  expect_unmarked(r.scheme->verify(r.rel.secret, r.base), symbols, p0, !trains(id), "base");
}

// The critical count and the per-layer statistics: per carrier tensor, k_L of T_L symbols and
// log2 P[Bin(T_L, p0) >= k_L], adding up to the whole.
TEST_P(EveryScheme, CriticalCountAndPerLayerStatisticsAddUp) {
  const std::string id = GetParam();
  const auto check = [&](const Scheme& scheme, const OwnerSecret& secret, const nn::Model& m,
                         const std::set<std::string>& tensors) -> std::set<std::string> {
    const VerifyResult v = scheme.verify(secret, m);
    const double bound = std::log2(1e-3);
    const auto c = v.details.at("critical_matches").get<std::uint64_t>();
    EXPECT_LE(log2_tail_reference(c, v.bits, v.p0), bound + 1e-9);
    EXPECT_GT(log2_tail_reference(c - 1, v.bits, v.p0), bound);
    EXPECT_EQ(v.accepted, v.matches >= c);
    if (id == "trigger_set") {
      EXPECT_FALSE(v.details.contains("per_layer"));  // black-box: no carrier tensors
      return {};
    }
    EXPECT_TRUE(v.details.contains("per_layer")) << v.details.dump();
    std::uint64_t n = 0, k = 0;
    std::set<std::string> seen;
    for (const auto& row : v.details["per_layer"]) {
      const auto rn = row.at("symbols").get<std::uint64_t>();
      const auto rk = row.at("matches").get<std::uint64_t>();
      n += rn;
      k += rk;
      seen.insert(row.at("tensor").get<std::string>());
      EXPECT_NEAR(row.at("log2_p").get<double>(), log2_tail_reference(rk, rn, v.p0), 1e-9 * rn);
      EXPECT_EQ(row.at("accepted_alone").get<bool>(), row.at("log2_p").get<double>() <= bound);
    }
    EXPECT_EQ(n, v.bits);
    EXPECT_EQ(k, v.matches);
    for (const auto& t : seen) EXPECT_TRUE(tensors.empty() || tensors.count(t) == 1) << t;
    return seen;
  };
  const auto& r = released(id);
  (void)check(*r.scheme, r.rel.secret, r.marked, {});
  (void)check(*r.scheme, r.rel.secret, random_model(7), {});
  if (trains(id) || id == "trigger_set") return;
  // Two carrier tensors: qim reads each symbol from one of them; spread_spectrum's chips and
  // lsb_parity's groups are drawn from both together, so a symbol can span them.
  const auto two = make_scheme(id, {{"layers", "0,1"}});
  Rng coins = test_rng(6);
  const auto rel = two->release(random_model(1), coins);
  std::set<std::string> layers = {"layers.0.weight", "layers.1.weight"};
  if (id != "qim") layers.insert("(several tensors)");
  const auto seen = check(*two, rel.secret, definitions::artifact_model(rel.artifact), layers);
  if (id == "qim") {
    EXPECT_EQ(seen, layers);
  }
}

// (2) Independent models: rejected, match counts as under the null Bin(T, p0).
TEST_P(EveryScheme, IndependentModelsFollowTheNull) {
  const std::string id = GetParam();
  const auto& r = released(id);
  const nn::Model independent = random_model(2);
  const double p0 = id == "trigger_set" ? 0.1 : 0.5;
  const std::uint64_t symbols = id == "trigger_set" ? 100 : 32;
  // It fits (not "rejected"), and its matches are those of the null (the release key of a
  // fine-tuning scheme signs the trained base's digest, so it changes with one rounding).
  expect_unmarked(r.scheme->verify(r.rel.secret, independent), symbols, p0, !trains(id),
                  "independent model");

  constexpr int kKeys = 30;
  std::uint64_t total = 0, accepted = 0;
  for (int i = 0; i < kKeys; ++i) {
    Rng coins = test_rng(100 + static_cast<std::uint64_t>(i)).derive("key");
    const OwnerSecret secret = r.scheme->keygen(r.base, coins);
    const VerifyResult v = r.scheme->verify(secret, independent);
    ASSERT_EQ(v.bits, symbols);
    ASSERT_EQ(v.extracted.size(), symbols);
    EXPECT_EQ(v.matches, count_matches(v.extracted, expected_symbols_of(id, claim_of(secret))));
    // log2_p = log2 P[Bin(T, p0) >= matches] (exact) and the decision is p <= target_fpr.
    EXPECT_NEAR(v.log2_p, log2_tail_reference(v.matches, v.bits, p0), 1e-6);
    EXPECT_EQ(v.accepted, v.log2_p <= std::log2(1e-3));
    total += v.matches;
    accepted += v.accepted ? 1 : 0;
  }
  // total ~ Bin(30·T, p0) exactly: both tails at kFalseFailure/2 (about ±5 sd: [404, 556] of 960,
  // [223, 383] of 3000). The keys of the fine-tuning schemes sign the trained base's digest.
  const std::uint64_t n = kKeys * symbols;
  EXPECT_GE(total, at_least(n, p0, kFalseFailure / 2)) << "total matches " << total << " of " << n;
  EXPECT_LE(total, at_most(n, p0, kFalseFailure / 2)) << "total matches " << total << " of " << n;
  // Each key accepts with probability <= target_fpr = 1e-3: at most 3 of 30 (P[more] < 3e-8).
  EXPECT_LE(accepted, at_most(kKeys, 1e-3))
      << "false positives at target_fpr 1e-3 over " << kKeys << " keys";
}

// (3) Release is a deterministic function of (model, coins); other coins give another key.
TEST_P(EveryScheme, ReleaseIsDeterministicInTheCoins) {
  const std::string id = GetParam();
  const auto& r = released(id);
  Rng same = test_rng(5).derive("release");
  const auto again = r.scheme->release(r.base, same);
  EXPECT_EQ(again.artifact.tensors, r.rel.artifact.tensors);
  EXPECT_EQ(again.artifact.metadata, r.rel.artifact.metadata);
  EXPECT_EQ(again.secret.metadata, r.rel.secret.metadata);

  Rng other = test_rng(6).derive("release");
  const auto different = r.scheme->release(r.base, other);
  const OwnerClaim a = claim_of(r.rel.secret), b = claim_of(different.secret);
  EXPECT_NE(a.statement, b.statement);
  EXPECT_NE(a.statement.substr(a.statement.find("nonce=")),
            b.statement.substr(b.statement.find("nonce=")));
  EXPECT_NE(a.signature_hex, b.signature_hex);
  EXPECT_NE(expected_symbols_of(id, a), expected_symbols_of(id, b));
  EXPECT_NE(different.artifact.tensors, r.rel.artifact.tensors);
  // Each marked model carries its own key's mark.
  const nn::Model marked_b = definitions::artifact_model(different.artifact);
  EXPECT_TRUE(r.scheme->verify(different.secret, marked_b).accepted);
}

// (4) KeyGen(model, coins.derive("key")) is Release's secret without the marked-model digest.
TEST_P(EveryScheme, KeyGenIsTheSecretOfRelease) {
  const auto& r = released(GetParam());
  Rng coins = test_rng(5).derive("release").derive("key");
  const OwnerSecret key = r.scheme->keygen(r.base, coins);
  nlohmann::json expected = r.rel.secret.metadata;
  ASSERT_TRUE(expected.at("record").contains("marked"));
  expected["record"].erase("marked");
  EXPECT_EQ(key.metadata, expected);
  EXPECT_EQ(key.tensors, r.rel.secret.tensors);
  // The secret keeps the owner's unmarked model, the reference for alignment.
  EXPECT_EQ(as_watermark(*r.scheme).reference_model(key)->tensors, r.base.tensors);
  EXPECT_EQ(key.metadata.at("params"), as_watermark(*r.scheme).mark_params().to_json());
}

// (5) binding = signature: a claim is only as good as its signature.
TEST_P(EveryScheme, SignatureBindingRejectsTamperedClaims) {
  const std::string id = GetParam();
  const auto& r = released(id);
  const OwnerClaim claim = claim_of(r.rel.secret);

  OwnerClaim bad_signature = claim;
  bad_signature.signature_hex.back() = bad_signature.signature_hex.back() == '1' ? '2' : '1';
  OwnerClaim bad_statement = claim;
  const auto nonce = bad_statement.statement.find("nonce=") + 6;
  bad_statement.statement[nonce] = bad_statement.statement[nonce] == '0' ? '1' : '0';
  const auto other_scheme = r.scheme->for_owner(77);
  OwnerClaim other_key = claim;
  other_key.public_key = as_watermark(*other_scheme).owner().public_key;
  ASSERT_NE(other_key.public_key, claim.public_key);
  OwnerClaim foreign_scheme = claim;  // a valid signature over another scheme's statement
  {
    const std::string other_id = id == "qim" ? "lsb_parity" : "qim";
    foreign_scheme = definitions::make_claim(
        as_watermark(*r.scheme).owner(), "wrsec-mark v1; scheme=" + other_id +
                                             claim.statement.substr(claim.statement.find(';', 16)));
  }
  for (const OwnerClaim* c : {&bad_signature, &bad_statement, &other_key, &foreign_scheme}) {
    const VerifyResult v = r.scheme->verify(with_claim(r.rel.secret, *c), r.marked);
    EXPECT_TRUE(rejected(v)) << v.details.dump();
    EXPECT_EQ(v.matches, 0U);
    EXPECT_TRUE(v.extracted.empty());
  }
  // Secrets that are not claims at all.
  OwnerSecret no_claim = r.rel.secret;
  no_claim.metadata.erase("claim");
  EXPECT_TRUE(rejected(r.scheme->verify(no_claim, r.marked)));
  OwnerSecret malformed = r.rel.secret;
  malformed.metadata["claim"]["public_key"]["n"] = "xyz";
  EXPECT_TRUE(rejected(r.scheme->verify(malformed, r.marked)));
  EXPECT_TRUE(rejected(r.scheme->verify(OwnerSecret{}, r.marked)));
}

// (5) for_owner: the same algorithm under another identity.
TEST_P(EveryScheme, ForOwnerIsTheSameAlgorithmUnderAnotherIdentity) {
  const std::string id = GetParam();
  const auto& r = released(id);
  const auto other = r.scheme->for_owner(77);
  EXPECT_EQ(other->id(), id);
  nlohmann::json params = as_watermark(*r.scheme).mark_params().to_json();
  params["owner_seed"] = 77;
  EXPECT_EQ(as_watermark(*other).mark_params().to_json(), params);
  EXPECT_NE(as_watermark(*other).owner().public_key, as_watermark(*r.scheme).owner().public_key);

  Rng coins = test_rng(5).derive("release");  // even with the owner's coins
  const auto rel = other->release(r.base, coins);
  const nn::Model marked = definitions::artifact_model(rel.artifact);
  EXPECT_EQ(claim_of(rel.secret).public_key, as_watermark(*other).owner().public_key);
  // The other identity's claim verifies under the original scheme object (Verify is public).
  EXPECT_TRUE(r.scheme->verify(rel.secret, marked).accepted);
  EXPECT_TRUE(other->verify(r.rel.secret, r.marked).accepted);
  // Its mark is not the owner's: each key reads the other's marked model as under the null.
  const std::uint64_t symbols = id == "trigger_set" ? 100 : 32;
  const double p0 = id == "trigger_set" ? 0.1 : 0.5;
  expect_unmarked(r.scheme->verify(r.rel.secret, marked), symbols, p0, !trains(id),
                  "owner's key, other's model");
  expect_unmarked(r.scheme->verify(rel.secret, r.marked), symbols, p0, !trains(id),
                  "other's key, owner's model");
  EXPECT_NE(rel.artifact.tensors, r.rel.artifact.tensors);
}

// (6) binding = none: explicit key material is verified as given, so a claim built from what
// Verify reads on any model is accepted on that model (the ambiguity that binding prevents).
TEST_P(EveryScheme, UnboundRuleAcceptsClaimsBuiltFromTheSuspect) {
  const std::string id = GetParam();
  const auto naive = make_scheme(id, {{"binding", "none"}});
  const auto& bound = released(id);
  const nn::Model base = base_model(id);

  // The owner's unbound claim carries the key seed and message it embedded.
  Rng own_coins = test_rng(8);
  const OwnerSecret own = naive->keygen(base, own_coins);
  const OwnerClaim own_claim = claim_of(own);
  ASSERT_TRUE(own_claim.key_seed_hex.has_value());
  ASSERT_TRUE(own_claim.message.has_value());
  EXPECT_EQ(*own_claim.key_seed_hex, bound_key(own_claim).hex());
  const auto own_symbols = expected_symbols_of(id, own_claim);
  std::vector<std::uint8_t> own_message;
  if (id == "trigger_set") {
    // trigger_set.h: each label in ⌈log2 10⌉ = 4 bits, most significant first.
    for (std::uint8_t y : own_symbols)
      for (int b = 3; b >= 0; --b) own_message.push_back(static_cast<std::uint8_t>((y >> b) & 1));
  } else {
    own_message = own_symbols;
  }
  EXPECT_EQ(*own_claim.message, own_message);

  // A forger's claim on an arbitrary model: own key pair, any key seed, a message read off the
  // target with that seed.
  const nn::Model target = random_model(3);
  Rng forger_coins = test_rng(9);
  const auto forger = definitions::generate_owner_key(forger_coins, 1024);
  const std::string& s = own_claim.statement;
  const auto params_at = s.find("; params=");
  OwnerClaim forged = definitions::make_claim(
      forger, "wrsec-mark v1; scheme=" + id +
                  "; model=" + definitions::tensors_digest_hex(target.tensors) +
                  "; nonce=" + std::string(32, '0') +
                  (params_at == std::string::npos ? "" : s.substr(params_at)));
  forged.key_seed_hex = std::string(64, 'a');
  forged.message = std::vector<std::uint8_t>(own_claim.message->size(), 0);
  const VerifyResult probe = naive->verify(with_claim(own, forged), target);
  ASSERT_FALSE(probe.details.contains("rejected")) << probe.details.dump();
  ASSERT_EQ(probe.extracted.size(), id == "trigger_set" ? 100U : 32U);
  std::vector<std::uint8_t> message;
  if (id == "trigger_set") {
    for (std::uint8_t y : probe.extracted)
      for (int b = 3; b >= 0; --b) message.push_back(static_cast<std::uint8_t>((y >> b) & 1));
  } else {
    message = probe.extracted;
  }
  // Verify publishes that message for non-bit symbols (a forger needs no scheme internals).
  if (id == "trigger_set") {
    EXPECT_EQ(probe.details.at("claim_message").get<std::vector<std::uint8_t>>(), message);
  } else {
    EXPECT_FALSE(probe.details.contains("claim_message"));
  }
  forged.message = message;
  const VerifyResult v = naive->verify(with_claim(own, forged), target);
  EXPECT_TRUE(v.accepted) << v.details.dump();
  EXPECT_EQ(v.matches, v.bits);
  EXPECT_EQ(v.extracted, probe.extracted);
  // The same claim under the signature-bound rule: its message is re-derived from σ.
  EXPECT_FALSE(bound.scheme->verify(with_claim(own, forged), target).accepted);

  // Malformed explicit material is rejected, not an error.
  OwnerClaim short_message = forged;
  short_message.message->pop_back();
  EXPECT_TRUE(rejected(naive->verify(with_claim(own, short_message), target)));
  OwnerClaim no_seed = forged;
  no_seed.key_seed_hex.reset();
  EXPECT_TRUE(rejected(naive->verify(with_claim(own, no_seed), target)));
  if (id == "trigger_set") {
    OwnerClaim bad_label = forged;  // label 15 >= C = 10
    for (int b = 0; b < 4; ++b) (*bad_label.message)[static_cast<std::size_t>(b)] = 1;
    EXPECT_TRUE(rejected(naive->verify(with_claim(own, bad_label), target)));
  }
  // The owner's own unbound release still verifies.
  Rng coins = test_rng(8);
  const auto rel = naive->release(base, coins);
  EXPECT_TRUE(naive->verify(rel.secret, definitions::artifact_model(rel.artifact)).accepted);
}

// (7) Suspects that do not fit the key are rejected, not errors.
TEST_P(EveryScheme, SuspectsThatDoNotFitAreRejected) {
  const std::string id = GetParam();
  const auto& r = released(id);
  nn::Model nan_model = r.marked;
  nan_model.tensors.at("layers.1.weight").data[5] = std::numeric_limits<float>::quiet_NaN();
  nn::Model inf_model = r.marked;
  inf_model.tensors.at("layers.0.weight").data[0] = std::numeric_limits<float>::infinity();
  nn::Model broken = r.marked;  // tensor inconsistent with the architecture
  broken.tensors.at("layers.1.weight").data.pop_back();
  std::vector<nn::Model> misfits = {nan_model, inf_model, broken,
                                    random_model(4, "swiglu:784,64:silu")};
  if (id == "trigger_set") {
    // Black-box: hidden sizes do not matter, the input and output sizes do.
    misfits.push_back(random_model(4, "mlp:100,64,10:relu"));
    misfits.push_back(random_model(4, "mlp:784,64,5:relu"));
    // It is read, as an independent model under a key that signs the trained base's digest.
    expect_unmarked(r.scheme->verify(r.rel.secret, random_model(4, "mlp:784,72,64,10:relu")), 100,
                    0.1, false, "other hidden sizes");
  } else {
    // Other hidden widths are aligned to the owner's model (dummy units change widths) and read
    // as unmarked; read as found (align = off) they do not fit the key.
    misfits.push_back(random_model(4, "mlp:784,64,10:relu"));  // another depth
    const auto as_found = make_scheme(id, {{"align", "off"}});
    for (const char* arch : {"mlp:784,72,64,10:relu", "mlp:784,32,64,10:relu"}) {
      const nn::Model other = random_model(4, arch);
      expect_unmarked(r.scheme->verify(r.rel.secret, other), 32, 0.5, false, arch);
      EXPECT_TRUE(rejected(as_found->verify(r.rel.secret, other))) << arch;
    }
  }
  for (std::size_t i = 0; i < misfits.size(); ++i) {
    VerifyResult v;
    ASSERT_NO_THROW(v = r.scheme->verify(r.rel.secret, misfits[i])) << "misfit " << i;
    EXPECT_TRUE(rejected(v)) << "misfit " << i << ": " << v.details.dump();
    EXPECT_EQ(v.matches, 0U);
    EXPECT_EQ(v.bits, id == "trigger_set" ? 100U : 32U);
  }
}

// (8) Parameters common to every scheme: an InvalidArgument naming the key.
TEST_P(EveryScheme, BadCommonParametersNameTheKey) {
  const std::string id = GetParam();
  const std::string bits_key = id == "trigger_set" ? "triggers" : "bits";
  const std::vector<std::pair<ParamMap, std::string>> cases = {
      {{{bits_key, "0"}}, bits_key},
      {{{bits_key, "5000"}}, bits_key},
      {{{bits_key, "many"}}, bits_key},
      {{{"binding", "maybe"}}, "binding"},
      {{{"rsa_bits", "100"}}, "rsa_bits"},
      {{{"rsa_bits", "1025"}}, "rsa_bits"},
      {{{"target_fpr", "0"}}, "target_fpr"},
      {{{"target_fpr", "1"}}, "target_fpr"},
      {{{"owner_seed", "-1"}}, "owner_seed"},
      {{{"threshold", "-1"}}, "threshold"},
      {{{"two_sided", "perhaps"}}, "two_sided"},
      {{{"no_such_key", "1"}}, "no_such_key"},
  };
  for (const auto& [params, key] : cases) {
    const std::string what = invalid_argument_message([&] { (void)make_scheme(id, params); });
    EXPECT_NE(what.find(key), std::string::npos) << params.begin()->first << ": " << what;
  }
  if (id == "trigger_set") {
    EXPECT_NE(invalid_argument_message([&] {
                (void)make_scheme(id, {{"ecc_t", "1"}});
              }).find("ecc_t"),
              std::string::npos);
    // The mark lives in the behaviour: layers is not a parameter.
    EXPECT_NE(invalid_argument_message([&] {
                (void)make_scheme(id, {{"layers", "1"}});
              }).find("layers"),
              std::string::npos);
    EXPECT_NE(invalid_argument_message([&] {
                (void)make_scheme(id, {{"classes", "1"}});
              }).find("classes"),
              std::string::npos);
    // A model of another input or output size cannot carry the triggers.
    const auto scheme = make_scheme(id);
    Rng coins = test_rng(1);
    EXPECT_NE(invalid_argument_message([&] {
                (void)scheme->release(random_model(1, "mlp:784,64,5:relu"), coins);
              }).find("classes"),
              std::string::npos);
    return;
  }
  const std::vector<std::pair<ParamMap, std::string>> bit_cases = {
      {{{"ecc_t", "1"}, {"bits", "30"}}, "ecc_t"},
      {{{"ecc_t", "-1"}}, "ecc_t"},
      {{{"ecc_t", "2"}, {"bits", "32"}}, "ecc_t"},  // 4 - 2·2 < 1 payload symbol
      {{{"layers", ""}}, "layers"},
      {{{"layers", "a"}}, "layers"},
      {{{"layers", "1,,2"}}, "layers"},
      {{{"layers", "-1"}}, "layers"},
      {{{"layers", "1,1"}}, "layers"},
  };
  for (const auto& [params, key] : bit_cases) {
    const std::string what = invalid_argument_message([&] { (void)make_scheme(id, params); });
    EXPECT_NE(what.find(key), std::string::npos) << params.begin()->second << ": " << what;
  }
  // A layer the model does not have is found at release (and keygen) time.
  const auto scheme = make_scheme(id, {{"layers", "9"}});
  Rng coins = test_rng(1);
  EXPECT_NE(invalid_argument_message([&] {
              (void)scheme->release(random_model(1), coins);
            }).find("layer 9"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([&] {
              (void)scheme->keygen(random_model(1), coins);
            }).find("layer 9"),
            std::string::npos);
  EXPECT_THROW((void)scheme->release(random_model(1, "swiglu:784,64:silu"), coins),
               InvalidArgument);
}

// Release and Verify are const and thread-safe on one object (the owner key is made once).
TEST_P(EveryScheme, ConcurrentVerifyAgrees) {
  const auto& r = released(GetParam());
  const auto fresh = make_scheme(GetParam());
  std::vector<VerifyResult> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      Rng coins = test_rng(20);
      (void)fresh->keygen(r.base, coins);
      results[t] = fresh->verify(r.rel.secret, r.marked);
    });
  for (auto& th : threads) th.join();
  for (const auto& v : results) {
    EXPECT_TRUE(v.accepted);
    EXPECT_EQ(v.extracted, results[0].extracted);
  }
}

// ================================================================================================
// lsb_parity

TEST(LsbParity, EmbeddingFlipsOneUlpOfTheSmallestMemberPerWrongGroup) {
  const auto& r = released("lsb_parity");
  const auto& w0 = r.base.tensors.at("layers.1.weight").data;
  const auto& w1 = r.marked.tensors.at("layers.1.weight").data;
  // Nothing but the carrier changes.
  for (const auto& [name, t] : r.base.tensors) {
    if (name != "layers.1.weight") {
      EXPECT_EQ(t.data, r.marked.tensors.at(name).data) << name;
    }
  }
  // The groups as the header defines them: the first T·g entries of the keyed permutation.
  const auto key = bound_key(claim_of(r.rel.secret));
  Rng rng = key.rng("lsb_parity.groups");
  const auto positions = keyed_positions(static_cast<std::int64_t>(w0.size()), 32 * 8, rng);
  const auto message = key.message_bits(32);
  std::set<std::int64_t> in_groups(positions.begin(), positions.end());
  ASSERT_EQ(in_groups.size(), 256U);
  std::size_t changed = 0, wrong_groups = 0;
  for (std::size_t i = 0; i < w0.size(); ++i) {
    const auto a = std::bit_cast<std::uint32_t>(w0[i]), b = std::bit_cast<std::uint32_t>(w1[i]);
    if (a == b) continue;
    ++changed;
    // Bit 0 of the pattern only: the weight moves to its neighbour in the float32 grid (1 ulp).
    EXPECT_EQ(a ^ b, 1U) << "weight " << i << " changed by more than its lsb";
    constexpr float kInf = std::numeric_limits<float>::infinity();
    EXPECT_TRUE(w1[i] == std::nextafter(w0[i], kInf) || w1[i] == std::nextafter(w0[i], -kInf))
        << "weight " << i << " moved by more than one ulp";
    EXPECT_TRUE(in_groups.count(static_cast<std::int64_t>(i))) << "outside every group";
  }
  for (std::size_t j = 0; j < 32; ++j) {
    std::uint32_t parity0 = 0, parity1 = 0;
    std::int64_t smallest = -1;
    int changed_here = 0;
    for (std::size_t g = 0; g < 8; ++g) {
      const auto i = static_cast<std::size_t>(positions[j * 8 + g]);
      parity0 ^= std::bit_cast<std::uint32_t>(w0[i]) & 1U;
      parity1 ^= std::bit_cast<std::uint32_t>(w1[i]) & 1U;
      if (smallest < 0 || std::fabs(w0[i]) < std::fabs(w0[static_cast<std::size_t>(smallest)]))
        smallest = static_cast<std::int64_t>(i);
      changed_here += w0[i] != w1[i] ? 1 : 0;
    }
    EXPECT_EQ(parity1, message[j]) << "group " << j;  // Read = XOR of the lsbs
    if (parity0 != message[j]) {
      ++wrong_groups;
      EXPECT_EQ(changed_here, 1) << "group " << j;
      EXPECT_NE(w0[static_cast<std::size_t>(smallest)], w1[static_cast<std::size_t>(smallest)])
          << "group " << j << ": the flipped weight is not the smallest |w|";
    } else {
      EXPECT_EQ(changed_here, 0) << "group " << j;
    }
  }
  EXPECT_EQ(changed, wrong_groups);
  EXPECT_LE(changed, 32U);
  EXPECT_GT(changed, 0U);
}

TEST(LsbParity, Bf16CastDestroysTheMark) {
  const auto& r = released("lsb_parity");
  const nn::Model cast = attack("cast", {{"format", "bf16"}}, r.marked);
  const VerifyResult v = r.scheme->verify(r.rel.secret, cast);
  EXPECT_FALSE(v.accepted);
  EXPECT_FALSE(v.details.contains("rejected"));
  // bf16 keeps 7 mantissa bits: every float32 lsb is 0, so every parity reads 0.
  EXPECT_EQ(v.extracted, std::vector<std::uint8_t>(32, 0));
  const auto message = bound_key(claim_of(r.rel.secret)).message_bits(32);
  EXPECT_EQ(v.matches, static_cast<std::uint64_t>(std::count(message.begin(), message.end(), 0)));
  // So does one step of any re-quantisation, e.g. fp16 or INT8.
  EXPECT_FALSE(
      r.scheme->verify(r.rel.secret, attack("cast", {{"format", "fp16"}}, r.marked)).accepted);
  EXPECT_FALSE(
      r.scheme->verify(r.rel.secret, attack("quantize", {{"bits", "8"}}, r.marked)).accepted);
}

TEST(LsbParity, ParametersAndCapacity) {
  EXPECT_NE(invalid_argument_message([] {
              (void)make_scheme("lsb_parity", {{"group", "0"}});
            }).find("group"),
            std::string::npos);
  // bits·group = 4096·2 > 4096 carrier weights of layers.1.weight.
  const auto big = make_scheme("lsb_parity", {{"bits", "4096"}, {"group", "2"}});
  Rng coins = test_rng(1);
  EXPECT_NE(
      invalid_argument_message([&] { (void)big->release(random_model(1), coins); }).find("bits"),
      std::string::npos);
  // Exactly full is fine: group 1 over all 4096 weights.
  const auto full = make_scheme("lsb_parity", {{"bits", "4096"}, {"group", "1"}});
  const auto rel = full->release(random_model(1), coins);
  const VerifyResult v = full->verify(rel.secret, definitions::artifact_model(rel.artifact));
  EXPECT_TRUE(v.accepted);
  EXPECT_EQ(v.matches, 4096U);
}

// ================================================================================================
// qim

struct QimRun {
  std::unique_ptr<Scheme> scheme;
  definitions::Release rel;
  nn::Model marked;
};

QimRun qim_release(const ParamMap& params, std::uint64_t key_seed, const nn::Model& base) {
  QimRun run;
  run.scheme = make_scheme("qim", params);
  Rng coins = test_rng(key_seed).derive("qim");
  run.rel = run.scheme->release(base, coins);
  run.marked = definitions::artifact_model(run.rel.artifact);
  return run;
}

double max_abs(std::span<const float> v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

TEST(Qim, StepIsSignedAndEmbeddingMovesEachWeightByAtMostHalfAStepOverRootK) {
  const nn::Model base = random_model(1);
  const auto run = qim_release({}, 1, base);
  const std::string& statement = claim_of(run.rel.secret).statement;
  const auto params = nlohmann::json::parse(statement.substr(statement.find("; params=") + 9));
  const auto& w0 = base.tensors.at("layers.1.weight").data;
  const auto& w1 = run.marked.tensors.at("layers.1.weight").data;
  // Δ = margin·2√k·max|W|/(L − 1), L = 2^(8−1) − 1 = 127, margin 1.5, k 16.
  const double delta = 1.5 * 2 * 4 * max_abs(w0) / 126;
  EXPECT_NEAR(params.at("delta").at("layers.1.weight").get<double>(), delta, 1e-12);
  EXPECT_EQ(params.at("sizes").at("layers.1.weight"), 4096);
  EXPECT_DOUBLE_EQ(dynamic_cast<const Qim&>(*run.scheme).step(max_abs(w0)), delta);
  for (const auto& [name, t] : base.tensors) {
    if (name != "layers.1.weight") {
      EXPECT_EQ(t.data, run.marked.tensors.at(name).data) << name;
    }
  }
  std::size_t changed = 0;
  double largest = 0;
  for (std::size_t i = 0; i < w0.size(); ++i) {
    const double d = std::fabs(static_cast<double>(w1[i]) - w0[i]);
    largest = std::max(largest, d);
    changed += d > 0 ? 1 : 0;
  }
  EXPECT_LE(largest, delta / (2 * 4) * (1 + 1e-6) + 1e-7);
  EXPECT_LE(changed, 32U * 16U);  // the T disjoint supports of k weights
  EXPECT_GT(changed, 32U * 8U);
  std::printf("[   info   ] qim: Δ = %.5f, largest weight change %.5f (bound Δ/(2√k) = %.5f)\n",
              delta, largest, delta / 8);
}

// The guarantee of qim.h: symmetric robust_bits-bit quantisation, per tensor or per output
// channel, leaves every bit decodable; coarser quantisation does not.
TEST(Qim, SurvivesQuantisationAtItsRobustBits) {
  const nn::Model base = random_model(1);
  constexpr int kKeys = 20;
  for (const std::string robust : {"8", "6", "4"}) {
    int broken_below[2] = {0, 0};  // quantisation to robust_bits − 2, tensor / channel
    for (int key = 0; key < kKeys; ++key) {
      const auto run =
          qim_release({{"robust_bits", robust}}, 200 + static_cast<std::uint64_t>(key), base);
      ASSERT_EQ(run.scheme->verify(run.rel.secret, run.marked).matches, 32U);
      int g = 0;
      for (const std::string granularity : {"tensor", "channel"}) {
        const nn::Model q =
            attack("quantize", {{"bits", robust}, {"granularity", granularity}}, run.marked);
        const VerifyResult v = run.scheme->verify(run.rel.secret, q);
        EXPECT_EQ(v.matches, 32U) << "robust_bits " << robust << ", " << granularity << ", key "
                                  << key;
        EXPECT_TRUE(v.accepted);
        const int coarse = std::stoi(robust) - 2;
        const nn::Model qc =
            attack("quantize", {{"bits", std::to_string(coarse)}, {"granularity", granularity}},
                   run.marked);
        broken_below[g++] += run.scheme->verify(run.rel.secret, qc).matches < 32 ? 1 : 0;
      }
    }
    std::printf(
        "[   info   ] qim robust_bits=%s: INT%d breaks a bit for %d/%d keys (tensor), "
        "%d/%d (channel)\n",
        robust.c_str(), std::stoi(robust) - 2, broken_below[0], kKeys, broken_below[1], kKeys);
  }
}

TEST(Qim, Int4BreaksTheDefaultStep) {
  const nn::Model base = random_model(1);
  constexpr int kKeys = 20;
  int broken[2] = {0, 0};
  std::uint64_t matches[2] = {0, 0};
  for (int key = 0; key < kKeys; ++key) {
    const auto run = qim_release({}, 300 + static_cast<std::uint64_t>(key), base);
    int g = 0;
    for (const std::string granularity : {"tensor", "channel"}) {
      const nn::Model q =
          attack("quantize", {{"bits", "4"}, {"granularity", granularity}}, run.marked);
      const VerifyResult v = run.scheme->verify(run.rel.secret, q);
      broken[g] += v.matches < 32 ? 1 : 0;
      matches[g++] += v.matches;
    }
  }
  std::printf(
      "[   info   ] qim robust_bits=8 under INT4: a bit breaks for %d/%d keys (tensor, "
      "mean matches %.1f/32), %d/%d (channel, %.1f/32)\n",
      broken[0], kKeys, static_cast<double>(matches[0]) / kKeys, broken[1], kKeys,
      static_cast<double>(matches[1]) / kKeys);
  EXPECT_GT(broken[0], 0);
  EXPECT_GT(broken[1], 0);
}

TEST(Qim, Parameters) {
  for (const auto& [params, key] :
       std::vector<std::pair<ParamMap, std::string>>{{{{"margin", "1"}}, "margin"},
                                                     {{{"margin", "0.5"}}, "margin"},
                                                     {{{"robust_bits", "2"}}, "robust_bits"},
                                                     {{{"robust_bits", "17"}}, "robust_bits"},
                                                     {{{"support", "0"}}, "support"}}) {
    const std::string what = invalid_argument_message([&] { (void)make_scheme("qim", params); });
    EXPECT_NE(what.find(key), std::string::npos) << what;
  }
  // bits·support must fit the carrier: 32·200 > 4096.
  const auto big = make_scheme("qim", {{"support", "200"}});
  Rng coins = test_rng(1);
  EXPECT_NE(
      invalid_argument_message([&] { (void)big->release(random_model(1), coins); }).find("support"),
      std::string::npos);
  // Bits go round-robin over several layers; each layer has its own signed step.
  const auto two = make_scheme("qim", {{"layers", "0,1"}});
  const auto rel = two->release(random_model(1), coins);
  const nn::Model marked = definitions::artifact_model(rel.artifact);
  EXPECT_EQ(two->verify(rel.secret, marked).matches, 32U);
  const std::string& st = claim_of(rel.secret).statement;
  const auto params = nlohmann::json::parse(st.substr(st.find("; params=") + 9));
  EXPECT_TRUE(params.at("delta").contains("layers.0.weight"));
  EXPECT_TRUE(params.at("delta").contains("layers.1.weight"));
  // A suspect whose carrier has the same size is read; the signed step is not re-derived from it
  // (read as found, align = off). Alignment rescales each unit back to the reference's norm.
  nn::Model rescaled = marked;
  for (float& v : rescaled.tensors.at("layers.0.weight").data) v *= 3;
  const auto as_found = make_scheme("qim", {{"layers", "0,1"}, {"align", "off"}});
  EXPECT_FALSE(as_found->verify(rel.secret, rescaled).details.contains("rejected"));
  EXPECT_LT(as_found->verify(rel.secret, rescaled).matches, 32U);
  const VerifyResult aligned = two->verify(rel.secret, rescaled);
  EXPECT_TRUE(aligned.details.contains("alignment"));
  EXPECT_GT(aligned.matches, as_found->verify(rel.secret, rescaled).matches);
}

// ================================================================================================
// spread_spectrum

TEST(SpreadSpectrum, EmbeddingAddsAlphaTimesTheChips) {
  const auto& r = released("spread_spectrum");
  const auto key = bound_key(claim_of(r.rel.secret));
  const auto& w0 = r.base.tensors.at("layers.0.weight").data;
  const auto& w1 = r.marked.tensors.at("layers.0.weight").data;
  const auto n = static_cast<std::int64_t>(w0.size());
  const std::int64_t k = n / 32;
  double mean = 0, sq = 0;
  for (float v : w0) mean += v;
  mean /= static_cast<double>(n);
  for (float v : w0) sq += (v - mean) * (v - mean);
  const double alpha = 6.0 * std::sqrt(sq / static_cast<double>(n)) / std::sqrt(double(k));
  Rng support = key.rng("spread_spectrum.support");
  const auto positions = keyed_positions(n, 32 * k, support);
  Rng sign = key.rng("spread_spectrum.chips");
  const auto message = key.message_bits(32);
  std::vector<double> expected(w0.size(), 0.0);
  for (std::int64_t j = 0; j < 32; ++j)
    for (std::int64_t i = 0; i < k; ++i)
      expected[static_cast<std::size_t>(positions[static_cast<std::size_t>(j * k + i)])] =
          alpha * (message[static_cast<std::size_t>(j)] ? 1 : -1) * (sign.bit() ? 1 : -1);
  double worst = 0;
  for (std::size_t i = 0; i < w0.size(); ++i)
    worst = std::max(worst, std::fabs((static_cast<double>(w1[i]) - w0[i]) - expected[i]));
  EXPECT_LT(worst, 1e-6 * alpha + 1e-7) << "w' = w + α(2m − 1)c on the supports, w elsewhere";
  for (const auto& [name, t] : r.base.tensors) {
    if (name != "layers.0.weight") {
      EXPECT_EQ(t.data, r.marked.tensors.at(name).data) << name;
    }
  }
}

TEST(SpreadSpectrum, ZScoreDetector) {
  const auto& r = released("spread_spectrum");
  const auto zscore = make_scheme("spread_spectrum", {{"detector", "zscore"}});
  const VerifyResult v = zscore->verify(r.rel.secret, r.marked);
  ASSERT_TRUE(v.details.contains("zscore"));
  const double z = v.details["zscore"]["z"].get<double>();
  EXPECT_GT(z, 10);
  // Σ_j of the signal α·k per bit over σ̂·√(kT): about strength·√T = 6·√32 ≈ 34 (33.6 with σ̂
  // including the mark), plus the host's N(0, 1): within 5.5 fails by chance with probability
  // < 1e-6 (3 did with 5e-3).
  EXPECT_NEAR(z, 6 * std::sqrt(32.0), 5.5);
  EXPECT_TRUE(v.accepted);
  EXPECT_EQ(v.details.at("rule"), "zero-bit z-score: P[N(0,1) >= z] <= target_fpr");
  EXPECT_NEAR(v.log2_p, std::log2(0.5 * std::erfc(z / std::sqrt(2.0))), 1e-6 * std::fabs(v.log2_p));
  EXPECT_EQ(v.matches, 32U);  // the bit statistics are still reported
  // The bit detector reports z too, but decides by the binomial rule.
  const VerifyResult bits = r.scheme->verify(r.rel.secret, r.marked);
  EXPECT_DOUBLE_EQ(bits.details["zscore"]["z"].get<double>(), z);
  EXPECT_EQ(bits.details.at("rule"), "binomial p <= target_fpr");
  EXPECT_NEAR(bits.log2_p, -32, 1e-9);
  // Independent models: z ~ N(0, 1), |z| < 5.7 (P[|z| >= 5.7] = 1.2e-8 per model, 1.2e-7 for
  // the 10) and rejected.
  double sum_z = 0;
  for (std::uint64_t seed = 10; seed < 20; ++seed) {
    const VerifyResult n = zscore->verify(r.rel.secret, random_model(seed));
    const double zn = n.details["zscore"]["z"].get<double>();
    EXPECT_LT(std::fabs(zn), 5.7) << "model seed " << seed;
    EXPECT_FALSE(n.accepted);
    EXPECT_NEAR(n.log2_p, std::log2(0.5 * std::erfc(zn / std::sqrt(2.0))), 1e-6);
    sum_z += zn;
  }
  EXPECT_LT(std::fabs(sum_z / std::sqrt(10.0)), 5.7);
  // Misfits are rejected with no z-score.
  const VerifyResult misfit = zscore->verify(r.rel.secret, random_model(4, "mlp:784,64,10:relu"));
  EXPECT_TRUE(rejected(misfit));
  EXPECT_FALSE(misfit.details.contains("zscore"));
  EXPECT_NE(invalid_argument_message([] {
              (void)make_scheme("spread_spectrum", {{"detector", "maybe"}});
            }).find("detector"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              (void)make_scheme("spread_spectrum", {{"strength", "0"}});
            }).find("strength"),
            std::string::npos);
}

TEST(SpreadSpectrum, BitsSurviveSmallGaussianNoise) {
  const auto& r = released("spread_spectrum");
  const nn::Model noisy = attack("weight_noise", {{"scale", "0.01"}}, r.marked);
  ASSERT_NE(noisy.tensors, r.marked.tensors);
  const VerifyResult v = r.scheme->verify(r.rel.secret, noisy);
  EXPECT_TRUE(v.accepted);
  EXPECT_GE(v.matches, 30U);
  const VerifyResult louder =
      r.scheme->verify(r.rel.secret, attack("weight_noise", {{"scale", "0.5"}}, r.marked));
  std::printf(
      "[   info   ] spread_spectrum: %llu/32 bits after noise 0.01·std, %llu/32 after "
      "0.5·std\n",
      static_cast<unsigned long long>(v.matches), static_cast<unsigned long long>(louder.matches));
}

TEST(SpreadSpectrum, ReedSolomonPayload) {
  const nn::Model base = random_model(1);
  const auto scheme = make_scheme("spread_spectrum", {{"bits", "64"}, {"ecc_t", "2"}});
  Rng coins = test_rng(30);
  const auto rel = scheme->release(base, coins);
  const nn::Model marked = definitions::artifact_model(rel.artifact);
  const OwnerClaim claim = claim_of(rel.secret);
  const auto key = bound_key(claim);
  const VerifyResult v = scheme->verify(rel.secret, marked);
  EXPECT_TRUE(v.accepted);
  EXPECT_EQ(v.matches, 64U);
  ASSERT_TRUE(v.details.contains("ecc"));
  EXPECT_EQ(v.details["ecc"]["k"], 4);
  EXPECT_EQ(v.details["ecc"]["t"], 2);
  EXPECT_EQ(v.details["ecc"]["payload_recovered"], true);
  EXPECT_EQ(v.details["ecc"]["symbols_corrected"], 0);
  // The code word is RS(8, 4) of the first 32 message bits, systematic: the message comes first.
  const auto msg = key.message_bits(32);
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), v.extracted.begin()));
  EXPECT_EQ(definitions::ReedSolomon(4, 2).encode(msg), v.extracted);
  const VerifyResult null = scheme->verify(rel.secret, random_model(2));
  EXPECT_FALSE(null.accepted);
  EXPECT_EQ(null.details["ecc"]["payload_recovered"], false);

  // Flip the bits of chosen symbols by inverting their chips: the payload survives ≤ t = 2
  // symbol errors, not 3.
  const auto& w0 = base.tensors.at("layers.0.weight").data;
  const auto n = static_cast<std::int64_t>(w0.size());
  const std::int64_t k = n / 64;
  Rng support = key.rng("spread_spectrum.support");
  const auto positions = keyed_positions(n, 64 * k, support);
  Rng sign = key.rng("spread_spectrum.chips");
  std::vector<float> chips(positions.size());
  for (float& c : chips) c = sign.bit() ? 1.0F : -1.0F;
  const auto flip = [&](nn::Model& m, std::size_t bit) {
    auto& w = m.tensors.at("layers.0.weight").data;
    for (std::int64_t i = 0; i < k; ++i) {
      const auto at = bit * static_cast<std::size_t>(k) + static_cast<std::size_t>(i);
      const auto p = static_cast<std::size_t>(positions[at]);
      w[p] = static_cast<float>(w0[p] - (static_cast<double>(w[p]) - w0[p]));  // −(signal)
    }
  };
  nn::Model two = marked;
  for (std::size_t bit : {0, 3, 7, 42}) flip(two, bit);  // symbols 0 and 5
  const VerifyResult v2 = scheme->verify(rel.secret, two);
  EXPECT_EQ(v2.matches, 60U);
  EXPECT_EQ(v2.details["ecc"]["payload_recovered"], true);
  EXPECT_EQ(v2.details["ecc"]["symbols_corrected"], 2);
  nn::Model three = two;
  flip(three, 63);  // symbol 7
  const VerifyResult v3 = scheme->verify(rel.secret, three);
  EXPECT_EQ(v3.matches, 59U);
  EXPECT_EQ(v3.details["ecc"]["payload_recovered"], false);
}

// ================================================================================================
// uchida

TEST(Uchida, ReadIsTheSignOfTheKeyedProjectionOfTheMeanRow) {
  const auto& r = released("uchida");
  const auto key = bound_key(claim_of(r.rel.secret));
  const auto& w = r.marked.tensors.at("layers.1.weight");
  const Eigen::VectorXd mean = mean_row(w);
  ASSERT_EQ(mean.size(), 64);
  // mean_row = (1/O)·Σ_o W[o, :].
  for (Eigen::Index i = 0; i < 64; ++i) {
    double s = 0;
    for (std::int64_t o = 0; o < 64; ++o) s += w.data[static_cast<std::size_t>(o * 64 + i)];
    EXPECT_NEAR(mean[i], s / 64, 1e-12);
  }
  Rng x = key.rng("uchida.X/layers.1.weight");
  std::vector<std::uint8_t> bits(32);
  for (std::size_t j = 0; j < 32; ++j) {
    double z = 0;
    for (Eigen::Index i = 0; i < 64; ++i) z += x.normal() * mean[i];
    bits[j] = z >= 0 ? 1 : 0;
  }
  const VerifyResult v = r.scheme->verify(r.rel.secret, r.marked);
  EXPECT_EQ(v.extracted, bits);
  // The embedding set (at least min_carried of) those signs to the key's message bits.
  EXPECT_EQ(count_matches(bits, key.message_bits(32)), v.matches);
  EXPECT_GE(v.matches, min_carried("uchida", 32));
  // Only weights change; the architecture is that of the original.
  EXPECT_EQ(r.marked.arch, r.base.arch);
}

TEST(Uchida, AccuracyCostIsSmall) {
  const auto& r = released("uchida");
  const auto data = nn::load_fashion_mnist();
  std::vector<std::int64_t> first(2000);
  for (std::int64_t i = 0; i < 2000; ++i) first[static_cast<std::size_t>(i)] = i;
  const nn::Dataset test = nn::subset(data->test, first);
  const double before = nn::accuracy(r.base, test.images, test.labels);
  const double after = nn::accuracy(r.marked, test.images, test.labels);
  std::printf("[   info   ] uchida: test accuracy %.4f → %.4f (change %+.2f points)\n", before,
              after, 100 * (after - before));
  // Margins of these accuracy comparisons on 2000 images (binomial sd <= 0.011), measured under
  // two GEMM blockings: before 0.708 / 0.713, after − before +0.108, after − plain_worst +0.05:
  // each at least 6 sd from its threshold.
  EXPECT_GT(before, 0.6);  // the base model is trained
  EXPECT_LE(before - after, 0.02);
  // Embedding fine-tunes, which by itself helps a briefly trained base: compare with the same
  // fine-tuning (owner data, Adam at the scheme's lr) without the regulariser, for 1 and 4 epochs.
  double plain_worst = 1;
  for (const int epochs : {1, 4}) {
    nn::Model plain = r.base;
    OwnerDataSpec spec;
    spec.samples = 4000;
    const auto owner = owner_data(spec);
    nn::TrainConfig config;
    config.learning_rate = 1e-3;
    config.epochs = epochs;
    nn::train(plain, owner->images, owner->labels, config, test_rng(60));
    const double acc = nn::accuracy(plain, test.images, test.labels);
    std::printf("[   info   ] uchida: the same fine-tuning without the mark, %d epoch(s): %.4f\n",
                epochs, acc);
    plain_worst = std::min(plain_worst, acc);
  }
  EXPECT_GE(after, plain_worst - 0.02);
}

TEST(Uchida, TwoSidedTestAcceptsAnInvertedCarrier) {
  const auto& r = released("uchida");
  // m of 32 bits carried (every one in the measured releases; at least min_carried = 27).
  const std::uint64_t m = r.scheme->verify(r.rel.secret, r.marked).matches;
  ASSERT_GE(m, min_carried("uchida", 32));
  // p = 2·min(P[Bin(32, 1/2) >= k], P[Bin(32, 1/2) <= k]) (capped at 1); 2·2^-32 for k = 0, 32.
  const auto two_sided_log2_p = [](std::uint64_t k) {
    return std::min(
        0.0, 1 + std::min(log2_tail_reference(k, 32, 0.5), log2_tail_reference(32 - k, 32, 0.5)));
  };
  nn::Model inverted = r.marked;
  for (float& v : inverted.tensors.at("layers.1.weight").data) v = -v;
  // Negating the carrier negates every projection: every bit reads inverted.
  const VerifyResult one = r.scheme->verify(r.rel.secret, inverted);
  EXPECT_EQ(one.matches, 32 - m);
  EXPECT_FALSE(one.accepted);
  EXPECT_NEAR(one.log2_p, log2_tail_reference(32 - m, 32, 0.5), 1e-6);
  const auto two_sided = make_scheme("uchida", {{"two_sided", "true"}});
  const VerifyResult two = two_sided->verify(r.rel.secret, inverted);
  EXPECT_EQ(two.matches, 32 - m);
  EXPECT_TRUE(two.accepted);  // m >= 27: p <= 2·P[Bin(32, 1/2) >= 27] = 1.1e-4
  EXPECT_NEAR(two.log2_p, two_sided_log2_p(32 - m), 1e-6);
  EXPECT_EQ(two.details.at("rule"), "two-sided binomial p <= target_fpr");
  const VerifyResult same = two_sided->verify(r.rel.secret, r.marked);
  EXPECT_TRUE(same.accepted);
  EXPECT_NEAR(same.log2_p, two_sided_log2_p(m), 1e-6);
  EXPECT_NEAR(same.log2_p, two.log2_p, 1e-9);  // symmetric in k ↔ 32 − k
  // At the mean the two-sided p-value is 1.
  const VerifyResult null = two_sided->verify(r.rel.secret, random_model(2));
  EXPECT_LE(null.log2_p, 0);
  EXPECT_NEAR(null.log2_p, two_sided_log2_p(null.matches), 1e-6);
}

TEST(Uchida, CalibratedThresholdIsStrict) {
  const auto& r = released("uchida");
  // m matches (32 in the measured releases; the rule is checked at m whatever it is).
  const std::uint64_t m = r.scheme->verify(r.rel.secret, r.marked).matches;
  ASSERT_GE(m, min_carried("uchida", 32));
  const auto below = make_scheme("uchida", {{"threshold", std::to_string(m - 1)}});
  const VerifyResult v = below->verify(r.rel.secret, r.marked);
  EXPECT_EQ(v.matches, m);
  EXPECT_TRUE(v.accepted);  // m > m − 1
  EXPECT_NE(v.details.at("rule").get<std::string>().find("threshold"), std::string::npos);
  const auto at = make_scheme("uchida", {{"threshold", std::to_string(m)}});
  EXPECT_FALSE(at->verify(r.rel.secret, r.marked).accepted);  // m > m is false
}

TEST(Uchida, SeveralLayersAndParameters) {
  // 32 bits, 16 per layer: with 16 bits the rule accepts only 15 or 16 matches, too close to what
  // a fine-tuning embedding can promise (min_carried: 27 of 32, above the 26 the rule needs).
  const auto scheme = make_scheme("uchida", {{"layers", "0,1"}, {"bits", "32"}});
  Rng coins = test_rng(40);
  const auto rel = scheme->release(trained_base(), coins);
  const nn::Model marked = definitions::artifact_model(rel.artifact);
  const VerifyResult v = scheme->verify(rel.secret, marked);
  EXPECT_TRUE(v.accepted);
  EXPECT_GE(v.matches, min_carried("uchida", 32));
  // Round-robin: even bits on layer 0 (784 inputs), odd bits on layer 1.
  const auto key = bound_key(claim_of(rel.secret));
  Rng x0 = key.rng("uchida.X/layers.0.weight");
  const Eigen::VectorXd m0 = mean_row(marked.tensors.at("layers.0.weight"));
  for (std::size_t j = 0; j < 32; j += 2) {
    double z = 0;
    for (Eigen::Index i = 0; i < m0.size(); ++i) z += x0.normal() * m0[i];
    EXPECT_EQ(z >= 0 ? 1 : 0, v.extracted[j]) << "bit " << j;
  }
  for (const auto& [params, key_name] : std::vector<std::pair<ParamMap, std::string>>{
           {{{"lambda", "0"}}, "lambda"},
           {{{"lr", "0"}}, "lr"},
           {{{"epochs", "0"}}, "epochs"},
           {{{"epochs", "3"}, {"max_epochs", "2"}}, "max_epochs"},
           {{{"batch", "0"}}, "batch"},
           {{{"samples", "-1"}}, "samples"},
           {{{"split_seed", "-1"}}, "split_seed"}}) {
    const std::string what = invalid_argument_message([&] { (void)make_scheme("uchida", params); });
    EXPECT_NE(what.find(key_name), std::string::npos) << what;
  }
}

// ================================================================================================
// trigger_set

TEST(TriggerSet, BlackBoxVerificationEqualsWhiteBox) {
  const auto& r = released("trigger_set");
  std::size_t calls = 0, rows = 0;
  const definitions::QueryFn query = [&](const nn::Matrix& x) {
    ++calls;
    rows += static_cast<std::size_t>(x.rows());
    return r.marked.forward(x);
  };
  const VerifyResult black = r.scheme->verify_queries(r.rel.secret, query);
  const VerifyResult white = r.scheme->verify(r.rel.secret, r.marked);
  EXPECT_EQ(calls, 1U);
  EXPECT_EQ(rows, 100U);
  EXPECT_EQ(black.accepted, white.accepted);
  EXPECT_EQ(black.matches, white.matches);
  EXPECT_EQ(black.extracted, white.extracted);
  EXPECT_DOUBLE_EQ(black.log2_p, white.log2_p);
  EXPECT_TRUE(black.accepted);
  // Query answers of the wrong shape or with non-finite logits are rejected.
  EXPECT_TRUE(rejected(r.scheme->verify_queries(
      r.rel.secret, [](const nn::Matrix& x) { return nn::Matrix::Zero(x.rows(), 9).eval(); })));
  EXPECT_TRUE(rejected(r.scheme->verify_queries(r.rel.secret, [](const nn::Matrix& x) {
    return nn::Matrix::Zero(x.rows() - 1, 10).eval();
  })));
  EXPECT_TRUE(rejected(r.scheme->verify_queries(r.rel.secret, [](const nn::Matrix& x) {
    nn::Matrix out = nn::Matrix::Zero(x.rows(), 10);
    out(3, 2) = std::numeric_limits<float>::quiet_NaN();
    return out;
  })));
  // A bad claim is rejected before any query.
  OwnerClaim bad = claim_of(r.rel.secret);
  bad.signature_hex.back() = bad.signature_hex.back() == '1' ? '2' : '1';
  calls = 0;
  EXPECT_TRUE(rejected(r.scheme->verify_queries(with_claim(r.rel.secret, bad), query)));
  EXPECT_EQ(calls, 0U);
}

TEST(TriggerSet, TriggersAreKeyedImagesInTheUnitCube) {
  const auto& r = released("trigger_set");
  const auto& scheme = dynamic_cast<const TriggerSet&>(*r.scheme);
  const auto key = bound_key(claim_of(r.rel.secret));
  const nn::Matrix x = scheme.triggers(key);
  ASSERT_EQ(x.rows(), 100);
  ASSERT_EQ(x.cols(), 784);
  EXPECT_GE(x.minCoeff(), 0.0F);
  EXPECT_LE(x.maxCoeff(), 1.0F);
  EXPECT_NEAR(x.mean(), 0.5, 0.01);  // i.i.d. uniform pixels
  EXPECT_EQ(scheme.triggers(key), x);
  EXPECT_NE(scheme.triggers(definitions::MarkKey::from_seed_hex(std::string(64, '0'))), x);
  // The marked model maps the triggers to their keyed labels: at least min_carried = 82 of 100
  // (fine-tuning learns each with probability >= 0.95; measured 2 misses in 1600), and the
  // count is the one Verify reports.
  const nn::Matrix logits = r.marked.forward(x);
  const auto labels = trigger_labels(key, 100, 10);
  std::uint64_t mapped = 0;
  for (Eigen::Index j = 0; j < 100; ++j) {
    Eigen::Index best = 0;
    logits.row(j).maxCoeff(&best);
    mapped += best == labels[static_cast<std::size_t>(j)] ? 1 : 0;
  }
  EXPECT_GE(mapped, min_carried("trigger_set", 100));
  EXPECT_EQ(mapped, r.scheme->verify(r.rel.secret, r.marked).matches);
  std::set<std::uint8_t> distinct(labels.begin(), labels.end());
  EXPECT_GE(distinct.size(), 8U);
}

TEST(TriggerSet, FineTuningWithoutTriggersGivesChanceAccuracy) {
  const auto& r = released("trigger_set");
  nn::Model plain = r.base;
  const auto data = owner_data(OwnerDataSpec{1, 2000, ""});
  nn::TrainConfig config;
  config.learning_rate = 3e-4;
  config.epochs = 2;
  nn::train(plain, data->images, data->labels, config, test_rng(50));
  const VerifyResult v = r.scheme->verify(r.rel.secret, plain);
  std::printf("[   info   ] trigger_set: %llu/100 triggers on a model fine-tuned without them\n",
              static_cast<unsigned long long>(v.matches));
  // Chance: Bin(100, 1/10) exactly, so at most 27 (P[more] = 3.5e-7). Verify's decision is not
  // asserted: on a trained model it rejects with probability 1 − 8.1e-4 only.
  expect_unmarked(v, 100, 0.1, false, "fine-tuned without the triggers");
  // The marked model still classifies the real data.
  const auto test = nn::load_fashion_mnist();
  std::vector<std::int64_t> first(2000);
  for (std::int64_t i = 0; i < 2000; ++i) first[static_cast<std::size_t>(i)] = i;
  const nn::Dataset t = nn::subset(test->test, first);
  const double before = nn::accuracy(r.base, t.images, t.labels);
  const double after = nn::accuracy(r.marked, t.images, t.labels);
  std::printf("[   info   ] trigger_set: test accuracy %.4f → %.4f\n", before, after);
  // Measured +0.096 / +0.083 (two GEMM blockings), >= 12 sd (0.011 on 2000 images) above the bound.
  EXPECT_GE(after, before - 0.05);
}

TEST(TriggerSet, Parameters) {
  for (const auto& [params, key] :
       std::vector<std::pair<ParamMap, std::string>>{{{{"per_batch", "0"}}, "per_batch"},
                                                     {{{"inputs", "0"}}, "inputs"},
                                                     {{{"classes", "300"}}, "classes"},
                                                     {{{"epochs", "0"}}, "epochs"},
                                                     {{{"max_epochs", "0"}}, "max_epochs"},
                                                     {{{"samples", "-1"}}, "samples"}}) {
    const std::string what =
        invalid_argument_message([&] { (void)make_scheme("trigger_set", params); });
    EXPECT_NE(what.find(key), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace wrsec::schemes
