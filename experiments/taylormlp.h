#pragma once
// The `taylormlp` experiment: TaylorMLP reproduced and broken, as games with exact bounds.
//   extraction:  param_extraction cells over N × activation × format (ratio inversion for the
//                paper form on 784-64-10 MLPs, sign hypothesis for the official form on
//                Llama-scaled gated blocks), fresh models and coins per trial; Llama-3-8B-shaped
//                layers (d = 4096, h = 14336, h_s = 10000, N = 6) in the full profile
//   misuse:      the extracted model's agreement and cost next to the release's own cost
//   ind:         ind_release with a distinguisher built from each extractor
//   baseline:    query_regression's recovery versus the number of Infer queries Q
//   measured:    utility of the release versus N (accuracy and KL on Fashion-MNIST, relative
//                output error for gated blocks), latency of plain / release / recovered models
//                versus N next to the FLOP model, extraction seconds per layer, and (full
//                profile) a streamed attack on L Llama-shaped bf16 layers written as safetensors
//                shards one at a time: seconds, bytes read, GB/s, peak RSS
// Outputs in out_dir: cells.jsonl (one wrsec.cell.v1 object per cell), measurements.jsonl,
// report.md. Each file is written atomically at the end.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

namespace wrsec::experiments {

struct TaylorMlpOptions {
  std::string profile = "full";  // small | full
  std::filesystem::path out_dir = "runs/taylormlp";
  std::uint64_t seed = 1;
  int threads = 1;
  double alpha = 0.05;
  std::int64_t llama_layers = -1;  // streamed layers; -1 = profile default (full 32, small 0)
  std::filesystem::path scratch;   // shard directory; default out_dir/scratch (emptied after)
  std::ostream* log = nullptr;     // progress lines, if set
};

// Runs the experiment; returns the number of cells whose claim check failed (0 = all as
// expected). Throws InvalidArgument for bad options.
int run_taylormlp(const TaylorMlpOptions& options);

}  // namespace wrsec::experiments
