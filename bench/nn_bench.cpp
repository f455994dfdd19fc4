// nn/ throughput: one training epoch of the 784-256-256-10 MLP on Fashion-MNIST (examples per
// second) and inference latency per batch.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <filesystem>

#include "core/rng.h"
#include "nn/fashion_mnist.h"
#include "nn/gemm.h"
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

// The products of one 784-256-256-10 training step at batch 128 (nn/gemm.h), in GFLOP/s:
// form 0 = nn (C = A·B), 1 = tn (C = Aᵀ·B), 2 = nt (C = A·Bᵀ); arguments m, n, k.
void BM_Gemm(benchmark::State& state) {
  const int form = static_cast<int>(state.range(0));
  const std::int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  Rng rng(3, stable_hash("bench"), 0);
  std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n)),
      c(static_cast<std::size_t>(m * n));
  for (float& v : a) v = static_cast<float>(rng.uniform());
  for (float& v : b) v = static_cast<float>(rng.uniform());
  for (auto _ : state) {
    if (form == 0)
      gemm_nn(m, n, k, a.data(), k, b.data(), n, c.data(), n);
    else if (form == 1)
      gemm_tn(m, n, k, a.data(), m, b.data(), n, c.data(), n);
    else
      gemm_nt(m, n, k, a.data(), k, b.data(), k, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(
      2.0 * static_cast<double>(m * n * k) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemm)
    ->ArgNames({"form", "m", "n", "k"})
    ->Args({2, 128, 256, 784})  // forward, layer 1
    ->Args({2, 128, 256, 256})  // forward, layer 2
    ->Args({1, 256, 784, 128})  // dW, layer 1
    ->Args({1, 256, 256, 128})  // dW, layer 2
    ->Args({0, 128, 256, 256})  // dx, layer 2
    ->Args({2, 1, 256, 784})    // batch-1 inference, layer 1
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace wrsec::nn
