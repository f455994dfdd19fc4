#include "definitions/extraction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"
#include "nn/model.h"

namespace wrsec::definitions {
namespace {

using nn::Architecture;
using nn::Model;

constexpr double kInf = std::numeric_limits<double>::infinity();

Model random_model(const std::string& spec, std::uint64_t seed = 1) {
  Rng rng(seed, stable_hash("extraction_test"), 0);
  return Model::init(Architecture::parse(spec), rng);
}

std::uint64_t parameter_count(const Model& m) {
  std::uint64_t n = 0;
  for (const auto& [name, t] : m.tensors) n += std::uint64_t(t.numel());
  return n;
}

std::vector<std::int64_t> random_permutation(std::int64_t n, std::mt19937& gen) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), gen);
  return p;
}

// Row j of the result is row perm[j] of t (rank 1 or 2).
void permute_rows(nn::Tensor& t, const std::vector<std::int64_t>& perm) {
  const nn::Tensor in = t;
  const std::int64_t cols = t.rank() == 2 ? t.shape[1] : 1;
  for (std::size_t j = 0; j < perm.size(); ++j)
    for (std::int64_t c = 0; c < cols; ++c)
      t.data[std::size_t(std::int64_t(j) * cols + c)] = in.data[std::size_t(perm[j] * cols + c)];
}

void permute_cols(nn::Tensor& t, const std::vector<std::int64_t>& perm) {
  const nn::Tensor in = t;
  const std::int64_t rows = t.shape[0], cols = t.shape[1];
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      t.data[std::size_t(r * cols + j)] = in.data[std::size_t(r * cols + perm[std::size_t(j)])];
}

// The same function with every hidden layer's units shuffled (written independently of the
// alignment code under test).
Model permute_hidden_units(const Model& m, std::mt19937& gen) {
  Model out = m;
  if (m.arch.kind == Architecture::Kind::swiglu) {
    const auto perm = random_permutation(m.arch.sizes[1], gen);
    permute_rows(out.tensors.at("mlp.gate_proj.weight"), perm);
    permute_rows(out.tensors.at("mlp.up_proj.weight"), perm);
    permute_cols(out.tensors.at("mlp.down_proj.weight"), perm);
    return out;
  }
  for (std::size_t k = 0; k + 2 < m.arch.sizes.size(); ++k) {
    const auto perm = random_permutation(m.arch.sizes[k + 1], gen);
    const std::string l = "layers." + std::to_string(k) + ".";
    const std::string next = "layers." + std::to_string(k + 1) + ".weight";
    permute_rows(out.tensors.at(l + "weight"), perm);
    permute_rows(out.tensors.at(l + "bias"), perm);
    permute_cols(out.tensors.at(next), perm);
  }
  return out;
}

TEST(ScoreExtraction, IdenticalModelsScorePerfectly) {
  for (const char* spec : {"mlp:6,40,24,3:silu", "swiglu:8,32:silu"}) {
    const Model m = random_model(spec);
    const auto s = score_extraction(m, m, {}, {});
    EXPECT_TRUE(s.architecture_matches) << spec;
    EXPECT_EQ(s.parameters, parameter_count(m));
    EXPECT_EQ(s.hidden, s.parameters);  // an empty mask hides everything
    EXPECT_EQ(s.recovered, s.parameters);
    EXPECT_EQ(s.hidden_recovered, s.hidden);
    EXPECT_EQ(s.fraction(), 1.0);
    EXPECT_EQ(s.hidden_fraction(), 1.0);
    EXPECT_EQ(s.max_error, 0.0);
    EXPECT_EQ(s.max_error_hidden, 0.0);
    EXPECT_EQ(s.median_error_hidden, 0.0);
  }
}

TEST(ScoreExtraction, PermutedHiddenUnitsAreAlignedBack) {
  std::mt19937 gen(5);
  for (const char* spec : {"mlp:6,40,24,3:silu", "mlp:5,9,7,2:relu", "swiglu:8,32:silu"}) {
    const Model m = random_model(spec, 3);
    const Model p = permute_hidden_units(m, gen);
    ASSERT_NE(p.tensors, m.tensors);
    // Same function.
    nn::Matrix x = nn::Matrix::Random(4, m.arch.input_size());
    EXPECT_TRUE(m.forward(x).isApprox(p.forward(x), 1e-5f)) << spec;

    const Model aligned = align_hidden_units(m, p);
    EXPECT_EQ(aligned.tensors, m.tensors) << spec;
    const auto s = score_extraction(m, p, {}, {});
    EXPECT_TRUE(s.architecture_matches);
    EXPECT_EQ(s.fraction(), 1.0) << spec;
    EXPECT_EQ(s.hidden_fraction(), 1.0);
    EXPECT_EQ(s.max_error, 0.0);

    ExtractionCriterion no_align;
    no_align.align_permutations = false;
    const auto raw = score_extraction(m, p, {}, no_align);
    EXPECT_TRUE(raw.architecture_matches);
    EXPECT_LT(raw.fraction(), 1.0) << spec;
    EXPECT_GT(raw.max_error, no_align.tau);
  }
}

TEST(ScoreExtraction, NoisyPermutedRecoveryIsAlignedBack) {
  // A recovery with 0.5% relative noise per parameter (bf16 rounding is 0.2%) and shuffled units:
  // the noise moves each unit's first projection key by a few neighbour spacings among 4096
  // units, which a narrow key window would mismatch. Every parameter is within τ = 2e-2.
  const Model m = random_model("swiglu:32,4096:silu", 9);
  std::mt19937 gen(11);
  Model noisy = permute_hidden_units(m, gen);
  std::normal_distribution<double> noise(0.0, 0.005 / 3);
  for (auto& [name, t] : noisy.tensors)
    for (float& v : t.data)
      v = static_cast<float>(v * (1.0 + std::clamp(noise(gen), -0.005, 0.005)));
  const auto score = score_extraction(m, noisy, {}, {2e-2, 0.0, true});
  EXPECT_EQ(score.recovered, score.parameters);
  EXPECT_LE(score.max_error, 0.0051);
}

TEST(ScoreExtraction, AlignmentRejectsDifferentArchitectures) {
  EXPECT_THROW(
      (void)align_hidden_units(random_model("mlp:6,40,3:silu"), random_model("mlp:6,41,3:silu")),
      InvalidArgument);
}

TEST(ScoreExtraction, OnePerturbedParameterIsTheOnlyOneLost) {
  const Model m = random_model("mlp:6,40,24,3:silu");
  for (const bool align : {true, false}) {
    Model r = m;
    const ExtractionCriterion c{1e-2, 0.0, align};
    float& v = r.tensors.at("layers.1.weight").data[17];
    const float original = v;
    v = static_cast<float>(double(original) * (1 + 2 * c.tau));
    const double expected = std::fabs(double(v) - double(original)) / std::fabs(double(original));
    ASSERT_NEAR(expected, 2 * c.tau, 1e-5);
    const auto s = score_extraction(m, r, {}, c);
    EXPECT_EQ(s.recovered, s.parameters - 1);
    EXPECT_EQ(s.hidden_recovered, s.hidden - 1);
    EXPECT_EQ(s.max_error, expected);
    EXPECT_EQ(s.max_error_hidden, expected);
    EXPECT_EQ(s.median_error_hidden, 0.0);
    // A perturbation within tau is recovered.
    v = static_cast<float>(double(original) * (1 + c.tau / 2));
    EXPECT_EQ(score_extraction(m, r, {}, c).recovered, s.parameters);
  }
}

TEST(ScoreExtraction, FloorAppliesToZeroParameters) {
  Model m = random_model("mlp:6,40,3:silu");
  nn::Tensor& w = m.tensors.at("layers.1.weight");
  w.data[3] = 0.0f;
  double rms = 0;
  for (float v : w.data) rms += double(v) * double(v);
  rms = std::sqrt(rms / double(w.numel()));

  // Zero recovered as zero counts as exact, with or without a floor.
  EXPECT_EQ(score_extraction(m, m, {}, {}).recovered, parameter_count(m));

  Model r = m;
  const float small = static_cast<float>(1e-3 * rms);
  r.tensors.at("layers.1.weight").data[3] = small;
  // floor = 0: any error on a zero parameter is infinite.
  const auto plain = score_extraction(m, r, {}, {1e-2, 0.0, true});
  EXPECT_EQ(plain.recovered, plain.parameters - 1);
  EXPECT_EQ(plain.max_error, kInf);
  // floor = 0.5: the denominator becomes 0.5·rms(tensor), so the error is 2e-3.
  const auto floored = score_extraction(m, r, {}, {1e-2, 0.5, true});
  EXPECT_EQ(floored.recovered, floored.parameters);
  EXPECT_NEAR(floored.max_error, double(small) / (0.5 * rms), 1e-12);
  EXPECT_NEAR(floored.max_error, 2e-3, 1e-6);
  // A floor below the error's scale does not rescue it: 1e-3·rms / (0.05·rms) = 0.02 > tau.
  EXPECT_EQ(score_extraction(m, r, {}, {1e-2, 0.05, true}).recovered, plain.parameters - 1);
  EXPECT_THROW((void)score_extraction(m, r, {}, {-1.0, 0.0, true}), InvalidArgument);
  EXPECT_THROW((void)score_extraction(m, r, {}, {1e-2, -0.5, true}), InvalidArgument);
  EXPECT_THROW((void)score_extraction(m, r, {}, {std::nan(""), 0.0, true}), InvalidArgument);
}

TEST(ScoreExtraction, HiddenMaskSelectsTheScoredParameters) {
  const Model m = random_model("mlp:6,40,3:silu");
  nn::TensorMap mask;
  // layers.1.weight published (all 0), layers.1.bias hidden (all 1), layers.0.* absent (hidden).
  mask.emplace("layers.1.weight", nn::Tensor(m.tensors.at("layers.1.weight").shape));
  nn::Tensor ones(m.tensors.at("layers.1.bias").shape);
  std::fill(ones.data.begin(), ones.data.end(), 1.0f);
  mask.emplace("layers.1.bias", ones);
  const std::uint64_t published = std::uint64_t(m.tensors.at("layers.1.weight").numel());

  Model r = m;
  r.tensors.at("layers.1.weight").data[5] *= 3.0f;  // error in a published parameter
  const auto s = score_extraction(m, r, mask, {});
  EXPECT_EQ(s.parameters, parameter_count(m));
  EXPECT_EQ(s.hidden, s.parameters - published);
  EXPECT_EQ(s.recovered, s.parameters - 1);
  EXPECT_EQ(s.hidden_recovered, s.hidden);
  EXPECT_EQ(s.hidden_fraction(), 1.0);
  EXPECT_LT(s.fraction(), 1.0);
  EXPECT_EQ(s.max_error_hidden, 0.0);
  EXPECT_NEAR(s.max_error, 2.0, 1e-6);

  // Partly hidden tensor: only entries with mask 1 count.
  nn::Tensor partial(m.tensors.at("layers.0.bias").shape);
  partial.data[0] = 1.0f;
  mask.emplace("layers.0.bias", partial);
  EXPECT_EQ(score_extraction(m, r, mask, {}).hidden, s.hidden - std::uint64_t(partial.numel()) + 1);

  // Nothing hidden: hidden_fraction is 1 by convention.
  nn::TensorMap none;
  for (const auto& [name, t] : m.tensors) none.emplace(name, nn::Tensor(t.shape));
  const auto n = score_extraction(m, r, none, {});
  EXPECT_EQ(n.hidden, 0u);
  EXPECT_EQ(n.hidden_recovered, 0u);
  EXPECT_EQ(n.hidden_fraction(), 1.0);

  // A mask of the wrong shape is a bug in the scheme.
  nn::TensorMap bad;
  bad.emplace("layers.0.bias", nn::Tensor({3}));
  EXPECT_THROW((void)score_extraction(m, r, bad, {}), LogicError);
}

TEST(ScoreExtraction, MedianIsOverHiddenParametersOnly) {
  const Model m = random_model("mlp:6,40,3:silu");
  nn::TensorMap mask;
  for (const auto& [name, t] : m.tensors) mask.emplace(name, nn::Tensor(t.shape));
  std::fill(mask.at("layers.1.bias").data.begin(), mask.at("layers.1.bias").data.end(), 1.0f);

  Model r = m;
  auto& b = r.tensors.at("layers.1.bias").data;
  const auto& b0 = m.tensors.at("layers.1.bias").data;
  ASSERT_EQ(b.size(), 3u);
  const double rel[3] = {0.3, 0.1, 0.2};
  std::vector<double> errors;
  for (std::size_t k = 0; k < 3; ++k) {
    b[k] = static_cast<float>(double(b0[k]) * (1 + rel[k]));
    errors.push_back(std::fabs(double(b[k]) - double(b0[k])) / std::fabs(double(b0[k])));
  }
  const auto s = score_extraction(m, r, mask, {});
  EXPECT_EQ(s.hidden, 3u);
  EXPECT_EQ(s.hidden_recovered, 0u);
  EXPECT_NEAR(s.median_error_hidden, errors[2], 1e-6);  // the middle one, 0.2
  EXPECT_NEAR(s.median_error_hidden, 0.2, 1e-5);
  EXPECT_EQ(s.max_error_hidden, errors[0]);
  EXPECT_EQ(s.max_error, errors[0]);
  // Over all parameters (empty mask) the median is 0: most parameters are exact.
  EXPECT_EQ(score_extraction(m, r, {}, {}).median_error_hidden, 0.0);
}

TEST(ScoreExtraction, ArchitectureMismatchScoresZero) {
  const Model m = random_model("mlp:6,40,3:silu");
  for (const Model& r : {random_model("mlp:6,40,3:relu"), random_model("mlp:6,41,3:silu"),
                         random_model("swiglu:6,40:silu")}) {
    const auto s = score_extraction(m, r, {}, {});
    EXPECT_FALSE(s.architecture_matches) << r.arch.to_spec();
    EXPECT_EQ(s.parameters, parameter_count(m));
    EXPECT_EQ(s.recovered, 0u);
    EXPECT_EQ(s.hidden_recovered, 0u);
    EXPECT_EQ(s.fraction(), 0.0);
    EXPECT_EQ(s.hidden_fraction(), 0.0);
    EXPECT_EQ(s.max_error, kInf);
    EXPECT_EQ(s.max_error_hidden, kInf);
  }
  // Same declared architecture but a missing or mis-shaped tensor.
  Model missing = m;
  missing.tensors.erase("layers.1.bias");
  EXPECT_FALSE(score_extraction(m, missing, {}, {}).architecture_matches);
  Model misshaped = m;
  misshaped.tensors.at("layers.1.bias") = nn::Tensor({4});
  const auto s = score_extraction(m, misshaped, {}, {});
  EXPECT_FALSE(s.architecture_matches);
  EXPECT_EQ(s.fraction(), 0.0);
}

TEST(ScoreExtraction, NaNIsNeverRecovered) {
  const Model m = random_model("mlp:6,40,24,3:silu");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  {
    // In the output layer's bias (not an incoming weight of a hidden unit): alignment unaffected.
    Model r = m;
    r.tensors.at("layers.2.bias").data[1] = nan;
    const auto s = score_extraction(m, r, {}, {});
    EXPECT_EQ(s.recovered, s.parameters - 1);
    EXPECT_EQ(s.max_error, kInf);
    EXPECT_EQ(s.max_error_hidden, kInf);
    EXPECT_EQ(s.median_error_hidden, 0.0);
  }
  {
    // In a hidden layer's weight, without alignment: exactly that parameter is lost.
    Model r = m;
    r.tensors.at("layers.0.weight").data[7] = nan;
    const auto s = score_extraction(m, r, {}, {1e-2, 0.0, false});
    EXPECT_EQ(s.recovered, s.parameters - 1);
    EXPECT_EQ(s.max_error, kInf);
    // With alignment the NaN row cannot be matched reliably; a bad match only loses more.
    const auto aligned = score_extraction(m, r, {}, {});
    EXPECT_LE(aligned.recovered, s.parameters - 1);
    EXPECT_EQ(aligned.max_error, kInf);
  }
  {
    // Everything NaN: nothing recovered, and the median error is infinite too (not a large
    // finite stand-in).
    Model r = m;
    for (auto& [name, t] : r.tensors) std::fill(t.data.begin(), t.data.end(), nan);
    for (const bool align : {true, false}) {
      const auto s = score_extraction(m, r, {}, {1e-2, 0.0, align});
      EXPECT_TRUE(s.architecture_matches);
      EXPECT_EQ(s.recovered, 0u);
      EXPECT_EQ(s.hidden_fraction(), 0.0);
      EXPECT_EQ(s.max_error_hidden, kInf);
      EXPECT_EQ(s.median_error_hidden, kInf);
    }
  }
  {
    // An infinite recovered value is an infinite error too.
    Model r = m;
    r.tensors.at("layers.2.weight").data[0] = std::numeric_limits<float>::infinity();
    const auto s = score_extraction(m, r, {}, {});
    EXPECT_EQ(s.recovered, s.parameters - 1);
    EXPECT_EQ(s.max_error, kInf);
  }
}

TEST(Architecture, SpecRoundTrip) {
  for (const char* spec : {"mlp:784,64,10:silu", "mlp:3,5:relu", "mlp:20,8,8,8,3:gelu_tanh",
                           "swiglu:4096,14336:silu", "swiglu:16,64:gelu"}) {
    const Architecture a = Architecture::parse(spec);
    EXPECT_EQ(a.to_spec(), spec);
    EXPECT_EQ(Architecture::parse(a.to_spec()), a);
  }
  const Architecture a = Architecture::parse("mlp:784,64,10:silu");
  EXPECT_EQ(a.kind, Architecture::Kind::mlp);
  EXPECT_EQ(a.sizes, (std::vector<std::int64_t>{784, 64, 10}));
  EXPECT_EQ(a.activation, nn::Activation::silu);
  const Architecture s = Architecture::parse("swiglu:4096,14336:silu");
  EXPECT_EQ(s.kind, Architecture::Kind::swiglu);
  EXPECT_EQ(s.sizes, (std::vector<std::int64_t>{4096, 14336}));
}

TEST(Architecture, MalformedSpecsThrowNamingTheSpec) {
  for (const char* spec : {"mlp:784:silu", "mlp:7,x:silu", "cnn:1,2:relu", "mlp:1,2",
                           "swiglu:4,8:relu", "swiglu:4,8,2:silu", "mlp:0,3:relu", "mlp:1,2,:relu",
                           "mlp:,1,2:relu", "mlp:-1,2:relu", "mlp:1,2:relu:x", "mlp:1,2:tanh", "",
                           "mlp", "mlp:1,2:", ":1,2:relu", "mlp:1234567890,2:relu"}) {
    try {
      (void)Architecture::parse(spec);
      ADD_FAILURE() << "no throw for '" << spec << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(spec) + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Architecture, MacsPerExample) {
  EXPECT_EQ(Architecture::parse("mlp:784,64,10:silu").macs_per_example(), 784.0 * 64 + 64 * 10);
  EXPECT_EQ(Architecture::parse("mlp:20,8,3:silu").macs_per_example(), 184.0);
  EXPECT_EQ(Architecture::parse("mlp:3,5:relu").macs_per_example(), 15.0);
  EXPECT_EQ(Architecture::parse("swiglu:4096,14336:silu").macs_per_example(), 3.0 * 4096 * 14336);
  EXPECT_EQ(Architecture::parse("swiglu:8,32:silu").macs_per_example(), 768.0);
  EXPECT_THROW(
      (void)(Architecture{Architecture::Kind::mlp, {5}, nn::Activation::relu}.macs_per_example()),
      InvalidArgument);
}

}  // namespace
}  // namespace wrsec::definitions
