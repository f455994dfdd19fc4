#pragma once
// Safetensors weight files (https://github.com/huggingface/safetensors).
//   file   = u64_le(N) ++ header[N] ++ buffer
//   header = UTF-8 JSON object, optionally right-padded with spaces:
//            name -> {"dtype": D, "shape": [d0, ..], "data_offsets": [begin, end]}
//            "__metadata__" -> {string: string} (optional)
//   tensor `name` = buffer[begin, end), little-endian values of dtype D in row-major order.
// A file is valid iff every entry is well formed, end - begin = numel(shape) * size(D), and the
// tensors' byte ranges tile the buffer exactly (no overlap, no hole, nothing left over), as the
// reference implementation requires. Readers convert every value to float32 (nearest); NaN/Inf
// are loaded as is (check with all_finite). Every malformed file throws InvalidArgument naming
// the file and the offending tensor or field; failing system calls throw RuntimeError.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nn/tensor.h"

namespace wrsec::nn {

enum class DType { f64, f32, f16, bf16, i8, u8, i32, i64 };

// "F64", "F32", "F16", "BF16", "I8", "U8", "I32", "I64"; any other string throws InvalidArgument.
std::string to_string(DType dtype);
DType dtype_from_string(const std::string& name);
// Bytes per element.
std::size_t dtype_size(DType dtype);

// IEEE binary16 and bfloat16 (the top half of a binary32) conversions. Widening is exact
// (subnormals, infinities, NaN payloads); narrowing rounds to nearest, ties to even, overflows
// to infinity, produces subnormals, and keeps NaN a (quiet) NaN of the same sign.
float half_to_float(std::uint16_t bits) noexcept;
std::uint16_t float_to_half(float value) noexcept;
float bf16_to_float(std::uint16_t bits) noexcept;
std::uint16_t float_to_bf16(float value) noexcept;

// True iff no element is NaN or infinite.
bool all_finite(const Tensor& tensor) noexcept;

struct SafetensorsFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
};

// Largest header accepted (the reference implementation's limit).
inline constexpr std::uint64_t kSafetensorsMaxHeaderSize = 100'000'000;

// Writes `tensors` converted to `dtype` (F16/BF16 round to nearest even; integer dtypes require
// every value to be an exact integer in range) with the header padded to a multiple of 8 bytes.
// Atomic: the file is written to a temporary file in the same directory and renamed over `path`;
// on any failure the temporary file is removed and `path` is untouched. Throws InvalidArgument
// for bad input (unrepresentable value, tensor whose data size does not match its shape, the
// reserved name "__metadata__", invalid UTF-8) and RuntimeError for I/O failures.
void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       DType dtype = DType::f32);

// A safetensors file written as a stream: the tensors (name, dtype, shape) are declared up front,
// then their encoded bytes are written in declaration order. Atomic as write_safetensors (through
// AtomicFile); commit() checks that exactly the declared bytes were written.
struct TensorDecl {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
};
class SafetensorsWriter {
 public:
  // @throws InvalidArgument as write_safetensors for a bad name, shape or metadata.
  SafetensorsWriter(const std::filesystem::path& path, const std::vector<TensorDecl>& tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;
  // Raw little-endian bytes of the tensors, in order. LogicError past the declared total.
  void write(const void* bytes, std::size_t n);
  // LogicError unless every declared byte was written; RuntimeError for I/O failures.
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// n values of a floating-point dtype (F32, F64, F16, BF16) from / to little-endian bytes;
// encoding rounds to nearest even. LogicError for an integer dtype.
void decode_floats(DType dtype, const unsigned char* src, std::size_t n, float* dst);
void encode_floats(DType dtype, const float* src, std::size_t n, unsigned char* dst);

// Reads and validates the whole file; all values converted to float32.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// Where one tensor lives: dtype, shape, and its byte range [begin, end) relative to the buffer
// (the header's data_offsets; the file offset is SafetensorsView::buffer_offset() + begin).
struct TensorInfo {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  [[nodiscard]] std::int64_t numel() const { return checked_numel(shape); }
};

// Read-only memory map of a safetensors file. The header is parsed and validated on
// construction; load() converts one tensor, touching only that tensor's pages, so multi-GB
// shards can be read tensor by tensor. The file must not be truncated while mapped.
class SafetensorsView {
 public:
  explicit SafetensorsView(const std::filesystem::path& path);
  // The same over bytes in memory (copied); `name` stands for the path in messages and path().
  static SafetensorsView from_bytes(std::span<const unsigned char> bytes, const std::string& name);
  ~SafetensorsView();
  SafetensorsView(const SafetensorsView&) = delete;
  SafetensorsView& operator=(const SafetensorsView&) = delete;
  SafetensorsView(SafetensorsView&& other) noexcept;
  SafetensorsView& operator=(SafetensorsView&& other) noexcept;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  // Tensor names in lexicographic order.
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] bool contains(const std::string& name) const { return infos_.count(name) != 0; }
  // Throws InvalidArgument naming the file when `name` is absent.
  [[nodiscard]] const TensorInfo& info(const std::string& name) const;
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept {
    return metadata_;
  }
  [[nodiscard]] std::uint64_t file_size() const noexcept { return size_; }
  // File offset of the buffer: 8 + N.
  [[nodiscard]] std::uint64_t buffer_offset() const noexcept { return buffer_offset_; }
  // One tensor converted to float32.
  [[nodiscard]] Tensor load(const std::string& name) const;

 private:
  SafetensorsView() = default;
  void parse();  // header and layout of data_[0, size_)
  void unmap() noexcept;

  std::filesystem::path path_;
  std::vector<unsigned char> owned_;  // from_bytes: the bytes; empty for a mapped file
  const unsigned char* data_ = nullptr;
  std::uint64_t size_ = 0;
  bool mapped_ = false;
  std::uint64_t buffer_offset_ = 0;
  std::map<std::string, TensorInfo> infos_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of a view, converted to float32.
SafetensorsFile read_safetensors(const SafetensorsView& view);

}  // namespace wrsec::nn
