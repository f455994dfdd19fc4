#include "nn/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::nn {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "wrsec-safetensors-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  [[nodiscard]] std::vector<fs::path> entries() const {
    return {fs::directory_iterator(dir_), fs::directory_iterator()};
  }

  fs::path dir_;
};

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string le16(std::uint16_t v) {
  return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A file built by hand from the specification: u64 header length, header, buffer.
std::string make_file(const std::string& header, const std::string& buffer) {
  return le64(header.size()) + header + buffer;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Tensor make_tensor(std::vector<std::int64_t> shape, std::vector<float> data) {
  Tensor t;
  t.shape = std::move(shape);
  t.data.assign(data.begin(), data.end());
  return t;
}

bool same_bits(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// ---- dtypes ---------------------------------------------------------------------------------

TEST(SafetensorsDType, NamesAndSizes) {
  const std::vector<std::pair<DType, std::string>> all = {
      {DType::f64, "F64"}, {DType::f32, "F32"}, {DType::f16, "F16"}, {DType::bf16, "BF16"},
      {DType::i8, "I8"},   {DType::u8, "U8"},   {DType::i32, "I32"}, {DType::i64, "I64"}};
  const std::vector<std::size_t> sizes = {8, 4, 2, 2, 1, 1, 4, 8};
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(to_string(all[i].first), all[i].second);
    EXPECT_EQ(dtype_from_string(all[i].second), all[i].first);
    EXPECT_EQ(dtype_size(all[i].first), sizes[i]);
  }
  EXPECT_THROW((void)dtype_from_string("f32"), InvalidArgument);
  EXPECT_THROW((void)dtype_from_string("F8_E4M3"), InvalidArgument);
  EXPECT_THROW((void)dtype_from_string(""), InvalidArgument);
}

// ---- half / bfloat16 conversion -------------------------------------------------------------

TEST(HalfConversion, KnownBitPatterns) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7C01)));  // signalling NaN stays a NaN
  EXPECT_TRUE(same_bits(half_to_float(0x8000), -0.0f));

  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xFC00);
}

TEST(HalfConversion, RoundsToNearestEvenOverflowsAndUnderflows) {
  // 1 + 2^-11 is halfway between 1 (even) and 1 + 2^-10: ties go to 1.
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  // 1 + 3 * 2^-11 is halfway between 0x3C01 (odd) and 0x3C02 (even).
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // Just above the tie rounds up.
  EXPECT_EQ(float_to_half(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // Mantissa carry into the exponent: 2 - 2^-12 rounds up to 2.
  EXPECT_EQ(float_to_half(2.0f - std::ldexp(1.0f, -12)), 0x4000);
  // Overflow: 65520 is the tie between 65504 (odd mantissa) and 2^16, so it goes to infinity.
  EXPECT_EQ(float_to_half(65519.996f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);
  EXPECT_EQ(float_to_half(-1e10f), 0xFC00);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::max()), 0x7C00);
  // Subnormals: 2^-25 is the tie between 0 and 2^-24 -> 0; 3 * 2^-25 -> 2 * 2^-24 (even).
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(float_to_half(-std::ldexp(1.0f, -25)), 0x8000);
  EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half(3 * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(float_to_half(5 * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::denorm_min()), 0x0000);
  // Largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);
  // NaN stays NaN with its sign.
  const std::uint16_t nan = float_to_half(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  const std::uint16_t neg_nan = float_to_half(-std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(neg_nan & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(half_to_float(neg_nan)));
  // A float NaN whose payload lives only in the low bits must not become infinity.
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::bit_cast<float>(0x7F800001u)))));
}

TEST(HalfConversion, AllBitPatternsRoundTrip) {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = half_to_float(bits);
    const bool is_nan = (bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0;
    ASSERT_EQ(std::isnan(f), is_nan) << std::hex << h;
    if (is_nan) {
      ASSERT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << std::hex << h;
    } else {
      ASSERT_EQ(float_to_half(f), bits) << std::hex << h;
    }
  }
}

// Independent reference: nearest half by search over all finite halves, ties to the even code.
std::uint16_t reference_float_to_half(float f, const std::vector<double>& positive_halves) {
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return sign | 0x7C00;
  const auto it = std::lower_bound(positive_halves.begin(), positive_halves.end(), a);
  if (it == positive_halves.end()) return sign | 0x7BFF;  // (65504, 65520)
  const auto hi = static_cast<std::uint16_t>(it - positive_halves.begin());
  if (*it == a || hi == 0) return sign | hi;
  const auto lo = static_cast<std::uint16_t>(hi - 1);
  const double below = a - positive_halves[lo];
  const double above = positive_halves[hi] - a;
  if (below < above) return sign | lo;
  if (above < below) return sign | hi;
  return sign | ((lo & 1) ? hi : lo);
}

TEST(HalfConversion, MatchesReferenceOnRandomAndTieValues) {
  std::vector<double> positive_halves;
  for (std::uint16_t h = 0; h <= 0x7BFF; ++h) positive_halves.push_back(half_to_float(h));
  std::vector<float> samples;
  Rng rng(7, stable_hash("half-reference"), 0);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns near and inside the half range, plus fully random ones.
    const auto mantissa = static_cast<std::uint32_t>(rng.below(1u << 23));
    const auto exponent = static_cast<std::uint32_t>(127 - 27 + rng.below(45));
    const std::uint32_t sign = rng.bit() ? 0x80000000u : 0;
    samples.push_back(std::bit_cast<float>(sign | (exponent << 23) | mantissa));
    const auto any = static_cast<std::uint32_t>(rng.next_u64());
    if ((any & 0x7F800000u) != 0x7F800000u) samples.push_back(std::bit_cast<float>(any));
  }
  // Every exact midpoint between adjacent halves, and its float neighbours.
  for (std::size_t i = 0; i + 1 < positive_halves.size(); ++i) {
    const auto mid = static_cast<float>((positive_halves[i] + positive_halves[i + 1]) / 2);
    samples.insert(samples.end(), {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)});
  }
  for (float f : samples)
    ASSERT_EQ(float_to_half(f), reference_float_to_half(f, positive_halves)) << std::hexfloat << f;
}

TEST(Bf16Conversion, KnownValuesAndRounding) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_float(0xC000), -2.0f);
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_float(0x0001), std::bit_cast<float>(0x00010000u));  // subnormal
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(3.14159265f), 0x4049);
  // Ties to even.
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3F807FFFu)), 0x3F80);
  // Overflow to infinity; the largest finite bf16 stays.
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::max()), 0xFF80);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x7F7F0000u)), 0x7F7F);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x7F7F7FFFu)), 0x7F7F);
  // Float subnormals round into bf16 subnormals.
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x00008000u)), 0x0000);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // NaN (even one whose payload is only in the dropped bits) stays NaN.
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::bit_cast<float>(0x7F800001u)))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::bit_cast<float>(0xFFFFFFFFu)))));
}

TEST(Bf16Conversion, AllBitPatternsRoundTrip) {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = bf16_to_float(bits);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_float(float_to_bf16(f))));
    } else {
      ASSERT_EQ(float_to_bf16(f), bits) << std::hex << h;
    }
  }
}

TEST(Bf16Conversion, MatchesNearestEvenOnRandomFloats) {
  Rng rng(8, stable_hash("bf16-reference"), 0);
  for (int i = 0; i < 200000; ++i) {
    const auto x = static_cast<std::uint32_t>(rng.next_u64());
    const float f = std::bit_cast<float>(x);
    if (std::isnan(f)) continue;
    // Neighbours: truncation and the next code away from zero.
    const std::uint32_t lo = x & 0xFFFF0000u;
    const std::uint32_t hi = lo + 0x10000u;
    const std::uint32_t rest = x & 0xFFFFu;
    std::uint32_t expected = (rest > 0x8000u || (rest == 0x8000u && ((lo >> 16) & 1))) ? hi : lo;
    ASSERT_EQ(float_to_bf16(f), static_cast<std::uint16_t>(expected >> 16)) << std::hex << x;
  }
}

TEST(SafetensorsAllFinite, DetectsNanAndInf) {
  EXPECT_TRUE(all_finite(make_tensor({2}, {1.0f, -3.0f})));
  EXPECT_TRUE(all_finite(Tensor({0})));
  EXPECT_FALSE(all_finite(make_tensor({2}, {1.0f, std::nanf("")})));
  EXPECT_FALSE(all_finite(make_tensor({1}, {-std::numeric_limits<float>::infinity()})));
}

// ---- round trips ----------------------------------------------------------------------------

TEST_F(SafetensorsTest, F32RoundTripIsExact) {
  Rng rng(1, stable_hash("f32"), 0);
  Tensor w({3, 5});
  for (float& v : w.data) v = static_cast<float>(rng.normal());
  w.data[0] = std::numeric_limits<float>::denorm_min();
  w.data[1] = -0.0f;
  w.data[2] = std::numeric_limits<float>::max();
  const TensorMap tensors = {{"layers.0.weight", w}, {"b", make_tensor({2}, {0.5f, -1.25f})}};
  const fs::path path = dir_ / "model.safetensors";
  write_safetensors(path, tensors);
  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.tensors.size(), 2u);
  for (const auto& [name, t] : tensors) {
    const Tensor& r = file.tensors.at(name);
    EXPECT_EQ(r.shape, t.shape);
    ASSERT_EQ(r.data.size(), t.data.size());
    for (std::size_t i = 0; i < t.data.size(); ++i) EXPECT_TRUE(same_bits(r.data[i], t.data[i]));
  }
  EXPECT_TRUE(file.metadata.empty());
}

TEST_F(SafetensorsTest, FloatDtypesRoundTripWithinTheirRounding) {
  Rng rng(2, stable_hash("floats"), 0);
  Tensor w({4, 7});
  for (float& v : w.data) v = static_cast<float>(rng.normal() * 100.0);
  w.data[0] = 1e-7f;                                   // subnormal in F16
  w.data[1] = 70000.0f;                                // overflows F16
  w.data[2] = std::numeric_limits<float>::infinity();  // loaders must not judge
  w.data[3] = std::numeric_limits<float>::quiet_NaN();
  for (DType dtype : {DType::f64, DType::f16, DType::bf16}) {
    const fs::path path = dir_ / ("w-" + to_string(dtype) + ".safetensors");
    write_safetensors(path, {{"w", w}}, {}, dtype);
    const SafetensorsView view(path);
    EXPECT_EQ(view.info("w").dtype, dtype);
    EXPECT_EQ(view.info("w").end - view.info("w").begin, w.data.size() * dtype_size(dtype));
    const Tensor r = view.load("w");
    EXPECT_EQ(r.shape, w.shape);
    EXPECT_FALSE(all_finite(r));
    for (std::size_t i = 0; i < w.data.size(); ++i) {
      const float v = w.data[i];
      float expected = v;
      if (dtype == DType::f16) expected = half_to_float(float_to_half(v));
      if (dtype == DType::bf16) expected = bf16_to_float(float_to_bf16(v));
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(r.data[i]));
      } else {
        EXPECT_TRUE(same_bits(r.data[i], expected)) << to_string(dtype) << " " << i;
      }
    }
    if (dtype == DType::f16) {
      EXPECT_TRUE(std::isinf(r.data[1]));
    }
  }
}

TEST_F(SafetensorsTest, IntegerDtypesRoundTripExtremes) {
  const std::vector<std::pair<DType, std::vector<float>>> cases = {
      {DType::i8, {-128, -1, 0, 1, 127}},
      {DType::u8, {0, 1, 128, 254, 255}},
      {DType::i32, {-2147483648.0f, -7, 0, 42, 2147483520.0f}},
      {DType::i64, {-9223372036854775808.0f, -1, 0, 16777216, 4611686018427387904.0f}},
  };
  for (const auto& [dtype, values] : cases) {
    const fs::path path = dir_ / ("i-" + to_string(dtype) + ".safetensors");
    write_safetensors(path, {{"v", make_tensor({5}, values)}}, {}, dtype);
    const SafetensorsFile file = read_safetensors(path);
    EXPECT_EQ(file.tensors.at("v").data, values) << to_string(dtype);
  }
}

TEST_F(SafetensorsTest, MetadataEmptyTensorsAndScalarsRoundTrip) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"wrsec.note", "naïve \"quoted\" value"}, {"empty", ""}};
  const TensorMap tensors = {{"scalar", make_tensor({}, {3.5f})},
                             {"empty", Tensor({0})},
                             {"empty2d", Tensor({3, 0})},
                             {"v", make_tensor({3}, {1, 2, 3})}};
  const fs::path path = dir_ / "m.safetensors";
  write_safetensors(path, tensors, metadata);
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata, metadata);
  EXPECT_EQ(file.tensors, tensors);

  const fs::path empty = dir_ / "nothing.safetensors";
  write_safetensors(empty, {});
  EXPECT_TRUE(read_safetensors(empty).tensors.empty());
  EXPECT_EQ(read_bytes(empty), le64(8) + "{}      ");
}

TEST_F(SafetensorsTest, WriterFollowsTheLayout) {
  const fs::path path = dir_ / "layout.safetensors";
  write_safetensors(path, {{"b", make_tensor({1}, {2.0f})}, {"a", make_tensor({2}, {1, -2})}},
                    {{"k", "v"}}, DType::f16);
  const std::string bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 6);
  const std::string header = bytes.substr(8, n);
  // Compact JSON followed by space padding only.
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1).find_first_of(" \n"),
            std::string::npos);
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["k"], "v");
  EXPECT_EQ(j["a"]["dtype"], "F16");
  EXPECT_EQ(j["a"]["shape"], nlohmann::json::array({2}));
  EXPECT_EQ(j["a"]["data_offsets"], nlohmann::json::array({0, 4}));
  EXPECT_EQ(j["b"]["data_offsets"], nlohmann::json::array({4, 6}));
  EXPECT_EQ(bytes.substr(8 + n), le16(0x3C00) + le16(0xC000) + le16(0x4000));
}

// ---- a file built from the specification ----------------------------------------------------

TEST_F(SafetensorsTest, ReadsHandMadeFile) {
  // Buffer order differs from header order; header padded with spaces (as writers do) and
  // with a newline (any JSON whitespace is fine).
  std::string buffer;
  buffer += le16(0x3C00) + le16(0xC000) + le16(0x7BFF) + le16(0x0001) + le16(0x7C00) +
            le16(0x8000);                 // half [2, 3]: 0..12
  buffer += le16(0x3F80) + le16(0x4049);  // bf16 [2]: 12..16
  double d = -0.1;
  std::uint64_t dbits = std::bit_cast<std::uint64_t>(d);
  buffer += le64(dbits);                                                 // f64 []: 16..24
  buffer += std::string{static_cast<char>(0xFF), 0x05};                  // i8 [2]: 24..26
  buffer += le32(std::bit_cast<std::uint32_t>(1.5f));                    // f32 [1, 1]: 26..30
  buffer += le32(static_cast<std::uint32_t>(-70000));                    // i32 [1]: 30..34
  buffer += le64(static_cast<std::uint64_t>(-(std::int64_t{1} << 40)));  // i64 [1]: 34..42
  buffer += std::string{static_cast<char>(200)};                         // u8 [1]: 42..43
  std::string header = R"({"__metadata__":{"format":"pt"},)"
                       R"("x.i8":{"dtype":"I8","shape":[2],"data_offsets":[24,26]},)"
                       R"("a.half":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},)"
                       R"("b.bf16":{"data_offsets":[12,16],"shape":[2],"dtype":"BF16","extra":1},)"
                       R"("s.f64":{"dtype":"F64","shape":[],"data_offsets":[16,24]},)"
                       R"("f32":{"dtype":"F32","shape":[1,1],"data_offsets":[26,30]},)"
                       R"("i32":{"dtype":"I32","shape":[1],"data_offsets":[30,34]},)"
                       R"("i64":{"dtype":"I64","shape":[1],"data_offsets":[34,42]},)"
                       R"("u8":{"dtype":"U8","shape":[1],"data_offsets":[42,43]},)"
                       R"("z":{"dtype":"F32","shape":[0,4],"data_offsets":[43,43]}})"
                       "\n";
  header.append((8 - header.size() % 8) % 8, ' ');
  const fs::path path = dir_ / "hand.safetensors";
  write_bytes(path, make_file(header, buffer));

  const SafetensorsView view(path);
  EXPECT_EQ(view.names(), (std::vector<std::string>{"a.half", "b.bf16", "f32", "i32", "i64",
                                                    "s.f64", "u8", "x.i8", "z"}));
  EXPECT_EQ(view.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(view.buffer_offset(), 8 + header.size());
  EXPECT_EQ(view.file_size(), 8 + header.size() + buffer.size());
  const TensorInfo& half = view.info("a.half");
  EXPECT_EQ(half.dtype, DType::f16);
  EXPECT_EQ(half.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(half.begin, 0u);
  EXPECT_EQ(half.end, 12u);
  EXPECT_EQ(half.numel(), 6);

  const Tensor h = view.load("a.half");
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(h.data[0], 1.0f);
  EXPECT_EQ(h.data[1], -2.0f);
  EXPECT_EQ(h.data[2], 65504.0f);
  EXPECT_EQ(h.data[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(h.data[4], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(same_bits(h.data[5], -0.0f));
  EXPECT_EQ(view.load("b.bf16").data, (std::vector<float>{1.0f, 3.140625f}));
  const Tensor s = view.load("s.f64");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, (std::vector<float>{static_cast<float>(-0.1)}));
  EXPECT_EQ(view.load("x.i8").data, (std::vector<float>{-1.0f, 5.0f}));
  EXPECT_EQ(view.load("f32").data, (std::vector<float>{1.5f}));
  EXPECT_EQ(view.load("i32").data, (std::vector<float>{-70000.0f}));
  EXPECT_EQ(view.load("i64").data, (std::vector<float>{-1099511627776.0f}));
  EXPECT_EQ(view.load("u8").data, (std::vector<float>{200.0f}));
  const Tensor z = view.load("z");
  EXPECT_EQ(z.shape, (std::vector<std::int64_t>{0, 4}));
  EXPECT_TRUE(z.data.empty());

  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.tensors.size(), 9u);
  EXPECT_EQ(file.tensors.at("b.bf16"), view.load("b.bf16"));
}

TEST_F(SafetensorsTest, ViewIsMovableAndRejectsUnknownNames) {
  const fs::path path = dir_ / "v.safetensors";
  write_safetensors(path, {{"w", make_tensor({2}, {1, 2})}}, {}, DType::bf16);
  SafetensorsView a(path);
  SafetensorsView b(std::move(a));
  EXPECT_EQ(b.load("w").data, (std::vector<float>{1, 2}));
  SafetensorsView c(path);
  c = std::move(b);
  EXPECT_EQ(c.load("w").data, (std::vector<float>{1, 2}));
  EXPECT_TRUE(c.contains("w"));
  EXPECT_FALSE(c.contains("q"));
  try {
    (void)c.info("q");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'q'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
  EXPECT_THROW((void)c.load("q"), InvalidArgument);
}

TEST_F(SafetensorsTest, MissingFileIsAnIoError) {
  EXPECT_THROW((void)read_safetensors(dir_ / "absent.safetensors"), RuntimeError);
  EXPECT_THROW((void)SafetensorsView(dir_), InvalidArgument);  // a directory, not a file
}

// ---- malformed files ------------------------------------------------------------------------

struct Malformed {
  std::string label;
  std::string bytes;
  std::string fragment;  // must appear in the message
};

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

std::vector<Malformed> malformed_cases() {
  const std::string four(4, '\0');
  const std::string eight(8, '\0');
  const std::string good = "{" + entry("w", "F32", "[1]", "[0,4]") + "}";
  return {
      {"empty file", "", "shorter than the 8-byte"},
      {"7 bytes", std::string(7, '\0'), "shorter than the 8-byte"},
      {"header size over the cap", le64(100'000'001) + good + four, "exceeds the limit"},
      {"header size past the end", le64(good.size() + 5) + good + four, "runs past the end"},
      {"truncated header", le64(good.size()) + good.substr(0, 10), "runs past the end"},
      {"huge header size", le64(~std::uint64_t{0}) + good, "exceeds the limit"},
      {"empty header", make_file("", ""), "not valid JSON"},
      {"not JSON", make_file("hello, world", ""), "not valid JSON"},
      {"truncated JSON", make_file(good.substr(0, good.size() - 1), four), "not valid JSON"},
      {"trailing garbage", make_file(good + "x", four), "not valid JSON"},
      {"array header", make_file("[1,2]", ""), "not a JSON object"},
      {"string header", make_file("\"w\"", ""), "not a JSON object"},
      {"NUL padding", make_file(good + std::string(3, '\0'), four), "not valid JSON"},
      {"invalid UTF-8", make_file("{\"w\xff\":1}", ""), "not valid JSON"},
      {"entry not an object", make_file(R"({"w":[1,2]})", ""), "tensor 'w': entry is not"},
      {"missing dtype", make_file(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", four),
       "tensor 'w': missing \"dtype\""},
      {"missing shape", make_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", four),
       "tensor 'w': missing \"shape\""},
      {"missing offsets", make_file(R"({"w":{"dtype":"F32","shape":[1]}})", four),
       "tensor 'w': missing \"data_offsets\""},
      {"dtype not a string",
       make_file(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", four),
       "tensor 'w': \"dtype\" is not a string"},
      {"unknown dtype", make_file("{" + entry("w", "F8_E4M3", "[4]", "[0,4]") + "}", four),
       "tensor 'w': unsupported dtype 'F8_E4M3'"},
      {"shape not an array", make_file("{" + entry("w", "F32", "1", "[0,4]") + "}", four),
       "tensor 'w': \"shape\" is not an array"},
      {"negative dim", make_file("{" + entry("w", "F32", "[-1]", "[0,4]") + "}", four),
       "tensor 'w': \"shape\" has a dimension"},
      {"fractional dim", make_file("{" + entry("w", "F32", "[1.5]", "[0,4]") + "}", four),
       "tensor 'w': \"shape\" has a dimension"},
      {"float dim", make_file("{" + entry("w", "F32", "[1.0]", "[0,4]") + "}", four),
       "tensor 'w': \"shape\" has a dimension"},
      {"string dim", make_file("{" + entry("w", "F32", "[\"1\"]", "[0,4]") + "}", four),
       "tensor 'w': \"shape\" has a dimension"},
      {"dim beyond int64",
       make_file("{" + entry("w", "F32", "[18446744073709551615]", "[0,4]") + "}", four),
       "tensor 'w': \"shape\" has a dimension"},
      {"huge declared shape",
       make_file("{" + entry("w", "F32", "[1048576,1048576,2]", "[0,4]") + "}", four),
       "tensor 'w': shape [1048576, 1048576, 2]"},
      {"element count overflow",
       make_file("{" + entry("w", "F32", "[4294967296,4294967296,4294967296]", "[0,4]") + "}",
                 four),
       "tensor 'w': shape"},
      {"offsets not a pair", make_file("{" + entry("w", "F32", "[1]", "[0,4,8]") + "}", four),
       "tensor 'w': \"data_offsets\" is not a pair"},
      {"offsets negative", make_file("{" + entry("w", "F32", "[1]", "[-4,0]") + "}", four),
       "tensor 'w': \"data_offsets\" is not a pair"},
      {"offsets strings", make_file("{" + entry("w", "F32", "[1]", "[\"0\",\"4\"]") + "}", four),
       "tensor 'w': \"data_offsets\" is not a pair"},
      {"begin after end", make_file("{" + entry("w", "F32", "[0]", "[4,0]") + "}", four),
       "tensor 'w': data_offsets begin 4 > end 0"},
      {"wrong dtype size", make_file("{" + entry("w", "F32", "[2]", "[0,4]") + "}", four),
       "tensor 'w': data_offsets span 4 bytes but dtype F32 with shape [2] needs 8 (wrong dtype"},
      {"wrong dtype size (F16 as F32)",
       make_file("{" + entry("w", "F16", "[1]", "[0,4]") + "}", four), "tensor 'w'"},
      {"offsets beyond buffer", make_file("{" + entry("w", "F32", "[1]", "[4,8]") + "}", four),
       "tensor 'w': data_offsets [4, 8] lie beyond the end"},
      {"offsets far beyond buffer",
       make_file(
           "{" + entry("w", "F32", "[1]", "[18446744073709551612,18446744073709551616]") + "}",
           four),
       "tensor 'w'"},
      {"overlapping tensors",
       make_file(
           "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}",
           eight),
       "tensor 'b' overlaps tensor 'a'"},
      {"identical ranges",
       make_file(
           "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[0,4]") + "}",
           four),
       "overlaps"},
      {"hole in the buffer",
       make_file(
           "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}",
           eight + four),
       "hole in the data buffer: bytes 4..8 before tensor 'b'"},
      {"hole at the start", make_file("{" + entry("a", "F32", "[1]", "[4,8]") + "}", eight),
       "before tensor 'a'"},
      {"trailing bytes", make_file(good, eight), "4 trailing bytes"},
      {"data but no tensors", make_file("{}", four), "4 trailing bytes"},
      {"metadata not an object", make_file(R"({"__metadata__":[1]})", ""),
       "\"__metadata__\" is not a JSON object"},
      {"metadata value not a string", make_file(R"({"__metadata__":{"epoch":3}})", ""),
       "\"__metadata__\" value of key 'epoch' is not a string"},
      {"duplicate tensor",
       make_file(
           "{" + entry("w", "F32", "[1]", "[0,4]") + "," + entry("w", "F32", "[1]", "[0,4]") + "}",
           four),
       "duplicate key 'w'"},
      {"duplicate metadata key", make_file(R"({"__metadata__":{"a":"1","a":"2"}})", ""),
       "duplicate key 'a'"},
      {"duplicate field",
       make_file(R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", four),
       "duplicate key 'dtype'"},
  };
}

TEST_F(SafetensorsTest, MalformedFilesThrowInvalidArgumentNamingFileAndField) {
  int index = 0;
  for (const auto& c : malformed_cases()) {
    const fs::path path = dir_ / ("bad" + std::to_string(index++) + ".safetensors");
    write_bytes(path, c.bytes);
    try {
      (void)read_safetensors(path);
      ADD_FAILURE() << c.label << ": no exception";
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.fragment), std::string::npos) << c.label << ": " << what;
      EXPECT_NE(what.find(path.string()), std::string::npos) << c.label << ": " << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.label << ": wrong exception type: " << e.what();
    }
  }
}

// SafetensorsView::from_bytes reads bytes in memory as the constructor reads a file, and names
// the given label where a file's messages name its path.
TEST_F(SafetensorsTest, ViewOverBytesReadsAsTheFile) {
  const fs::path path = dir_ / "m.safetensors";
  write_safetensors(path,
                    {{"a", make_tensor({2, 2}, {1, -2, 3.5f, 0})}, {"b", make_tensor({1}, {7})}},
                    {{"k", "v"}}, DType::f16);
  const std::string bytes = read_bytes(path);
  const auto* first = reinterpret_cast<const unsigned char*>(bytes.data());
  SafetensorsView view = SafetensorsView::from_bytes({first, bytes.size()}, "<memory>");
  EXPECT_EQ(view.path(), fs::path("<memory>"));
  EXPECT_EQ(view.file_size(), bytes.size());
  const SafetensorsFile from_file = read_safetensors(path);
  const SafetensorsFile from_bytes = read_safetensors(view);
  EXPECT_EQ(from_bytes.tensors, from_file.tensors);
  EXPECT_EQ(from_bytes.metadata, from_file.metadata);
  SafetensorsView moved(std::move(view));  // the bytes move with the view
  EXPECT_EQ(moved.load("a"), from_file.tensors.at("a"));
  SafetensorsView assigned(path);
  assigned = std::move(moved);
  EXPECT_EQ(assigned.load("b"), from_file.tensors.at("b"));
  for (const auto& c : malformed_cases()) {
    try {
      (void)SafetensorsView::from_bytes(
          {reinterpret_cast<const unsigned char*>(c.bytes.data()), c.bytes.size()}, "<memory>");
      ADD_FAILURE() << c.label << ": no exception";
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.fragment), std::string::npos) << c.label << ": " << what;
      EXPECT_NE(what.find("<memory>"), std::string::npos) << c.label << ": " << what;
    }
  }
}

TEST_F(SafetensorsTest, NullMetadataIsAccepted) {
  const fs::path path = dir_ / "null.safetensors";
  write_bytes(path, make_file(R"({"__metadata__":null})", ""));
  EXPECT_TRUE(read_safetensors(path).metadata.empty());
}

// ---- atomic writing -------------------------------------------------------------------------

TEST_F(SafetensorsTest, WriteToMissingDirectoryFailsAndLeavesNothing) {
  const fs::path path = dir_ / "no" / "such" / "dir" / "w.safetensors";
  EXPECT_THROW(write_safetensors(path, {{"w", make_tensor({1}, {1})}}), RuntimeError);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(entries().empty());
  EXPECT_THROW(write_safetensors(dir_ / "", {{"w", make_tensor({1}, {1})}}), InvalidArgument);
}

TEST_F(SafetensorsTest, FailedConversionLeavesNoFileAndNoTempFile) {
  const fs::path path = dir_ / "w.safetensors";
  // The bad value sits in the second tensor, so part of the file has been written already.
  const TensorMap tensors = {{"a", make_tensor({2}, {1, 2})}, {"b", make_tensor({2}, {3, 0.5f})}};
  try {
    write_safetensors(path, tensors, {}, DType::i8);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'b' element 1"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(entries().empty());

  const std::vector<std::pair<DType, float>> bad = {
      {DType::i8, 128.0f},
      {DType::i8, -129.0f},
      {DType::u8, -1.0f},
      {DType::u8, 256.0f},
      {DType::i32, 2147483648.0f},
      {DType::i32, std::numeric_limits<float>::quiet_NaN()},
      {DType::i64, 9223372036854775808.0f},
      {DType::i64, std::numeric_limits<float>::infinity()},
      {DType::u8, 1e-30f}};
  for (const auto& [dtype, value] : bad) {
    EXPECT_THROW(write_safetensors(path, {{"x", make_tensor({1}, {value})}}, {}, dtype),
                 InvalidArgument)
        << to_string(dtype) << " " << value;
    EXPECT_TRUE(entries().empty());
  }
}

TEST_F(SafetensorsTest, FailedWriteKeepsThePreviousFile) {
  const fs::path path = dir_ / "w.safetensors";
  write_safetensors(path, {{"w", make_tensor({1}, {7})}});
  const std::string before = read_bytes(path);
  EXPECT_THROW(write_safetensors(path, {{"w", make_tensor({1}, {0.5f})}}, {}, DType::i32),
               InvalidArgument);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(entries().size(), 1u);
  // Overwriting succeeds atomically too.
  write_safetensors(path, {{"w", make_tensor({1}, {8})}});
  EXPECT_EQ(read_safetensors(path).tensors.at("w").data, (std::vector<float>{8}));
  EXPECT_EQ(entries().size(), 1u);
}

TEST_F(SafetensorsTest, WriterRejectsBadInput) {
  const fs::path path = dir_ / "w.safetensors";
  EXPECT_THROW(write_safetensors(path, {{"w", make_tensor({2, 2}, {1, 2, 3})}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"w", make_tensor({-1}, {})}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", make_tensor({1}, {1})}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"w\xff", make_tensor({1}, {1})}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {}, {{"k", "\xc3"}}), InvalidArgument);
  EXPECT_TRUE(entries().empty());
}

// ---- fuzz -----------------------------------------------------------------------------------

TEST_F(SafetensorsTest, MutatedFilesEitherLoadOrThrowInvalidArgument) {
  const fs::path valid = dir_ / "valid.safetensors";
  write_safetensors(valid,
                    {{"a", make_tensor({2, 3}, {1, 2, 3, 4, 5, 6})},
                     {"b", make_tensor({}, {9})},
                     {"c", Tensor({0})},
                     {"d", make_tensor({3}, {-1, 0, 1})}},
                    {{"format", "pt"}}, DType::f16);
  const std::string original = read_bytes(valid);
  const std::size_t header_end = original.size() - 20;  // 10 half values follow the header
  Rng rng(11, stable_hash("safetensors-fuzz"), 0);
  const fs::path path = dir_ / "fuzz.safetensors";
  int loaded = 0;
  int rejected = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string bytes = original;
    const int kind = static_cast<int>(rng.below(5));
    const int edits = 1 + static_cast<int>(rng.below(3));
    for (int e = 0; e < edits; ++e) {
      if (bytes.empty()) break;
      const std::size_t limit = rng.bit() ? std::min(header_end, bytes.size()) : bytes.size();
      const std::size_t pos = rng.below(limit);
      if (kind == 0) {
        bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << rng.below(8)));
      } else if (kind == 1) {
        bytes.resize(pos);
      } else if (kind == 2) {
        bytes[pos] = static_cast<char>(rng.below(256));
      } else if (kind == 3) {
        // Replace a digit of the header with another digit: offsets and shapes change.
        std::vector<std::size_t> digits;
        for (std::size_t i = 8; i < std::min(header_end, bytes.size()); ++i)
          if (bytes[i] >= '0' && bytes[i] <= '9') digits.push_back(i);
        if (!digits.empty())
          bytes[digits[rng.below(digits.size())]] = static_cast<char>('0' + rng.below(10));
      } else {
        bytes[rng.below(std::min<std::size_t>(8, bytes.size()))] =
            static_cast<char>(rng.below(256));
      }
    }
    write_bytes(path, bytes);
    try {
      const SafetensorsFile file = read_safetensors(path);
      for (const auto& [name, t] : file.tensors)
        ASSERT_EQ(t.data.size(), static_cast<std::size_t>(checked_numel(t.shape)));
      ++loaded;
    } catch (const InvalidArgument&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iter << ": unexpected exception: " << e.what();
    }
  }
  RecordProperty("loaded", loaded);
  RecordProperty("rejected", rejected);
  EXPECT_GT(loaded, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace wrsec::nn

namespace wrsec::nn {
namespace {

class SafetensorsWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wrsec-stwriter-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// Declared tensors streamed in order read back as written; the bytes must match the declaration
// exactly, and an uncommitted writer leaves nothing behind.
TEST_F(SafetensorsWriterTest, StreamsDeclaredTensorsAndChecksTheByteCount) {
  const auto path = dir_ / "s.safetensors";
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 7.0f, -0.5f};
  const std::vector<float> b = {0.1f, 65504.0f};
  {
    SafetensorsWriter w(path, {{"a", DType::bf16, {2, 3}}, {"b", DType::f32, {2}}}, {{"k", "v"}});
    std::vector<unsigned char> bytes(a.size() * 2);
    encode_floats(DType::bf16, a.data(), a.size(), bytes.data());
    w.write(bytes.data(), 4);  // in pieces
    w.write(bytes.data() + 4, bytes.size() - 4);
    std::vector<unsigned char> fb(b.size() * 4);
    encode_floats(DType::f32, b.data(), b.size(), fb.data());
    w.write(fb.data(), fb.size());
    EXPECT_THROW(w.write(fb.data(), 1), LogicError);
    w.commit();
  }
  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata.at("k"), "v");
  EXPECT_EQ(f.tensors.at("a").shape, (std::vector<std::int64_t>{2, 3}));
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(f.tensors.at("a").data[i], a[i]);
  EXPECT_EQ(f.tensors.at("b").data[0], 0.1f);
  EXPECT_EQ(SafetensorsView(path).info("a").dtype, DType::bf16);
  {
    SafetensorsWriter w(dir_ / "short.safetensors", {{"a", DType::f32, {4}}});
    const float x = 1.0f;
    w.write(&x, sizeof x);
    EXPECT_THROW(w.commit(), LogicError);  // 4 of 16 bytes
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "short.safetensors"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);  // no temporary left
  EXPECT_THROW(
      SafetensorsWriter(dir_ / "dup.safetensors", {{"a", DType::f32, {1}}, {"a", DType::f32, {1}}}),
      InvalidArgument);
  EXPECT_THROW(SafetensorsWriter(dir_ / "neg.safetensors", {{"a", DType::f32, {-1}}}),
               InvalidArgument);
  EXPECT_THROW(decode_floats(DType::i8, nullptr, 0, nullptr), LogicError);
}

}  // namespace
}  // namespace wrsec::nn
