#pragma once
// Agreement and error measures between models and weights.
//   accuracy:         fraction of rows whose argmax logit equals the label.
//   KL divergence:    per example KL(P‖Q) = Σ_c p_c·(log p_c - log q_c) with P = softmax(a),
//                     Q = softmax(b), computed in double from log-softmax (no log 0).
//   argmax agreement: fraction of rows on which the two argmaxes coincide (ties: lowest index).
//   relative error:   ‖a - b‖₂ / ‖b‖₂ per tensor name (0 if both are zero, +inf if only b is).
#include <map>
#include <string>

#include "nn/layers.h"
#include "nn/model.h"
#include "nn/tensor.h"

namespace wrsec::nn {

[[nodiscard]] double accuracy(const Matrix& logits, const Labels& labels);
[[nodiscard]] double accuracy(const Model& model, const Matrix& x, const Labels& labels);

struct KlStats {
  double mean = 0.0;
  double max = 0.0;
};
[[nodiscard]] KlStats kl_divergence(const Matrix& logits_p, const Matrix& logits_q);
// KL between the output distributions of p and q on inputs x.
[[nodiscard]] KlStats kl_divergence(const Model& p, const Model& q, const Matrix& x);

[[nodiscard]] double argmax_agreement(const Matrix& logits_a, const Matrix& logits_b);
[[nodiscard]] double argmax_agreement(const Model& a, const Model& b, const Matrix& x);

// One entry per tensor name; InvalidArgument if the name sets or any shapes differ.
[[nodiscard]] std::map<std::string, double> relative_error(const TensorMap& a, const TensorMap& b);

}  // namespace wrsec::nn
