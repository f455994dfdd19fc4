#include "schemes/plaintext.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.h"
#include "definitions/oracle.h"
#include "nn/model.h"

namespace wrsec::schemes {
namespace {

nn::Model small_model() {
  nn::Architecture arch;
  arch.kind = nn::Architecture::Kind::mlp;
  arch.sizes = {6, 5, 3};
  arch.activation = nn::Activation::gelu;
  Rng rng(1, 2, 3);
  return nn::Model::init(arch, rng);
}

TEST(Plaintext, InferEqualsTheModelAndOracleCountsQueries) {
  const auto model = small_model();
  const Plaintext scheme;
  Rng coins(4, 5, 6);
  const auto rel = scheme.release(model, coins);
  EXPECT_TRUE(rel.secret.tensors.empty());
  Rng xr(7, 8, 9);
  nn::Matrix x(4, 6);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(xr.normal());
  EXPECT_EQ(scheme.infer(rel.artifact, x), model.forward(x));
  definitions::InferOracle oracle(scheme, rel.artifact, 6);
  (void)oracle.query(x);
  EXPECT_EQ(oracle.used(), 4u);
  EXPECT_THROW((void)oracle.query(x), InvalidArgument);  // 8 > budget 6
  EXPECT_EQ(oracle.used(), 4u);
}

TEST(Plaintext, RejectsCorruptArtifacts) {
  const Plaintext scheme;
  Rng coins(1, 1, 1);
  auto rel = scheme.release(small_model(), coins);
  nn::Matrix x = nn::Matrix::Zero(1, 6);
  EXPECT_THROW((void)scheme.infer(rel.artifact, nn::Matrix::Zero(1, 5)), InvalidArgument);
  auto nan_artifact = rel.artifact;
  nan_artifact.tensors.at("layers.0.weight").data[3] = std::nanf("");
  EXPECT_THROW((void)scheme.infer(nan_artifact, x), InvalidArgument);
  auto missing = rel.artifact;
  missing.tensors.erase("layers.1.bias");
  EXPECT_THROW((void)scheme.infer(missing, x), InvalidArgument);
  auto no_arch = rel.artifact;
  no_arch.metadata.erase("architecture");
  EXPECT_THROW((void)scheme.infer(no_arch, x), InvalidArgument);
  EXPECT_FALSE(scheme.capabilities().has(definitions::Capability::verify));
  EXPECT_THROW((void)scheme.verify({}, small_model()), LogicError);
}

}  // namespace
}  // namespace wrsec::schemes
