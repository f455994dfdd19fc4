// Trains a 784-256-256-10 ReLU MLP with the zoo's recipe (Adam, lr 1e-3 with cosine decay,
// batch 128) for 8 epochs on the full Fashion-MNIST training set and checks test accuracy (the
// zoo itself trains on the 2/3 defender split: about 88.7% after 10 epochs). Also exercises the
// zoo cache with the small model. Label: slow.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "core/rng.h"
#include "nn/fashion_mnist.h"
#include "nn/metrics.h"
#include "nn/train.h"
#include "nn/zoo.h"

namespace wrsec::nn {
namespace {

namespace fs = std::filesystem;

bool have_data() {
  return fs::exists(fashion_mnist_dir() / "train-images-idx3-ubyte.gz");
}

// Test accuracy is a trained outcome (one different rounding gives another model) measured on
// n = 10000 images. "Reaches accuracy p" is asserted as: the number of correct test images is at
// least the largest k with P[Bin(n, p) < k] <= 1e-6, so a model whose true accuracy is p fails by
// chance with probability <= 1e-6 (k/n = p − 4.8·√(p(1−p)/n)), and a clearly worse one fails.
double min_accuracy(double p, std::int64_t n = 10000) {
  const boost::math::binomial_distribution<double> d(static_cast<double>(n), p);
  std::int64_t k = 0;
  while (k < n && boost::math::cdf(d, static_cast<double>(k)) <= 1e-6) ++k;
  return static_cast<double>(k) / static_cast<double>(n);
}

TEST(AccuracySlow, Mlp784x256x256x10ReachesEightyEightPercent) {
  if (!have_data()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string name = "mlp_784_256_256_10_relu";
  const auto data = load_fashion_mnist();
  Rng rng(1, stable_hash("wrsec.nn.zoo/" + name), 0);
  Rng init = rng.derive("init");
  Model m = Model::init(zoo_architecture(name), init);
  TrainConfig c = zoo_config(name);
  c.epochs = 8;
  c.on_epoch = [&](int epoch, double loss, double seconds) {
    std::printf("[ epoch %d ] loss %.4f, %.2f s (%d threads), test accuracy %.4f\n", epoch, loss,
                seconds, omp_get_max_threads(), accuracy(m, data->test.images, data->test.labels));
  };
  (void)train(m, data->train.images, data->train.labels, c, rng.derive("train"));
  const double acc = accuracy(m, data->test.images, data->test.labels);
  std::printf("[ result ] %s: test accuracy %.4f after %d epochs on %lld examples\n", name.c_str(),
              acc, c.epochs, static_cast<long long>(data->train.size()));
  // Measured 0.8932 (x86-64-v3 numerics); a hard 0.88 was only 4.3 binomial sd below it, before
  // any variation between trainings. Accuracy 0.88: at least 0.8643.
  EXPECT_GE(acc, min_accuracy(0.88));
}

TEST(AccuracySlow, ZooTrainsCachesAndReloads) {
  if (!have_data()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const fs::path dir = fs::temp_directory_path() / ("wrsec_zoo_test_" + std::to_string(::getpid()));
  const ZooModel trained = train_or_load("mlp_784_64_10_relu", 3, dir);
  EXPECT_FALSE(trained.from_cache);
  ASSERT_TRUE(fs::exists(zoo_path("mlp_784_64_10_relu", 3, dir)));
  const double acc = std::stod(trained.metadata.at("wrsec.test_accuracy"));
  std::printf("[ result ] mlp_784_64_10_relu: test accuracy %.4f\n", acc);
  // Measured 0.8417; accuracy 0.82: at least 0.8015 (see min_accuracy).
  EXPECT_GE(acc, min_accuracy(0.82));
  const ZooModel loaded = train_or_load("mlp_784_64_10_relu", 3, dir);
  EXPECT_TRUE(loaded.from_cache);
  EXPECT_EQ(loaded.model.tensors, trained.model.tensors);
  EXPECT_EQ(loaded.model.arch, trained.model.arch);
  for (const char* key : {"wrsec.architecture", "wrsec.seed", "wrsec.epochs", "wrsec.optimizer",
                          "wrsec.test_accuracy", "wrsec.version", "wrsec.zoo.name"})
    EXPECT_EQ(loaded.metadata.at(key), trained.metadata.at(key)) << key;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wrsec::nn
