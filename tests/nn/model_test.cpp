#include "nn/model.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/errors.h"
#include "core/rng.h"
#include "nn/safetensors.h"
#include "nn/train.h"
#include "tests/nn/grad_check.h"

namespace wrsec::nn {
namespace {

Architecture mlp(std::vector<std::int64_t> sizes, Activation a = Activation::relu) {
  return {Architecture::Kind::mlp, std::move(sizes), a};
}

TEST(Architecture, JsonRoundTripAndValidation) {
  const Architecture a = mlp({784, 256, 256, 10}, Activation::gelu);
  EXPECT_EQ(a.to_json().dump(), R"({"activation":"gelu","kind":"mlp","sizes":[784,256,256,10]})");
  EXPECT_EQ(Architecture::from_json(a.to_json()), a);
  const Architecture s{Architecture::Kind::swiglu, {16, 64}, Activation::silu};
  EXPECT_EQ(Architecture::from_json(s.to_json()), s);
  EXPECT_THROW(Architecture::from_json(nlohmann::json::parse(R"({"kind":"mlp"})")),
               InvalidArgument);
  EXPECT_THROW(Architecture::from_json(
                   nlohmann::json::parse(R"({"kind":"cnn","sizes":[1,2],"activation":"relu"})")),
               InvalidArgument);
  EXPECT_THROW(Architecture::from_json(
                   nlohmann::json::parse(R"({"kind":"mlp","sizes":"x","activation":"relu"})")),
               InvalidArgument);
  EXPECT_THROW(mlp({784}).validate(), InvalidArgument);
  EXPECT_THROW(mlp({784, 0, 10}).validate(), InvalidArgument);
  EXPECT_THROW((Architecture{Architecture::Kind::swiglu, {4, 8}, Activation::relu}.validate()),
               InvalidArgument);
  EXPECT_THROW((Architecture{Architecture::Kind::swiglu, {4, 8, 2}, Activation::silu}.validate()),
               InvalidArgument);
}

TEST(Model, TensorNamesAndShapes) {
  Rng rng(1, 1, 1);
  const Model m = Model::init(mlp({784, 256, 256, 10}), rng);
  ASSERT_EQ(m.tensors.size(), 6u);
  EXPECT_EQ(m.tensors.at("layers.0.weight").shape, (std::vector<std::int64_t>{256, 784}));
  EXPECT_EQ(m.tensors.at("layers.0.bias").shape, (std::vector<std::int64_t>{256}));
  EXPECT_EQ(m.tensors.at("layers.1.weight").shape, (std::vector<std::int64_t>{256, 256}));
  EXPECT_EQ(m.tensors.at("layers.2.weight").shape, (std::vector<std::int64_t>{10, 256}));
  EXPECT_EQ(m.tensors.at("layers.2.bias").shape, (std::vector<std::int64_t>{10}));
  const Model s = Model::init({Architecture::Kind::swiglu, {8, 24}, Activation::silu}, rng);
  ASSERT_EQ(s.tensors.size(), 3u);
  EXPECT_EQ(s.tensors.at("mlp.gate_proj.weight").shape, (std::vector<std::int64_t>{24, 8}));
  EXPECT_EQ(s.tensors.at("mlp.up_proj.weight").shape, (std::vector<std::int64_t>{24, 8}));
  EXPECT_EQ(s.tensors.at("mlp.down_proj.weight").shape, (std::vector<std::int64_t>{8, 24}));
}

TEST(Model, InitIsSeededAndBounded) {
  Rng a(5, 6, 7), b(5, 6, 7), c(5, 6, 8);
  const Model ma = Model::init(mlp({100, 50, 10}), a);
  const Model mb = Model::init(mlp({100, 50, 10}), b);
  const Model mc = Model::init(mlp({100, 50, 10}), c);
  EXPECT_EQ(ma.tensors, mb.tensors);
  EXPECT_NE(ma.tensors, mc.tensors);
  const auto& w0 = ma.tensors.at("layers.0.weight").data;
  const double bound = std::sqrt(6.0 / 100);
  double sum2 = 0;
  for (float v : w0) {
    ASSERT_LE(std::abs(v), bound);
    sum2 += double(v) * v;
  }
  // Variance of U(-b, b) is b²/3 = 2/fan_in (He).
  EXPECT_NEAR(sum2 / double(w0.size()), 2.0 / 100, 0.002);
  for (float v : ma.tensors.at("layers.1.bias").data) EXPECT_LE(std::abs(v), 1 / std::sqrt(50.0));
}

TEST(Model, TinyHandComputedMlp) {
  Model m;
  m.arch = mlp({2, 2, 2});
  Tensor w0({2, 2}), b0({2}), w1({2, 2}), b1({2});
  w0.data = {1, -1, 2, 0.5};
  b0.data = {0, -1};
  w1.data = {1, 1, -1, 0.5};
  b1.data = {0.5, 0};
  m.tensors = {{"layers.0.weight", w0},
               {"layers.0.bias", b0},
               {"layers.1.weight", w1},
               {"layers.1.bias", b1}};
  m.validate();
  Matrix x(2, 2);
  x << 1, 2, 0, 0;
  // Row 0: z = [1-2, 2+1-1] = [-1, 2] -> relu [0, 2] -> [2 + 0.5, 1] = [2.5, 1].
  // Row 1: z = [0, -1] -> [0, 0] -> [0.5, 0].
  const Matrix y = m.forward(x);
  EXPECT_FLOAT_EQ(y(0, 0), 2.5f);
  EXPECT_FLOAT_EQ(y(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(y(1, 0), 0.5f);
  EXPECT_FLOAT_EQ(y(1, 1), 0.0f);
  m.arch.activation = Activation::gelu;  // gelu(-1) = -0.158655, gelu(2) = 1.954500
  const MatrixD yd = m.forward(MatrixD(x.cast<double>()));
  EXPECT_NEAR(yd(0, 0), -0.15865525393145707 + 1.9544997361036416 + 0.5, 1e-7);
  EXPECT_NEAR(yd(0, 1), 0.15865525393145707 + 0.5 * 1.9544997361036416, 1e-7);
  EXPECT_THROW((void)m.forward(Matrix(1, 3)), InvalidArgument);
}

TEST(Model, SwigluForwardMatchesFormula) {
  Rng rng(2, 2, 2);
  const Model m = Model::init({Architecture::Kind::swiglu, {4, 6}, Activation::silu}, rng);
  Matrix x(2, 4);
  x << 0.5, -1, 2, 0.1, 1, 1, -1, 0;
  const Matrix y = m.forward(x);
  const auto wg = m.tensors.at("mlp.gate_proj.weight").matrix();
  const auto wu = m.tensors.at("mlp.up_proj.weight").matrix();
  const auto wd = m.tensors.at("mlp.down_proj.weight").matrix();
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 4; ++o) {
      double expected = 0;
      for (int h = 0; h < 6; ++h) {
        double g = 0, u = 0;
        for (int i = 0; i < 4; ++i) {
          g += double(wg(h, i)) * x(n, i);
          u += double(wu(h, i)) * x(n, i);
        }
        expected += double(wd(o, h)) * g / (1 + std::exp(-g)) * u;
      }
      EXPECT_NEAR(y(n, o), expected, 1e-5);
    }
}

TEST(Model, GegluForwardUsesTheGeluGate) {
  Rng rng(2, 2, 3);
  const Model m = Model::init({Architecture::Kind::swiglu, {4, 6}, Activation::gelu}, rng);
  Matrix x(1, 4);
  x << 0.5, -1, 2, 0.1;
  const Matrix y = m.forward(x);
  const auto wg = m.tensors.at("mlp.gate_proj.weight").matrix();
  const auto wu = m.tensors.at("mlp.up_proj.weight").matrix();
  const auto wd = m.tensors.at("mlp.down_proj.weight").matrix();
  for (int o = 0; o < 4; ++o) {
    double expected = 0;
    for (int h = 0; h < 6; ++h) {
      double g = 0, u = 0;
      for (int i = 0; i < 4; ++i) {
        g += double(wg(h, i)) * x(0, i);
        u += double(wu(h, i)) * x(0, i);
      }
      expected += double(wd(o, h)) * g * 0.5 * std::erfc(-g / std::sqrt(2.0)) * u;
    }
    EXPECT_NEAR(y(0, o), expected, 1e-5);
  }
}

TEST(Model, ValidateNamesTheBadTensor) {
  Rng rng(3, 3, 3);
  Model m = Model::init(mlp({5, 4, 3}), rng);
  m.validate();
  const auto expect_message = [&](const Model& bad, const std::string& fragment) {
    try {
      bad.validate();
      ADD_FAILURE() << "no exception for " << fragment;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  Model nan = m;
  nan.tensors.at("layers.1.weight").data[2] = std::numeric_limits<float>::quiet_NaN();
  expect_message(nan, "layers.1.weight");
  Model inf = m;
  inf.tensors.at("layers.0.bias").data[0] = std::numeric_limits<float>::infinity();
  expect_message(inf, "layers.0.bias");
  Model missing = m;
  missing.tensors.erase("layers.1.bias");
  expect_message(missing, "layers.1.bias");
  Model shape = m;
  shape.tensors.at("layers.0.weight") = Tensor({5, 4});
  expect_message(shape, "layers.0.weight");
  Model extra = m;
  extra.tensors.emplace("layers.2.weight", Tensor({1, 1}));
  expect_message(extra, "layers.2.weight");
}

// Full backward pass (float) against central differences of the double-precision forward pass.
// Weights are perturbed in float; the difference quotient uses the exact perturbation.
void check_model_gradients(Model m, const Matrix& x, const Labels& labels) {
  ForwardTrace trace;
  Matrix dlogits;
  const Matrix logits = m.forward(x, &trace);
  (void)softmax_cross_entropy<float>(logits, labels, &dlogits);
  TensorMap grads;
  const Matrix dx = m.backward(trace, dlogits, grads, true);
  const MatrixD xd = x.cast<double>();
  const auto loss = [&] { return softmax_cross_entropy<double>(m.forward(xd), labels); };
  for (auto& [name, t] : m.tensors) {
    ASSERT_TRUE(grads.contains(name)) << name;
    for (std::size_t k = 0; k < t.data.size(); ++k) {
      const float keep = t.data[k];
      t.data[k] = keep + 1e-3f;
      const double up = loss();
      const double hi = t.data[k];
      t.data[k] = keep - 1e-3f;
      const double down = loss();
      const double lo = t.data[k];
      t.data[k] = keep;
      const double numeric = (up - down) / (hi - lo);
      EXPECT_NEAR(grads.at(name).data[k], numeric, 2e-3 * std::abs(numeric) + 2e-5)
          << name << "[" << k << "] " << to_string(m.arch.activation);
    }
  }
  MatrixD xp = xd;
  const auto loss_x = [&] { return softmax_cross_entropy<double>(m.forward(xp), labels); };
  const MatrixD ndx = testing::numeric_grad(xp, loss_x, 1e-5);
  testing::expect_grad_near(dx.cast<double>(), ndx, 2e-3, 2e-5, "dx");
}

TEST(Model, MlpBackwardMatchesFiniteDifferences) {
  for (Activation a :
       {Activation::relu, Activation::gelu, Activation::silu, Activation::gelu_tanh}) {
    Rng rng(11, 11, 11);
    Model m = Model::init(mlp({6, 5, 4, 3}, a), rng);
    Matrix x(4, 6);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
    check_model_gradients(m, x, {0, 2, 1, 2});
  }
}

TEST(Model, SwigluBackwardMatchesFiniteDifferences) {
  Rng rng(12, 12, 12);
  Model m = Model::init({Architecture::Kind::swiglu, {4, 7}, Activation::silu}, rng);
  Matrix x(3, 4);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
  check_model_gradients(m, x, {0, 3, 1});
}

TEST(Model, SafetensorsRoundTrip) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("wrsec_model_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Rng rng(13, 13, 13);
  const Model m = Model::init(mlp({7, 5, 3}, Activation::gelu_tanh), rng);
  m.to_safetensors(dir / "m.safetensors", {{"note", "hello"}});
  std::map<std::string, std::string> meta;
  const Model back = Model::from_safetensors(dir / "m.safetensors", &meta);
  EXPECT_EQ(back.arch, m.arch);
  EXPECT_EQ(back.tensors, m.tensors);
  EXPECT_EQ(meta.at("note"), "hello");
  EXPECT_EQ(meta.at("wrsec.architecture"), m.arch.to_json().dump());
  write_safetensors(dir / "plain.safetensors", m.tensors);
  EXPECT_THROW((void)Model::from_safetensors(dir / "plain.safetensors"), InvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wrsec::nn
