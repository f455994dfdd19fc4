#pragma once
// A suspect found elsewhere: a safetensors file with its own tensor names (Hugging Face / PyTorch:
// "net.0.weight", "fc1.weight", ...), weights possibly stored transposed, in F32, F16, BF16 or F64
// (a re-quantised INT8 model dequantised to one of them), and no wrsec metadata. map_suspect finds
// the owner's MLP in it: every chain of 2-D tensors W_0..W_{L−1} whose dimensions connect the
// reference's input size to its output size (each used once, either orientation; hidden widths
// may differ, as dummy neurons change them), each with a 1-D bias of its output width (the
// weight's own "….bias" when there is one), is aligned to the reference (nn/align.h) and scored
// by the mean matched cosine over its layers. The best chain is the mapping; it is accepted only
// if it beats the runner-up by at least min_margin, otherwise the mapping is not unique and the
// file is refused with both candidates named: never a silent guess.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/safetensors.h"

namespace wrsec::experiments {

struct MappedLayer {
  std::string weight, bias;  // source tensor names
  bool transposed = false;   // the file stores Wᵀ
  double cosine = 0;         // mean matched cosine after alignment
};

struct SuspectMapping {
  nn::Model model;  // the suspect under the reference's tensor names (its own hidden widths)
  std::vector<MappedLayer> layers;
  double score = 0;                 // mean of the layers' cosines
  double runner_up = -1;            // the next chain's score (-1: no other chain)
  std::size_t chains = 0;           // chains scored
  std::vector<std::string> dtypes;  // of the mapped weights, as stored
  [[nodiscard]] nlohmann::json to_json() const;
};

// InvalidArgument when the reference is not an MLP, when no chain fits, when more than
// max_chains chains fit, or when the best does not beat the runner-up by min_margin.
[[nodiscard]] SuspectMapping map_suspect(const nn::SafetensorsView& file,
                                         const nn::Model& reference, double min_margin = 0.05,
                                         std::size_t max_chains = 4096);

}  // namespace wrsec::experiments
