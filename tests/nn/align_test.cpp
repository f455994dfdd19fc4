#include "nn/align.h"

#include <gtest/gtest.h>

#include <cmath>

#include "attacks/dummy_neurons.h"
#include "attacks/permute.h"
#include "attacks/scale_neurons.h"
#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::nn {
namespace {

const Architecture kMlp{Architecture::Kind::mlp, {20, 16, 12, 5}, Activation::relu};

Model random_model(const Architecture& arch, std::uint64_t seed) {
  Rng rng(seed, stable_hash("align_test"), 0);
  return Model::init(arch, rng);
}

Matrix probes(std::int64_t in, std::uint64_t seed) {
  Rng rng(seed, stable_hash("align_test.probes"), 0);
  Matrix x(64, in);
  for (Eigen::Index k = 0; k < x.size(); ++k) x.data()[k] = static_cast<float>(rng.normal());
  return x;
}

double max_relative_difference(const Model& a, const Model& b) {
  double worst = 0.0;
  for (const auto& [name, t] : a.tensors) {
    const auto& u = b.tensors.at(name);
    EXPECT_EQ(t.shape, u.shape) << name;
    double scale = 0.0;
    for (float v : t.data) scale = std::max(scale, double(std::abs(v)));
    for (std::size_t k = 0; k < t.data.size(); ++k)
      worst = std::max(worst, std::abs(double(t.data[k]) - double(u.data[k])) / scale);
  }
  return worst;
}

nn::Model transform(const std::string& which, const Model& m, std::uint64_t seed) {
  Rng coins(seed, stable_hash("align_test.attack"), 0);
  const definitions::RemovalContext context;
  if (which == "permute") return attacks::Permute().remove(m, context, coins);
  if (which == "scale") return attacks::ScaleNeurons({}).remove(m, context, coins);
  attacks::DummyNeuronsParams p;
  p.kind = which;  // split | clique
  p.count = 6;
  return attacks::DummyNeurons(p).remove(m, context, coins);
}

TEST(Hungarian, FindsTheMinimumCostAssignment) {
  // Rows 0..2 prefer column 0; the optimum is 1 + 2 + 3 (rows 0, 1, 2 -> columns 1, 0, 2)... the
  // brute force over all 6 permutations is the check.
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  const auto a = hungarian(cost, 3, 3);
  double best = 1e9;
  std::vector<int> perm = {0, 1, 2};
  do {
    best = std::min(best, cost[0 + perm[0]] + cost[3 + perm[1]] + cost[6 + perm[2]]);
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_EQ(cost[0 + a[0]] + cost[3 + a[1]] + cost[6 + a[2]], best);
  EXPECT_EQ(best, 5.0);
}

TEST(Hungarian, RectangularAndBadInput) {
  const std::vector<double> cost = {5, 1, 9, 2, 8, 0};  // 2 x 3
  const auto a = hungarian(cost, 2, 3);
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(a[1], 2);
  EXPECT_THROW((void)hungarian(cost, 3, 2), InvalidArgument);
  EXPECT_THROW((void)hungarian({1.0, std::nan("")}, 1, 2), InvalidArgument);
}

TEST(Align, UndoesAPermutationBitForBit) {
  const Model m = random_model(kMlp, 1);
  const Model p = transform("permute", m, 2);
  EXPECT_GT(max_relative_difference(m, p), 0.1);  // the transform did move the units
  const Alignment a = align_to_reference(p, m);
  EXPECT_EQ(max_relative_difference(m, a.model), 0.0);
  ASSERT_EQ(a.layers.size(), 2u);
  for (const auto& l : a.layers) {
    EXPECT_EQ(l.merged, 0);
    EXPECT_EQ(l.dropped, 0);
    EXPECT_NEAR(l.min_cosine, 1.0, 1e-12);
    EXPECT_GT(l.min_margin, 0.05);
    EXPECT_EQ(l.method, "hungarian");
  }
}

TEST(Align, UndoesPositiveScalingAndDummyNeurons) {
  const Model m = random_model(kMlp, 3);
  for (const std::string which : {"scale", "split", "clique"}) {
    const Model t = transform(which, transform("permute", m, 4), 5);
    const Alignment a = align_to_reference(t, m);
    EXPECT_LT(max_relative_difference(m, a.model), 1e-5) << which;
    const Matrix x = probes(20, 6);
    EXPECT_LT((a.model.forward(x) - m.forward(x)).cwiseAbs().maxCoeff(), 1e-4) << which;
    for (const auto& l : a.layers) {
      EXPECT_EQ(l.unmatched_reference, 0) << which;
      if (which == "split") {
        EXPECT_EQ(l.merged, 6) << which;
      }
      if (which == "clique") {
        EXPECT_EQ(l.merged + l.dropped, 6) << which;
      }
    }
  }
}

// Split copies perturbed by 1% of the weights' std (dummy_neurons jitter = 0.01, cos ≈ 0.99995)
// are merged, and each group keeps its original row, not the perturbed copy: the aligned first
// layer equals the reference's exactly.
TEST(Align, NearCollinearCopiesAreMergedAndTheOriginalRowKept) {
  const Model m = random_model(kMlp, 13);
  Rng coins(13, stable_hash("align_test.jitter"), 0);
  attacks::DummyNeuronsParams p;
  p.count = 6;
  p.jitter = 0.01;
  const Model t = attacks::DummyNeurons(p).remove(m, {}, coins);
  const Alignment a = align_to_reference(t, m);
  EXPECT_EQ(a.model.tensors.at("layers.0.weight"), m.tensors.at("layers.0.weight"));
  EXPECT_EQ(a.layers.at(0).merged, 6);
  // The merge is exact only for exact copies: the aligned model is as far from the original as
  // the perturbed model itself is (a_copy ≈ a_original), up to a factor 2.
  const Matrix x = probes(20, 14);
  const float perturbed = (t.forward(x) - m.forward(x)).cwiseAbs().maxCoeff();
  EXPECT_LT((a.model.forward(x) - m.forward(x)).cwiseAbs().maxCoeff(), 2 * perturbed + 1e-5f);
  // With the merge threshold above the copies' cosine they stay apart and are dropped after
  // matching (their share of the outgoing columns is lost).
  AlignOptions strict;
  strict.merge_cosine = 1.0 - 1e-9;
  const Alignment b = align_to_reference(t, m, strict);
  EXPECT_EQ(b.layers.at(0).merged, 0);
  EXPECT_EQ(b.layers.at(0).dropped, 6);
}

TEST(Align, AnIndependentModelAlignsPoorly) {
  const Model m = random_model(kMlp, 7);
  const Model other = random_model(kMlp, 8);
  const Alignment a = align_to_reference(other, m);
  for (const auto& l : a.layers) EXPECT_LT(l.mean_cosine, 0.6) << l.layer;
}

TEST(Align, SwigluUnitsArePermutedBack) {
  const Architecture arch{Architecture::Kind::swiglu, {12, 20}, Activation::silu};
  const Model m = random_model(arch, 9);
  const Model p = transform("permute", m, 10);
  const Alignment a = align_to_reference(p, m);
  EXPECT_EQ(max_relative_difference(m, a.model), 0.0);
  EXPECT_EQ(a.layers.at(0).layer, "mlp");
}

TEST(Align, MismatchedArchitecturesAreRejected) {
  const Model m = random_model(kMlp, 11);
  const Model deeper =
      random_model({Architecture::Kind::mlp, {20, 16, 12, 12, 5}, Activation::relu}, 12);
  EXPECT_THROW((void)align_to_reference(deeper, m), InvalidArgument);
  AlignOptions bad;
  bad.merge_cosine = 1.5;
  EXPECT_THROW((void)align_to_reference(m, m, bad), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::nn
