#include "nn/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

Eigen::Index argmax_row(const Matrix& m, Eigen::Index r) {
  Eigen::Index best = 0;
  for (Eigen::Index c = 1; c < m.cols(); ++c)
    if (m(r, c) > m(r, best)) best = c;
  return best;
}

void same_shape(const Matrix& a, const Matrix& b, const char* what) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw InvalidArgument(std::string(what) + ": the two logit matrices differ in shape");
  if (a.rows() == 0 || a.cols() == 0) throw InvalidArgument(std::string(what) + ": no examples");
}

// log-softmax of one row in double.
void log_softmax_row(const Matrix& m, Eigen::Index r, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(m.cols()));
  double mx = -std::numeric_limits<double>::infinity();
  for (Eigen::Index c = 0; c < m.cols(); ++c) mx = std::max(mx, static_cast<double>(m(r, c)));
  double sum = 0.0;
  for (Eigen::Index c = 0; c < m.cols(); ++c) sum += std::exp(static_cast<double>(m(r, c)) - mx);
  const double lse = mx + std::log(sum);
  for (Eigen::Index c = 0; c < m.cols(); ++c)
    out[static_cast<std::size_t>(c)] = static_cast<double>(m(r, c)) - lse;
}

}  // namespace

double accuracy(const Matrix& logits, const Labels& labels) {
  if (static_cast<std::int64_t>(labels.size()) != logits.rows())
    throw InvalidArgument("accuracy: label count differs from the number of examples");
  if (logits.rows() == 0) throw InvalidArgument("accuracy: no examples");
  std::int64_t correct = 0;
  for (Eigen::Index r = 0; r < logits.rows(); ++r)
    correct += argmax_row(logits, r) == labels[static_cast<std::size_t>(r)];
  return static_cast<double>(correct) / static_cast<double>(logits.rows());
}

double accuracy(const Model& model, const Matrix& x, const Labels& labels) {
  return accuracy(model.forward(x), labels);
}

KlStats kl_divergence(const Matrix& logits_p, const Matrix& logits_q) {
  same_shape(logits_p, logits_q, "kl_divergence");
  KlStats s;
  std::vector<double> lp, lq;
  for (Eigen::Index r = 0; r < logits_p.rows(); ++r) {
    log_softmax_row(logits_p, r, lp);
    log_softmax_row(logits_q, r, lq);
    double kl = 0.0;
    for (std::size_t c = 0; c < lp.size(); ++c) kl += std::exp(lp[c]) * (lp[c] - lq[c]);
    kl = std::max(kl, 0.0);  // rounding can make an exact zero slightly negative
    s.mean += kl;
    s.max = std::max(s.max, kl);
  }
  s.mean /= static_cast<double>(logits_p.rows());
  return s;
}

KlStats kl_divergence(const Model& p, const Model& q, const Matrix& x) {
  return kl_divergence(p.forward(x), q.forward(x));
}

double argmax_agreement(const Matrix& logits_a, const Matrix& logits_b) {
  same_shape(logits_a, logits_b, "argmax_agreement");
  std::int64_t same = 0;
  for (Eigen::Index r = 0; r < logits_a.rows(); ++r)
    same += argmax_row(logits_a, r) == argmax_row(logits_b, r);
  return static_cast<double>(same) / static_cast<double>(logits_a.rows());
}

double argmax_agreement(const Model& a, const Model& b, const Matrix& x) {
  return argmax_agreement(a.forward(x), b.forward(x));
}

std::map<std::string, double> relative_error(const TensorMap& a, const TensorMap& b) {
  for (const auto& [name, t] : a)
    if (!b.contains(name))
      throw InvalidArgument("relative_error: tensor '" + name + "' is missing from the reference");
  std::map<std::string, double> out;
  for (const auto& [name, tb] : b) {
    const auto it = a.find(name);
    if (it == a.end())
      throw InvalidArgument("relative_error: tensor '" + name + "' is missing from the candidate");
    const Tensor& ta = it->second;
    if (ta.shape != tb.shape || ta.data.size() != tb.data.size())
      throw InvalidArgument("relative_error: tensor '" + name + "' has shape " + ta.shape_string() +
                            " vs " + tb.shape_string());
    double diff = 0.0, ref = 0.0;
    for (std::size_t k = 0; k < tb.data.size(); ++k) {
      const double d = static_cast<double>(ta.data[k]) - static_cast<double>(tb.data[k]);
      diff += d * d;
      ref += static_cast<double>(tb.data[k]) * static_cast<double>(tb.data[k]);
    }
    out[name] = ref > 0.0     ? std::sqrt(diff / ref)
                : diff == 0.0 ? 0.0
                              : std::numeric_limits<double>::infinity();
  }
  return out;
}

}  // namespace wrsec::nn
