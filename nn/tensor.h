#pragma once
// Tensors: a shape and float32 values in row-major order; a model or a release is a TensorMap,
// a set of tensors addressed by name (e.g. "layers.0.weight", "model.layers.3.mlp.up_proj.weight").
// Matrices are viewed through Eigen maps, so no copy is made to compute with a tensor.
#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/aligned.h"

namespace wrsec::nn {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;
using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;

struct Tensor {
  std::vector<std::int64_t> shape;
  AlignedVector<float> data;  // 64-byte aligned: see core/aligned.h

  Tensor() = default;
  // Zero-filled tensor of the given shape; throws InvalidArgument on negative or overflowing sizes.
  explicit Tensor(std::vector<std::int64_t> shape_in);
  static Tensor from_matrix(const Matrix& m);
  static Tensor from_vector(const Vector& v);

  [[nodiscard]] std::int64_t numel() const noexcept {
    return static_cast<std::int64_t>(data.size());
  }
  [[nodiscard]] std::size_t rank() const noexcept { return shape.size(); }
  // 2-D view of a rank-2 tensor / 1-D view of a rank-1 tensor; throw InvalidArgument otherwise.
  [[nodiscard]] MatrixMap matrix();
  [[nodiscard]] ConstMatrixMap matrix() const;
  [[nodiscard]] Eigen::Map<const Vector> vector() const;
  [[nodiscard]] Eigen::Map<Vector> vector();
  [[nodiscard]] std::string shape_string() const;

  friend bool operator==(const Tensor&, const Tensor&) = default;
};

using TensorMap = std::map<std::string, Tensor>;

// Product of a shape's dimensions; throws InvalidArgument for a negative dimension or an element
// count above 2^40 (no weight file wrsec reads is that large; guards against hostile headers).
std::int64_t checked_numel(const std::vector<std::int64_t>& shape);

// Population standard deviation sqrt(Σ(v − mean)²/n) in double, summed in index order (0 if
// empty); the scale of weight noise and of dummy units.
[[nodiscard]] double population_std(std::span<const float> values);

// Lower-case hex SHA-256 of the tensors' bits, independent of file format and metadata: for each
// tensor in name order, u64 name length, name, u64 rank, i64 dimensions, u64 element count and
// the float32 values (all little-endian). Equal digests mean bit-identical weights.
[[nodiscard]] std::string tensors_digest(const TensorMap& tensors);

}  // namespace wrsec::nn
