#include "nn/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <numeric>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

// Fisher–Yates permutation of 0..n-1 driven by rng.
std::vector<std::int64_t> permutation(std::int64_t n, Rng rng) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(p[static_cast<std::size_t>(i)],
              p[static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1))]);
  return p;
}

// Applies f(begin, end) to fixed-size blocks of [0, n) on OpenMP threads; block boundaries do not
// depend on the thread count, so vectorised and scalar tails fall on the same elements.
template <class F>
void for_blocks(std::size_t n, F f) {
  constexpr std::size_t kBlock = 4096;
  const auto blocks = static_cast<std::int64_t>((n + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(static) if (blocks > 4)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::size_t begin = static_cast<std::size_t>(b) * kBlock;
    f(begin, std::min(n, begin + kBlock));
  }
}

void check_labels(const Labels& labels, std::int64_t rows, std::int64_t classes) {
  if (static_cast<std::int64_t>(labels.size()) != rows)
    throw InvalidArgument("got " + std::to_string(labels.size()) + " labels for " +
                          std::to_string(rows) + " examples");
  for (std::int32_t y : labels)
    if (y < 0 || y >= classes)
      throw InvalidArgument("label " + std::to_string(y) + " is outside [0, " +
                            std::to_string(classes) + ")");
}

}  // namespace

template <class T>
MatrixT<T> softmax(MatRef<T> logits) {
  MatrixT<T> p(logits.rows(), logits.cols());
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    const T mx = logits.row(i).maxCoeff();
    p.row(i) = (logits.row(i).array() - mx).exp();
    p.row(i) /= p.row(i).sum();
  }
  return p;
}

template <class T>
double softmax_cross_entropy(MatRef<T> logits, const Labels& labels, MatrixT<T>* grad) {
  check_labels(labels, logits.rows(), logits.cols());
  const Eigen::Index n = logits.rows();
  if (n == 0) throw InvalidArgument("softmax_cross_entropy: empty batch");
  if (grad) grad->resize(n, logits.cols());
  double total = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double mx = static_cast<double>(logits.row(i).maxCoeff());
    double sum = 0.0;
    for (Eigen::Index c = 0; c < logits.cols(); ++c)
      sum += std::exp(static_cast<double>(logits(i, c)) - mx);
    const double lse = mx + std::log(sum);
    total += lse - static_cast<double>(logits(i, labels[static_cast<std::size_t>(i)]));
    if (grad) {
      for (Eigen::Index c = 0; c < logits.cols(); ++c)
        (*grad)(i, c) = static_cast<T>(std::exp(static_cast<double>(logits(i, c)) - lse) /
                                       static_cast<double>(n));
      (*grad)(i, labels[static_cast<std::size_t>(i)]) -=
          static_cast<T>(1.0 / static_cast<double>(n));
    }
  }
  return total / static_cast<double>(n);
}

template <class T>
double distillation_loss(MatRef<T> student_logits, MatRef<T> teacher_logits, double temperature,
                         MatrixT<T>* grad) {
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw InvalidArgument("distillation temperature must be positive and finite");
  if (student_logits.rows() != teacher_logits.rows() ||
      student_logits.cols() != teacher_logits.cols())
    throw InvalidArgument(
        "distillation_loss: student logits are " + std::to_string(student_logits.rows()) + "x" +
        std::to_string(student_logits.cols()) + ", teacher logits " +
        std::to_string(teacher_logits.rows()) + "x" + std::to_string(teacher_logits.cols()));
  const Eigen::Index n = student_logits.rows(), k = student_logits.cols();
  if (n == 0 || k == 0) throw InvalidArgument("distillation_loss: empty batch");
  if (grad) grad->resize(n, k);
  // log softmax(row / τ) in double.
  const auto log_softmax = [&](const auto& row, std::vector<double>& out) {
    double mx = -std::numeric_limits<double>::infinity();
    for (Eigen::Index c = 0; c < k; ++c) {
      out[static_cast<std::size_t>(c)] = static_cast<double>(row(c)) / temperature;
      mx = std::max(mx, out[static_cast<std::size_t>(c)]);
    }
    double sum = 0.0;
    for (const double v : out) sum += std::exp(v - mx);
    const double lse = mx + std::log(sum);
    for (double& v : out) v -= lse;
  };
  std::vector<double> lp(static_cast<std::size_t>(k)), lq(static_cast<std::size_t>(k));
  double total = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    log_softmax(teacher_logits.row(i), lp);
    log_softmax(student_logits.row(i), lq);
    for (std::size_t c = 0; c < lp.size(); ++c) {
      const double p = std::exp(lp[c]);
      total += p * (lp[c] - lq[c]);
      if (grad)
        (*grad)(i, static_cast<Eigen::Index>(c)) =
            static_cast<T>(temperature * (std::exp(lq[c]) - p) / static_cast<double>(n));
    }
  }
  return temperature * temperature * total / static_cast<double>(n);
}

template double softmax_cross_entropy<float>(MatRef<float>, const Labels&, MatrixT<float>*);
template double softmax_cross_entropy<double>(MatRef<double>, const Labels&, MatrixT<double>*);
template double distillation_loss<float>(MatRef<float>, MatRef<float>, double, MatrixT<float>*);
template double distillation_loss<double>(MatRef<double>, MatRef<double>, double, MatrixT<double>*);
template MatrixT<float> softmax<float>(MatRef<float>);
template MatrixT<double> softmax<double>(MatRef<double>);

std::string to_string(Optimizer o) {
  return o == Optimizer::sgd ? "sgd" : "adam";
}

Optimizer optimizer_from_string(std::string_view name) {
  if (name == "sgd") return Optimizer::sgd;
  if (name == "adam") return Optimizer::adam;
  throw InvalidArgument("unknown optimizer '" + std::string(name) + "' (expected sgd or adam)");
}

void TrainConfig::validate() const {
  if (!(learning_rate > 0.0) || !std::isfinite(learning_rate))
    throw InvalidArgument("learning rate must be positive and finite");
  if (!(weight_decay >= 0.0)) throw InvalidArgument("weight decay must be >= 0");
  if (!(momentum >= 0.0 && momentum < 1.0)) throw InvalidArgument("momentum must lie in [0, 1)");
  if (!(beta1 >= 0.0 && beta1 < 1.0) || !(beta2 >= 0.0 && beta2 < 1.0))
    throw InvalidArgument("Adam betas must lie in [0, 1)");
  if (!(epsilon > 0.0)) throw InvalidArgument("Adam epsilon must be positive");
  if (epochs < 0) throw InvalidArgument("epochs must be >= 0");
  if (batch_size <= 0) throw InvalidArgument("batch size must be positive");
  if (max_steps < 0) throw InvalidArgument("max_steps must be >= 0");
  if (extra_examples) {
    const auto& e = *extra_examples;
    if (e.per_batch < 0) throw InvalidArgument("extra examples per batch must be >= 0");
    if (static_cast<std::int64_t>(e.labels.size()) != e.inputs.rows())
      throw InvalidArgument("extra examples: label count differs from input rows");
    if (e.per_batch > 0 && e.inputs.rows() == 0)
      throw InvalidArgument("extra examples: per_batch > 0 but no examples given");
  }
  if (soft_targets) {
    if (!(soft_targets->temperature > 0.0) || !std::isfinite(soft_targets->temperature))
      throw InvalidArgument("soft targets: temperature must be positive and finite");
    if (!soft_targets->logits.allFinite())
      throw InvalidArgument("soft targets: teacher logits must be finite");
    if (extra_examples && extra_examples->per_batch > 0)
      throw InvalidArgument("soft targets cannot be combined with extra labelled examples");
  }
}

std::string TrainConfig::describe() const {
  nlohmann::json j = {{"optimizer", to_string(optimizer)},
                      {"learning_rate", learning_rate},
                      {"weight_decay", weight_decay},
                      {"epochs", epochs},
                      {"batch_size", batch_size}};
  if (optimizer == Optimizer::sgd) {
    j["momentum"] = momentum;
  } else {
    j["beta1"] = beta1;
    j["beta2"] = beta2;
    j["epsilon"] = epsilon;
  }
  if (max_steps > 0) j["max_steps"] = max_steps;
  if (soft_targets) j["distillation_temperature"] = soft_targets->temperature;
  j["schedule"] = schedule == LrSchedule::cosine ? "cosine" : "constant";
  return j.dump();
}

TrainReport train(Model& model, const Matrix& x, const Labels& labels, const TrainConfig& config,
                  const Rng& rng) {
  config.validate();
  model.arch.validate();
  const std::int64_t n = x.rows();
  if (x.cols() != model.arch.input_size())
    throw InvalidArgument("training inputs have " + std::to_string(x.cols()) +
                          " features, the model expects " +
                          std::to_string(model.arch.input_size()));
  const SoftTargets* soft = config.soft_targets ? &*config.soft_targets : nullptr;
  if (soft) {
    if (soft->logits.rows() != n || soft->logits.cols() != model.arch.output_size())
      throw InvalidArgument("soft targets are " + std::to_string(soft->logits.rows()) + "x" +
                            std::to_string(soft->logits.cols()) + ", expected " +
                            std::to_string(n) + "x" + std::to_string(model.arch.output_size()) +
                            " (one row of teacher logits per example)");
    if (!labels.empty()) check_labels(labels, n, model.arch.output_size());
  } else {
    check_labels(labels, n, model.arch.output_size());
  }
  if (n == 0) throw InvalidArgument("training set is empty");
  const ExtraExamples* extra = config.extra_examples && config.extra_examples->per_batch > 0
                                   ? &*config.extra_examples
                                   : nullptr;
  if (extra) {
    if (extra->inputs.cols() != x.cols())
      throw InvalidArgument("extra examples have a different number of features");
    check_labels(extra->labels, extra->inputs.rows(), model.arch.output_size());
  }

  // Optimiser state, one tensor per parameter.
  TensorMap grads, state1, state2;
  for (const auto& [name, t] : model.tensors) {
    grads.emplace(name, Tensor(t.shape));
    state1.emplace(name, Tensor(t.shape));
    if (config.optimizer == Optimizer::adam) state2.emplace(name, Tensor(t.shape));
  }

  const Rng shuffle_rng = rng.derive("shuffle");
  const Rng extra_rng = rng.derive("extra");
  std::vector<std::int64_t> extra_order;
  std::size_t extra_cursor = 0;
  std::uint64_t extra_round = 0;

  TrainReport report;
  ForwardTrace trace;
  Matrix batch, batch_targets, dlogits;
  Labels batch_labels;
  const double b1 = config.beta1, b2 = config.beta2;
  const std::int64_t batches_per_epoch = (n + config.batch_size - 1) / config.batch_size;
  std::int64_t planned_steps = batches_per_epoch * config.epochs;
  if (config.max_steps > 0) planned_steps = std::min(planned_steps, config.max_steps);
  const auto learning_rate = [&](std::int64_t step) {
    if (config.schedule == LrSchedule::constant || planned_steps <= 0) return config.learning_rate;
    const double progress = static_cast<double>(step) / static_cast<double>(planned_steps);
    return config.learning_rate * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  };
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    if (config.max_steps > 0 && report.steps >= config.max_steps) break;
    const auto start = std::chrono::steady_clock::now();
    const auto order = permutation(n, shuffle_rng.derive(static_cast<std::uint64_t>(epoch)));
    double loss_sum = 0.0;
    std::int64_t batches = 0;
    for (std::int64_t b0 = 0; b0 < n; b0 += config.batch_size) {
      if (config.max_steps > 0 && report.steps >= config.max_steps) break;
      const std::int64_t nb = std::min(config.batch_size, n - b0);
      const std::int64_t ne = extra ? extra->per_batch : 0;
      batch.resize(nb + ne, x.cols());
      batch_labels.resize(static_cast<std::size_t>(nb + ne));
      if (soft) batch_targets.resize(nb, soft->logits.cols());
#pragma omp parallel for schedule(static) if (nb * x.cols() > 65536)
      for (std::int64_t i = 0; i < nb; ++i) {
        const std::int64_t src = order[static_cast<std::size_t>(b0 + i)];
        batch.row(i) = x.row(src);
        if (soft)
          batch_targets.row(i) = soft->logits.row(src);
        else
          batch_labels[static_cast<std::size_t>(i)] = labels[static_cast<std::size_t>(src)];
      }
      for (std::int64_t i = 0; i < ne; ++i) {
        if (extra_cursor == extra_order.size()) {
          extra_order = permutation(extra->inputs.rows(), extra_rng.derive(extra_round++));
          extra_cursor = 0;
        }
        const std::int64_t src = extra_order[extra_cursor++];
        batch.row(nb + i) = extra->inputs.row(src);
        batch_labels[static_cast<std::size_t>(nb + i)] =
            extra->labels[static_cast<std::size_t>(src)];
      }

      const Matrix logits = model.forward(batch, &trace);
      double loss =
          soft ? distillation_loss<float>(logits, batch_targets, soft->temperature, &dlogits)
               : softmax_cross_entropy<float>(logits, batch_labels, &dlogits);
      for (auto& [name, g] : grads) {
        float* gd = g.data.data();
        for_blocks(g.data.size(),
                   [&](std::size_t lo, std::size_t hi) { std::fill(gd + lo, gd + hi, 0.0f); });
      }
      model.backward(trace, dlogits, grads);
      if (config.extra_loss) {
        TensorMap add;
        loss += config.extra_loss(model.tensors, add);
        for (const auto& [name, g] : add) {
          const auto it = grads.find(name);
          if (it == grads.end())
            throw InvalidArgument("extra loss returned a gradient for unknown tensor '" + name +
                                  "'");
          if (it->second.shape != g.shape || it->second.data.size() != g.data.size())
            throw InvalidArgument("extra loss gradient for '" + name + "' has shape " +
                                  g.shape_string() + ", expected " + it->second.shape_string());
          for (std::size_t k = 0; k < g.data.size(); ++k) it->second.data[k] += g.data[k];
        }
      }
      if (!std::isfinite(loss))
        throw InvalidArgument("training diverged: loss is " + std::to_string(loss) + " at step " +
                              std::to_string(report.steps));

      const double lr_now = learning_rate(report.steps);
      ++report.steps;
      const auto wd = static_cast<float>(config.weight_decay);
      if (config.optimizer == Optimizer::sgd) {
        const auto mu = static_cast<float>(config.momentum);
        const auto lr = static_cast<float>(lr_now);
        for (auto& [name, t] : model.tensors) {
          float* w = t.data.data();
          const float* g = grads.at(name).data.data();
          float* v = state1.at(name).data.data();
          for_blocks(t.data.size(), [&](std::size_t lo, std::size_t hi) {
            for (std::size_t k = lo; k < hi; ++k) {
              v[k] = mu * v[k] + (g[k] + wd * w[k]);
              w[k] -= lr * v[k];
            }
          });
        }
      } else {
        const double t_step = static_cast<double>(report.steps);
        const auto step = static_cast<float>(lr_now / (1.0 - std::pow(b1, t_step)));
        const auto inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(b2, t_step)));
        const auto fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
        const auto eps = static_cast<float>(config.epsilon);
        for (auto& [name, t] : model.tensors) {
          float* w = t.data.data();
          const float* g = grads.at(name).data.data();
          float* m = state1.at(name).data.data();
          float* v = state2.at(name).data.data();
          for_blocks(t.data.size(), [&](std::size_t lo, std::size_t hi) {
            for (std::size_t k = lo; k < hi; ++k) {
              const float gk = g[k] + wd * w[k];
              m[k] = fb1 * m[k] + (1.0f - fb1) * gk;
              v[k] = fb2 * v[k] + (1.0f - fb2) * gk * gk;
              w[k] -= step * m[k] / (std::sqrt(v[k]) * inv_sqrt_bc2 + eps);
            }
          });
        }
      }
      loss_sum += loss;
      ++batches;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mean_loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
    report.epoch_loss.push_back(mean_loss);
    report.epoch_seconds.push_back(seconds);
    if (config.on_epoch) config.on_epoch(epoch, mean_loss, seconds);
  }
  return report;
}

}  // namespace wrsec::nn
