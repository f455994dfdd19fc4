// Family B partial releases with a TEE: sparse_lock (schemes/sparse_lock.h) and scale_morph
// (schemes/scale_morph.h); the attacks on them (attacks/outlier_restore.h,
// attacks/variance_scale.h, attacks/knockoff.h); the secret_location game
// (games/secret_location.h) and misuse's accuracy criterion (games/misuse.h, accuracy_ratio);
// labelled input sources (definitions/sources.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "attacks/knockoff.h"
#include "attacks/outlier_restore.h"
#include "attacks/plaintext_copy.h"
#include "attacks/variance_scale.h"
#include "core/errors.h"
#include "core/rng.h"
#include "definitions/artifact.h"
#include "definitions/oracle.h"
#include "definitions/sources.h"
#include "definitions/tee.h"
#include "games/misuse.h"
#include "games/secret_location.h"
#include "nn/fashion_mnist.h"
#include "nn/metrics.h"
#include "nn/model.h"
#include "nn/train.h"
#include "schemes/plaintext.h"
#include "schemes/scale_morph.h"
#include "schemes/sparse_lock.h"

namespace wrsec::schemes {
namespace {

namespace fs = std::filesystem;
using definitions::Params;
using nn::Matrix;
using StringMap = std::map<std::string, std::string>;

// The adversary's handle on a TEE is query-only (as for perm_lock): not copyable, not convertible
// to the device, and OracleAccess holds nothing but the two oracle pointers.
static_assert(!std::is_copy_constructible_v<definitions::TeeOracle>);
static_assert(!std::is_copy_assignable_v<definitions::TeeOracle>);
static_assert(!std::is_convertible_v<definitions::TeeOracle&, const definitions::TeeDevice&>);
static_assert(sizeof(definitions::OracleAccess) == 2 * sizeof(void*));
// Adversaries see only the artifact: neither the release nor its secret converts to one, so
// neither can be handed to locate() or extract() in its place.
static_assert(!std::is_convertible_v<const definitions::Release&, const definitions::Artifact&>);
static_assert(
    !std::is_convertible_v<const definitions::OwnerSecret&, const definitions::Artifact&>);
static_assert(std::is_base_of_v<definitions::Locator, attacks::OutlierRestore>);
static_assert(std::is_base_of_v<definitions::Extractor, attacks::OutlierRestore>);
static_assert(!std::is_base_of_v<definitions::Locator, attacks::Knockoff>);

constexpr const char* kArch = "mlp:48,32,24,10:relu";  // 2544 weights in three layers

nn::Model model(std::uint64_t seed, const std::string& arch = kArch) {
  Rng rng(seed, stable_hash("family_b_test"), 0);
  return nn::Model::init(nn::Architecture::parse(arch), rng);
}

Matrix inputs(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  Rng rng(seed, stable_hash("family_b_test inputs"), 0);
  Matrix x(rows, cols);
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index c = 0; c < x.cols(); ++c) x(r, c) = static_cast<float>(rng.normal());
  return x;
}

float max_abs(const Matrix& m) {
  return m.cwiseAbs().maxCoeff();
}

SparseLock sparse(StringMap p) {
  return SparseLock(SparseLockParams::from(Params(std::move(p))));
}

ScaleMorph morph(StringMap p) {
  return ScaleMorph(ScaleMorphParams::from(Params(std::move(p))));
}

attacks::OutlierRestore outlier(StringMap p) {
  return attacks::OutlierRestore(attacks::OutlierRestoreParams::from(Params(std::move(p))));
}

attacks::VarianceScale variance(StringMap p) {
  return attacks::VarianceScale(attacks::VarianceScaleParams::from(Params(std::move(p))));
}

definitions::Release release_of(const definitions::WeightReleaseScheme& s, const nn::Model& m,
                                std::uint64_t seed = 3) {
  Rng coins(seed, stable_hash("release"), 0);
  return s.release(m, coins);
}

std::string weight_name(std::int64_t l) {
  return "layers." + std::to_string(l) + ".weight";
}
std::string bias_name(std::int64_t l) {
  return "layers." + std::to_string(l) + ".bias";
}

// A model written to a temporary safetensors file, as a "file:" model source.
std::string file_source(const nn::Model& m, const std::string& name) {
  const std::string path = ::testing::TempDir() + "/family_b_" + name + ".safetensors";
  m.to_safetensors(path);
  return "file:" + path;
}

double metric(const definitions::TrialOutcome& out, const std::string& name) {
  for (const auto& [n, v] : out.metrics)
    if (n == name) return v;
  ADD_FAILURE() << "no metric " << name;
  return std::nan("");
}

bool has_metric(const definitions::TrialOutcome& out, const std::string& name) {
  return std::any_of(out.metrics.begin(), out.metrics.end(),
                     [&](const auto& m) { return m.first == name; });
}

// (layer, row, col) of every weight that differs between two models of one MLP architecture; and
// whether any bias differs.
using Position = std::tuple<std::int64_t, std::int64_t, std::int64_t>;
std::set<Position> changed_weights(const nn::Model& a, const nn::Model& b, bool* bias_changed) {
  std::set<Position> out;
  *bias_changed = false;
  const auto layers = static_cast<std::int64_t>(a.arch.sizes.size()) - 1;
  for (std::int64_t l = 0; l < layers; ++l) {
    const auto wa = a.tensors.at(weight_name(l)).matrix();
    const auto wb = b.tensors.at(weight_name(l)).matrix();
    for (Eigen::Index r = 0; r < wa.rows(); ++r)
      for (Eigen::Index c = 0; c < wa.cols(); ++c)
        if (wa(r, c) != wb(r, c)) out.emplace(l, r, c);
    if (a.tensors.at(bias_name(l)).data != b.tensors.at(bias_name(l)).data) *bias_changed = true;
  }
  return out;
}

// The 1-positions of a 0/1 tensor map over an MLP's weights (biases must be all 0).
std::set<Position> ones(const nn::TensorMap& mask, std::int64_t layers, bool* bias_flagged) {
  std::set<Position> out;
  *bias_flagged = false;
  for (std::int64_t l = 0; l < layers; ++l) {
    const auto w = mask.at(weight_name(l)).matrix();
    for (Eigen::Index r = 0; r < w.rows(); ++r)
      for (Eigen::Index c = 0; c < w.cols(); ++c)
        if (w(r, c) != 0) out.emplace(l, r, c);
    for (float v : mask.at(bias_name(l)).data) *bias_flagged = *bias_flagged || v != 0;
  }
  return out;
}

struct Score {
  double precision = 0, recall = 0, flagged = 0;
};
Score score(const std::set<Position>& flags, const std::set<Position>& secret) {
  double hit = 0;
  for (const Position& p : flags) hit += secret.count(p) != 0 ? 1 : 0;
  Score s;
  s.flagged = static_cast<double>(flags.size());
  s.precision = flags.empty() ? 0.0 : hit / s.flagged;
  s.recall = secret.empty() ? 0.0 : hit / static_cast<double>(secret.size());
  return s;
}

bool same_tensors(const nn::TensorMap& a, const nn::TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.shape != t.shape || it->second.data != t.data) return false;
  }
  return true;
}

bool have_fashion_mnist() {
  const fs::path dir = nn::fashion_mnist_dir();
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    if (!fs::exists(dir / f)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// sparse_lock

TEST(SparseLock, InferThroughTheTeeIsTheOriginalFunctionWhileTheArtifactIsLocked) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto rel = release_of(s, m);
  const Matrix x = inputs(64, 48, 2);
  const Matrix want = m.forward(x);
  const auto device = s.provision_tee(rel);
  EXPECT_DOUBLE_EQ(device->work_per_row(), 40.0);  // k multiply-adds per row
  definitions::TeeOracle tee(device, Rng(4, 5, 6));
  const Matrix got = tee.infer(x);
  EXPECT_LE(max_abs(got - want), 1e-4F * std::max(1.0F, max_abs(want)));
  EXPECT_EQ(tee.used(), 64u);
  EXPECT_DOUBLE_EQ(tee.work(), 64.0 * 40.0);
  // The host's view is the corrected logits as well.
  EXPECT_LE(max_abs(tee.query(x) - want), 1e-4F * std::max(1.0F, max_abs(want)));
  // Alone, the artifact's model is far from the original (measured: max |Δ| = 12.2 against
  // max |logit| = 3.8; asserted at half the logits' scale).
  const nn::Model locked = definitions::artifact_model(rel.artifact);
  EXPECT_GT(max_abs(locked.forward(x) - want), 0.5F * std::max(1.0F, max_abs(want)));
  // The secret: k positions (layer, row, col) and k original values; none of it in the artifact.
  ASSERT_EQ(rel.secret.tensors.count("positions"), 1u);
  ASSERT_EQ(rel.secret.tensors.count("original"), 1u);
  EXPECT_EQ(rel.secret.tensors.at("positions").shape, (std::vector<std::int64_t>{40, 3}));
  EXPECT_EQ(rel.secret.tensors.at("original").numel(), 40);
  EXPECT_EQ(rel.artifact.tensors.count("positions"), 0u);
  EXPECT_EQ(rel.artifact.tensors.count("original"), 0u);
  EXPECT_EQ(rel.artifact.tensors.size(), m.tensors.size());
  EXPECT_EQ(rel.artifact.metadata.value("scheme", ""), "sparse_lock");
  EXPECT_EQ(rel.artifact.metadata.value("k", std::int64_t{-1}), 40);
  // The host runs the whole model; the TEE's k multiply-adds are its own.
  EXPECT_DOUBLE_EQ(s.infer_macs(rel.artifact), 48.0 * 32 + 32.0 * 24 + 24.0 * 10);
}

TEST(SparseLock, ChangesExactlyKWeightsEachToItsTensorsOriginalMinOrMax) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto rel = release_of(s, m);
  const nn::Model locked = definitions::artifact_model(rel.artifact);
  bool bias_changed = true;
  const std::set<Position> changed = changed_weights(m, locked, &bias_changed);
  EXPECT_FALSE(bias_changed);
  EXPECT_EQ(changed.size(), 40u);  // measured 40 of 40 for this model and coins
  std::int64_t at_min = 0, at_max = 0;
  for (const auto& [l, r, c] : changed) {
    const auto w = m.tensors.at(weight_name(l)).matrix();
    const float v = locked.tensors.at(weight_name(l)).matrix()(r, c);
    EXPECT_TRUE(v == w.minCoeff() || v == w.maxCoeff())
        << "layer " << l << " (" << r << ", " << c << "): " << v << " not in {" << w.minCoeff()
        << ", " << w.maxCoeff() << "}";
    at_min += v == w.minCoeff() ? 1 : 0;
    at_max += v == w.maxCoeff() ? 1 : 0;
  }
  // Each weight goes to the bound its gradient favours: both bounds occur (measured: 16 at the
  // minima, 24 at the maxima).
  EXPECT_GE(at_min, 5);
  EXPECT_GE(at_max, 5);
  // The secret's positions are the changed ones, and its values the original weights there.
  const auto& pos = rel.secret.tensors.at("positions");
  const auto& orig = rel.secret.tensors.at("original");
  std::set<Position> secret;
  for (std::int64_t e = 0; e < pos.shape[0]; ++e) {
    const auto l = static_cast<std::int64_t>(pos.data[3 * e]);
    const auto r = static_cast<std::int64_t>(pos.data[3 * e + 1]);
    const auto c = static_cast<std::int64_t>(pos.data[3 * e + 2]);
    secret.emplace(l, r, c);
    EXPECT_EQ(orig.data[static_cast<std::size_t>(e)], m.tensors.at(weight_name(l)).matrix()(r, c));
  }
  EXPECT_EQ(secret, changed);
  // hidden_mask: exactly k ones, at the changed positions, none on the biases.
  const nn::TensorMap mask = s.hidden_mask(m, rel);
  EXPECT_EQ(mask.size(), m.tensors.size());
  bool bias_flagged = true;
  EXPECT_EQ(ones(mask, 3, &bias_flagged), changed);
  EXPECT_FALSE(bias_flagged);
  double total = 0;
  for (const auto& [name, t] : mask) {
    EXPECT_EQ(t.shape, m.tensors.at(name).shape) << name;
    for (float v : t.data) {
      EXPECT_TRUE(v == 0.0F || v == 1.0F);
      total += v;
    }
  }
  EXPECT_DOUBLE_EQ(total, 40.0);
}

TEST(SparseLock, IsDeterministicInItsCoins) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto a = release_of(s, m, 3);
  const auto b = release_of(s, m, 3);
  EXPECT_TRUE(same_tensors(a.artifact.tensors, b.artifact.tensors));
  EXPECT_TRUE(same_tensors(a.secret.tensors, b.secret.tensors));
  EXPECT_EQ(a.artifact.metadata, b.artifact.metadata);
}

TEST(SparseLock, LayersRestrictsTheLockToTheNamedLayers) {
  const nn::Model m = model(1);
  for (const auto& [layers, want] :
       std::vector<std::pair<std::string, std::set<std::int64_t>>>{{"1", {1}}, {"0,2", {0, 2}}}) {
    const SparseLock s = sparse({{"k", "30"}, {"layers", layers}});
    const auto rel = release_of(s, m);
    bool bias_changed = true;
    const auto changed =
        changed_weights(m, definitions::artifact_model(rel.artifact), &bias_changed);
    EXPECT_FALSE(bias_changed);
    EXPECT_GE(changed.size(), 28u) << layers;  // k = 30, less any whose bound was its value
    std::set<std::int64_t> touched;
    for (const auto& [l, r, c] : changed) touched.insert(l);
    if (layers == "1") {
      EXPECT_EQ(touched, want) << layers;
    } else {
      for (std::int64_t l : touched) EXPECT_TRUE(want.count(l) != 0) << layers << ": " << l;
    }
    // The TEE still restores the original function.
    definitions::TeeOracle tee(s.provision_tee(rel), Rng(4, 5, 6));
    const Matrix x = inputs(16, 48, 5);
    const Matrix ref = m.forward(x);
    EXPECT_LE(max_abs(tee.infer(x) - ref), 1e-4F * std::max(1.0F, max_abs(ref))) << layers;
  }
}

TEST(SparseLock, BadParametersAndModelsAreRefused) {
  const auto make = [](StringMap p) { return SparseLockParams::from(Params(std::move(p))); };
  EXPECT_THROW((void)make({{"k", "0"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"k", "-3"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"k", "4"}, {"rounds", "0"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"k", "4"}, {"rounds", "5"}}), InvalidArgument);  // rounds > k
  EXPECT_THROW((void)make({{"samples", "0"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"layers", "-1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"layers", "0.5"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"layers", "1,1"}}), InvalidArgument);
  EXPECT_NO_THROW((void)make({{"k", "4"}, {"rounds", "4"}, {"layers", "2,0"}}));
  const nn::Model m = model(1);
  Rng coins(1, 2, 3);
  // 2544 lockable weights in all; 240 in layer 2; layer 3 does not exist.
  // The schemes are built outside EXPECT_THROW (valid parameters: rounds = 5 <= k), so that
  // each throw below comes from release().
  const SparseLock too_many = sparse({{"k", "2545"}});
  EXPECT_THROW((void)too_many.release(m, coins), InvalidArgument);
  const SparseLock too_many_in_layer_2 = sparse({{"k", "241"}, {"layers", "2"}});
  EXPECT_THROW((void)too_many_in_layer_2.release(m, coins), InvalidArgument);
  const SparseLock no_such_layer = sparse({{"k", "10"}, {"layers", "3"}});
  EXPECT_THROW((void)no_such_layer.release(m, coins), InvalidArgument);
  const SparseLock fine = sparse({{"k", "10"}});
  EXPECT_THROW((void)fine.release(model(1, "swiglu:16,32:silu"), coins), InvalidArgument);
  EXPECT_NO_THROW(
      (void)sparse({{"k", "240"}, {"layers", "2"}, {"samples", "64"}}).release(m, coins));
}

TEST(SparseLock, TheTeeRefusesAMalformedSecret) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "10"}});
  const auto rel = release_of(s, m);
  auto missing = rel;
  missing.secret.tensors.erase("original");
  EXPECT_THROW((void)s.provision_tee(missing), InvalidArgument);
  auto outside = rel;
  outside.secret.tensors.at("positions").data[1] = 32.0F;  // layer 0 has rows 0..31
  EXPECT_THROW((void)s.provision_tee(outside), InvalidArgument);
  auto negative = rel;
  negative.secret.tensors.at("positions").data[2] = -1.0F;
  EXPECT_THROW((void)s.provision_tee(negative), InvalidArgument);
  auto no_layer = rel;
  no_layer.secret.tensors.at("positions").data[0] = 3.0F;  // layers 0..2
  EXPECT_THROW((void)s.provision_tee(no_layer), InvalidArgument);
  EXPECT_THROW((void)s.hidden_mask(m, no_layer), InvalidArgument);
  auto fractional = rel;
  fractional.secret.tensors.at("positions").data[2] = 0.5F;
  EXPECT_THROW((void)s.provision_tee(fractional), InvalidArgument);
  auto short_values = rel;
  short_values.secret.tensors.at("original") = nn::Tensor({9});
  EXPECT_THROW((void)s.provision_tee(short_values), InvalidArgument);
  auto not_finite = rel;
  not_finite.secret.tensors.at("original").data[4] = std::nanf("");
  EXPECT_THROW((void)s.provision_tee(not_finite), InvalidArgument);
  auto twice = rel;  // entry 1 repeats entry 0: its correction would be applied twice
  for (int f = 0; f < 3; ++f)
    twice.secret.tensors.at("positions").data[3 + f] = twice.secret.tensors.at("positions").data[f];
  EXPECT_THROW((void)s.provision_tee(twice), InvalidArgument);
  // A release of another architecture (a gated block) is refused, not read out of range.
  auto gated = rel;
  gated.artifact.metadata["architecture"] = nn::Architecture::parse("swiglu:16,32:silu").to_json();
  EXPECT_THROW((void)s.provision_tee(gated), InvalidArgument);
  EXPECT_THROW((void)s.infer_macs(gated.artifact), InvalidArgument);
}

TEST(SparseLock, AClampBelowOneMovesTheWeightsInsideTheRange) {
  // clamp = c: the changed weights sit at c·min W or c·max W, values inside the range that no
  // init weight has. Measured on model 1, k = 40, c = 0.8: exact-bounds detection flags only
  // the 6 untouched extremes (recall 0); repeats (r = 3) flags exactly the 40 (precision and
  // recall 1).
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}, {"clamp", "0.8"}});
  const auto rel = release_of(s, m);
  const nn::Model locked = definitions::artifact_model(rel.artifact);
  bool bias_changed = true;
  const auto changed = changed_weights(m, locked, &bias_changed);
  EXPECT_GE(changed.size(), 38u);
  std::int64_t at_min = 0, at_max = 0;
  for (const auto& [l, r, c] : changed) {
    const auto w = m.tensors.at(weight_name(l)).matrix();
    const float v = locked.tensors.at(weight_name(l)).matrix()(r, c);
    const float lo = 0.8F * w.minCoeff(), hi = 0.8F * w.maxCoeff();
    EXPECT_TRUE(v == lo || v == hi)
        << "layer " << l << ": " << v << " not in {" << lo << ", " << hi << "}";
    at_min += v == lo ? 1 : 0;
    at_max += v == hi ? 1 : 0;
  }
  EXPECT_GE(at_min, 5);
  EXPECT_GE(at_max, 5);
  // The extremes are untouched: the release's range is the original's.
  for (std::int64_t l = 0; l < 3; ++l) {
    EXPECT_EQ(locked.tensors.at(weight_name(l)).matrix().minCoeff(),
              m.tensors.at(weight_name(l)).matrix().minCoeff());
    EXPECT_EQ(locked.tensors.at(weight_name(l)).matrix().maxCoeff(),
              m.tensors.at(weight_name(l)).matrix().maxCoeff());
  }
  definitions::TeeOracle tee(s.provision_tee(rel), Rng(4, 5, 6));
  const Matrix x = inputs(64, 48, 2);
  const Matrix want = m.forward(x);
  EXPECT_LE(max_abs(tee.infer(x) - want), 1e-4F * std::max(1.0F, max_abs(want)));
  EXPECT_LE(nn::argmax_agreement(locked.forward(x), want), 0.5);
  // Detection: the extremes no longer mark the lock; exact repeats still do.
  bool bias = false;
  const std::set<Position> secret = ones(s.hidden_mask(m, rel), 3, &bias);
  definitions::OracleAccess none;
  Rng coins(1, 2, 3);
  const Score bounds = score(
      ones(outlier({{"tolerance", "0"}}).locate(rel.artifact, none, coins), 3, &bias), secret);
  const Score repeats = score(
      ones(outlier({{"detect", "repeats"}}).locate(rel.artifact, none, coins), 3, &bias), secret);
  EXPECT_LE(bounds.recall, 0.1);
  EXPECT_GE(repeats.recall, 0.85);
  EXPECT_GE(repeats.precision, 0.95);
  // clamp lies in (0, 1].
  for (const char* bad : {"0", "-0.5", "1.01", "nan"})
    EXPECT_THROW((void)SparseLockParams::from(Params(StringMap{{"clamp", bad}})), InvalidArgument)
        << bad;
}

TEST(SparseLock, TheLockBreaksTheArtifactsPredictions) {
  // Measured argmax agreement with the original on 1000 gaussian inputs, k = 40 (1.6% of the
  // weights): 0.050, 0.043, 0.055 for models 1, 2, 3. Through the TEE: 1.
  for (std::uint64_t seed : {1, 2, 3}) {
    const nn::Model m = model(seed);
    const SparseLock s = sparse({{"k", "40"}});
    const auto rel = release_of(s, m, seed);
    const Matrix x = inputs(1000, 48, 7);
    const Matrix want = m.forward(x);
    const nn::Model locked = definitions::artifact_model(rel.artifact);
    EXPECT_LE(nn::argmax_agreement(locked.forward(x), want), 0.3) << seed;
    definitions::TeeOracle tee(s.provision_tee(rel), Rng(4, 5, 6));
    EXPECT_GE(nn::argmax_agreement(tee.infer(x), want), 0.999) << seed;
  }
}

TEST(SparseLock, TheTeeOracleEnforcesItsBudgetAndGamesRouteInferThroughIt) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto rel = release_of(s, m);
  const Matrix x = inputs(40, 48, 4);
  {
    definitions::TeeOracle tee(s.provision_tee(rel), Rng(4, 5, 6), 50);
    (void)tee.infer(x);
    EXPECT_THROW((void)tee.infer(x.topRows(11)), InvalidArgument);
    EXPECT_THROW((void)tee.query(x.topRows(11)), InvalidArgument);
    EXPECT_EQ(tee.used(), 40u);
    (void)tee.query(x.topRows(10));
    EXPECT_EQ(tee.used(), 50u);
    EXPECT_THROW((void)tee.infer(x.topRows(1)), InvalidArgument);
    EXPECT_DOUBLE_EQ(tee.work(), 50.0 * 40.0);
  }
  definitions::TrialOracles oracles(s, rel, 40, 0, Rng(1, 2, 3));
  ASSERT_NE(oracles.access().infer, nullptr);
  EXPECT_EQ(oracles.access().tee, nullptr);
  const Matrix want = m.forward(x);
  EXPECT_LE(max_abs(oracles.access().infer->query(x) - want),
            1e-4F * std::max(1.0F, max_abs(want)));
  EXPECT_EQ(oracles.infer_used(), 40u);
  EXPECT_DOUBLE_EQ(oracles.tee_work(), 40.0 * 40.0);
  EXPECT_THROW((void)oracles.access().infer->query(x.topRows(1)), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// outlier_restore as a locator

TEST(OutlierRestore, LocatesTheClampPileUpOfASparseLockRelease) {
  // Measured on model 1 (k = 40 | k = 100), precision / recall / flagged:
  //   bounds, tolerance 0.005: 0.63 / 1 / 64  | 0.81 / 1 / 123 (uniform init: ~1% of the weights
  //                                             lie within 0.005 of the range of a bound)
  //   bounds, tolerance 0:     0.87 / 1 / 46  | 0.95 / 1 / 105 (plus the 2 true extremes/tensor)
  //   repeats (r = 3):         0.93 / 1 / 43  | 0.98 / 0.99 / 101
  // On the unlocked model (control), against the same mask: tolerance 0.005 flags 25 weights
  // with precision 0.04; tolerance 0 flags the 6 extremes; repeats flags nothing.
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto rel = release_of(s, m);
  bool bias = false;
  const std::set<Position> secret = ones(s.hidden_mask(m, rel), 3, &bias);
  ASSERT_EQ(secret.size(), 40u);
  definitions::OracleAccess none;
  Rng coins(1, 2, 3);
  const auto located = [&](const attacks::OutlierRestore& a, const definitions::Artifact& art) {
    const nn::TensorMap flags = a.locate(art, none, coins);
    EXPECT_EQ(flags.size(), m.tensors.size());
    for (const auto& [name, t] : flags) EXPECT_EQ(t.shape, m.tensors.at(name).shape) << name;
    bool bias_flagged = true;
    const auto out = ones(flags, 3, &bias_flagged);
    EXPECT_FALSE(bias_flagged);
    return out;
  };
  const definitions::Artifact unlocked = definitions::model_artifact(m, "sparse_lock");

  const auto loose = outlier({});
  const Score l = score(located(loose, rel.artifact), secret);
  EXPECT_DOUBLE_EQ(l.recall, 1.0);
  EXPECT_GE(l.precision, 0.45);
  EXPECT_LE(l.flagged, 100);  // 2544 weights: far from flagging everything
  const Score lc = score(located(loose, unlocked), secret);
  EXPECT_LE(lc.flagged, 2544 * 0.03);
  EXPECT_LE(lc.precision, 0.3);
  EXPECT_LE(lc.recall, 0.2);

  const auto exact = outlier({{"tolerance", "0"}});
  const Score e = score(located(exact, rel.artifact), secret);
  EXPECT_DOUBLE_EQ(e.recall, 1.0);
  EXPECT_GE(e.precision, 0.8);
  EXPECT_LE(e.flagged, 40 + 6);  // the pile-up plus at most each tensor's two extremes
  EXPECT_LE(score(located(exact, unlocked), secret).flagged, 6);

  const auto repeats = outlier({{"detect", "repeats"}});
  const Score r = score(located(repeats, rel.artifact), secret);
  EXPECT_GE(r.recall, 0.9);
  EXPECT_GE(r.precision, 0.85);
  EXPECT_EQ(score(located(repeats, unlocked), secret).flagged, 0);  // init weights never repeat
  // A higher threshold asks for bigger pile-ups: fewer flags.
  EXPECT_LE(
      score(located(outlier({{"detect", "repeats"}, {"repeats", "1000"}}), rel.artifact), secret)
          .flagged,
      0);
}

TEST(OutlierRestore, FlagsExactlyWhatItsRuleSays) {
  // A model with planted repeats: a value 3 times in layer 0, another twice in layer 1.
  nn::Model m = model(1);
  auto& w0 = m.tensors.at(weight_name(0)).data;
  auto& w1 = m.tensors.at(weight_name(1)).data;
  w0[0] = w0[7] = w0[100] = 0.0123F;
  w1[5] = w1[6] = 0.0456F;
  const definitions::Artifact art = definitions::model_artifact(m, "sparse_lock");
  definitions::OracleAccess none;
  Rng coins(1, 2, 3);
  const auto flagged = [&](StringMap p) {
    const nn::TensorMap flags = outlier(std::move(p)).locate(art, none, coins);
    std::set<std::pair<std::string, std::size_t>> out;
    for (const auto& [name, t] : flags)
      for (std::size_t i = 0; i < t.data.size(); ++i)
        if (t.data[i] != 0) out.emplace(name, i);
    return out;
  };
  using Flags = std::set<std::pair<std::string, std::size_t>>;
  const std::string l0 = weight_name(0), l1 = weight_name(1);
  EXPECT_EQ(flagged({{"detect", "repeats"}, {"repeats", "3"}}),
            (Flags{{l0, 0}, {l0, 7}, {l0, 100}}));
  EXPECT_EQ(flagged({{"detect", "repeats"}, {"repeats", "2"}}),
            (Flags{{l0, 0}, {l0, 7}, {l0, 100}, {l1, 5}, {l1, 6}}));
  EXPECT_TRUE(flagged({{"detect", "repeats"}, {"repeats", "4"}}).empty());
  // bounds: within tolerance·(max − min) of either extreme of each weight tensor, biases never.
  Flags want;
  for (const auto& [name, t] : m.tensors) {
    if (name.find(".weight") == std::string::npos) continue;
    const double lo = *std::min_element(t.data.begin(), t.data.end());
    const double hi = *std::max_element(t.data.begin(), t.data.end());
    for (std::size_t i = 0; i < t.data.size(); ++i)
      if (std::abs(t.data[i] - lo) <= 0.02 * (hi - lo) ||
          std::abs(t.data[i] - hi) <= 0.02 * (hi - lo))
        want.emplace(name, i);
  }
  const Flags got = flagged({{"tolerance", "0.02"}});
  EXPECT_GE(want.size(), 30u);  // about 4% of 2544 uniform weights
  EXPECT_EQ(got, want);
}

TEST(OutlierRestore, BadParametersAreRefused) {
  const auto make = [](StringMap p) {
    return attacks::OutlierRestoreParams::from(Params(std::move(p)));
  };
  EXPECT_THROW((void)make({{"restore", "base"}}), InvalidArgument);  // base needed
  EXPECT_THROW((void)make({{"restore", "zero"}, {"base", "random:" + std::string(kArch)}}),
               InvalidArgument);
  EXPECT_THROW((void)make({{"base", "random:" + std::string(kArch)}}), InvalidArgument);
  EXPECT_THROW((void)make({{"restore", "mean"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"detect", "magnitude"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"tolerance", "0.5"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"tolerance", "-0.1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"repeats", "1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"queries", "-1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"epochs", "0"}}), InvalidArgument);
  EXPECT_NO_THROW((void)make({{"restore", "base"}, {"base", "random:" + std::string(kArch)}}));
}

// ---------------------------------------------------------------------------------------------
// outlier_restore as an extractor

TEST(OutlierRestore, RestoresFlaggedWeightsToZeroOrToTheBase) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto rel = release_of(s, m);
  const nn::Model locked = definitions::artifact_model(rel.artifact);
  definitions::OracleAccess none;
  for (const std::string restore : {"zero", "base"}) {
    StringMap p{{"tolerance", "0"}, {"restore", restore}};
    if (restore == "base") p["base"] = file_source(m, "outlier_base");
    const auto attack = outlier(p);
    Rng coins(8, stable_hash("adversary"), 0);
    Rng locate_coins = coins.derive("locate");
    const nn::TensorMap flags = attack.locate(rel.artifact, none, locate_coins);
    const nn::Model got = attack.extract(rel.artifact, none, coins);
    std::int64_t n_flagged = 0;
    for (const auto& [name, t] : got.tensors) {
      const auto& f = flags.at(name).data;
      const auto& a = locked.tensors.at(name).data;
      const auto& o = m.tensors.at(name).data;
      for (std::size_t i = 0; i < t.data.size(); ++i) {
        if (f[i] != 0) {
          ++n_flagged;
          EXPECT_EQ(t.data[i], restore == "zero" ? 0.0F : o[i]) << restore << " " << name;
        } else {
          EXPECT_EQ(t.data[i], a[i]) << restore << " " << name;  // untouched, no fine-tuning
        }
      }
    }
    EXPECT_GE(n_flagged, 40) << restore;
    EXPECT_LE(n_flagged, 46) << restore;
    if (restore == "base") {
      // The base is the original and every changed weight is flagged: the original, exactly.
      EXPECT_TRUE(same_tensors(got.tensors, m.tensors));
    } else {
      const Matrix x = inputs(200, 48, 9);
      const double agree = nn::argmax_agreement(got.forward(x), m.forward(x));
      const double locked_agree = nn::argmax_agreement(locked.forward(x), m.forward(x));
      EXPECT_GT(agree, locked_agree) << "zeroing the pile-up should undo part of the lock";
    }
  }
  // A base of another architecture is refused.
  const auto other =
      outlier({{"restore", "base"}, {"base", file_source(model(2, "mlp:48,16,10:relu"), "other")}});
  Rng coins(1, 2, 3);
  EXPECT_THROW((void)other.extract(rel.artifact, none, coins), InvalidArgument);
}

TEST(OutlierRestore, FineTunesOnExactlyTheQueriesItMayUse) {
  const nn::Model m = model(1);
  const SparseLock s = sparse({{"k", "40"}});
  const auto rel = release_of(s, m);
  const auto run = [&](StringMap p, std::uint64_t infer_budget, std::uint64_t tee_budget,
                       std::uint64_t* infer_used, std::uint64_t* tee_used) {
    p["tolerance"] = "0";
    p["epochs"] = "2";
    const auto attack = outlier(p);
    definitions::TrialOracles oracles(s, rel, infer_budget, tee_budget, Rng(1, 2, 3));
    Rng coins(8, stable_hash("adversary"), 0);
    nn::Model out = attack.extract(rel.artifact, oracles.access(), coins);
    *infer_used = oracles.infer_used();
    *tee_used = oracles.tee_used();
    return out;
  };
  std::uint64_t iu = 0, tu = 0;
  const nn::Model none = run({}, 0, 0, &iu, &tu);
  EXPECT_EQ(iu, 0u);
  (void)run({}, 30, 0, &iu, &tu);  // queries = 0: all the game grants
  EXPECT_EQ(iu, 30u);
  EXPECT_EQ(tu, 0u);
  const nn::Model ten = run({{"queries", "10"}}, 30, 0, &iu, &tu);  // fewer than granted
  EXPECT_EQ(iu, 10u);
  (void)run({{"queries", "50"}}, 30, 0, &iu, &tu);  // more than granted: the budget
  EXPECT_EQ(iu, 30u);
  (void)run({}, 0, 25, &iu, &tu);  // only the TEE oracle granted: its infer
  EXPECT_EQ(iu, 0u);
  EXPECT_EQ(tu, 25u);
  // finetune = false: no query spent, the restored model as it is.
  const nn::Model off = run({{"finetune", "false"}}, 30, 25, &iu, &tu);
  EXPECT_EQ(iu, 0u);
  EXPECT_EQ(tu, 0u);
  EXPECT_TRUE(same_tensors(off.tensors, none.tensors));
  // Fine-tuning moved the restored model.
  EXPECT_FALSE(same_tensors(none.tensors, ten.tensors));
}

// ---------------------------------------------------------------------------------------------
// secret_location

class FlagAll final : public definitions::Adversary, public definitions::Locator {
 public:
  explicit FlagAll(float value, bool wrong_shape = false)
      : value_(value), wrong_shape_(wrong_shape) {}
  [[nodiscard]] std::string id() const override { return "flag_all"; }
  [[nodiscard]] nn::TensorMap locate(const definitions::Artifact& release,
                                     definitions::OracleAccess& /*oracles*/,
                                     Rng& /*coins*/) const override {
    nn::TensorMap out;
    for (const auto& [name, t] : release.tensors) {
      nn::Tensor f(wrong_shape_ ? std::vector<std::int64_t>{t.numel() + 1} : t.shape);
      std::fill(f.data.begin(), f.data.end(), value_);
      out.emplace(name, std::move(f));
    }
    return out;
  }

 private:
  float value_;
  bool wrong_shape_;
};

games::SecretLocation location_game(StringMap p) {
  p.emplace("model", "random:" + std::string(kArch));
  return games::SecretLocation(games::SecretLocationParams::from(Params(std::move(p))));
}

TEST(SecretLocation, OutlierRestoreWinsWithExactBoundsAndLosesWithALooseTolerance) {
  // Measured on k = 100 (models 1..3): tolerance 0 precision 0.95, recall 1; tolerance 0.005
  // precision 0.75-0.81, recall 1; repeats precision 0.98, recall 0.99-1.
  const games::SecretLocation game = location_game({});  // min_precision = min_recall = 0.9
  const SparseLock s = sparse({{"k", "100"}});
  for (const auto& [p, want_win] :
       std::vector<std::pair<StringMap, bool>>{{{{"tolerance", "0"}}, true},
                                               {{{"detect", "repeats"}}, true},
                                               {{{"tolerance", "0.005"}}, false}}) {
    const auto attack = outlier(p);
    game.check(&s, attack);
    Rng coins(31, stable_hash("secret_location"), 0);
    const auto out = game.play(&s, attack, coins);
    const std::string what = Params(p).canonical();
    EXPECT_EQ(out.win, want_win) << what;
    EXPECT_DOUBLE_EQ(metric(out, "secret"), 100.0) << what;
    EXPECT_DOUBLE_EQ(metric(out, "weights"), 2544.0 + 66.0) << what;  // weights and biases
    EXPECT_GE(metric(out, "recall"), 0.95) << what;
    if (want_win) {
      EXPECT_GE(metric(out, "precision"), 0.9) << what;
    } else {
      EXPECT_LT(metric(out, "precision"), 0.9) << what;
      EXPECT_GE(metric(out, "precision"), 0.5) << what;
    }
    EXPECT_NEAR(metric(out, "flagged"), 100.0 * metric(out, "recall") / metric(out, "precision"),
                1e-9)
        << what;
    EXPECT_DOUBLE_EQ(metric(out, "tee_queries_used"), 0.0);
  }
}

TEST(SecretLocation, FlaggingEverythingOrNothingLoses) {
  const games::SecretLocation game = location_game({});
  const SparseLock s = sparse({{"k", "100"}});
  Rng coins(31, stable_hash("secret_location"), 0);
  const auto all = game.play(&s, FlagAll(1.0F), coins);
  EXPECT_FALSE(all.win);
  EXPECT_DOUBLE_EQ(metric(all, "recall"), 1.0);
  EXPECT_DOUBLE_EQ(metric(all, "flagged"), 2610.0);
  EXPECT_DOUBLE_EQ(metric(all, "precision"), 100.0 / 2610.0);
  Rng coins2(31, stable_hash("secret_location"), 0);
  const auto nothing = game.play(&s, FlagAll(0.0F), coins2);
  EXPECT_FALSE(nothing.win);
  EXPECT_DOUBLE_EQ(metric(nothing, "precision"), 0.0);
  EXPECT_DOUBLE_EQ(metric(nothing, "recall"), 0.0);
  EXPECT_DOUBLE_EQ(metric(nothing, "flagged"), 0.0);
  // Thresholds at or below what flagging everything achieves (|S|/N = 100/2610) would let it win:
  // the game refuses to be played so, and refuses a dense secret (perm_lock on a gated block hides
  // every weight).
  const games::SecretLocation lax = location_game({{"min_precision", "0.03"}, {"min_recall", "1"}});
  Rng coins3(31, stable_hash("secret_location"), 0);
  EXPECT_THROW((void)lax.play(&s, FlagAll(1.0F), coins3), InvalidArgument);
  const games::SecretLocation strict = location_game({{"min_precision", "0.04"}});
  Rng coins5(31, stable_hash("secret_location"), 0);
  EXPECT_FALSE(strict.play(&s, FlagAll(1.0F), coins5).win);
  EXPECT_THROW((void)location_game({{"min_precision", "0"}}), InvalidArgument);
  // A locator whose flags do not fit the model is refused.
  Rng coins4(31, stable_hash("secret_location"), 0);
  EXPECT_THROW((void)game.play(&s, FlagAll(1.0F, true), coins4), InvalidArgument);
}

// A release that is not meant to hide anything (no protected_release capability).
class Unprotected final : public definitions::WeightReleaseScheme {
 public:
  [[nodiscard]] std::string id() const override { return "unprotected"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::infer};
  }
  [[nodiscard]] definitions::Release release(const nn::Model& m, Rng& /*coins*/) const override {
    definitions::Release r;
    r.artifact = definitions::model_artifact(m, id());
    return r;
  }
};

TEST(SecretLocation, CheckRefusesNonLocatorsAndUnprotectedOrTeelessSchemes) {
  const games::SecretLocation game = location_game({});
  const SparseLock s = sparse({{"k", "40"}});
  const attacks::Knockoff knockoff(attacks::QueryTraining{});
  EXPECT_THROW(game.check(&s, knockoff), InvalidArgument);
  const auto attack = outlier({});
  EXPECT_NO_THROW(game.check(&s, attack));
  EXPECT_THROW(game.check(nullptr, attack), InvalidArgument);
  const Unprotected unprotected;
  EXPECT_THROW(game.check(&unprotected, attack), InvalidArgument);
  // Plaintext declares protected_release (the unprotected baseline) but has no TEE.
  const Plaintext plaintext;
  EXPECT_NO_THROW(game.check(&plaintext, attack));
  EXPECT_THROW(location_game({{"tee_queries", "5"}}).check(&plaintext, attack), InvalidArgument);
  EXPECT_NO_THROW(location_game({{"tee_queries", "5"}, {"queries", "5"}}).check(&s, attack));
  EXPECT_THROW(location_game({{"queries", "5"}}).check(&unprotected, attack), InvalidArgument);
  // Bad parameters.
  EXPECT_THROW((void)location_game({{"min_precision", "1.5"}}), InvalidArgument);
  EXPECT_THROW((void)location_game({{"min_recall", "-0.1"}}), InvalidArgument);
  EXPECT_THROW((void)location_game({{"queries", "-1"}}), InvalidArgument);
  EXPECT_THROW((void)location_game({{"tee_queries", "-1"}}), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// scale_morph

std::set<std::int64_t> tee_layers(const definitions::Artifact& a) {
  std::set<std::int64_t> out;
  for (const auto& v : a.metadata.at("tee_layers")) out.insert(v.get<std::int64_t>());
  return out;
}

TEST(ScaleMorph, InferThroughTheTeeIsTheOriginalFunction) {
  const nn::Model m = model(1);
  const Matrix x = inputs(64, 48, 2);
  const Matrix want = m.forward(x);
  for (const std::string fraction : {"0", "0.34", "0.8", "1"}) {
    const ScaleMorph s = morph({{"fraction", fraction}});
    const auto rel = release_of(s, m);
    definitions::TeeOracle tee(s.provision_tee(rel), Rng(4, 5, 6));
    EXPECT_LE(max_abs(tee.infer(x) - want), 1e-4F * std::max(1.0F, max_abs(want))) << fraction;
    EXPECT_LE(max_abs(tee.query(x) - want), 1e-4F * std::max(1.0F, max_abs(want))) << fraction;
    // Alone, the artifact is not the original (a zeroed layer, or scaled logits).
    const nn::Model released = definitions::artifact_model(rel.artifact);
    EXPECT_GT(max_abs(released.forward(x) - want), 1e-2F) << fraction;
  }
}

TEST(ScaleMorph, HeldLayersAreZerosAndMorphedLayersAreScaledCopies) {
  const nn::Model m = model(1);
  const ScaleMorph s = morph({});  // fraction 0.8 of 3 layers: 2 morphed, 1 held
  const auto rel = release_of(s, m);
  const std::set<std::int64_t> held = tee_layers(rel.artifact);
  EXPECT_EQ(held.size(), 1u);
  const nn::Model released = definitions::artifact_model(rel.artifact);
  double macs = 0, tee_work = 0;
  std::set<double> scales;
  for (std::int64_t l = 0; l < 3; ++l) {
    const auto& w = released.tensors.at(weight_name(l)).data;
    const auto& b = released.tensors.at(bias_name(l)).data;
    const auto& w0 = m.tensors.at(weight_name(l)).data;
    const auto& b0 = m.tensors.at(bias_name(l)).data;
    const double fan = static_cast<double>(m.arch.sizes[static_cast<std::size_t>(l)]) *
                       static_cast<double>(m.arch.sizes[static_cast<std::size_t>(l) + 1]);
    if (held.count(l) != 0) {
      EXPECT_TRUE(std::all_of(w.begin(), w.end(), [](float v) { return v == 0.0F; })) << l;
      EXPECT_TRUE(std::all_of(b.begin(), b.end(), [](float v) { return v == 0.0F; })) << l;
      // The secret holds the layer in the clear.
      EXPECT_EQ(rel.secret.tensors.at(weight_name(l)).data, w0) << l;
      EXPECT_EQ(rel.secret.tensors.at(bias_name(l)).data, b0) << l;
      tee_work += fan;
      continue;
    }
    EXPECT_EQ(rel.secret.tensors.count(weight_name(l)), 0u) << l;
    macs += fan;
    tee_work += static_cast<double>(m.arch.sizes[static_cast<std::size_t>(l) + 1]);
    // One factor s in [1, 5] for the whole layer, weights and bias alike.
    const double ratio = static_cast<double>(w[0]) / static_cast<double>(w0[0]);
    EXPECT_GE(ratio, 1.0 - 1e-6) << l;
    EXPECT_LE(ratio, 5.0 + 1e-6) << l;
    for (std::size_t i = 0; i < w.size(); ++i)
      EXPECT_NEAR(w[i], ratio * w0[i], 1e-5 * std::max(1.0, std::abs(ratio * w0[i]))) << l;
    for (std::size_t i = 0; i < b.size(); ++i)
      EXPECT_NEAR(b[i], ratio * b0[i], 1e-5 * std::max(1.0, std::abs(ratio * b0[i]))) << l;
    EXPECT_NEAR(rel.secret.tensors.at("scale").data[static_cast<std::size_t>(l)], ratio,
                1e-5 * ratio)
        << l;
    scales.insert(ratio);
  }
  EXPECT_EQ(scales.size(), 2u);  // each morphed layer has its own factor
  EXPECT_EQ(rel.artifact.tensors.count("scale"), 0u);
  EXPECT_DOUBLE_EQ(s.infer_macs(rel.artifact), macs);
  EXPECT_DOUBLE_EQ(s.provision_tee(rel)->work_per_row(), tee_work);
}

TEST(ScaleMorph, FractionDecidesHowManyLayersAreHeld) {
  const nn::Model m = model(1);
  const double all_macs = 48.0 * 32 + 32.0 * 24 + 24.0 * 10;
  {
    const ScaleMorph s = morph({{"fraction", "0"}});
    const auto rel = release_of(s, m);
    EXPECT_EQ(tee_layers(rel.artifact), (std::set<std::int64_t>{0, 1, 2}));
    for (const auto& [name, t] : rel.artifact.tensors)
      EXPECT_TRUE(std::all_of(t.data.begin(), t.data.end(), [](float v) { return v == 0.0F; }))
          << name;
    EXPECT_DOUBLE_EQ(s.infer_macs(rel.artifact), 0.0);
    EXPECT_DOUBLE_EQ(s.provision_tee(rel)->work_per_row(), all_macs);
  }
  {
    const ScaleMorph s = morph({{"fraction", "1"}});
    const auto rel = release_of(s, m);
    EXPECT_TRUE(tee_layers(rel.artifact).empty());
    EXPECT_DOUBLE_EQ(s.infer_macs(rel.artifact), all_macs);
    EXPECT_DOUBLE_EQ(s.provision_tee(rel)->work_per_row(), 32.0 + 24.0 + 10.0);  // divisions
  }
  // round(θ·L) of L = 3 layers: 0.34 → 1 morphed, 0.5 → 2, 0.84 → 3.
  for (const auto& [fraction, morphed] :
       std::vector<std::pair<std::string, std::size_t>>{{"0.34", 1}, {"0.5", 2}, {"0.84", 3}}) {
    const auto rel = release_of(morph({{"fraction", fraction}}), m);
    EXPECT_EQ(tee_layers(rel.artifact).size(), 3 - morphed) << fraction;
  }
  // A fixed factor: exactly that factor.
  const auto rel =
      release_of(morph({{"fraction", "1"}, {"scale_min", "2"}, {"scale_max", "2"}}), m);
  for (std::int64_t l = 0; l < 3; ++l) {
    const auto& w = rel.artifact.tensors.at(weight_name(l)).data;
    const auto& w0 = m.tensors.at(weight_name(l)).data;
    for (std::size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], 2.0F * w0[i]) << l;
  }
  // Which layers are morphed is drawn from the coins: over 12 releases the one morphed layer of
  // fraction 1/3 is not always the same.
  std::set<std::set<std::int64_t>> held_sets;
  for (std::uint64_t seed = 1; seed <= 12; ++seed)
    held_sets.insert(tee_layers(release_of(morph({{"fraction", "0.34"}}), m, seed).artifact));
  EXPECT_GE(held_sets.size(), 2u);
  // Deterministic in the coins.
  const auto a = release_of(morph({}), m, 5);
  const auto b = release_of(morph({}), m, 5);
  EXPECT_TRUE(same_tensors(a.artifact.tensors, b.artifact.tensors));
  EXPECT_TRUE(same_tensors(a.secret.tensors, b.secret.tensors));
  EXPECT_EQ(a.artifact.metadata, b.artifact.metadata);
}

TEST(ScaleMorph, BadParametersAndModelsAreRefused) {
  const auto make = [](StringMap p) { return ScaleMorphParams::from(Params(std::move(p))); };
  EXPECT_THROW((void)make({{"fraction", "-0.1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"fraction", "1.1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"fraction", "nan"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"scale_min", "0"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"scale_min", "-1"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"scale_min", "3"}, {"scale_max", "2"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"scale_max", "inf"}}), InvalidArgument);
  Rng coins(1, 2, 3);
  EXPECT_THROW((void)morph({}).release(model(1, "swiglu:16,32:silu"), coins), InvalidArgument);
  // A TEE is provisioned only from a well-formed release.
  const nn::Model m = model(1);
  const ScaleMorph s = morph({});
  const auto rel = release_of(s, m);
  auto no_scale = rel;
  no_scale.secret.tensors.erase("scale");
  EXPECT_THROW((void)s.provision_tee(no_scale), InvalidArgument);
  auto no_layers = rel;
  no_layers.artifact.metadata.erase("tee_layers");
  EXPECT_THROW((void)s.provision_tee(no_layers), InvalidArgument);
  EXPECT_THROW((void)s.infer_macs(no_layers.artifact), InvalidArgument);
  auto out_of_range = rel;
  out_of_range.artifact.metadata["tee_layers"] = nlohmann::json::array({3});
  EXPECT_THROW((void)s.provision_tee(out_of_range), InvalidArgument);
  // Scales that float32 turns into 0 or inf are refused up front; a secret scale that is not a
  // positive finite number, or a held layer with a non-finite weight, by the TEE.
  EXPECT_THROW((void)make({{"scale_min", "1e-300"}, {"scale_max", "1e-300"}}), InvalidArgument);
  EXPECT_THROW((void)make({{"scale_max", "1e39"}}), InvalidArgument);
  const auto morphed =
      std::find_if(rel.secret.tensors.at("scale").data.begin(),
                   rel.secret.tensors.at("scale").data.end(), [](float v) { return v != 1.0F; });
  ASSERT_NE(morphed, rel.secret.tensors.at("scale").data.end());
  auto inf_scale = rel;
  inf_scale.secret.tensors.at("scale")
      .data[static_cast<std::size_t>(morphed - rel.secret.tensors.at("scale").data.begin())] =
      std::numeric_limits<float>::infinity();
  EXPECT_THROW((void)s.provision_tee(inf_scale), InvalidArgument);
  const auto held = rel.artifact.metadata.at("tee_layers");
  ASSERT_FALSE(held.empty());
  auto nan_weight = rel;
  nan_weight.secret.tensors.at(weight_name(held.at(0).get<std::int64_t>())).data[0] = std::nanf("");
  EXPECT_THROW((void)s.provision_tee(nan_weight), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// variance_scale

TEST(VarianceScale, WithTheOriginalAsBaseRecoversTheOriginal) {
  const nn::Model m = model(1);
  const ScaleMorph s = morph({{"fraction", "0.5"}});  // 2 morphed, 1 held
  const auto rel = release_of(s, m);
  const std::set<std::int64_t> held = tee_layers(rel.artifact);
  ASSERT_EQ(held.size(), 1u);
  const std::string base = file_source(m, "variance_base");
  definitions::OracleAccess none;
  for (const std::string estimator : {"variance", "projection"}) {
    const auto attack = variance({{"base", base}, {"estimator", estimator}});
    EXPECT_TRUE(attack.reads(rel.artifact));
    Rng coins(8, stable_hash("adversary"), 0);
    const nn::Model got = attack.extract(rel.artifact, none, coins);
    for (const auto& [name, t] : m.tensors) {
      const auto& g = got.tensors.at(name).data;
      const bool is_held = held.count(std::stoll(name.substr(7))) != 0;
      for (std::size_t i = 0; i < t.data.size(); ++i) {
        if (is_held) {
          ASSERT_EQ(g[i], t.data[i]) << estimator << " " << name;  // the base's, copied
        } else {
          ASSERT_NEAR(g[i], t.data[i], 1e-4 * std::max(1e-2F, std::abs(t.data[i])))
              << estimator << " " << name << "[" << i << "]";
        }
      }
    }
    const Matrix x = inputs(50, 48, 3);
    const Matrix want = m.forward(x);
    EXPECT_LE(max_abs(got.forward(x) - want), 1e-4F * std::max(1.0F, max_abs(want))) << estimator;
  }
}

TEST(VarianceScale, WithoutBaseTheInitialisationPriorEstimatesTheScale) {
  // Measured relative error of the recovered scale (layer 0, 1536 weights | layer 2, 240):
  // about 1% and 3%; a wrong prior (1/fan_in before a ReLU) would be off by sqrt(2).
  const nn::Model m = model(1);
  const ScaleMorph s = morph({{"fraction", "1"}});
  const auto rel = release_of(s, m);
  definitions::OracleAccess none;
  const auto attack = variance({});
  Rng coins(8, stable_hash("adversary"), 0);
  const nn::Model got = attack.extract(rel.artifact, none, coins);
  for (std::int64_t l = 0; l < 3; ++l) {
    const auto& g = got.tensors.at(weight_name(l)).data;
    const auto& w0 = m.tensors.at(weight_name(l)).data;
    // The recovered layer is c·W with one c for the whole layer; c ≈ 1.
    const double c = static_cast<double>(g[0]) / static_cast<double>(w0[0]);
    for (std::size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(g[i], c * w0[i], 1e-5 * std::max(1.0, std::abs(c * w0[i]))) << l;
    EXPECT_NEAR(c, 1.0, 0.1) << "layer " << l;
  }
  // Held layers without a base start from a fresh initialisation (not zeros, not the original).
  const auto held_rel = release_of(morph({{"fraction", "0"}}), m);
  Rng coins2(8, stable_hash("adversary"), 0);
  const nn::Model init = attack.extract(held_rel.artifact, none, coins2);
  for (std::int64_t l = 0; l < 3; ++l) {
    const auto& g = init.tensors.at(weight_name(l)).data;
    EXPECT_TRUE(std::any_of(g.begin(), g.end(), [](float v) { return v != 0.0F; })) << l;
    EXPECT_NE(g, m.tensors.at(weight_name(l)).data) << l;
  }
}

TEST(VarianceScale, BadParametersAreRefused) {
  const auto make = [](StringMap p) {
    return attacks::VarianceScaleParams::from(Params(std::move(p)));
  };
  EXPECT_THROW((void)make({{"estimator", "projection"}}), InvalidArgument);  // needs base
  EXPECT_THROW((void)make({{"estimator", "median"}, {"base", "random:" + std::string(kArch)}}),
               InvalidArgument);
  EXPECT_THROW((void)make({{"epochs", "0"}}), InvalidArgument);
  EXPECT_NO_THROW(
      (void)make({{"estimator", "projection"}, {"base", "random:" + std::string(kArch)}}));
  // A base of another architecture is refused at extraction.
  const nn::Model m = model(1);
  const auto rel = release_of(morph({}), m);
  const auto attack = variance({{"base", file_source(model(2, "mlp:48,16,10:relu"), "vs_other")}});
  definitions::OracleAccess none;
  Rng coins(1, 2, 3);
  EXPECT_THROW((void)attack.extract(rel.artifact, none, coins), InvalidArgument);
  // A release without its public 'tee_layers' is refused.
  auto bare = rel;
  bare.artifact.metadata.erase("tee_layers");
  EXPECT_THROW((void)variance({}).extract(bare.artifact, none, coins), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// labelled inputs and misuse's accuracy criterion

TEST(InputSourceLabels, OnlyFashionMnistIsLabelledAndLabelsMatchTheImages) {
  const auto gaussian = definitions::InputSource::parse("gaussian:1");
  EXPECT_FALSE(gaussian.labelled());
  std::vector<std::int32_t> labels;
  Rng rng(1, 2, 3);
  EXPECT_THROW((void)gaussian.draw_labelled(4, 8, rng, labels), InvalidArgument);
  const auto test = definitions::InputSource::parse("fashion_mnist:test");
  EXPECT_TRUE(test.labelled());
  EXPECT_TRUE(definitions::InputSource::parse("fashion_mnist:train").labelled());
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  Rng a(6, 7, 8), b(6, 7, 8);
  const Matrix x = test.draw_labelled(20, 784, a, labels);
  ASSERT_EQ(labels.size(), 20u);
  EXPECT_EQ(x, test.draw(20, 784, b));  // the same rows as an unlabelled draw
  const auto data = nn::load_fashion_mnist();
  for (std::int64_t r = 0; r < 5; ++r) {
    bool found = false;
    for (std::int64_t i = 0; i < data->test.size() && !found; ++i)
      found = data->test.images.row(i) == x.row(r) &&
              data->test.labels[static_cast<std::size_t>(i)] == labels[static_cast<std::size_t>(r)];
    EXPECT_TRUE(found) << "row " << r << " with label " << labels[static_cast<std::size_t>(r)];
  }
}

games::MisuseParams misuse_params(StringMap p) {
  return games::MisuseParams::from(Params(std::move(p)));
}

TEST(MisuseAccuracy, NeedsLabelledInputsAClassifierAndARatioInRange) {
  EXPECT_THROW((void)misuse_params({{"accuracy_ratio", "1.5"}}), InvalidArgument);
  EXPECT_THROW((void)misuse_params({{"accuracy_ratio", "-0.5"}}), InvalidArgument);
  EXPECT_THROW(games::Misuse(misuse_params({{"accuracy_ratio", "0.9"}, {"inputs", "gaussian:1"}})),
               InvalidArgument);
  EXPECT_THROW(
      games::Misuse(misuse_params({{"accuracy_ratio", "0.9"}, {"model", "random:mlp:48,10:relu"}})),
      InvalidArgument);  // default inputs for 48 features: gaussian, unlabelled
  EXPECT_THROW(games::Misuse(misuse_params({{"accuracy_ratio", "0.9"},
                                            {"model", "random:swiglu:784,32:silu"},
                                            {"inputs", "fashion_mnist:test"}})),
               InvalidArgument);  // not a classifier
  EXPECT_NO_THROW(games::Misuse(
      misuse_params({{"accuracy_ratio", "0.9"}, {"model", "random:mlp:784,16,10:relu"}})));
  EXPECT_NO_THROW(games::Misuse(misuse_params({{"inputs", "gaussian:1"}})));  // ratio 0: output
}

// A 784-32-10 classifier trained briefly on 3000 Fashion-MNIST images (measured test accuracy
// about 0.75), saved as a "file:" model source.
const std::string& trained_source() {
  static const std::string source = [] {
    const auto data = nn::load_fashion_mnist();
    const Matrix x = data->train.images.topRows(3000);
    const nn::Labels y(data->train.labels.begin(), data->train.labels.begin() + 3000);
    nn::Model m = model(5, "mlp:784,32,10:relu");
    nn::TrainConfig config;
    config.epochs = 4;
    config.batch_size = 64;
    config.learning_rate = 3e-3;
    (void)nn::train(m, x, y, config, Rng(5, stable_hash("train"), 0));
    return file_source(m, "trained");
  }();
  return source;
}

TEST(MisuseAccuracy, ScoresAccuracyRestoredOnTrueLabels) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string source = trained_source();
  games::MisuseParams p = misuse_params({{"accuracy_ratio", "0.9"}, {"model", source}});
  const games::Misuse game(p);
  Rng draw(1, 2, 3);
  const nn::Model victim = definitions::ModelSource::parse(source).draw(draw);
  // The victim's accuracy on the game's held-out draw, recomputed from the game's coins.
  const auto victim_accuracy = [&](const Rng& coins) {
    Rng eval = coins.derive("challenger").derive("eval");
    nn::Labels truth;
    const Matrix x = definitions::InputSource::parse("fashion_mnist:test")
                         .draw_labelled(p.eval_samples, 784, eval, truth);
    return nn::accuracy(victim.forward(x), truth);
  };

  const SparseLock lock = sparse({{"k", "275"}, {"samples", "256"}});
  const ScaleMorph scale = morph({{"fraction", "0.5"}});  // of 2 layers: one held as zeros
  const attacks::Knockoff knockoff(attacks::QueryTraining{});
  for (const definitions::WeightReleaseScheme* s :
       std::vector<const definitions::WeightReleaseScheme*>{&lock, &scale}) {
    game.check(s, knockoff);
    Rng coins(41, stable_hash("misuse"), 0);
    const Rng start = coins;
    const auto out = game.play(s, knockoff, coins);
    const double victim_acc = victim_accuracy(start);
    EXPECT_GE(victim_acc, 0.6) << s->id();
    EXPECT_DOUBLE_EQ(metric(out, "victim_accuracy"), victim_acc) << s->id();
    // A fresh network at 0 queries: chance-level, far below 0.9 of the victim's.
    EXPECT_FALSE(out.win) << s->id();
    EXPECT_LE(metric(out, "accuracy"), 0.35) << s->id();
    EXPECT_NEAR(metric(out, "accuracy_ratio"), metric(out, "accuracy") / victim_acc, 1e-12);
    EXPECT_DOUBLE_EQ(metric(out, "queries_used"), 0.0);
    // Infer through the TEE is the victim: the same accuracy, up to ties broken by rounding.
    EXPECT_NEAR(metric(out, "release_accuracy"), victim_acc, 2.0 / 256) << s->id();
    // The artifact alone is locked.
    ASSERT_TRUE(has_metric(out, "artifact_accuracy")) << s->id();
    EXPECT_LE(metric(out, "artifact_accuracy"), 0.6 * victim_acc) << s->id();
  }
  // Restoring sparse_lock's pile-up from the original as "base" gives the victim back: a win
  // by accuracy (and the same model: output error 0).
  const auto restore = outlier({{"tolerance", "0"}, {"restore", "base"}, {"base", source}});
  game.check(&lock, restore);
  Rng coins(41, stable_hash("misuse"), 0);
  const auto won = game.play(&lock, restore, coins);
  EXPECT_TRUE(won.win);
  EXPECT_DOUBLE_EQ(metric(won, "accuracy"), metric(won, "victim_accuracy"));
  EXPECT_DOUBLE_EQ(metric(won, "accuracy_ratio"), 1.0);
  EXPECT_DOUBLE_EQ(metric(won, "output_rel_error"), 0.0);
  // The plaintext baseline with its copy: the victim itself, a win.
  const Plaintext plaintext;
  const attacks::PlaintextCopy copy;
  Rng coins2(41, stable_hash("misuse"), 0);
  const auto plain = game.play(&plaintext, copy, coins2);
  EXPECT_TRUE(plain.win);
  EXPECT_DOUBLE_EQ(metric(plain, "accuracy_ratio"), 1.0);
  EXPECT_DOUBLE_EQ(metric(plain, "artifact_accuracy"), metric(plain, "victim_accuracy"));
}

TEST(MisuseAccuracy, RunsOnARandomModelWithKnockoffAtZeroQueries) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const games::Misuse game(
      misuse_params({{"accuracy_ratio", "0.9"}, {"model", "random:mlp:784,16,10:relu"}}));
  const SparseLock lock = sparse({{"k", "50"}, {"samples", "128"}});
  const ScaleMorph scale = morph({});
  const attacks::Knockoff knockoff(attacks::QueryTraining{});
  for (const definitions::WeightReleaseScheme* s :
       std::vector<const definitions::WeightReleaseScheme*>{&lock, &scale}) {
    game.check(s, knockoff);
    Rng coins(42, stable_hash("misuse"), 0);
    const auto out = game.play(s, knockoff, coins);
    for (const char* name :
         {"accuracy", "victim_accuracy", "release_accuracy", "artifact_accuracy"}) {
      ASSERT_TRUE(has_metric(out, name)) << s->id() << " " << name;
      EXPECT_GE(metric(out, name), 0.0) << s->id() << " " << name;
      EXPECT_LE(metric(out, name), 1.0) << s->id() << " " << name;
    }
    ASSERT_TRUE(has_metric(out, "accuracy_ratio"));
    EXPECT_EQ(out.win, metric(out, "accuracy") >= 0.9 * metric(out, "victim_accuracy")) << s->id();
    EXPECT_NEAR(metric(out, "release_accuracy"), metric(out, "victim_accuracy"), 2.0 / 256)
        << s->id();
    EXPECT_GT(metric(out, "release_tee_cost_ratio"), 0.0) << s->id();
  }
}

}  // namespace
}  // namespace wrsec::schemes
