#include "schemes/registry.h"

#include "schemes/plaintext.h"
#include "schemes/taylor_mlp.h"

namespace wrsec::schemes {

void register_builtin_schemes(definitions::Registry<definitions::WeightReleaseScheme>& registry) {
  registry.add("plaintext", "baseline: publishes the weights themselves (no protection)",
               [](const definitions::Params&) { return std::make_unique<Plaintext>(); });
  registry.add("taylor_mlp",
               "TaylorMLP (EMNLP 2024): Taylor-coefficient release, paper or official format",
               [](const definitions::Params& p) {
                 return std::make_unique<TaylorMlp>(TaylorMlpParams::from(p));
               });
}

}  // namespace wrsec::schemes
