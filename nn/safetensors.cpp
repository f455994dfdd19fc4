#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/atomic_file.h"
#include "core/errors.h"

namespace wrsec::nn {
namespace {

constexpr const char* kMetadataKey = "__metadata__";

std::string file_label(const std::filesystem::path& path) {
  return "safetensors file '" + path.string() + "'";
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw InvalidArgument(file_label(path) + ": " + what);
}

// A path the user may not read is bad input; other failures are the environment's.
[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& path) {
  const int err = errno;
  const std::string message = what + " '" + path.string() + "': " + std::strerror(err);
  if (err == EACCES || err == EPERM) throw InvalidArgument(message);
  throw RuntimeError(message);
}

// Little-endian loads and stores, independent of the host's byte order and alignment.
template <typename U>
U load_le(const unsigned char* p) noexcept {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(U{p[i]} << (8 * i));
  return v;
}

template <typename U>
void store_le(unsigned char* p, U v) noexcept {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  Tensor t;
  t.shape = shape;
  return t.shape_string();
}

// ---- header parsing -------------------------------------------------------------------------

// Non-negative JSON integer that fits in int64 (JSON floats such as 2.0 are rejected).
bool as_index(const nlohmann::json& j, std::uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
  } else if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (v < 0) return false;
    out = static_cast<std::uint64_t>(v);
  } else {
    return false;
  }
  return out <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

nlohmann::json parse_json_header(const std::filesystem::path& path, const char* begin,
                                 const char* end) {
  // Duplicate keys are invisible after parsing (the last one wins), so detect them while
  // parsing: one key set per open object.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      open_objects.emplace_back();
    } else if (event == E::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == E::key && !open_objects.empty() && parsed.is_string()) {
      if (!open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(begin, end, callback);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(path, "header has duplicate key '" + duplicate + "'");
  if (!header.is_object()) fail(path, "header is not a JSON object");
  return header;
}

TensorInfo parse_entry(const std::filesystem::path& path, const std::string& name,
                       const nlohmann::json& entry) {
  const std::string where = "tensor '" + name + "'";
  if (!entry.is_object()) fail(path, where + ": entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) fail(path, where + ": missing \"" + key + "\"");

  TensorInfo info;
  const auto& dtype = entry.at("dtype");
  if (!dtype.is_string()) fail(path, where + ": \"dtype\" is not a string");
  try {
    info.dtype = dtype_from_string(dtype.get<std::string>());
  } catch (const InvalidArgument& e) {
    fail(path, where + ": " + e.what());
  }

  const auto& shape = entry.at("shape");
  if (!shape.is_array()) fail(path, where + ": \"shape\" is not an array");
  for (const auto& d : shape) {
    std::uint64_t dim = 0;
    if (!as_index(d, dim))
      fail(path, where + ": \"shape\" has a dimension that is not a non-negative integer");
    info.shape.push_back(static_cast<std::int64_t>(dim));
  }
  std::int64_t numel = 0;
  try {
    numel = checked_numel(info.shape);
  } catch (const InvalidArgument& e) {
    fail(path, where + ": shape " + shape_string(info.shape) + ": " + e.what());
  }

  const auto& offsets = entry.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !as_index(offsets[0], info.begin) ||
      !as_index(offsets[1], info.end))
    fail(path, where + ": \"data_offsets\" is not a pair of non-negative integers");
  if (info.begin > info.end)
    fail(path, where + ": data_offsets begin " + std::to_string(info.begin) + " > end " +
                   std::to_string(info.end));
  // numel <= 2^40 and dtype_size <= 8, so this cannot overflow.
  const std::uint64_t needed = static_cast<std::uint64_t>(numel) * dtype_size(info.dtype);
  if (info.end - info.begin != needed)
    fail(path, where + ": data_offsets span " + std::to_string(info.end - info.begin) +
                   " bytes but dtype " + to_string(info.dtype) + " with shape " +
                   shape_string(info.shape) + " needs " + std::to_string(needed) +
                   " (wrong dtype size or shape)");
  return info;
}

void parse_metadata(const std::filesystem::path& path, const nlohmann::json& j,
                    std::map<std::string, std::string>& out) {
  if (j.is_null()) return;  // the reference implementation reads null as "no metadata"
  if (!j.is_object()) fail(path, "\"__metadata__\" is not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      fail(path, "\"__metadata__\" value of key '" + key + "' is not a string");
    out.emplace(key, value.get<std::string>());
  }
}

// The tensors' byte ranges must tile [0, buffer_size) exactly.
void check_layout(const std::filesystem::path& path, const std::map<std::string, TensorInfo>& infos,
                  std::uint64_t buffer_size) {
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  order.reserve(infos.size());
  for (const auto& [name, info] : infos) {
    if (info.end > buffer_size)
      fail(path, "tensor '" + name + "': data_offsets [" + std::to_string(info.begin) + ", " +
                     std::to_string(info.end) + "] lie beyond the end of the data buffer (" +
                     std::to_string(buffer_size) + " bytes)");
    order.emplace_back(&name, &info);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
  });
  std::uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto& [name, info] : order) {
    if (info->begin < covered)
      fail(path, "tensor '" + *name + "' overlaps tensor '" + *previous + "' (bytes " +
                     std::to_string(info->begin) + ".." + std::to_string(covered) + ")");
    if (info->begin > covered)
      fail(path, "hole in the data buffer: bytes " + std::to_string(covered) + ".." +
                     std::to_string(info->begin) + " before tensor '" + *name +
                     "' belong to no tensor");
    covered = info->end;
    previous = name;
  }
  if (covered != buffer_size)
    fail(path, "data buffer has " + std::to_string(buffer_size - covered) +
                   " trailing bytes that belong to no tensor");
}

// ---- value conversion -----------------------------------------------------------------------

void decode(DType dtype, const unsigned char* src, std::size_t n, float* dst) {
  switch (dtype) {
    case DType::f32:
      if constexpr (std::endian::native == std::endian::little) {
        if (n != 0) std::memcpy(dst, src, n * sizeof(float));
      } else {
        for (std::size_t i = 0; i < n; ++i)
          dst[i] = std::bit_cast<float>(load_le<std::uint32_t>(src + 4 * i));
      }
      return;
    case DType::f64:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(std::bit_cast<double>(load_le<std::uint64_t>(src + 8 * i)));
      return;
    case DType::f16:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = half_to_float(load_le<std::uint16_t>(src + 2 * i));
      return;
    case DType::bf16:  // the top half of a binary32 (inline, so that the loop vectorises)
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = std::bit_cast<float>(std::uint32_t{load_le<std::uint16_t>(src + 2 * i)} << 16);
      return;
    case DType::i8:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(static_cast<std::int8_t>(src[i]));
      return;
    case DType::u8:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      return;
    case DType::i32:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(static_cast<std::int32_t>(load_le<std::uint32_t>(src + 4 * i)));
      return;
    case DType::i64:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(static_cast<std::int64_t>(load_le<std::uint64_t>(src + 8 * i)));
      return;
  }
  throw LogicError("unhandled dtype");
}

// Exact integer in [lo, hi] (bounds compared in double, where they are exact).
template <typename I>
I to_integer(float v, double lo, double hi, const std::string& tensor, std::size_t index,
             DType dtype) {
  const double d = v;
  if (!std::isfinite(d) || std::trunc(d) != d || d < lo || d > hi)
    throw InvalidArgument("write_safetensors: tensor '" + tensor + "' element " +
                          std::to_string(index) + " = " + std::to_string(v) +
                          " is not an integer representable as " + to_string(dtype));
  return static_cast<I>(d);
}

void encode(DType dtype, const float* src, std::size_t n, unsigned char* dst,
            const std::string& tensor, std::size_t first_index) {
  for (std::size_t i = 0; i < n; ++i) {
    const float v = src[i];
    const std::size_t index = first_index + i;
    switch (dtype) {
      case DType::f32:
        store_le(dst + 4 * i, std::bit_cast<std::uint32_t>(v));
        break;
      case DType::f64:
        store_le(dst + 8 * i, std::bit_cast<std::uint64_t>(static_cast<double>(v)));
        break;
      case DType::f16:
        store_le(dst + 2 * i, float_to_half(v));
        break;
      case DType::bf16: {  // float_to_bf16, inline
        const std::uint32_t x = std::bit_cast<std::uint32_t>(v);
        const auto b = (x & 0x7fffffffu) > 0x7f800000u
                           ? static_cast<std::uint16_t>((x >> 16) | 0x0040u)
                           : static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
        store_le(dst + 2 * i, b);
        break;
      }
      case DType::i8:
        dst[i] = static_cast<unsigned char>(
            to_integer<std::int8_t>(v, -128.0, 127.0, tensor, index, dtype));
        break;
      case DType::u8:
        dst[i] = to_integer<std::uint8_t>(v, 0.0, 255.0, tensor, index, dtype);
        break;
      case DType::i32:
        store_le(dst + 4 * i, static_cast<std::uint32_t>(to_integer<std::int32_t>(
                                  v, -2147483648.0, 2147483647.0, tensor, index, dtype)));
        break;
      case DType::i64:
        // 2^63 itself is not representable; every float below it is.
        store_le(dst + 8 * i,
                 static_cast<std::uint64_t>(to_integer<std::int64_t>(
                     v, -9223372036854775808.0, std::nextafter(9223372036854775808.0, 0.0), tensor,
                     index, dtype)));
        break;
    }
  }
}

}  // namespace

// ---- dtypes ---------------------------------------------------------------------------------

std::string to_string(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return "F64";
    case DType::f32:
      return "F32";
    case DType::f16:
      return "F16";
    case DType::bf16:
      return "BF16";
    case DType::i8:
      return "I8";
    case DType::u8:
      return "U8";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
  }
  throw LogicError("unhandled dtype");
}

DType dtype_from_string(const std::string& name) {
  static const std::map<std::string, DType> kByName = {
      {"F64", DType::f64}, {"F32", DType::f32}, {"F16", DType::f16}, {"BF16", DType::bf16},
      {"I8", DType::i8},   {"U8", DType::u8},   {"I32", DType::i32}, {"I64", DType::i64}};
  const auto it = kByName.find(name);
  if (it == kByName.end())
    throw InvalidArgument("unsupported dtype '" + name +
                          "' (expected F64, F32, F16, BF16, I8, U8, I32 or I64)");
  return it->second;
}

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return 8;
    case DType::f32:
      return 4;
    case DType::f16:
      return 2;
    case DType::bf16:
      return 2;
    case DType::i8:
      return 1;
    case DType::u8:
      return 1;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
  }
  throw LogicError("unhandled dtype");
}

// ---- half / bfloat16 ------------------------------------------------------------------------

float half_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in binary32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

std::uint16_t float_to_half(float value) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {
    if (magnitude == 0x7f800000u) return sign | 0x7c00u;  // infinity
    // NaN: keep the top payload bits, force the quiet bit so it stays a NaN.
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  const int exponent = static_cast<int>(magnitude >> 23) - 127;
  if (exponent > 15) return sign | 0x7c00u;  // >= 2^16: overflow
  std::uint32_t mantissa = magnitude & 0x7fffffu;
  if (exponent >= -14) {
    // Normal range; a carry out of the mantissa correctly bumps the exponent (up to infinity).
    std::uint32_t h = (static_cast<std::uint32_t>(exponent + 15) << 10) | (mantissa >> 13);
    const std::uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  if (exponent < -25) return sign;  // below half of the smallest subnormal: rounds to zero
  // Subnormal result: value = (1.m) * 2^exponent, counted in units of 2^-24.
  mantissa |= 0x800000u;
  const int shift = -exponent - 1;  // 14..24
  std::uint32_t h = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

float bf16_to_float(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

std::uint16_t float_to_bf16(float value) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  // Round to nearest even on the dropped 16 bits; overflow carries into infinity.
  const std::uint32_t bias = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>((x + bias) >> 16);
}

bool all_finite(const Tensor& tensor) noexcept {
  return std::all_of(tensor.data.begin(), tensor.data.end(),
                     [](float v) { return std::isfinite(v); });
}

// ---- writing --------------------------------------------------------------------------------

void decode_floats(DType dtype, const unsigned char* src, std::size_t n, float* dst) {
  if (dtype != DType::f32 && dtype != DType::f64 && dtype != DType::f16 && dtype != DType::bf16)
    throw LogicError("decode_floats: " + to_string(dtype) + " is not a floating-point dtype");
  decode(dtype, src, n, dst);
}

void encode_floats(DType dtype, const float* src, std::size_t n, unsigned char* dst) {
  if (dtype != DType::f32 && dtype != DType::f64 && dtype != DType::f16 && dtype != DType::bf16)
    throw LogicError("encode_floats: " + to_string(dtype) + " is not a floating-point dtype");
  encode(dtype, src, n, dst, "", 0);
}

struct SafetensorsWriter::Impl {
  explicit Impl(const std::filesystem::path& path) : file(path) {}
  AtomicFile file;
  std::uint64_t declared = 0;
  std::uint64_t written = 0;
};

SafetensorsWriter::SafetensorsWriter(const std::filesystem::path& path,
                                     const std::vector<TensorDecl>& tensors,
                                     const std::map<std::string, std::string>& metadata) {
  if (path.filename().empty())
    throw InvalidArgument("write_safetensors: '" + path.string() + "' names no file");
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& meta = header[kMetadataKey] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
  }
  std::uint64_t offset = 0;
  for (const TensorDecl& t : tensors) {
    if (t.name == kMetadataKey)
      throw InvalidArgument("write_safetensors: a tensor may not be named \"__metadata__\"");
    if (header.contains(t.name))
      throw InvalidArgument("write_safetensors: tensor '" + t.name + "' is declared twice");
    std::int64_t numel = 0;
    try {
      numel = checked_numel(t.shape);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("write_safetensors: tensor '" + t.name + "': " + e.what());
    }
    const std::uint64_t bytes = static_cast<std::uint64_t>(numel) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", to_string(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(std::string("write_safetensors: tensor name or metadata is not valid "
                                      "UTF-8: ") +
                          e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  impl_ = std::make_unique<Impl>(path);
  impl_->declared = offset;
  unsigned char size_bytes[8];
  store_le(size_bytes, static_cast<std::uint64_t>(text.size()));
  impl_->file.write(size_bytes, sizeof size_bytes);
  impl_->file.write(text.data(), text.size());
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::write(const void* bytes, std::size_t n) {
  if (n > impl_->declared - impl_->written)
    throw LogicError("SafetensorsWriter: more bytes than the declared tensors hold");
  impl_->file.write(bytes, n);
  impl_->written += n;
}

void SafetensorsWriter::commit() {
  if (impl_->written != impl_->declared)
    throw LogicError("SafetensorsWriter: " + std::to_string(impl_->written) + " of " +
                     std::to_string(impl_->declared) + " declared bytes written");
  impl_->file.commit();
}

void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata, DType dtype) {
  std::vector<TensorDecl> decls;
  for (const auto& [name, tensor] : tensors) {
    std::int64_t numel = 0;
    try {
      numel = checked_numel(tensor.shape);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("write_safetensors: tensor '" + name + "': " + e.what());
    }
    if (static_cast<std::uint64_t>(numel) != tensor.data.size())
      throw InvalidArgument("write_safetensors: tensor '" + name + "' has shape " +
                            tensor.shape_string() + " but " + std::to_string(tensor.data.size()) +
                            " values");
    decls.push_back({name, dtype, tensor.shape});
  }
  // A value that cannot be encoded throws mid-way; the writer's AtomicFile then removes the
  // temporary, so nothing is left at `path`.
  const std::size_t elem = dtype_size(dtype);
  SafetensorsWriter file(path, decls, metadata);
  constexpr std::size_t kChunk = std::size_t{1} << 20;  // elements per encoded block
  std::vector<unsigned char> block;
  for (const auto& [name, tensor] : tensors) {
    for (std::size_t first = 0; first < tensor.data.size(); first += kChunk) {
      const std::size_t n = std::min(kChunk, tensor.data.size() - first);
      block.resize(n * elem);
      encode(dtype, tensor.data.data() + first, n, block.data(), name, first);
      file.write(block.data(), block.size());
    }
  }
  file.commit();
}

// ---- reading --------------------------------------------------------------------------------

SafetensorsView::SafetensorsView(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block
  if (fd < 0) fail_io("cannot open safetensors file", path);
  struct ::stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail_io("cannot stat safetensors file", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    fail(path, "file is " + std::to_string(size_) + " bytes, shorter than the 8-byte header size");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int saved = errno;
  ::close(fd);
  if (map == MAP_FAILED) {
    errno = saved;
    fail_io("cannot map safetensors file", path);
  }
  data_ = static_cast<const unsigned char*>(map);
  mapped_ = true;
  try {
    parse();
  } catch (...) {
    unmap();
    throw;
  }
}

SafetensorsView SafetensorsView::from_bytes(std::span<const unsigned char> bytes,
                                            const std::string& name) {
  SafetensorsView view;
  view.path_ = name;
  view.owned_.assign(bytes.begin(), bytes.end());
  view.data_ = view.owned_.data();
  view.size_ = view.owned_.size();
  if (view.size_ < 8)
    fail(view.path_,
         "file is " + std::to_string(view.size_) + " bytes, shorter than the 8-byte header size");
  view.parse();
  return view;
}

void SafetensorsView::parse() {
  const std::filesystem::path& path = path_;
  const auto header_size = load_le<std::uint64_t>(data_);
  if (header_size > kSafetensorsMaxHeaderSize)
    fail(path, "header size " + std::to_string(header_size) + " exceeds the limit of " +
                   std::to_string(kSafetensorsMaxHeaderSize) + " bytes");
  if (header_size > size_ - 8)
    fail(path, "header size " + std::to_string(header_size) + " runs past the end of the file (" +
                   std::to_string(size_) + " bytes; truncated?)");
  buffer_offset_ = 8 + header_size;
  const auto* text = reinterpret_cast<const char*>(data_ + 8);
  // nlohmann's lexer would stop at a NUL as if the input ended there; JSON never contains one.
  if (std::memchr(text, 0, header_size) != nullptr)
    fail(path, "header is not valid JSON: it contains a NUL byte");
  const nlohmann::json header = parse_json_header(path, text, text + header_size);
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      parse_metadata(path, entry, metadata_);
    } else {
      infos_.emplace(name, parse_entry(path, name, entry));
    }
  }
  check_layout(path, infos_, size_ - buffer_offset_);
}

SafetensorsView::~SafetensorsView() {
  unmap();
}

// A vector's move keeps its buffer, so data_ stays valid for a view over owned bytes.
SafetensorsView::SafetensorsView(SafetensorsView&& other) noexcept
    : path_(std::move(other.path_)),
      owned_(std::move(other.owned_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, false)),
      buffer_offset_(std::exchange(other.buffer_offset_, 0)),
      infos_(std::move(other.infos_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsView& SafetensorsView::operator=(SafetensorsView&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    owned_ = std::move(other.owned_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, false);
    buffer_offset_ = std::exchange(other.buffer_offset_, 0);
    infos_ = std::move(other.infos_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

void SafetensorsView::unmap() noexcept {
  if (data_ != nullptr && mapped_) ::munmap(const_cast<unsigned char*>(data_), size_);
  data_ = nullptr;
  mapped_ = false;
  owned_.clear();
}

std::vector<std::string> SafetensorsView::names() const {
  std::vector<std::string> out;
  out.reserve(infos_.size());
  for (const auto& [name, info] : infos_) out.push_back(name);
  return out;
}

const TensorInfo& SafetensorsView::info(const std::string& name) const {
  const auto it = infos_.find(name);
  if (it == infos_.end()) fail(path_, "no tensor named '" + name + "'");
  return it->second;
}

Tensor SafetensorsView::load(const std::string& name) const {
  const TensorInfo& meta = info(name);
  if (data_ == nullptr) throw LogicError("SafetensorsView::load on a moved-from view");
  Tensor t(meta.shape);
  decode(meta.dtype, data_ + buffer_offset_ + meta.begin, t.data.size(), t.data.data());
  return t;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  return read_safetensors(SafetensorsView(path));
}

SafetensorsFile read_safetensors(const SafetensorsView& view) {
  SafetensorsFile file;
  file.metadata = view.metadata();
  for (const auto& name : view.names()) file.tensors.emplace(name, view.load(name));
  return file;
}

}  // namespace wrsec::nn
