// Test plug-in compiled with -DWRSEC_VERSION_STRING="0.0.0" (tests/CMakeLists.txt): it stands for
// a plug-in built against another wrsec, so its ABI tag differs from the host's and the host must
// refuse it without registering anything.
#include <memory>

#include "definitions/plugin.h"

namespace {

class Unreachable final : public wrsec::definitions::Adversary {
 public:
  [[nodiscard]] std::string id() const override { return "test_abi_mismatch"; }
};

void register_nothing_reachable(wrsec::definitions::PluginRegistrar& r) {
  r.attacks.add("test_abi_mismatch", "must never be registered",
                [](const wrsec::definitions::Params&) { return std::make_unique<Unreachable>(); });
}

}  // namespace

WRSEC_PLUGIN("test_abi_mismatch", register_nothing_reachable)
