#include "definitions/sources.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"
#include "nn/fashion_mnist.h"
#include "nn/llama.h"
#include "nn/model.h"

namespace wrsec::definitions {
namespace {

namespace fs = std::filesystem;

Rng rng_for(std::uint64_t trial) {
  return Rng(11, stable_hash("sources_test"), trial);
}

// Expects InvalidArgument whose message quotes the whole spec.
template <class F>
void expect_invalid_naming(const std::string& spec, F&& parse) {
  try {
    (void)parse(spec);
    ADD_FAILURE() << "no throw for '" << spec << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'" + spec + "'"), std::string::npos)
        << "spec '" << spec << "' not named in: " << e.what();
  }
}

TEST(ModelSource, RandomDrawsAreSeededAndFresh) {
  const ModelSource s = ModelSource::parse("random:mlp:20,8,3:silu");
  EXPECT_EQ(s.spec(), "random:mlp:20,8,3:silu");
  EXPECT_EQ(s.architecture(), nn::Architecture::parse("mlp:20,8,3:silu"));
  EXPECT_TRUE(s.fresh_per_draw());
  Rng a = rng_for(1), b = rng_for(1), c = rng_for(2);
  const nn::Model ma = s.draw(a);
  const nn::Model mb = s.draw(b);
  const nn::Model mc = s.draw(c);
  EXPECT_EQ(ma.arch, s.architecture());
  EXPECT_NO_THROW(ma.validate());
  EXPECT_EQ(ma.tensors, mb.tensors);
  EXPECT_NE(ma.tensors, mc.tensors);
}

TEST(ModelSource, DriftIsAFreshPerturbationOfTheBaseByEpsilonTimesItsRms) {
  const auto base = ModelSource::parse("random:mlp:200,100,10:relu");
  const auto drift = ModelSource::parse("drift:0.1:random:mlp:200,100,10:relu");
  EXPECT_TRUE(drift.fresh_per_draw());
  EXPECT_EQ(drift.architecture(), base.architecture());
  Rng a(1, 2, 3), b(1, 2, 3);
  const nn::Model m = drift.draw(a);
  Rng base_rng = b.derive("base");
  const nn::Model m0 = base.draw(base_rng);  // the drift source draws its base this way
  const auto& w = m.tensors.at("layers.0.weight").data;
  const auto& w0 = m0.tensors.at("layers.0.weight").data;
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    diff += (w[i] - w0[i]) * (w[i] - w0[i]);
    norm += w0[i] * w0[i];
  }
  // ‖ΔW‖ / ‖W‖ = 0.1 · ‖G‖ / √n with 20000 N(0, 1) entries: 0.1 ± 0.1·5/√(2·20000) at 5σ.
  EXPECT_NEAR(std::sqrt(diff / norm), 0.1, 0.1 * 5 / std::sqrt(2.0 * 20000));
  Rng c(1, 2, 4);
  EXPECT_NE(drift.draw(c).tensors.at("layers.0.weight"), m.tensors.at("layers.0.weight"));
  EXPECT_THROW((void)ModelSource::parse("drift:0.1"), InvalidArgument);
  EXPECT_THROW((void)ModelSource::parse("drift:-1:random:mlp:4,2:relu"), InvalidArgument);
  EXPECT_THROW((void)ModelSource::parse("drift:0.1:nowhere:x"), InvalidArgument);
}

TEST(ModelSource, LlamaSyntheticSpec) {
  const ModelSource s = ModelSource::parse("llama_synthetic:64,96");
  EXPECT_EQ(s.architecture(), nn::Architecture::parse("swiglu:64,96:silu"));
  EXPECT_TRUE(s.fresh_per_draw());
  EXPECT_EQ(ModelSource::parse("llama_synthetic:16,32:gelu").architecture(),
            nn::Architecture::parse("swiglu:16,32:gelu"));
  Rng a = rng_for(1), b = rng_for(1), c = rng_for(2);
  const nn::Model ma = s.draw(a);
  EXPECT_EQ(ma.arch, s.architecture());
  EXPECT_NO_THROW(ma.validate());
  EXPECT_EQ(ma.tensors, s.draw(b).tensors);
  EXPECT_NE(ma.tensors, s.draw(c).tensors);
  Rng d = rng_for(1);
  EXPECT_EQ(ma.tensors, nn::synthetic_llama_block(64, 96, d).tensors);
}

class ModelSourceFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "wrsec-sources-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ModelSourceFile, LoadsOnceAndReturnsTheSameModel) {
  Rng rng = rng_for(3);
  const nn::Model m = nn::Model::init(nn::Architecture::parse("mlp:5,7,2:gelu"), rng);
  const fs::path path = dir_ / "model.safetensors";
  m.to_safetensors(path);
  const ModelSource s = ModelSource::parse("file:" + path.string());
  EXPECT_FALSE(s.fresh_per_draw());
  EXPECT_EQ(s.architecture(), m.arch);
  Rng a = rng_for(1), b = rng_for(2);
  const nn::Model da = s.draw(a);
  EXPECT_EQ(da.arch, m.arch);
  EXPECT_EQ(da.tensors, m.tensors);
  // Loaded at parse time: removing the file does not affect later draws (or copies).
  fs::remove(path);
  const ModelSource copy = s;
  EXPECT_EQ(copy.draw(b).tensors, m.tensors);
  // A missing file is an error naming the path.
  try {
    (void)ModelSource::parse("file:" + path.string());
    ADD_FAILURE() << "no throw for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.message()).find(path.string()), std::string::npos) << e.message();
  }
  // A file that is not a wrsec model.
  const fs::path junk = dir_ / "junk.safetensors";
  {
    std::FILE* f = std::fopen(junk.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("garbage", f);
    std::fclose(f);
  }
  EXPECT_THROW((void)ModelSource::parse("file:" + junk.string()), InvalidArgument);
}

TEST(ModelSource, MalformedAndUnknownSpecsNameTheSpec) {
  const auto parse = [](const std::string& s) { return ModelSource::parse(s); };
  for (const char* spec :
       {"", "random", "random:", "random:mlp:7,x:silu", "random:mlp:784:silu",
        "random:cnn:1,2:relu", "random:swiglu:4,8:relu", "llama_synthetic:", "llama_synthetic:64",
        "llama_synthetic:64,x", "llama_synthetic:64,96:relu", "llama_synthetic:64,96:bogus",
        "zoo:", "zoo:mlp_20_8_3_silu@x", "zoo:resnet50", "file:", "bogus:1", "Random:mlp:2,3:relu"})
    expect_invalid_naming(spec, parse);
}

TEST(SyntheticLlamaBlock, Statistics) {
  Rng rng = rng_for(7);
  const nn::Model m = nn::synthetic_llama_block(64, 96, rng);
  EXPECT_EQ(m.arch, nn::Architecture::parse("swiglu:64,96:silu"));
  const auto std_of = [](std::span<const float> v, std::size_t begin, std::size_t end) {
    double s = 0, s2 = 0;
    for (std::size_t i = begin; i < end; ++i) {
      s += v[i];
      s2 += double(v[i]) * v[i];
    }
    const double n = double(end - begin);
    return std::sqrt(s2 / n - (s / n) * (s / n));
  };
  const auto& up = m.tensors.at("mlp.up_proj.weight").data;
  const auto& down = m.tensors.at("mlp.down_proj.weight").data;
  const auto& gate = m.tensors.at("mlp.gate_proj.weight").data;
  EXPECT_NEAR(std_of(up, 0, up.size()), 0.02, 0.002);
  EXPECT_NEAR(std_of(down, 0, down.size()), 0.02, 0.002);
  // Spread of log(row std) over the 96 rows: about 0.25 for the gate (row scale e^{0.25ξ}), about
  // 1/√128 ≈ 0.09 (sampling noise of 64 entries) for the up projection.
  const auto log_row_std_spread = [&](std::span<const float> w) {
    std::vector<double> logs;
    for (std::size_t r = 0; r < 96; ++r) logs.push_back(std::log(std_of(w, r * 64, r * 64 + 64)));
    double s = 0, s2 = 0;
    for (double l : logs) {
      s += l;
      s2 += l * l;
    }
    return std::sqrt(s2 / 96 - (s / 96) * (s / 96));
  };
  // Measured over 300 seeds: gate mean 0.264, sd 0.018; up mean 0.090, sd 0.0065. Each bound is
  // >= 5.2 sd away (one-sided normal tail < 1e-7); 0.18 was 4.6 sd (2e-6).
  EXPECT_GT(log_row_std_spread(gate), 0.17);
  EXPECT_LT(log_row_std_spread(gate), 0.40);
  EXPECT_LT(log_row_std_spread(up), 0.14);
}

TEST(SyntheticLlamaBlock, IndependentOfThreadCount) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  Rng a = rng_for(9);
  const nn::Model one = nn::synthetic_llama_block(64, 96, a);
  omp_set_num_threads(2);
  Rng b = rng_for(9);
  const nn::Model two = nn::synthetic_llama_block(64, 96, b);
  omp_set_num_threads(before);
  EXPECT_EQ(one.tensors, two.tensors);
  EXPECT_THROW((void)nn::synthetic_llama_block(64, 96, a, nn::Activation::relu), InvalidArgument);
  EXPECT_THROW((void)nn::synthetic_llama_block(0, 96, a), InvalidArgument);
}

TEST(InputSource, GaussianStd) {
  const InputSource s = InputSource::parse("gaussian:0.5");
  EXPECT_EQ(s.spec(), "gaussian:0.5");
  Rng rng = rng_for(4);
  const nn::Matrix x = s.draw(2000, 10, rng);
  ASSERT_EQ(x.rows(), 2000);
  ASSERT_EQ(x.cols(), 10);
  double sum = 0, sum2 = 0;
  for (std::int64_t i = 0; i < x.size(); ++i) {
    sum += x.data()[i];
    sum2 += double(x.data()[i]) * x.data()[i];
  }
  const double n = double(x.size());
  EXPECT_NEAR(sum / n, 0.0, 0.02);                    // 4.5 standard errors
  EXPECT_NEAR(std::sqrt(sum2 / n), 0.5, 0.5 * 0.03);  // relative s.e. ≈ 0.7%
  Rng again = rng_for(4), other = rng_for(5);
  EXPECT_EQ(x, s.draw(2000, 10, again));
  EXPECT_NE(x, s.draw(2000, 10, other));
  EXPECT_THROW((void)s.draw(0, 10, rng), InvalidArgument);
  EXPECT_THROW((void)s.draw(3, 0, rng), InvalidArgument);
}

TEST(InputSource, Defaults) {
  EXPECT_EQ(InputSource::default_for(nn::Architecture::parse("mlp:784,64,10:silu"), true).spec(),
            "fashion_mnist:test");
  EXPECT_EQ(InputSource::default_for(nn::Architecture::parse("mlp:784,64,10:silu"), false).spec(),
            "fashion_mnist:train");
  EXPECT_EQ(InputSource::default_for(nn::Architecture::parse("mlp:20,8,3:silu"), true).spec(),
            "gaussian:1");
  EXPECT_EQ(InputSource::default_for(nn::Architecture::parse("swiglu:64,96:silu"), true).spec(),
            "gaussian:0.25");
}

TEST(InputSource, BadSpecsThrowNamingTheSpec) {
  const auto parse = [](const std::string& s) { return InputSource::parse(s); };
  for (const char* spec :
       {"", "gaussian", "gaussian:", "gaussian:0", "gaussian:-1", "gaussian:x", "gaussian:1x",
        "gaussian:nan", "gaussian:inf", "gaussian:1e999", "fashion_mnist",
        "fashion_mnist:", "fashion_mnist:val", "uniform:1", "bogus"})
    expect_invalid_naming(spec, parse);
}

TEST(InputSource, FashionMnistImages) {
  const fs::path dir = nn::fashion_mnist_dir();
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    if (!fs::exists(dir / f)) GTEST_SKIP() << "dataset-fashion-mnist is not installed in " << dir;
  const InputSource s = InputSource::parse("fashion_mnist:test");
  Rng rng = rng_for(6);
  const nn::Matrix x = s.draw(50, 784, rng);
  ASSERT_EQ(x.rows(), 50);
  EXPECT_GE(x.minCoeff(), 0.0f);
  EXPECT_LE(x.maxCoeff(), 1.0f);
  EXPECT_GT(x.maxCoeff(), 0.5f);
  // Every row is one of the test images.
  const auto data = nn::load_fashion_mnist();
  for (std::int64_t r = 0; r < 5; ++r) {
    bool found = false;
    for (std::int64_t i = 0; i < data->test.size() && !found; ++i)
      found = data->test.images.row(i) == x.row(r);
    EXPECT_TRUE(found) << "row " << r;
  }
  Rng again = rng_for(6);
  EXPECT_EQ(x, s.draw(50, 784, again));
  try {
    (void)s.draw(2, 100, rng);
    ADD_FAILURE() << "no throw for 100 columns";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("fashion_mnist:test"), std::string::npos);
  }
}

}  // namespace
}  // namespace wrsec::definitions
