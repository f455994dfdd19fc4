// perm_lock (schemes/perm_lock.h), its TEE oracle (definitions/tee.h) and the attacks on it
// (attacks/static_basis.h, attacks/base_alignment.h).
#include "schemes/perm_lock.h"

#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <type_traits>

#include "attacks/base_alignment.h"
#include "attacks/static_basis.h"
#include "core/errors.h"
#include "core/rng.h"
#include "definitions/artifact.h"
#include "definitions/oracle.h"
#include "definitions/tee.h"
#include "games/misuse.h"
#include "nn/llama.h"
#include "nn/model.h"

namespace wrsec::schemes {
namespace {

using definitions::Params;
using nn::Matrix;

// The TeeOracle is the adversary's handle: query-only. It can be neither copied (a second
// handle escaping the count) nor converted to the device, and OracleAccess holds nothing else.
static_assert(!std::is_copy_constructible_v<definitions::TeeOracle>);
static_assert(!std::is_convertible_v<definitions::TeeOracle&, const definitions::TeeDevice&>);
static_assert(sizeof(definitions::OracleAccess) == 2 * sizeof(void*));

nn::Model model(std::uint64_t seed, const std::string& arch = "mlp:48,32,24,10:relu") {
  Rng rng(seed, stable_hash("perm_lock_test"), 0);
  return nn::Model::init(nn::Architecture::parse(arch), rng);
}

PermLock scheme(const std::string& mode, std::int64_t basis = 8) {
  return PermLock(PermLockParams::from(Params(
      std::map<std::string, std::string>{{"mode", mode}, {"basis", std::to_string(basis)}})));
}

Matrix inputs(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  Rng rng(seed, stable_hash("perm_lock_test inputs"), 0);
  Matrix x(rows, cols);
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index c = 0; c < x.cols(); ++c) x(r, c) = static_cast<float>(rng.normal());
  return x;
}

float max_abs(const Matrix& m) {
  return m.cwiseAbs().maxCoeff();
}

TEST(PermLock, InferThroughTheTeeIsTheOriginalFunctionInEveryMode) {
  const nn::Model m = model(1);
  const Matrix x = inputs(20, 48, 2);
  const Matrix want = m.forward(x);
  for (const std::string mode : {"clear", "static_basis", "fresh"}) {
    Rng coins(3, stable_hash("release"), 0);
    const auto rel = scheme(mode).release(m, coins);
    definitions::TeeOracle tee(scheme(mode).provision_tee(rel), Rng(4, 5, 6));
    const Matrix got = tee.infer(x);
    // Equal up to float rounding: the sums run in another order, and the noise is added and
    // removed again (std 1 against inputs of std 1).
    EXPECT_LE(max_abs(got - want), 1e-4F * std::max(1.0F, max_abs(want))) << mode;
    // The locked model on unmasked inputs is not the original: the artifact alone is locked.
    const nn::Model locked = definitions::artifact_model(rel.artifact);
    EXPECT_GT(max_abs(locked.forward(x) - want), 1e-2F) << mode;
    // The secret stays out of the artifact.
    EXPECT_EQ(rel.artifact.tensors.count("pi"), 0u);
    EXPECT_EQ(rel.artifact.tensors.count("basis"), 0u);
    EXPECT_EQ(rel.secret.tensors.count("pi"), 1u);
  }
}

TEST(PermLock, HostViewsAreThePermutedInputPlusTheModesNoise) {
  const nn::Model m = model(1);
  const Matrix x = inputs(1, 48, 7).replicate(40, 1);  // one input, 40 times
  for (const std::string mode : {"clear", "static_basis", "fresh"}) {
    Rng coins(3, stable_hash("release"), 0);
    const auto rel = scheme(mode, 8).release(m, coins);
    definitions::TeeOracle tee(scheme(mode, 8).provision_tee(rel), Rng(4, 5, 6), 50);
    const Matrix u = tee.query(x);
    Eigen::MatrixXd diffs = (u.rowwise() - u.row(0)).cast<double>();
    const Eigen::JacobiSVD<Eigen::MatrixXd> svd(diffs);
    const auto& sv = svd.singularValues();
    std::int64_t rank = 0;
    for (Eigen::Index k = 0; k < sv.size(); ++k)
      rank += sv(k) > 1e-4 * std::max(sv(0), 1e-30) ? 1 : 0;
    // clear: the same view every time; static_basis: a K-dimensional noise subspace; fresh: the
    // noise fills every direction the 39 differences can span.
    EXPECT_EQ(rank, mode == "clear" ? 0 : mode == "static_basis" ? 8 : 39) << mode;
    EXPECT_EQ(tee.used(), 40u);
    // Work per row: d for the permutation, plus K·h or d·h for the noise removal.
    EXPECT_DOUBLE_EQ(tee.work(), 40.0 * (mode == "clear"          ? 48.0
                                         : mode == "static_basis" ? 48.0 + 8.0 * 32.0
                                                                  : 48.0 + 48.0 * 32.0))
        << mode;
    EXPECT_THROW((void)tee.query(x.topRows(11)), InvalidArgument);  // the budget is 50
    EXPECT_EQ(tee.used(), 40u);
  }
  // In clear mode the view is exactly the permuted input: every value of x appears once.
  Rng coins(3, stable_hash("release"), 0);
  const auto rel = scheme("clear").release(m, coins);
  definitions::TeeOracle tee(scheme("clear").provision_tee(rel), Rng(4, 5, 6));
  const Matrix one = inputs(1, 48, 8);
  Matrix u = tee.query(one);
  std::vector<float> a(one.data(), one.data() + 48), b(u.data(), u.data() + 48);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  EXPECT_NE(Matrix(one), u);
}

TEST(PermLock, GamesRouteInferQueriesThroughTheTee) {
  const nn::Model m = model(1);
  Rng coins(3, stable_hash("release"), 0);
  const PermLock s = scheme("static_basis");
  const auto rel = s.release(m, coins);
  definitions::TrialOracles oracles(s, rel, 10, 0, Rng(1, 2, 3));
  ASSERT_NE(oracles.access().infer, nullptr);
  EXPECT_EQ(oracles.access().tee, nullptr);  // no direct TEE queries granted
  const Matrix x = inputs(10, 48, 4);
  const Matrix want = m.forward(x);
  EXPECT_LE(max_abs(oracles.access().infer->query(x) - want),
            1e-4F * std::max(1.0F, max_abs(want)));
  EXPECT_EQ(oracles.infer_used(), 10u);
  EXPECT_EQ(oracles.tee_used(), 0u);                                 // the adversary's TEE budget
  EXPECT_DOUBLE_EQ(oracles.tee_work(), 10.0 * (48.0 + 8.0 * 32.0));  // the TEE worked for them
  EXPECT_THROW((void)oracles.access().infer->query(x.topRows(1)), InvalidArgument);
  // A TEE is provisioned only for the release's own form.
  EXPECT_THROW((void)scheme("fresh").provision_tee(rel), InvalidArgument);
}

TEST(PermLock, BadParametersAndModelsAreRefused) {
  const auto make = [](std::map<std::string, std::string> p) {
    return PermLockParams::from(Params(std::move(p)));
  };
  EXPECT_THROW((void)make({{"mode", "secret"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"basis", "0"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"noise", "-1"}}), InvalidArgument);
  Rng coins(1, 2, 3);
  EXPECT_THROW((void)scheme("static_basis", 48).release(model(1), coins), InvalidArgument);
  EXPECT_THROW((void)make({{"residual", "mixed"}}), InvalidArgument);
  // An MLP has no residual stream to give its own basis per layer.
  EXPECT_THROW(
      (void)PermLock(make({{"mode", "clear"}, {"residual", "per_layer"}})).release(model(1), coins),
      InvalidArgument);
  // A secret whose permutation repeats a coordinate is refused by the TEE.
  auto rel = scheme("clear").release(model(1), coins);
  rel.secret.tensors.at("pi").data[1] = rel.secret.tensors.at("pi").data[0];
  EXPECT_THROW((void)scheme("clear").provision_tee(rel), InvalidArgument);
}

// The attacks, through the oracles a game grants.
struct Attempt {
  nn::Model original, recovered;
  std::uint64_t tee_used = 0;
};

Attempt attack_static(const std::string& mode, std::int64_t d, std::int64_t basis) {
  const nn::Model m = model(11, "mlp:" + std::to_string(d) + ",32,10:relu");
  Rng coins(12, stable_hash("release"), 0);
  const PermLock s = scheme(mode, basis);
  const auto rel = s.release(m, coins);
  definitions::TrialOracles oracles(s, rel, 0, 4 * static_cast<std::uint64_t>(d), Rng(13, 14, 15));
  const attacks::StaticBasis attack(attacks::StaticBasisParams::from(Params()));
  Rng adversary(16, 17, 18);
  return {m, attack.extract(rel.artifact, oracles.access(), adversary), oracles.tee_used()};
}

// Columns of the first layer equal, up to the hidden permutation (compared as sorted columns).
double fraction_of_inputs_recovered(const nn::Model& a, const nn::Model& b) {
  const auto wa = a.tensors.at("layers.0.weight").matrix();
  const auto wb = b.tensors.at("layers.0.weight").matrix();
  std::int64_t same = 0;
  for (Eigen::Index j = 0; j < wa.cols(); ++j) {
    std::vector<float> x(wa.rows()), y(wb.rows());
    for (Eigen::Index r = 0; r < wa.rows(); ++r) {
      x[static_cast<std::size_t>(r)] = wa(r, j);
      y[static_cast<std::size_t>(r)] = wb(r, j);
    }
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    same += x == y ? 1 : 0;
  }
  return static_cast<double>(same) / static_cast<double>(wa.cols());
}

TEST(StaticBasisAttack, RecoversThePermutationFromAStaticBasisButNotFromFreshMasks) {
  for (const std::string mode : {"clear", "static_basis"}) {
    const Attempt a = attack_static(mode, 96, 12);
    EXPECT_DOUBLE_EQ(fraction_of_inputs_recovered(a.original, a.recovered), 1.0) << mode;
    // About d + K + spare queries.
    EXPECT_LE(a.tee_used, 96u + 12u + 16u + 16u) << mode;
    const Matrix x = inputs(10, 96, 19);
    EXPECT_LE(max_abs(a.recovered.forward(x) - a.original.forward(x)), 1e-4F) << mode;
  }
  const Attempt fresh = attack_static("fresh", 96, 12);
  // Fresh masks: nothing to project out, so no better than reading the locked order (a random
  // permutation of 96 inputs fixes about one of them).
  EXPECT_LE(fraction_of_inputs_recovered(fresh.original, fresh.recovered), 0.1);
}

TEST(StaticBasisAttack, WinsMisuseAgainstAStaticBasisAndLosesAgainstFreshMasks) {
  for (const std::string mode : {"static_basis", "fresh"}) {
    games::MisuseParams p;
    p.model = "random:mlp:64,32,10:relu";
    p.inputs = "gaussian:1";
    p.tee_queries = 500;
    const games::Misuse game(p);
    const PermLock s = scheme(mode);
    const attacks::StaticBasis attack(attacks::StaticBasisParams::from(Params()));
    game.check(&s, attack);
    Rng coins(31, stable_hash("misuse"), 0);
    const auto outcome = game.play(&s, attack, coins);
    EXPECT_EQ(outcome.win, mode == "static_basis") << mode;
    bool has_tee_cost = false;
    for (const auto& [name, value] : outcome.metrics)
      if (name == "release_tee_cost_ratio") {
        has_tee_cost = true;
        // (d + K·h) / (d·h + h·o) for static_basis, (d + d·h) / (d·h + h·o) for fresh.
        EXPECT_NEAR(value,
                    mode == "static_basis" ? (64.0 + 8 * 32) / (64.0 * 32 + 32 * 10)
                                           : (64.0 + 64 * 32) / (64.0 * 32 + 32 * 10),
                    1e-12)
            << mode;
      }
    EXPECT_TRUE(has_tee_cost);
  }
}

TEST(StaticBasisAttack, NeedsTheTeeOracle) {
  const nn::Model m = model(1);
  Rng coins(1, 2, 3);
  const PermLock s = scheme("static_basis");
  const auto rel = s.release(m, coins);
  definitions::OracleAccess none;
  const attacks::StaticBasis attack(attacks::StaticBasisParams::from(Params()));
  EXPECT_THROW((void)attack.extract(rel.artifact, none, coins), InvalidArgument);
}

TEST(BaseAlignmentAttack, RecoversAFineTuneOfThePublicBaseButNotAnIndependentModel) {
  const nn::Model base = model(21, "mlp:64,48,10:relu");
  const auto drifted = [&](double eps, std::uint64_t seed) {
    nn::Model m = base;
    Rng rng(seed, stable_hash("drift"), 0);
    for (auto& [name, t] : m.tensors)
      for (float& v : t.data) v += static_cast<float>(eps * 0.1 * rng.normal());
    return m;
  };
  const auto run = [&](const nn::Model& protected_model, const std::string& base_file) {
    Rng coins(22, stable_hash("release"), 0);
    const PermLock s = scheme("static_basis");
    const auto rel = s.release(protected_model, coins);
    definitions::OracleAccess none;
    const attacks::BaseAlignment attack(attacks::BaseAlignmentParams::from(
        Params(std::map<std::string, std::string>{{"base", "file:" + base_file}})));
    Rng adversary(23, 24, 25);
    return fraction_of_inputs_recovered(protected_model,
                                        attack.extract(rel.artifact, none, adversary));
  };
  const std::string dir = ::testing::TempDir();
  base.to_safetensors(dir + "/perm_lock_base.safetensors");
  model(99, "mlp:64,48,10:relu").to_safetensors(dir + "/perm_lock_other.safetensors");
  EXPECT_DOUBLE_EQ(run(drifted(0.01, 1), dir + "/perm_lock_base.safetensors"), 1.0);
  // An independently initialised model as the "base": the costs carry no information.
  EXPECT_LE(run(drifted(0.01, 1), dir + "/perm_lock_other.safetensors"), 0.25);
}

// Gated (Llama-shaped) blocks: the residual basis is permuted at the input and, shared or per
// layer, at the output.
PermLock gated_scheme(const std::string& mode, const std::string& residual,
                      std::int64_t basis = 8) {
  return PermLock(PermLockParams::from(Params(std::map<std::string, std::string>{
      {"mode", mode}, {"basis", std::to_string(basis)}, {"residual", residual}})));
}

nn::Model gated_model(std::uint64_t seed, std::int64_t d = 48, std::int64_t h = 96) {
  Rng rng(seed, stable_hash("perm_lock_test gated"), 0);
  return nn::synthetic_llama_block(d, h, rng);
}

Matrix small_inputs(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  Matrix x = inputs(rows, cols, seed);
  return x * 0.25F;
}

TEST(PermLockGated, InferThroughTheTeeIsTheOriginalBlockInEveryModeAndResidualBasis) {
  const nn::Model m = gated_model(1);
  const Matrix x = small_inputs(16, 48, 2);
  const Matrix want = m.forward(x);
  const float scale = max_abs(want);
  for (const std::string residual : {"shared", "per_layer"})
    for (const std::string mode : {"clear", "static_basis", "fresh"}) {
      Rng coins(3, stable_hash("release"), 0);
      const PermLock s = gated_scheme(mode, residual);
      const auto rel = s.release(m, coins);
      EXPECT_EQ(rel.artifact.metadata.at("residual"), residual);
      EXPECT_EQ(rel.secret.tensors.count("pi_out"), residual == "per_layer" ? 1u : 0u);
      definitions::TeeOracle tee(s.provision_tee(rel), Rng(4, 5, 6));
      EXPECT_LE(max_abs(tee.infer(x) - want), 1e-4F * scale) << mode << "/" << residual;
      // The artifact alone computes another function.
      EXPECT_GT(max_abs(definitions::artifact_model(rel.artifact).forward(x) - want), 0.1F * scale)
          << mode << "/" << residual;
      // TEE work per row: 2d permutation moves plus the noise removal over both projections.
      const double d = 48, h2 = 2 * 96;
      const double expect = mode == "clear"   ? 2 * d
                            : mode == "fresh" ? 2 * d + d * h2
                                              : 2 * d + 8 * h2;
      EXPECT_DOUBLE_EQ(tee.work() / 16, expect) << mode << "/" << residual;
      // All three projections are hidden.
      for (const auto& [name, t] : s.hidden_mask(m, rel))
        EXPECT_EQ(std::count(t.data.begin(), t.data.end(), 1.0F),
                  static_cast<std::ptrdiff_t>(t.data.size()))
            << name;
    }
}

TEST(PermLockGated, StaticBasisUnlocksBothResidualBasesButNotFreshMasks) {
  const nn::Model m = gated_model(7, 96, 64);
  const Matrix x = small_inputs(10, 96, 8);
  const Matrix want = m.forward(x);
  const float scale = max_abs(want);
  for (const std::string residual : {"shared", "per_layer"})
    for (const std::string mode : {"static_basis", "fresh"}) {
      Rng coins(9, stable_hash("release"), 0);
      const PermLock s = gated_scheme(mode, residual, 12);
      const auto rel = s.release(m, coins);
      definitions::TrialOracles oracles(s, rel, 0, 400, Rng(10, 11, 12));
      const attacks::StaticBasis attack(attacks::StaticBasisParams::from(Params()));
      Rng adversary(13, 14, 15);
      const nn::Model got = attack.extract(rel.artifact, oracles.access(), adversary);
      const float err = max_abs(got.forward(x) - want);
      if (mode == "static_basis") {
        EXPECT_LE(err, 1e-4F * scale) << residual;
        // d + K + spare noise queries, d unit vectors, and 8 outputs for a per-layer basis.
        EXPECT_LE(oracles.tee_used(), 96u + 12u + 16u + 16u + (residual == "per_layer" ? 8u : 0u))
            << residual;
      } else {
        EXPECT_GT(err, 0.1F * scale) << residual;
      }
    }
}

TEST(PermLockGated, BaseAlignmentRecoversAFineTuneButNotAnIndependentBlock) {
  const nn::Model base = gated_model(21, 64, 128);
  nn::Model tuned = base;
  Rng rng(22, stable_hash("drift"), 0);
  for (auto& [name, t] : tuned.tensors)
    for (float& v : t.data) v += static_cast<float>(0.02 * 0.01 * rng.normal());
  const std::string dir = ::testing::TempDir();
  base.to_safetensors(dir + "/perm_lock_gated_base.safetensors");
  gated_model(99, 64, 128).to_safetensors(dir + "/perm_lock_gated_other.safetensors");
  const Matrix x = small_inputs(10, 64, 23);
  const Matrix want = tuned.forward(x);
  const float scale = max_abs(want);
  for (const std::string residual : {"shared", "per_layer"}) {
    Rng coins(24, stable_hash("release"), 0);
    const auto rel = gated_scheme("static_basis", residual).release(tuned, coins);
    definitions::OracleAccess none;
    const auto attack = [&](const std::string& file) {
      const attacks::BaseAlignment a(attacks::BaseAlignmentParams::from(
          Params(std::map<std::string, std::string>{{"base", "file:" + dir + file}})));
      Rng adversary(25, 26, 27);
      return a.extract(rel.artifact, none, adversary);
    };
    EXPECT_LE(max_abs(attack("/perm_lock_gated_base.safetensors").forward(x) - want), 1e-4F * scale)
        << residual;
    EXPECT_GT(max_abs(attack("/perm_lock_gated_other.safetensors").forward(x) - want), 0.1F * scale)
        << residual;
  }
}

}  // namespace
}  // namespace wrsec::schemes
