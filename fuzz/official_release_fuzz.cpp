// Fuzzes the reader of TaylorMLP releases saved by the official code
// (attacks/taylor_sign_hypothesis.h): recover_official_file on the input as a safetensors file
// (layer prefixes, buffer names, dtypes, shapes, the activation in the metadata, non-finite
// values) and recover_official_tensors on the same tensors read into memory. The attack's work
// is linear in the file (every shape is backed by data), so libFuzzer's -max_len bounds one run.
// A file that is recovered must be written as a readable safetensors file with three tensors per
// layer.
#include <span>

#include "attacks/taylor_sign_hypothesis.h"
#include "fuzz/fuzz_common.h"
#include "nn/safetensors.h"

using namespace wrsec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = fuzz::Scratch::write("release.safetensors", fuzz::as_text(data, size));
  const auto out = fuzz::Scratch::path("recovered.safetensors");
  fuzz::expect_valid_or_rejected([&] {
    const auto reports = attacks::recover_official_file(in, out);
    const nn::SafetensorsFile recovered = nn::read_safetensors(out);
    if (reports.empty() || recovered.tensors.size() != 3 * reports.size()) std::abort();
  });
  fuzz::expect_valid_or_rejected([&] {
    const auto view = nn::SafetensorsView::from_bytes(std::span(data, size), "<fuzz>");
    const nn::SafetensorsFile file = nn::read_safetensors(view);
    (void)attacks::recover_official_tensors(file.tensors, "", nn::Activation::silu);
    (void)attacks::recover_official_tensors(file.tensors, "", nn::Activation::gelu);
  });
  return 0;
}
