// Fuzzes the IDX readers (nn/fashion_mnist.h): images (idx3) and labels (idx1), plain or gzip.
// The first byte is a mode: bit 0 set, the rest of the input is gzip-compressed by the harness
// before it is written (so the fuzzer explores the IDX layout behind the gzip path too); without
// it the bytes are written as they are (corrupt or truncated gzip streams included).
#include <zlib.h>

#include <string>

#include "fuzz/fuzz_common.h"
#include "nn/fashion_mnist.h"

namespace {

using namespace wrsec;

std::string gzip(std::string_view bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    std::abort();
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest = fuzz::as_text(data + 1, size - 1);
  const auto path = fuzz::Scratch::write("input.idx", data[0] & 1 ? gzip(rest) : std::string(rest));
  fuzz::expect_valid_or_rejected([&] {
    const nn::Matrix images = nn::read_idx_images(path);
    if (images.size() > 0 && !(images.minCoeff() >= 0.0f && images.maxCoeff() <= 1.0f))
      std::abort();
  });
  fuzz::expect_valid_or_rejected([&] { (void)nn::read_idx_labels(path); });
  return 0;
}
