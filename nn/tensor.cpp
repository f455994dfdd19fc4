#include "nn/tensor.h"

#include <bit>
#include <cmath>
#include <sstream>

#include "core/errors.h"
#include "core/sha256.h"

namespace wrsec::nn {

std::int64_t checked_numel(const std::vector<std::int64_t>& shape) {
  constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw InvalidArgument("tensor shape has a negative dimension");
    if (d != 0 && n > kMaxElements / d)
      throw InvalidArgument("tensor shape declares more than 2^40 elements");
    n *= d;
  }
  return n;
}

Tensor::Tensor(std::vector<std::int64_t> shape_in)
    : shape(std::move(shape_in)), data(static_cast<std::size_t>(checked_numel(shape)), 0.0f) {}

Tensor Tensor::from_matrix(const Matrix& m) {
  Tensor t({m.rows(), m.cols()});
  Eigen::Map<Matrix>(t.data.data(), m.rows(), m.cols()) = m;
  return t;
}

Tensor Tensor::from_vector(const Vector& v) {
  Tensor t({v.size()});
  Eigen::Map<Vector>(t.data.data(), v.size()) = v;
  return t;
}

MatrixMap Tensor::matrix() {
  if (shape.size() != 2)
    throw InvalidArgument("tensor of shape " + shape_string() + " is not a matrix");
  return {data.data(), shape[0], shape[1]};
}

ConstMatrixMap Tensor::matrix() const {
  if (shape.size() != 2)
    throw InvalidArgument("tensor of shape " + shape_string() + " is not a matrix");
  return {data.data(), shape[0], shape[1]};
}

Eigen::Map<const Vector> Tensor::vector() const {
  if (shape.size() != 1)
    throw InvalidArgument("tensor of shape " + shape_string() + " is not a vector");
  return {data.data(), shape[0]};
}

Eigen::Map<Vector> Tensor::vector() {
  if (shape.size() != 1)
    throw InvalidArgument("tensor of shape " + shape_string() + " is not a vector");
  return {data.data(), shape[0]};
}

std::string Tensor::shape_string() const {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

std::string tensors_digest(const TensorMap& tensors) {
  static_assert(std::endian::native == std::endian::little, "digest assumes little-endian");
  Sha256 h;
  const auto u64 = [&](std::uint64_t v) { h.update(&v, sizeof v); };
  for (const auto& [name, t] : tensors) {
    u64(name.size());
    h.update(name);
    u64(t.shape.size());
    for (const std::int64_t d : t.shape) h.update(&d, sizeof d);
    u64(t.data.size());
    h.update(t.data.data(), t.data.size() * sizeof(float));
  }
  return to_hex(h.finish());
}

double population_std(std::span<const float> values) {
  if (values.empty()) return 0.0;
  double mean = 0.0;
  for (const float x : values) mean += double(x);
  mean /= double(values.size());
  double ss = 0.0;
  for (const float x : values) ss += (double(x) - mean) * (double(x) - mean);
  return std::sqrt(ss / double(values.size()));
}

}  // namespace wrsec::nn
