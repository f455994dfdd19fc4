#include "experiments/wild_suspect.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "attacks/permute.h"
#include "core/errors.h"
#include "core/rng.h"
#include "nn/safetensors.h"

namespace wrsec::experiments {
namespace {

namespace fs = std::filesystem;

nn::Model model(std::uint64_t seed) {
  Rng rng(seed, stable_hash("wild_suspect_test"), 0);
  return nn::Model::init(nn::Architecture::parse("mlp:40,32,32,10:relu"), rng);
}

nn::Tensor transposed(const nn::Tensor& t) {
  nn::Tensor out({t.shape[1], t.shape[0]});
  for (std::int64_t r = 0; r < t.shape[0]; ++r)
    for (std::int64_t c = 0; c < t.shape[1]; ++c)
      out.data[static_cast<std::size_t>(c * t.shape[0] + r)] =
          t.data[static_cast<std::size_t>(r * t.shape[1] + c)];
  return out;
}

// The model re-saved as PyTorch's nn.Sequential would name it, the middle weight transposed,
// in `dtype`, with no wrsec metadata, plus `extra` tensors.
nn::SafetensorsView wild(const nn::Model& m, nn::DType dtype, nn::TensorMap extra = {}) {
  nn::TensorMap t = std::move(extra);
  t["net.0.weight"] = m.tensors.at("layers.0.weight");
  t["net.0.bias"] = m.tensors.at("layers.0.bias");
  t["net.2.weight"] = transposed(m.tensors.at("layers.1.weight"));
  t["net.2.bias"] = m.tensors.at("layers.1.bias");
  t["net.4.weight"] = m.tensors.at("layers.2.weight");
  t["net.4.bias"] = m.tensors.at("layers.2.bias");
  const fs::path p =
      fs::temp_directory_path() / ("wrsec_wild_" + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  nn::write_safetensors(p, t, {}, dtype);
  nn::SafetensorsView view(p);
  fs::remove(p);  // the mapping stays valid (POSIX keeps the inode)
  return view;
}

TEST(WildSuspect, APermutedTransposedBf16CopyIsMappedUniquely) {
  const nn::Model owner = model(1);
  nn::Model copy = owner;
  std::vector<std::int64_t> order(32);
  for (std::int64_t i = 0; i < 32; ++i) order[static_cast<std::size_t>(i)] = (5 * i + 2) % 32;
  attacks::permute_hidden_units(copy, 0, order);
  attacks::permute_hidden_units(copy, 1, order);
  // A distractor of the middle layer's shape and an extra vector of its width.
  nn::TensorMap extra;
  extra["embed.weight"] = model(9).tensors.at("layers.1.weight");
  extra["norm.bias"] = model(9).tensors.at("layers.1.bias");
  const auto view = wild(copy, nn::DType::bf16, extra);
  const SuspectMapping m = map_suspect(view, owner);
  ASSERT_EQ(m.layers.size(), 3u);
  EXPECT_EQ(m.layers[0].weight, "net.0.weight");
  EXPECT_EQ(m.layers[1].weight, "net.2.weight");
  EXPECT_TRUE(m.layers[1].transposed);
  EXPECT_FALSE(m.layers[2].transposed);
  EXPECT_EQ(m.layers[1].bias, "net.2.bias");
  EXPECT_EQ(m.dtypes[0], "BF16");
  EXPECT_GT(m.score, 0.99);
  EXPECT_GT(m.score - m.runner_up, 0.05);
  EXPECT_GT(m.chains, 1u);
  EXPECT_EQ(m.model.arch.sizes, owner.arch.sizes);
  EXPECT_EQ(m.to_json()["layers"][1]["transposed"], true);
}

TEST(WildSuspect, AnAmbiguousMappingIsRefusedNotGuessed) {
  const nn::Model owner = model(2);
  // A second copy of the middle weight under another name: two chains score the same.
  nn::TensorMap extra;
  extra["copy.weight"] = transposed(owner.tensors.at("layers.1.weight"));
  const auto view = wild(owner, nn::DType::f32, extra);
  try {
    (void)map_suspect(view, owner);
    FAIL() << "an ambiguous mapping was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not unique"), std::string::npos) << e.what();
  }
}

TEST(WildSuspect, AFileWithoutAFittingChainIsRefused) {
  const nn::Model owner = model(3);
  Rng rng(3, 0, 0);
  const nn::Model other = nn::Model::init(nn::Architecture::parse("mlp:40,32,32,7:relu"), rng);
  EXPECT_THROW((void)map_suspect(wild(other, nn::DType::f16), owner), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::experiments
