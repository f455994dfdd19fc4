#include "nn/llama.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "core/errors.h"
#include "nn/safetensors.h"

namespace wrsec::nn {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kModel = 4;
constexpr std::int64_t kHidden = 6;

class LlamaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "wrsec-llama-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

// Values encode (layer, projection, index) so a mix-up is visible (exact in F32, not in BF16).
Tensor filled(std::vector<std::int64_t> shape, int layer, int proj) {
  Tensor t(std::move(shape));
  for (std::size_t i = 0; i < t.data.size(); ++i)
    t.data[i] = static_cast<float>(100 * layer + 10 * proj) + static_cast<float>(i) / 8.0f;
  return t;
}

// A tiny Llama checkpoint: complete MLPs in layers 0, 1 and 3, a partial one in layer 2, plus
// other tensors that must be ignored.
TensorMap tiny_llama() {
  TensorMap m;
  for (int layer : {0, 1, 3}) {
    m[llama_mlp_name(layer, "gate")] = filled({kHidden, kModel}, layer, 0);
    m[llama_mlp_name(layer, "up")] = filled({kHidden, kModel}, layer, 1);
    m[llama_mlp_name(layer, "down")] = filled({kModel, kHidden}, layer, 2);
    m["model.layers." + std::to_string(layer) + ".self_attn.q_proj.weight"] =
        filled({kModel, kModel}, layer, 3);
  }
  m[llama_mlp_name(2, "gate")] = filled({kHidden, kModel}, 2, 0);
  m["model.embed_tokens.weight"] = filled({10, kModel}, 9, 0);
  m["model.layers.07.mlp.up_proj.weight"] = filled({1}, 9, 1);
  m["model.layers.x.mlp.up_proj.weight"] = filled({1}, 9, 2);
  m["model.layers.5.mlp.up_proj.bias"] = filled({1}, 9, 3);
  return m;
}

void expect_message(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    for (const auto& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(LlamaNames, FollowTheCheckpointConvention) {
  EXPECT_EQ(llama_mlp_name(12, "gate"), "model.layers.12.mlp.gate_proj.weight");
  EXPECT_EQ(llama_mlp_name(0, "down"), "model.layers.0.mlp.down_proj.weight");
}

TEST_F(LlamaTest, MapsAnMlpBlockFromAFile) {
  const TensorMap source = tiny_llama();
  const fs::path path = dir_ / "model-00001-of-00001.safetensors";
  write_safetensors(path, source, {{"format", "pt"}});
  const SafetensorsView view(path);
  EXPECT_EQ(llama_layers(view), (std::vector<int>{0, 1, 3}));
  for (int layer : {0, 1, 3}) {
    const TensorMap block = llama_mlp_block(view, layer);
    ASSERT_EQ(block.size(), 3u);
    EXPECT_EQ(block.at("mlp.gate_proj.weight"), source.at(llama_mlp_name(layer, "gate")));
    EXPECT_EQ(block.at("mlp.up_proj.weight"), source.at(llama_mlp_name(layer, "up")));
    EXPECT_EQ(block.at("mlp.down_proj.weight"), source.at(llama_mlp_name(layer, "down")));
    EXPECT_EQ(block.at("mlp.down_proj.weight").shape, (std::vector<std::int64_t>{kModel, kHidden}));
  }
  // Llama checkpoints are BF16: values arrive rounded.
  const fs::path bf16_path = dir_ / "bf16.safetensors";
  write_safetensors(bf16_path, source, {}, DType::bf16);
  const TensorMap bf16_block = llama_mlp_block(SafetensorsView(bf16_path), 3);
  const Tensor& down = source.at(llama_mlp_name(3, "down"));
  for (std::size_t i = 0; i < down.data.size(); ++i)
    EXPECT_EQ(bf16_block.at("mlp.down_proj.weight").data[i],
              bf16_to_float(float_to_bf16(down.data[i])));
  expect_message([&] { (void)llama_mlp_block(view, 2); },
                 {"llama layer 2", path.string(), "model.layers.2.mlp.up_proj.weight"});
  expect_message([&] { (void)llama_mlp_block(view, 4); }, {"llama layer 4", "gate_proj"});
  expect_message([&] { (void)llama_mlp_block(view, -1); }, {"-1"});
}

TEST_F(LlamaTest, MapsAnMlpBlockFromATensorMap) {
  const TensorMap source = tiny_llama();
  EXPECT_EQ(llama_layers(source), (std::vector<int>{0, 1, 3}));
  const TensorMap block = llama_mlp_block(source, 1);
  EXPECT_EQ(block.at("mlp.up_proj.weight"), source.at(llama_mlp_name(1, "up")));
  expect_message([&] { (void)llama_mlp_block(source, 2); },
                 {"llama layer 2", "missing tensor 'model.layers.2.mlp.up_proj.weight'"});
  EXPECT_TRUE(llama_layers(TensorMap{}).empty());
}

TEST_F(LlamaTest, RejectsMismatchedShapes) {
  const auto with = [](const std::string& proj, std::vector<std::int64_t> shape) {
    TensorMap m = tiny_llama();
    m[llama_mlp_name(1, proj)] = Tensor(std::move(shape));
    return m;
  };
  const std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::string>> cases = {
      {"up", {kHidden + 1, kModel}, "up_proj.weight has shape [7, 4]"},
      {"down", {kHidden, kModel}, "down_proj.weight has shape [6, 4], expected [4, 6]"},
      {"down", {kModel, kHidden, 1}, "down_proj.weight"},
      {"gate", {kHidden * kModel}, "gate_proj.weight has shape [24]"},
  };
  for (const auto& [proj, shape, fragment] : cases) {
    const TensorMap m = with(proj, shape);
    expect_message([&] { (void)llama_mlp_block(m, 1); }, {"llama layer 1", fragment});
    const fs::path path = dir_ / ("bad-" + proj + ".safetensors");
    write_safetensors(path, m);
    const SafetensorsView view(path);
    expect_message([&] { (void)llama_mlp_block(view, 1); },
                   {"llama layer 1", path.string(), fragment});
    // Other layers are unaffected.
    EXPECT_EQ(llama_mlp_block(view, 0).size(), 3u);
  }
}

}  // namespace
}  // namespace wrsec::nn
