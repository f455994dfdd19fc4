#include "nn/zoo.h"

#include <gtest/gtest.h>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

TEST(Zoo, NamesParse) {
  const Architecture a = zoo_architecture("mlp_784_256_256_10_gelu");
  EXPECT_EQ(a.sizes, (std::vector<std::int64_t>{784, 256, 256, 10}));
  EXPECT_EQ(a.activation, Activation::gelu);
  EXPECT_EQ(zoo_architecture("mlp_4_3_gelu_tanh").activation, Activation::gelu_tanh);
  for (const auto& n : zoo_names()) EXPECT_NO_THROW((void)zoo_architecture(n));
  EXPECT_THROW((void)zoo_architecture("cnn_1_2_relu"), InvalidArgument);
  EXPECT_THROW((void)zoo_architecture("mlp_784_x_10_relu"), InvalidArgument);
  EXPECT_THROW((void)zoo_architecture("mlp_784_10_swish"), InvalidArgument);
  EXPECT_THROW((void)zoo_architecture("mlp_relu"), InvalidArgument);
}

TEST(Zoo, ConfigAndPath) {
  const TrainConfig c = zoo_config("mlp_784_256_256_10_relu");
  EXPECT_EQ(c.optimizer, Optimizer::adam);
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(zoo_path("mlp_784_64_10_relu", 7, "/tmp/z"),
            std::filesystem::path("/tmp/z/mlp_784_64_10_relu-seed7.safetensors"));
}

}  // namespace
}  // namespace wrsec::nn
