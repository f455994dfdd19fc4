#pragma once
// What the three ownership games share: the data of the two parties, the adversary's instance of
// the scheme, and a suspect check that uses black-box verification when the scheme has it.
//   Data:  Fashion-MNIST, split_indices(60000, split_seed): the attacker's part (1/3) for the
//          removal adversary, the test set (first eval_samples images) for accuracy.
//   Null models: "zoo:<name>@<seed>" for seed = first, first + 1, ..., first + count − 1, trained
//          independently (nn/zoo.h) and loaded once; trial i uses model i mod count.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "definitions/params.h"
#include "definitions/scheme.h"
#include "definitions/sources.h"
#include "nn/fashion_mnist.h"

namespace wrsec::games {

// The identity seed of every adversary's own scheme instance (its key pair).
inline constexpr std::uint64_t kAdversaryIdentity = 0xadd5eed;

struct WatermarkData {
  std::uint64_t split_seed = 1;
  std::int64_t attacker_samples = 0;  // 0 = the whole attacker split
  std::int64_t eval_samples = 10000;  // test images used for accuracy

  void read(const definitions::Params& params, const std::string& game);
  // Loaded once per process per setting, shared read-only.
  [[nodiscard]] std::shared_ptr<const nn::Dataset> attacker() const;
  [[nodiscard]] std::shared_ptr<const nn::Dataset> eval() const;
};

// The independent ("null") models of an architecture.
class NullModels {
 public:
  NullModels() = default;
  NullModels(const std::string& zoo_name, std::uint64_t first, std::uint64_t count);
  [[nodiscard]] std::uint64_t count() const { return sources_.size(); }
  [[nodiscard]] nn::Model model(std::uint64_t trial) const;
  [[nodiscard]] std::uint64_t seed(std::uint64_t trial) const { return first_ + trial % count(); }

 private:
  std::uint64_t first_ = 0;
  std::vector<definitions::ModelSource> sources_;
};

// The null-model parameters both wm_forgery and wm_false_positive read: null_model (zoo name;
// empty = the zoo name of the game's model, which must then be a zoo source), null_first,
// null_count. InvalidArgument names the game and the key.
struct NullModelSpec {
  std::string zoo_name;
  std::uint64_t first = 100;
  std::uint64_t count = 20;

  void read(const definitions::Params& params, const std::string& game);
  [[nodiscard]] NullModels models(const std::string& model_spec, const std::string& game) const;
};

// The challenger's first step in wm_removal and wm_forgery: θ ← source (coins
// challenger/"model"), (M, s) ← Release(θ; challenger/"release"), M = the artifact's model.
struct OwnerRelease {
  nn::Model original;
  definitions::Release release;
  nn::Model marked;
};
[[nodiscard]] OwnerRelease release_owner_model(const definitions::ModelSource& source,
                                               const definitions::WeightReleaseScheme& scheme,
                                               const Rng& challenger);

// Verify(secret, suspect): black-box (queries only, counted in `queries`) when the scheme
// supports it, white-box otherwise.
[[nodiscard]] definitions::VerifyResult check_suspect(
    const definitions::WeightReleaseScheme& scheme, const definitions::OwnerSecret& secret,
    const nn::Model& suspect, std::uint64_t* queries = nullptr);

// Throws InvalidArgument unless the scheme is an ownership scheme (verify capability).
void require_ownership_scheme(const definitions::WeightReleaseScheme* scheme,
                              const std::string& game);

}  // namespace wrsec::games
