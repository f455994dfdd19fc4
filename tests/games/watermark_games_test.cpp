// The ownership games wm_removal, wm_forgery and wm_false_positive, played end to end through the
// catalog (registry ids and text parameters, as the CLI does) on the zoo model
// zoo:mlp_784_64_64_10_relu@1 and Fashion-MNIST. Each test pins a qualitative outcome the project
// claims, with enough trials that it cannot pass by luck: assertions are on the exact one-sided
// Clopper–Pearson bounds at alpha = 0.05 (CellResult.advantage.lower / .upper), not on point
// estimates. With zero wins in n trials the upper bound is 1 − 0.05^(1/n) (n = 20: 0.139, n = 30:
// 0.095, n = 60: 0.049); with n wins in n trials the lower bound is 0.05^(1/n) (n = 30: 0.905).
// The zoo models are trained on the machine that runs the test, so every count that depends on
// them is a random quantity (one different rounding gives other models): where an outcome is not
// exact by construction, the asserted count has a margin from the binomial distribution that fails
// by chance with probability <= kFalseFailure (see at_least / at_most).
//
// The zoo models (the owner's model and the 20 null models) train once and are cached under
// $WRSEC_ZOO_CACHE, which the test environment sets to <working directory>/zoo-cache unless the
// caller has set it. Every cell plays with a fixed seed on 2 threads; the scheme keys use
// rsa_bits = 1024 to keep key generation fast.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "core/errors.h"
#include "core/rng.h"
#include "definitions/artifact.h"
#include "definitions/owner_key.h"
#include "definitions/params.h"
#include "definitions/sources.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"
#include "experiments/cell_run.h"
#include "experiments/results.h"
#include "experiments/runner.h"
#include "tests/support/binomial_margin.h"

namespace wrsec::games {
namespace {

using definitions::Params;
using experiments::Catalog;
using experiments::CellCounts;
using experiments::CellResult;
using experiments::CellSpec;
using experiments::MetricSummary;
using ParamMap = std::map<std::string, std::string>;

constexpr std::uint64_t kSeed = 20250;
constexpr int kThreads = 2;
constexpr double kAlpha = 0.05;
constexpr const char* kModel = "zoo:mlp_784_64_64_10_relu@1";

class ZooCacheEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::filesystem::path dir = std::filesystem::current_path() / "zoo-cache";
    ::setenv("WRSEC_ZOO_CACHE", dir.c_str(), /*overwrite=*/0);
  }
};
[[maybe_unused]] ::testing::Environment* const kZooEnvironment =
    ::testing::AddGlobalTestEnvironment(new ZooCacheEnvironment);

// Scheme parameters: fast keys, plus `extra`.
ParamMap scheme_params(const std::string& scheme, ParamMap extra = {}) {
  if (scheme != "plaintext") extra.emplace("rsa_bits", "1024");
  return extra;
}

CellSpec cell(const std::string& game, const std::string& scheme, const std::string& attack,
              ParamMap scheme_extra = {}, ParamMap attack_params = {}, ParamMap game_params = {}) {
  return {game,
          scheme,
          attack,
          Params(std::move(game_params)),
          Params(scheme_params(scheme, std::move(scheme_extra))),
          Params(std::move(attack_params))};
}

// The measured numbers of a cell, printed so that a run documents them.
void print(const CellResult& r) {
  std::cout << "[cell] " << r.spec.key() << "\n       wins " << r.counts.wins << "/" << r.counts.n
            << "  adv.lower " << r.advantage.lower << "  adv.upper " << r.advantage.upper << "  ("
            << r.elapsed_seconds << " s)\n";
  for (const auto& [name, m] : r.counts.metrics)
    std::cout << "       " << name << ": mean " << m.mean() << " min " << m.min << " max " << m.max
              << (m.nonfinite ? " nonfinite " + std::to_string(m.nonfinite) : "") << "\n";
  std::cout << std::flush;
}

CellResult run(const CellSpec& spec, std::uint64_t trials, int threads = kThreads,
               std::uint64_t begin = 0) {
  CellResult r = experiments::run_cell(Catalog::global(), spec,
                                       {kSeed, {begin, begin + trials}, threads, kAlpha});
  EXPECT_EQ(r.counts.n, trials);
  EXPECT_EQ(r.alpha, kAlpha);
  print(r);
  return r;
}

const MetricSummary& metric(const CellResult& r, const std::string& name) {
  const auto it = r.counts.metrics.find(name);
  if (it == r.counts.metrics.end()) throw LogicError("no metric '" + name + "'");
  return it->second;
}

// How far a function-preserving transform may move a logit. wm_removal evaluates
// max |M'(x) − M(x)| in double precision, so only the float32 rounding of the transformed weights
// remains (the permutation is exact; scaling and dummy splits round once per weight). In float32
// evaluation the summation order alone moved logits by up to 1.34e-5 (7 ulps at |z| in [16, 32));
// a real change of the function (INT8 quantisation) moves them by ~0.1 or more.
constexpr double kMaxLogitChange = 1e-5;

// 1 − alpha^(1/n): the one-sided CP upper bound with zero wins.
double zero_win_upper(std::uint64_t n) {
  return -std::expm1(std::log(kAlpha) / static_cast<double>(n));
}

using test_support::at_least;
using test_support::at_most;
using test_support::kFalseFailure;

// The number of trials in which a 0/1 metric was 1.
std::uint64_t count_of(const MetricSummary& m) {
  return static_cast<std::uint64_t>(std::llround(m.mean() * static_cast<double>(m.n)));
}

// A removal that works by design (the mark's symbols are randomised, the function is kept) loses a
// trial only when Verify accepts the attacked model by chance (target_fpr 1e-3; 2.7e-4 for 32 bits)
// or the accuracy drops by more than delta: its win rate is >= 0.99, so it must win at least
// at_least(30, 0.99) = 25 of 30 trials, i.e. Adv >= cp_lower(25, 30, 0.05) = 0.68 at 95%.
constexpr double kRemovedByDesign = 0.99;

// Function-preserving transforms move float32 logits by up to ~1e-5 (kMaxLogitChange), so a test
// image whose top-2 logit gap is smaller can change its predicted class (a float tie, not a change
// of the function). The zoo model's smallest gaps over the 10000 test images are 2.4e-4, 2.7e-4,
// 7.6e-4 (3 below 1e-3, none below 1e-4), i.e. about 0.003 such flips per transformed model; at
// most 3 images per trial (P[more] < 1e-7 per trial even at 10× that rate) may change, in either
// direction. A real change of the function (INT8 quantisation) changes far more predictions.
constexpr double kMaxTieFlips = 3.0 / 10000;

// ---- wm_removal ----------------------------------------------------------------------------

// lsb_parity is fragile by design: any re-quantisation randomises the parities.
TEST(WmRemoval, LsbParityIsRemovedByInt8Quantization) {
  const CellResult r = run(
      cell("wm_removal", "lsb_parity", "quantize", {}, {{"bits", "8"}, {"granularity", "tensor"}}),
      30);
  const std::uint64_t k = at_least(30, kRemovedByDesign);  // 25 (measured: 30 of 30)
  EXPECT_GE(r.counts.wins, k);
  EXPECT_GE(r.advantage.lower, definitions::cp_lower(k, 30, kAlpha));
  // Exact by construction: the embedding sets every parity (lsb_parity.h).
  EXPECT_EQ(metric(r, "marked_detected").mean(), 1.0);
}

// Permuting the hidden units feeding uchida's carrier layer scrambles X·w while the function stays
// the same (up to float summation order).
// The verifier that reads the suspect as found (align = off) is defeated by permutation.
TEST(WmRemoval, UchidaIsRemovedByPermutationWithoutAlignment) {
  const CellResult r = run(cell("wm_removal", "uchida", "permute", {{"align", "off"}}), 30);
  const std::uint64_t k = at_least(30, kRemovedByDesign);  // 25 (measured: 30 of 30)
  EXPECT_GE(r.counts.wins, k);
  EXPECT_GE(r.advantage.lower, definitions::cp_lower(k, 30, kAlpha));
  EXPECT_GE(metric(r, "acc_drop").min, -kMaxTieFlips);  // measured: exactly 0
  EXPECT_LE(metric(r, "acc_drop").max, kMaxTieFlips);
  EXPECT_LE(metric(r, "max_logit_change").max, kMaxLogitChange);
  EXPECT_EQ(metric(r, "max_logit_change").nonfinite, 0u);
  // Verify's own threshold (26 of 32 bits) on each fine-tuned mark: the worst of 76 measured
  // releases carried 30 of 32; with each bit missed independently at 1% (observed 0.8%) a marked
  // model fails with probability 2.7e-8, so below 1e-6 over the 30 trials.
  EXPECT_EQ(metric(r, "marked_detected").mean(), 1.0);
  // The permuted carrier reads as under the null: Verify accepts with probability <= 1e-3, so at
  // most 3 of 30 (P[more] = 2.7e-8).
  EXPECT_LE(count_of(metric(r, "detected")), at_most(30, 1e-3));
}

// With alignment to the owner's unmarked model (the default), the permutation is undone bit for
// bit (nn_align_test), so each trial reads exactly the marked model: zero wins for the reason
// marked_detected is 1 in the test above (P[a marked model fails] <= 1e-6 over 30 trials), and
// Adv <= cp_upper(0, 30) = 0.095 at 95%.
TEST(WmRemoval, UchidaSurvivesPermutationWithAlignment) {
  const CellResult r = run(cell("wm_removal", "uchida", "permute"), 30);
  EXPECT_EQ(r.counts.wins, 0u);
  EXPECT_DOUBLE_EQ(r.advantage.upper, zero_win_upper(30));
  EXPECT_EQ(metric(r, "detected").mean(), 1.0);
}

// qim's step is chosen to survive INT8 quantisation, per tensor or per output channel: zero wins.
// n = 60 trials: cp_upper(0, 60, 0.05) = 1 − 0.05^(1/60) = 0.0487 <= 0.05.
TEST(WmRemoval, QimSurvivesInt8ChannelQuantization) {
  const CellResult r = run(
      cell("wm_removal", "qim", "quantize", {}, {{"bits", "8"}, {"granularity", "channel"}}), 60);
  EXPECT_EQ(r.counts.wins, 0u);
  EXPECT_LE(r.advantage.upper, 0.05);
  EXPECT_DOUBLE_EQ(r.advantage.upper, zero_win_upper(60));
  EXPECT_EQ(metric(r, "detected").mean(), 1.0);
  EXPECT_EQ(metric(r, "bit_accuracy").min, 1.0);
}

// A fresh student distilled from the marked model's outputs carries no projection mark, and keeps
// the accuracy within delta = 5 pp. With the defaults (5 epochs on the attacker's 20000 images)
// measured: 30/30 wins, acc_drop mean 0.0113, max 0.0213, bit_accuracy mean 0.53. The test uses a
// cheaper student (3 epochs on 10000 images) to keep CI short; the claim is the same, but its
// acc_drop is closer to delta: measured over 120 trials (seed 777) 118 wins, acc_drop mean 0.033,
// min 0.023, max 0.0504 (one loss), one student verified by chance (26 of 32 bits). So the claim
// is on the game's own win predicate (undetected and acc_drop <= delta), counted: with a win rate
// >= 0.9 (measured 0.983, 95% CP lower bound 0.948) at least at_least(30, 0.9) = 17 wins, i.e.
// Adv >= 0.40 at 95%, fail by chance with probability <= 1e-6; an attack that does nothing (or
// that destroys the accuracy) wins no trial. A per-trial max of acc_drop <= delta is not asserted
// (measured P[acc_drop > delta] ~ 1/120 per trial); its mean must stay within delta (0.033 with a
// per-trial sd of about 0.005: the 30-trial mean is > 15 sd inside).
TEST(WmRemoval, UchidaIsRemovedByDistillationWithinFivePoints) {
  const CellResult r =
      run(cell("wm_removal", "uchida", "distill", {}, {{"epochs", "3"}, {"samples", "10000"}}), 30);
  const std::uint64_t k = at_least(30, 0.9);
  EXPECT_GE(r.counts.wins, k);
  EXPECT_GE(r.advantage.lower, definitions::cp_lower(k, 30, kAlpha));
  EXPECT_LE(metric(r, "acc_drop").mean(), 0.05);
}

// Function-preserving transforms of the released model: the outputs do not change (up to float
// rounding, kMaxLogitChange), and no test image changes its predicted class (acc_drop exactly 0,
// also for dummy_neurons; measured). They also remove qim's mark (20/20 wins each, measured):
// permute and scale_neurons move the keyed positions' values, dummy_neurons changes the shapes so
// the suspect no longer fits the key (bit_accuracy 0, rejected).
TEST(WmRemoval, FunctionPreservingAttacksLeaveOutputsUnchanged) {
  for (const char* attack : {"permute", "scale_neurons", "dummy_neurons"}) {
    const CellResult r = run(cell("wm_removal", "qim", attack), 20);
    EXPECT_LE(metric(r, "max_logit_change").max, kMaxLogitChange) << attack;
    EXPECT_EQ(metric(r, "max_logit_change").nonfinite, 0u) << attack;
    // Measured exactly 0; float ties may flip a few images (kMaxTieFlips).
    EXPECT_LE(metric(r, "acc_drop").max, kMaxTieFlips) << attack;
    EXPECT_GE(metric(r, "acc_drop").min, -kMaxTieFlips) << attack;
  }
}

// The identity control: the mark is found in every marked model (correctness), nothing is
// removed, and embedding costs at most 1 pp of test accuracy. Measured embed_cost = acc(θ) −
// acc(M) over 20 trials (seed 20250; the zoo model's accuracy is 0.8533):
//   uchida           mean 0.0039  min −0.0029  max 0.0140   (fine-tuning on 10000 owner images)
//   spread_spectrum  mean 0.0025  min  0.0007  max 0.0050
//   lsb_parity       mean 0       min  0       max 0        (1-ulp flips change no prediction)
//   qim              mean 0.0004  min −0.0003  max 0.0011
//   trigger_set      mean 0.0024  min  0.0002  max 0.0049
// MEASURED EXCEPTION: uchida's per-trial cost exceeds 1 pp in some trials (max 0.0140 with the
// current defaults lambda = 1, lr = 5e-4, max_epochs = 6; 0.0107 with lambda = 0.1, lr = 3e-4,
// max_epochs = 4; 0.0130 with samples = 5000), so the 1 pp the project states is asserted on the
// mean cost, and the per-trial max, a random quantity once the zoo model and the fine-tuning
// change with one rounding, against a bound at least 6 sd above the measured mean (normal tail
// < 1e-9 per trial). Per-trial costs measured over 60 (uchida) and 40 (the others) trials on
// another zoo model (trained under another GEMM blocking): uchida mean 0.0042 sd 0.0033 max 0.0132;
// trigger_set 0.0029, 0.0015, 0.0052; spread_spectrum 0.0021, 0.0011, 0.0050; qim 0.0003, 0.0004,
// 0.0013. Bounds: uchida 0.025, trigger_set 0.015, the others 0.01 (>= 7 sd); the mean of 10
// uchida trials is 5.6 sd below 0.01.
// Every marked model must verify (wins == 0): exact by construction for lsb_parity and qim,
// deterministic with a 6-sd margin per bit for spread_spectrum, and for the fine-tuning schemes a
// comparison against Verify's own threshold, far below what the embedding carries (26 of 32 bits
// needed, the worst of 76 measured uchida releases carried 30; 21 of 100 triggers needed, the
// worst of 56 trigger_set releases carried 99).
double max_embed_cost(const std::string& scheme) {
  if (scheme == "uchida") return 0.025;
  if (scheme == "trigger_set") return 0.015;
  return 0.01;
}

TEST(WmRemoval, IdentityControlNeverWins) {
  for (const char* scheme : {"uchida", "spread_spectrum", "lsb_parity", "qim", "trigger_set"}) {
    // The schemes that embed by fine-tuning get 10 trials (CI time), the others 20.
    const std::string id = scheme;
    const std::uint64_t trials = id == "uchida" || id == "trigger_set" ? 10 : 20;
    const CellResult r = run(cell("wm_removal", scheme, "identity"), trials);
    EXPECT_EQ(r.counts.wins, 0u) << scheme;
    EXPECT_LE(r.advantage.upper, 0.26) << scheme;
    EXPECT_DOUBLE_EQ(r.advantage.upper, zero_win_upper(trials)) << scheme;
    EXPECT_EQ(metric(r, "marked_detected").mean(), 1.0) << scheme;
    EXPECT_EQ(metric(r, "detected").mean(), 1.0) << scheme;
    EXPECT_EQ(metric(r, "max_logit_change").max, 0.0) << scheme;
    EXPECT_EQ(metric(r, "acc_drop").max, 0.0) << scheme;
    const MetricSummary& cost = metric(r, "embed_cost");
    EXPECT_LE(cost.mean(), 0.01) << scheme;
    EXPECT_LE(cost.max, max_embed_cost(id)) << scheme;  // see above
  }
}

// ---- wm_forgery ----------------------------------------------------------------------------

// copy_bits claims, under the forger's own key, exactly the bits the target carries. Under the
// naive rule (binding = none, the claim's explicit key and message are verified) this wins always,
// on the owner's marked model and on an independently trained model alike; under signature
// binding the message is re-derived from the signature, so it wins only with about the FPR.
// That is a chance event on the (trained) zoo model's bits, at most target_fpr = 1e-3 per trial,
// so the bound cell may win at most at_most(30, 1e-3) = 3 of 30 (P[more] = 2.7e-8; measured 0),
// i.e. Adv <= cp_upper(3, 30, 0.05) = 0.24 at 95% (0.095 with zero wins).
TEST(WmForgery, SignatureBindingDefeatsCopyBits) {
  const CellResult bound = run(cell("wm_forgery", "qim", "ambiguity", {{"binding", "signature"}},
                                    {{"strategy", "copy_bits"}}),
                               30);
  const std::uint64_t most = at_most(30, 1e-3);
  EXPECT_LE(bound.counts.wins, most);
  EXPECT_DOUBLE_EQ(bound.advantage.upper, definitions::cp_upper(bound.counts.wins, 30, kAlpha));
  EXPECT_LE(bound.advantage.upper, definitions::cp_upper(most, 30, kAlpha));
  // The forger's own claims carry valid signatures of its own key, but the message re-derived
  // from the signature matches the target's bits only by chance (~1/2 of 30·32 bits).
  EXPECT_EQ(metric(bound, "signature_valid").min, 1.0);
  EXPECT_EQ(metric(bound, "claims_owner_key").max, 0.0);
  EXPECT_GE(metric(bound, "match_fraction").mean(), 0.4);
  EXPECT_LE(metric(bound, "match_fraction").mean(), 0.6);
  const CellResult naive = run(
      cell("wm_forgery", "qim", "ambiguity", {{"binding", "none"}}, {{"strategy", "copy_bits"}}),
      30);
  EXPECT_GE(naive.advantage.lower, 0.9);
  EXPECT_EQ(metric(naive, "match_fraction").min, 1.0);
  const CellResult independent = run(cell("wm_forgery", "qim", "ambiguity", {{"binding", "none"}},
                                          {{"strategy", "copy_bits"}}, {{"target", "independent"}}),
                                     30);
  EXPECT_GE(independent.advantage.lower, 0.9);
  EXPECT_EQ(metric(independent, "match_fraction").min, 1.0);
}

// A "forger" that returns the owner's own claim with an extra field that signature binding does
// not use (an explicit message). It names the owner's key and statement, so it is the owner's
// claim, not a new one, and must never count as a forgery (before the fix it won every trial: the
// game compared serialised claims).
class ReplayOwnersClaim final : public definitions::Forger {
 public:
  [[nodiscard]] std::string id() const override { return "replay_owners_claim"; }
  [[nodiscard]] definitions::OwnerSecret forge(const nn::Model& /*target*/,
                                               const definitions::ForgeryContext& context,
                                               Rng& /*coins*/) const override {
    definitions::OwnerSecret s;
    s.metadata["claim"] = context.owner_claim;
    s.metadata["claim"]["message"] = std::vector<int>(32, 1);
    return s;
  }
};

TEST(WmForgery, TheOwnersClaimWithAnUnusedFieldIsNotAForgery) {
  const auto game =
      Catalog::global().games.create("wm_forgery", Params(ParamMap{{"model", kModel}}));
  const auto scheme = Catalog::global().schemes.create(
      "qim", Params(scheme_params("qim", {{"binding", "signature"}})));
  const ReplayOwnersClaim replay;
  for (std::uint64_t trial = 0; trial < 3; ++trial) {
    Rng coins(kSeed, stable_hash("watermark_games_test.replay"), trial);
    const auto outcome = game->play(scheme.get(), replay, coins);
    const auto value = [&](const std::string& name) {
      for (const auto& [k, v] : outcome.metrics)
        if (k == name) return v;
      throw LogicError("no metric '" + name + "'");
    };
    EXPECT_FALSE(outcome.win) << "trial " << trial;
    EXPECT_EQ(value("claims_owner_key"), 1.0);
    EXPECT_EQ(value("signature_valid"), 1.0);
    EXPECT_EQ(value("match_fraction"), 1.0);  // Verify does accept it
  }
}

// fake_signature names the owner's public key over a new statement, with the owner's old
// signature or a random one: without the owner's signing key the claim never verifies.
TEST(WmForgery, FakeSignatureNeverVerifies) {
  const CellResult r = run(cell("wm_forgery", "qim", "ambiguity", {{"binding", "signature"}},
                                {{"strategy", "fake_signature"}}),
                           30);
  EXPECT_EQ(r.counts.wins, 0u);
  EXPECT_EQ(metric(r, "signature_valid").max, 0.0);
  EXPECT_EQ(metric(r, "claims_owner_key").min, 1.0);
  // While the owner's own claim does verify, on the same zoo model under the same parameters.
  const auto scheme = Catalog::global().schemes.create(
      "qim", Params(scheme_params("qim", {{"binding", "signature"}})));
  Rng unused(0, 0, 0);
  const nn::Model model = definitions::ModelSource::parse(kModel).draw(unused);
  Rng coins(kSeed, stable_hash("watermark_games_test.owner"), 0);
  const definitions::Release release = scheme->release(model, coins);
  const auto claim = definitions::OwnerClaim::from_json(release.secret.metadata.at("claim"));
  EXPECT_TRUE(
      definitions::verify_statement(claim.public_key, claim.statement, claim.signature_hex));
  EXPECT_TRUE(
      scheme->verify(release.secret, definitions::artifact_model(release.artifact)).accepted);
}

// ---- wm_false_positive ---------------------------------------------------------------------

// The FPR of Verify at the default target_fpr = 1e-3 over 20 independently trained null models
// (zoo seeds 100..119) and 30 fresh keys each, n = 600. Zero false accepts are not guaranteed by
// design (at the nominal rate ~0.6 are expected; with 32 bits the rule accepts k >= 26 matches,
// P[Bin(32, 1/2) >= 26] = 2.7e-4, so ~0.16; and the null models are trained on the machine that
// runs the test), hence the assertions allow what the nominal rate allows: wins <= at_most(600,
// 1e-3) = 7 (P[Bin(600, 1e-3) >= 8] = 2.4e-7), so the CP upper bound on the FPR must be <=
// cp_upper(7, 600, 0.05) = 0.022 (0.00498 with zero wins). An upper bound <= 0.01 would need <= 1
// win, which fails by chance with probability 0.12 at the nominal rate (0.012 at 2.7e-4).
// Measured: 0/600 for both schemes (1/600 each with other zoo models, trained under other
// numerics), match_fraction mean 0.4976 (qim), 0.4957 (lsb_parity).
TEST(WmFalsePositive, FprIsBoundedOverNullModels) {
  const std::uint64_t most = at_most(600, 1e-3);
  for (const char* scheme : {"qim", "lsb_parity"}) {
    const CellResult r = run(cell("wm_false_positive", scheme, "identity", {}, {},
                                  {{"null_count", "20"}, {"null_first", "100"}}),
                             600);
    EXPECT_LE(r.counts.wins, most) << scheme;
    EXPECT_LE(r.advantage.upper, definitions::cp_upper(most, 600, kAlpha)) << scheme;
    const double mf = metric(r, "match_fraction").mean();
    EXPECT_GE(mf, 0.45) << scheme;
    EXPECT_LE(mf, 0.55) << scheme;
    EXPECT_EQ(metric(r, "null_seed").min, 100.0);
    EXPECT_EQ(metric(r, "null_seed").max, 119.0);
  }
}

// ---- determinism and bad input -------------------------------------------------------------

TEST(WatermarkGames, CountsIndependentOfThreadsAndShards) {
  const CellSpec spec = cell("wm_removal", "qim", "weight_noise");
  const CellCounts one = run(spec, 8, 1).counts;
  EXPECT_EQ(run(spec, 8, 2).counts, one);
  const CellCounts second_half = run(spec, 4, 2, 4).counts;
  const CellCounts first_half = run(spec, 4, 1, 0).counts;
  CellCounts merged = second_half;
  merged += first_half;
  EXPECT_EQ(merged, one);
  // The equalities are not trivial: the trials differ, so a run that played other trials (or
  // counted one twice) would give other counts. Checked on the counts themselves, not on the win
  // count, which is a chance outcome (measured 1 win of 8 on one machine, 0 on another: whether
  // weight_noise breaks enough of qim's bits in a trial depends on the trained zoo model). The two
  // halves differ in their exact metric sums, and continuous per-trial metrics vary (the largest
  // logit change, a double; the attacked accuracy on 10000 images). Not the matched bits: 8
  // trials can match the same number of bits by chance (measured 26 to 28 of 32).
  EXPECT_NE(first_half, second_half);
  EXPECT_LT(one.metrics.at("max_logit_change").min, one.metrics.at("max_logit_change").max);
  EXPECT_LT(one.metrics.at("acc_attacked").min, one.metrics.at("acc_attacked").max);
}

void expect_invalid(const CellSpec& spec, const std::string& needle) {
  try {
    (void)experiments::run_cell(Catalog::global(), spec, {kSeed, {0, 1}, 1, kAlpha});
    ADD_FAILURE() << "no throw for " << spec.key();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << spec.key() << ": '" << needle << "' not in: " << e.what();
  }
}

TEST(WatermarkGames, BadCellsAreRejected) {
  // Not an ownership scheme; not a removal adversary / forger.
  expect_invalid(cell("wm_removal", "plaintext", "identity"), "wm_removal");
  expect_invalid(cell("wm_forgery", "plaintext", "ambiguity"), "wm_forgery");
  expect_invalid(cell("wm_false_positive", "plaintext", "identity"), "wm_false_positive");
  expect_invalid(cell("wm_removal", "qim", "coin_flip"), "coin_flip");
  expect_invalid(cell("wm_removal", "qim", "ambiguity"), "ambiguity");
  expect_invalid(cell("wm_forgery", "qim", "identity"), "identity");
  expect_invalid(cell("wm_false_positive", "qim", "coin_flip"), "coin_flip");
  // Bad game parameters name the key.
  expect_invalid(cell("wm_removal", "qim", "identity", {}, {}, {{"delta", "2"}}), "delta");
  expect_invalid(cell("wm_removal", "qim", "identity", {}, {}, {{"eval_samples", "0"}}),
                 "eval_samples");
  expect_invalid(cell("wm_removal", "qim", "identity", {}, {}, {{"bogus", "1"}}), "bogus");
  expect_invalid(cell("wm_forgery", "qim", "ambiguity", {}, {}, {{"target", "nobody"}}), "target");
  expect_invalid(cell("wm_forgery", "qim", "ambiguity", {}, {}, {{"null_count", "0"}}),
                 "null_count");
  expect_invalid(cell("wm_false_positive", "qim", "identity", {}, {}, {{"null_count", "0"}}),
                 "null_count");
  expect_invalid(
      cell("wm_removal", "qim", "identity", {}, {}, {{"model", "random:mlp:20,8,3:relu"}}), "784");
  // Null models are zoo models: a non-zoo model needs an explicit null_model.
  expect_invalid(cell("wm_false_positive", "qim", "identity", {}, {},
                      {{"model", "random:mlp:784,64,64,10:relu"}}),
                 "null_model");
  expect_invalid(cell("wm_forgery", "qim", "ambiguity", {}, {},
                      {{"model", "random:mlp:784,64,64,10:relu"}, {"target", "independent"}}),
                 "null_model");
}

}  // namespace
}  // namespace wrsec::games
