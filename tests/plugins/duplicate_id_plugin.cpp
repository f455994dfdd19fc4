// Test plug-in that registers a scheme id wrsec already has ("plaintext"): registration throws
// and the host reports it.
#include <memory>

#include "definitions/plugin.h"

namespace {

class FakePlaintext final : public wrsec::definitions::WeightReleaseScheme {
 public:
  [[nodiscard]] std::string id() const override { return "plaintext"; }
  [[nodiscard]] wrsec::definitions::Capabilities capabilities() const override { return {}; }
  [[nodiscard]] wrsec::definitions::Release release(const wrsec::nn::Model& model,
                                                    wrsec::Rng& /*coins*/) const override {
    return {wrsec::definitions::model_artifact(model, id()), {}};
  }
};

void register_duplicate(wrsec::definitions::PluginRegistrar& r) {
  r.schemes.add(
      "plaintext", "collides with the built-in scheme",
      [](const wrsec::definitions::Params&) { return std::make_unique<FakePlaintext>(); });
}

}  // namespace

WRSEC_PLUGIN("test_duplicate_id", register_duplicate)
