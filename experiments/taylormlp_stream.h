#pragma once
// Streamed attack on L Llama-3-8B-shaped layers (d 4096, h 14336, h_s 10000, N 6), bounded
// memory: for each layer i, draw the layer (nn::synthetic_llama_block), release it in the
// official format, write the release as a bf16 safetensors shard with the official buffer names
// under "model.layers.{i}.mlp.", drop everything, run the file attack (`wrsec attack`'s code path)
// on the shard, read the recovered weights back and score them against the layer, then delete
// both files. One layer is resident at a time; disk use is one shard plus one output.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

namespace wrsec::experiments {

struct StreamOptions {
  std::int64_t layers = 32;
  std::uint64_t seed = 1;
  std::int64_t d_model = 4096;
  std::int64_t d_hidden = 14336;
  std::int64_t select_dim = 10000;
  std::int64_t order = 6;
  std::int64_t calibration_samples = 256;
  std::filesystem::path scratch;
  std::ostream* log = nullptr;
};

// {"kind": "llama_stream", per-layer rows, totals, peak RSS}.
nlohmann::json run_llama_stream(const StreamOptions& options);
std::string stream_markdown(const nlohmann::json& result);

}  // namespace wrsec::experiments
