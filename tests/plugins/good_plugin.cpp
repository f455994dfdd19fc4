// Test plug-in (tests/experiments/plugin_test.cpp): a scheme whose Release can be made to throw
// inside a trial, and an extractor that reads its releases.
//   test_faulty         plaintext-like release (the weights in the clear) with capabilities
//                       infer + protected_release; param fail = p in [0, 1] (default 0): each
//                       Release draws one Bernoulli(p) coin and, if it comes up 1, throws
//                       std::runtime_error("planted fault in trial") (fail=1: every trial).
//                       Param heal_file = PATH (test hook): no fault once PATH exists, so a test
//                       can show that `wrsec run --resume` really plays a failed cell again.
//   test_faulty_copy    extractor: outputs the published weights; reads test_faulty releases only.
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "core/errors.h"
#include "definitions/plugin.h"

namespace {

namespace definitions = wrsec::definitions;
namespace nn = wrsec::nn;

class TestFaulty final : public definitions::WeightReleaseScheme {
 public:
  TestFaulty(double fail, std::string heal_file) : fail_(fail), heal_file_(std::move(heal_file)) {}
  [[nodiscard]] std::string id() const override { return "test_faulty"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::infer, definitions::Capability::protected_release};
  }
  [[nodiscard]] definitions::Release release(const nn::Model& model,
                                             wrsec::Rng& coins) const override {
    const bool healed = !heal_file_.empty() && std::filesystem::exists(heal_file_);
    if (fail_ > 0 && coins.bernoulli(fail_) && !healed)
      throw std::runtime_error("planted fault in trial");
    definitions::Release r;
    r.artifact = definitions::model_artifact(model, id());
    return r;
  }
  [[nodiscard]] nn::Matrix infer(const definitions::Artifact& artifact,
                                 const nn::Matrix& x) const override {
    return definitions::artifact_model(artifact).forward(x);
  }
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const override {
    return definitions::artifact_model(artifact).arch.macs_per_example();
  }

 private:
  double fail_;
  std::string heal_file_;
};

class TestFaultyCopy final : public definitions::Extractor {
 public:
  [[nodiscard]] std::string id() const override { return "test_faulty_copy"; }
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& /*oracles*/,
                                  wrsec::Rng& /*coins*/) const override {
    return definitions::artifact_model(release);
  }
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.value("scheme", "") == "test_faulty";
  }
};

void register_test_components(definitions::PluginRegistrar& r) {
  r.schemes.add("test_faulty", "test plug-in: plaintext release that throws when told (+ fail)",
                [](const definitions::Params& p) {
                  const double fail = p.get_double("fail", 0.0);
                  if (!(fail >= 0 && fail <= 1))
                    throw wrsec::InvalidArgument("test_faulty: fail must lie in [0, 1]");
                  return std::make_unique<TestFaulty>(fail, p.get_string("heal_file", ""));
                });
  r.attacks.add("test_faulty_copy", "test plug-in: copies the weights of a test_faulty release",
                [](const definitions::Params&) { return std::make_unique<TestFaultyCopy>(); });
}

}  // namespace

WRSEC_PLUGIN("test_good", register_test_components)
