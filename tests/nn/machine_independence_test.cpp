// Same numbers on every machine: a short training run and three TaylorMLP extractions give
// identical bytes whatever cache sizes the CPU reports to Eigen and whatever the thread count.
// Eigen derives its GEMM depth blocking (and with it the order of every sum along the depth) from
// the L1/L2/L3 sizes it reads with CPUID; Eigen::setCpuCacheSizes simulates other CPUs in one
// process. Before wrsec pinned the blocking at compile time (nn/numerics.h), the training and
// query-regression hashes differed between the configurations below (the closed-form extractions
// were insensitive at these shapes and stay as guards).
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "attacks/query_regression.h"
#include "attacks/taylor_ratio_inversion.h"
#include "attacks/taylor_sign_hypothesis.h"
#include "core/rng.h"
#include "definitions/oracle.h"
#include "nn/model.h"
#include "nn/train.h"
#include "schemes/taylor_mlp.h"

namespace wrsec {
namespace {

struct CacheConfig {
  std::ptrdiff_t l1, l2, l3;
  const char* label;
};

// Real CPUs of the last decade: Eigen would choose depth blocks of different sizes for each.
const std::vector<CacheConfig>& configs() {
  static const std::vector<CacheConfig> c = {
      {32 * 1024, 256 * 1024, 8 * 1024 * 1024, "32K/256K/8M (Skylake client)"},
      {48 * 1024, 2 * 1024 * 1024, 32 * 1024 * 1024, "48K/2M/32M (Ice Lake server)"},
      {16 * 1024, 512 * 1024, 2 * 1024 * 1024, "16K/512K/2M (older AMD)"},
      {64 * 1024, 1024 * 1024, 32 * 1024 * 1024, "64K/1M/32M"}};
  return c;
}

// Restores the cache sizes and thread count a test changed.
class MachineIndependence : public ::testing::Test {
 protected:
  void SetUp() override {
    l1_ = Eigen::l1CacheSize();
    l2_ = Eigen::l2CacheSize();
    l3_ = Eigen::l3CacheSize();
    threads_ = omp_get_max_threads();
  }
  void TearDown() override {
    Eigen::setCpuCacheSizes(l1_, l2_, l3_);
    omp_set_num_threads(threads_);
  }

  // Runs f under every cache configuration and 1 and 2 threads; every result must equal the
  // first.
  template <class F>
  void expect_same_everywhere(F f) {
    std::string first;
    for (const CacheConfig& c : configs()) {
      for (int threads : {1, 2}) {
        Eigen::setCpuCacheSizes(c.l1, c.l2, c.l3);
        omp_set_num_threads(threads);
        const std::string h = f();
        if (first.empty()) first = h;
        EXPECT_EQ(h, first) << c.label << ", " << threads << " thread(s)";
      }
    }
  }

 private:
  std::ptrdiff_t l1_ = 0, l2_ = 0, l3_ = 0;
  int threads_ = 1;
};

nn::Model random_model(nn::Architecture::Kind kind, std::vector<std::int64_t> sizes,
                       nn::Activation act, std::uint64_t seed) {
  nn::Architecture arch;
  arch.kind = kind;
  arch.sizes = std::move(sizes);
  arch.activation = act;
  Rng rng(seed, stable_hash("machine_independence/model"), 0);
  return nn::Model::init(arch, rng);
}

// 784 inputs like Fashion-MNIST: depth 784 exceeds the depth block Eigen picks for small L1
// caches, so the forward products are split differently on different CPUs.
std::string train_hash() {
  Rng rng(5, stable_hash("machine_independence/train"), 0);
  Rng data = rng.derive("data");
  const std::int64_t n = 384, d = 784;
  nn::Matrix x(n, d);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(data.uniform());
  nn::Labels y(static_cast<std::size_t>(n));
  for (auto& label : y) label = static_cast<std::int32_t>(data.below(10));
  nn::Model m = random_model(nn::Architecture::Kind::mlp, {784, 96, 10}, nn::Activation::gelu, 1);
  nn::TrainConfig c;
  c.optimizer = nn::Optimizer::adam;
  c.learning_rate = 1e-3;
  c.batch_size = 128;
  c.epochs = 2;
  (void)nn::train(m, x, y, c, rng.derive("train"));
  return nn::tensors_digest(m.tensors);
}

// Releases the model and extracts it, granting `queries` Infer queries.
std::string extraction_hash(const schemes::TaylorMlpParams& params, const nn::Model& model,
                            const definitions::Extractor& attack, std::uint64_t queries = 0) {
  const schemes::TaylorMlp scheme(params);
  Rng coins(3, stable_hash("machine_independence/release"), 0);
  const auto release = scheme.release(model, coins);
  definitions::TrialOracles oracles(scheme, release.artifact, queries);
  Rng attack_coins(3, stable_hash("machine_independence/attack"), 0);
  const nn::Model recovered = attack.extract(release.artifact, oracles.access(), attack_coins);
  // The release too: the scheme's own products must not depend on the machine either.
  return nn::tensors_digest(release.artifact.tensors) + nn::tensors_digest(recovered.tensors);
}

// Release parameters of order N = 6 in the paper form (expanding `layer`) or the official form
// (selecting `select_dim` units).
schemes::TaylorMlpParams paper_release(std::int64_t layer) {
  schemes::TaylorMlpParams p;
  p.format = "paper";
  p.order = 6;
  p.layer = layer;
  return p;
}
schemes::TaylorMlpParams official_release(std::int64_t select_dim) {
  schemes::TaylorMlpParams p;
  p.format = "official";
  p.order = 6;
  p.select_dim = select_dim;
  return p;
}

TEST(TensorStorage, IsCacheLineAlignedSoReductionOrderIgnoresTheHeap) {
  // Eigen peels reductions up to the first 32-byte boundary (AVX); with malloc's 16-byte
  // alignment the order of a sum over a tensor would depend on where the heap put it.
  for (std::int64_t n : {1, 3, 17, 1000}) {
    nn::Tensor t({n});
    nn::Tensor copy = t;
    nn::Tensor moved = std::move(copy);
    t.data.resize(t.data.size() * 3 + 1);
    for (const nn::Tensor* p : {&t, &moved})
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p->data.data()) % 64, 0u) << n;
  }
}

TEST_F(MachineIndependence, TrainingGivesTheSameWeights) {
  expect_same_everywhere(train_hash);
}

TEST_F(MachineIndependence, PaperFormExtractionGivesTheSameModel) {
  // Hidden width 640 is the depth of the Θ products.
  const nn::Model model =
      random_model(nn::Architecture::Kind::mlp, {600, 640, 300}, nn::Activation::silu, 2);
  expect_same_everywhere(
      [&] { return extraction_hash(paper_release(0), model, attacks::TaylorRatioInversion()); });
}

TEST_F(MachineIndependence, OfficialFormExtractionGivesTheSameModel) {
  const nn::Model model =
      random_model(nn::Architecture::Kind::swiglu, {600, 640}, nn::Activation::silu, 3);
  expect_same_everywhere([&] {
    return extraction_hash(official_release(512), model, attacks::TaylorSignHypothesis());
  });
}

TEST_F(MachineIndependence, QueryRegressionExtractionGivesTheSameModel) {
  // The oracle answers through the release's fused product of depth select_dim·order = 384;
  // least squares over 1500 queries (FᵀF has depth 1500).
  const nn::Model model =
      random_model(nn::Architecture::Kind::swiglu, {48, 128}, nn::Activation::silu, 4);
  expect_same_everywhere([&] {
    return extraction_hash(official_release(64), model,
                           attacks::QueryRegression(attacks::QueryRegressionParams{}), 1500);
  });
}

}  // namespace
}  // namespace wrsec
