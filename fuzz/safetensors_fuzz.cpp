// Fuzzes the safetensors reader (nn/safetensors.h) on bytes in memory: header, entries, layout,
// every tensor's conversion to float32, the Llama MLP blocks of the file and a wrsec model file
// (Model::from_safetensors). A file that reads must survive an F32 round trip bit for bit; the
// 16-bit float conversions must round-trip every non-NaN value.
#include <bit>
#include <cstring>
#include <span>

#include "fuzz/fuzz_common.h"
#include "nn/llama.h"
#include "nn/model.h"
#include "nn/safetensors.h"

namespace {

using namespace wrsec;

bool same_bits(const nn::TensorMap& a, const nn::TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    if (i->first != j->first || i->second.shape != j->second.shape ||
        i->second.data.size() != j->second.data.size())
      return false;
    if (!i->second.data.empty() && std::memcmp(i->second.data.data(), j->second.data.data(),
                                               i->second.data.size() * sizeof(float)) != 0)
      return false;
  }
  return true;
}

void check_half_round_trips(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return;
  const auto bits = static_cast<std::uint16_t>(data[0] | (data[1] << 8));
  const bool nan = (bits & 0x7c00u) == 0x7c00u && (bits & 0x3ffu) != 0;
  if (!nan && nn::float_to_half(nn::half_to_float(bits)) != bits) std::abort();
  const bool bf_nan = (bits & 0x7f80u) == 0x7f80u && (bits & 0x7fu) != 0;
  if (!bf_nan && nn::float_to_bf16(nn::bf16_to_float(bits)) != bits) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_half_round_trips(data, size);
  fuzz::expect_valid_or_rejected([&] {
    const auto view = nn::SafetensorsView::from_bytes(std::span(data, size), "<fuzz>");
    const nn::SafetensorsFile file = nn::read_safetensors(view);
    for (const int layer : nn::llama_layers(view))
      fuzz::expect_valid_or_rejected([&] { (void)nn::llama_mlp_block(view, layer); });
    fuzz::expect_valid_or_rejected([&] { (void)nn::Model::from_safetensors(view); });
    // Written back as F32 and read again: the same tensors, bit for bit.
    std::map<std::string, std::string> metadata;
    for (const auto& [key, value] : file.metadata) metadata[key] = value;
    fuzz::expect_valid_or_rejected([&] {  // names or metadata that are not UTF-8
      const auto path = fuzz::Scratch::path("round_trip.safetensors");
      nn::write_safetensors(path, file.tensors, metadata, nn::DType::f32);
      const nn::SafetensorsFile again = nn::read_safetensors(path);
      if (!same_bits(file.tensors, again.tensors) || again.metadata != file.metadata) std::abort();
    });
  });
  return 0;
}
