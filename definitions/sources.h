#pragma once
// Where a game's models and inputs come from, given as short text specs.
//   ModelSource:
//     "random:<arch>"                 fresh Model::init(arch) per draw, e.g.
//     random:mlp:784,64,10:silu "llama_synthetic:<d>,<h>[:<act>]"  fresh nn::synthetic_llama_block
//     per draw (realistic scales) "zoo:<name>[@<seed>]"           one trained zoo model (nn/zoo.h;
//     cache $WRSEC_ZOO_CACHE or
//                                     ./models), the same model on every draw
//     "file:<path>"                   one model read from a wrsec safetensors file
//     "drift:<eps>:<source>"          a synthetic fine-tune of the source's model, fresh per
//                                     draw: every tensor W + eps·RMS(W)·G, G ~ N(0, 1) entries
//   InputSource:
//     "gaussian:<std>"                rows ~ N(0, std²·I)
//     "fashion_mnist:<train|test>"    Fashion-MNIST images (pixels in [0, 1]) drawn uniformly
//                                     with replacement; needs 784 columns
// Parsing checks the spec and names it on error; fixed models are loaded once, lazily, and shared
// between threads.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/model.h"

namespace wrsec::definitions {

class ModelSource {
 public:
  static ModelSource parse(const std::string& spec);
  [[nodiscard]] const std::string& spec() const { return spec_; }
  [[nodiscard]] nn::Architecture architecture() const;
  // A model: a fresh one from rng for random sources, the fixed model otherwise.
  [[nodiscard]] nn::Model draw(Rng& rng) const;
  [[nodiscard]] bool fresh_per_draw() const;

 private:
  struct State;
  std::string spec_;
  std::shared_ptr<State> state_;
};

class InputSource {
 public:
  static InputSource parse(const std::string& spec);
  [[nodiscard]] const std::string& spec() const { return spec_; }
  // rows × cols inputs; InvalidArgument if the source cannot produce `cols` features.
  [[nodiscard]] nn::Matrix draw(std::int64_t rows, std::int64_t cols, Rng& rng) const;
  // The same draw (same rows for the same rng) with the true class of each row in `labels` for a
  // labelled source; InvalidArgument for an unlabelled one (gaussian).
  [[nodiscard]] nn::Matrix draw_labelled(std::int64_t rows, std::int64_t cols, Rng& rng,
                                         std::vector<std::int32_t>& labels) const;
  [[nodiscard]] bool labelled() const { return kind_ == Kind::fashion_mnist; }
  // The default for a model with `cols` inputs: Fashion-MNIST images for 784, else N(0, 1)
  // (N(0, 0.25²) for gated blocks, the scale synthetic_llama_block is calibrated for).
  static InputSource default_for(const nn::Architecture& arch, bool held_out);

 private:
  nn::Matrix draw_rows(std::int64_t rows, std::int64_t cols, Rng& rng,
                       std::vector<std::int32_t>* labels) const;
  enum class Kind { gaussian, fashion_mnist };
  std::string spec_;
  Kind kind_ = Kind::gaussian;
  double std_ = 1.0;
  bool test_split_ = false;
};

}  // namespace wrsec::definitions
