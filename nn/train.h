#pragma once
// Mini-batch training of a Model with softmax cross-entropy.
//   loss(batch) = mean_i [logsumexp(z_i) - z_i[y_i]] + extra_loss(θ)
// or, with soft targets (knowledge distillation, Hinton et al. 2015), teacher logits t_i and
// temperature τ, p = softmax(t_i/τ), q = softmax(z_i/τ):
//   loss(batch) = τ²·mean_i KL(p ‖ q) + extra_loss(θ),   dloss/dz_i = τ·(q − p)/batch
//   sgd:  v ← μ·v + (g + λ·θ);  θ ← θ - η·v                      (PyTorch SGD, coupled decay)
// (η follows `schedule`)
//   adam: g' = g + λ·θ; m ← β1·m + (1-β1)·g'; v ← β2·v + (1-β2)·g'²;
//         θ ← θ - η·(m/(1-β1^t)) / (√(v/(1-β2^t)) + ε)         (PyTorch Adam)
// Each epoch visits a permutation of the examples drawn from rng.derive("shuffle").derive(epoch);
// the last partial batch is kept. Determinism: the result is a function of (model, data, config,
// rng) only; matrix products use fixed output tiles (nn/layers.h) and every reduction runs in a
// fixed order, so trained weights are bit-identical for any number of OpenMP threads.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/tensor.h"

namespace wrsec::nn {

// Mean softmax cross-entropy of logits [n, classes] against labels, with dL/dlogits
// (softmax - onehot)/n when grad is non-null. InvalidArgument on a label out of range.
template <class T>
double softmax_cross_entropy(MatRef<T> logits, const Labels& labels, MatrixT<T>* grad = nullptr);

// Row-wise softmax (max-shifted).
template <class T>
MatrixT<T> softmax(MatRef<T> logits);

// Distillation loss τ²·mean_i KL(softmax(teacher_i/τ) ‖ softmax(student_i/τ)) over the rows, with
// dL/dstudent = τ·(softmax(student/τ) − softmax(teacher/τ))/n when grad is non-null; computed in
// double from log-softmax. InvalidArgument on shape mismatch, an empty batch or τ <= 0.
template <class T>
double distillation_loss(MatRef<T> student_logits, MatRef<T> teacher_logits, double temperature,
                         MatrixT<T>* grad = nullptr);

enum class Optimizer { sgd, adam };
// Learning rate at step t of T: constant η, or cosine η·(1 + cos(π·t/T))/2 with T the planned
// number of steps (epochs · batches per epoch, capped by max_steps).
enum class LrSchedule { constant, cosine };
[[nodiscard]] std::string to_string(Optimizer o);
[[nodiscard]] Optimizer optimizer_from_string(std::string_view name);

// Extra loss term: returns its value and inserts dterm/dθ for chosen tensors into grads_to_add
// (names must be model tensors, shapes must match; the map is empty on entry).
using LossHook = std::function<double(const TensorMap& params, TensorMap& grads_to_add)>;

// Examples mixed into every batch: per_batch rows, taken in turn from a permutation that is
// redrawn each time the set is exhausted.
struct ExtraExamples {
  Matrix inputs;
  Labels labels;
  std::int64_t per_batch = 0;
};

// Soft targets for distillation: teacher logits aligned with the training inputs (row i belongs
// to x row i) and the softmax temperature τ > 0.
struct SoftTargets {
  Matrix logits;
  double temperature = 1.0;
};

struct TrainConfig {
  Optimizer optimizer = Optimizer::adam;
  double learning_rate = 1e-3;
  double momentum = 0.9;  // sgd
  double beta1 = 0.9;     // adam
  double beta2 = 0.999;   // adam
  double epsilon = 1e-8;  // adam
  double weight_decay = 0.0;
  LrSchedule schedule = LrSchedule::constant;
  int epochs = 1;
  std::int64_t batch_size = 128;
  std::int64_t max_steps = 0;  // > 0: stop after this many steps
  LossHook extra_loss;
  std::optional<ExtraExamples> extra_examples;
  // When set, the batch loss is the distillation loss against these targets instead of the
  // cross-entropy; labels are then unused (pass none, or one valid label per example) and
  // extra_examples must not add rows.
  std::optional<SoftTargets> soft_targets;
  // Called after each epoch with (epoch index, mean training loss, wall seconds).
  std::function<void(int, double, double)> on_epoch;

  void validate() const;
  // Optimiser settings as JSON (for provenance metadata).
  [[nodiscard]] std::string describe() const;
};

struct TrainReport {
  std::int64_t steps = 0;
  std::vector<double> epoch_loss;     // mean batch loss per epoch
  std::vector<double> epoch_seconds;  // wall time per epoch
};

// Trains model in place on (x, labels), or on (x, config.soft_targets) when those are set;
// InvalidArgument on inconsistent inputs.
TrainReport train(Model& model, const Matrix& x, const Labels& labels, const TrainConfig& config,
                  const Rng& rng);

}  // namespace wrsec::nn
