// nn/ throughput: one training epoch of the 784-256-256-10 MLP on Fashion-MNIST (examples per
// second) and inference latency per batch.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <filesystem>

#include "core/rng.h"
#include "nn/fashion_mnist.h"
#include "nn/model.h"
#include "nn/train.h"

namespace wrsec::nn {
namespace {

const Architecture kArch{Architecture::Kind::mlp, {784, 256, 256, 10}, Activation::relu};

std::shared_ptr<const FashionMnist> data_or_skip(benchmark::State& state) {
  if (!std::filesystem::exists(fashion_mnist_dir() / "train-images-idx3-ubyte.gz")) {
    state.SkipWithError("dataset-fashion-mnist is not installed");
    return nullptr;
  }
  return load_fashion_mnist();
}

// The optimizer is the argument's second value: 0 = SGD with momentum 0.9 and learning rate 0.05
// (the settings of the PyTorch peer, ../shared/bench/torch_mlp_epoch.py), 1 = Adam.
void BM_TrainEpoch784x256x256x10(benchmark::State& state) {
  const auto data = data_or_skip(state);
  if (!data) return;
  TrainConfig config;
  if (state.range(1) == 0) {
    config.optimizer = Optimizer::sgd;
    config.learning_rate = 0.05;
    config.momentum = 0.9;
  } else {
    config.optimizer = Optimizer::adam;
  }
  config.batch_size = state.range(0);
  config.epochs = 1;
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Rng rng(1, stable_hash("bench"), trial++);
    Model m = Model::init(kArch, rng);
    (void)train(m, data->train.images, data->train.labels, config, rng.derive("train"));
    benchmark::DoNotOptimize(m.tensors);
  }
  state.SetItemsProcessed(state.iterations() * data->train.size());
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_TrainEpoch784x256x256x10)
    ->ArgNames({"batch", "adam"})
    ->Args({128, 0})
    ->Args({128, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Inference784x256x256x10(benchmark::State& state) {
  const auto data = data_or_skip(state);
  if (!data) return;
  Rng rng(2, stable_hash("bench"), 0);
  const Model m = Model::init(kArch, rng);
  const Matrix batch = data->test.images.topRows(state.range(0));
  for (auto _ : state) {
    Matrix logits = m.forward(batch);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_Inference784x256x256x10)
    ->Arg(1)
    ->Arg(128)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace wrsec::nn
