#pragma once
// TaylorMLP's non-game measurements (registered as taylormlp.*):
//   taylormlp.utility_paper     trained zoo MLP, paper form, one unit per order N: accuracy and
//                               KL of the release and of the recovered model on the Fashion-MNIST
//                               test set; wall times of plain / release / recovered forward passes
//                               (best of repeats) next to the FLOP model; extraction seconds
//   taylormlp.utility_official  a d x h gated block, official format, one unit per N: relative
//                               output error of release and recovered model, the same timings
//   taylormlp.llama_layer       one Llama-3-8B-shaped layer (d 4096, h 14336, h_s 10000, N 6):
//                               release and extraction seconds, GB/s, recovery
//   taylormlp.llama_stream      L such layers, one unit per layer: draw, release, write as a bf16
//                               safetensors shard, run the file attack (`wrsec attack`'s code
//                               path), score, delete; one layer resident at a time
//   taylormlp.flop_model        the release's Infer cost over the plain forward pass per N, from
//                               the scheme's cost model (deterministic: no timing)
//   machine.read_bandwidth      sequential read bandwidth of this machine (GB/s)
// All but flop_model hold wall times, so they are not deterministic.
#include "studies/measurement.h"

namespace wrsec::studies {

void register_taylormlp_measurements(MeasurementRegistry& registry);

}  // namespace wrsec::studies
