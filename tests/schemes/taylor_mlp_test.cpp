#include "schemes/taylor_mlp.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>
#include <vector>

#include "core/errors.h"
#include "definitions/registry.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/taylor.h"
#include "schemes/registry.h"

namespace wrsec::schemes {
namespace {

using nn::Activation;
using nn::MatrixD;

nn::Model make_model(nn::Architecture::Kind kind, std::vector<std::int64_t> sizes, Activation act,
                     std::uint64_t seed) {
  nn::Architecture arch;
  arch.kind = kind;
  arch.sizes = std::move(sizes);
  arch.activation = act;
  Rng rng(seed, 17, 0);
  return nn::Model::init(arch, rng);
}

void scale(nn::Model& model, const std::string& name, float factor) {
  for (float& v : model.tensors.at(name).data) v *= factor;
}

nn::Matrix gaussian(std::int64_t rows, std::int64_t cols, double std, std::uint64_t seed) {
  Rng rng(seed, 99, 1);
  nn::Matrix x(rows, cols);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(std * rng.normal());
  return x;
}

double max_abs_diff(const nn::Matrix& a, const nn::Matrix& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  return (a.cast<double>() - b.cast<double>()).cwiseAbs().maxCoeff();
}

TaylorMlpParams paper(std::int64_t order, std::int64_t layer = 0) {
  TaylorMlpParams p;
  p.format = "paper";
  p.order = order;
  p.layer = layer;
  return p;
}

TaylorMlpParams official(std::int64_t order, std::int64_t select_dim) {
  TaylorMlpParams p;
  p.format = "official";
  p.order = order;
  p.select_dim = select_dim;
  return p;
}

const nn::Tensor& tensor(const definitions::Artifact& a, const std::string& name) {
  return a.tensors.at(name);
}

// ---------------------------------------------------------------------------------------------
// 1. Paper form: Θ is the formula, and infer converges to the model as N grows.

TEST(TaylorMlpPaper, ThetaIsTheFormulaAndInferConverges) {
  for (Activation act : {Activation::silu, Activation::gelu, Activation::gelu_tanh}) {
    SCOPED_TRACE(nn::to_string(act));
    auto model = make_model(nn::Architecture::Kind::mlp, {12, 9, 5}, act, 3);
    scale(model, "layers.0.weight", 0.3F);  // |z − z0| ≲ 1.5, well inside the radius (≥ π)
    const nn::Matrix x = gaussian(64, 12, 1.0, 5);
    const nn::Matrix expected_y = model.forward(x);
    std::vector<double> errors;
    for (std::int64_t order : {2, 6, 12}) {
      const TaylorMlp scheme(paper(order));
      Rng coins(1, 2, 3);
      const auto rel = scheme.release(model, coins);
      EXPECT_TRUE(rel.secret.tensors.empty());
      const auto& meta = rel.artifact.metadata;
      EXPECT_EQ(meta.at("scheme"), "taylor_mlp");
      EXPECT_EQ(meta.at("format"), "paper");
      EXPECT_EQ(meta.at("order"), order);
      EXPECT_EQ(meta.at("layer"), 0);
      EXPECT_EQ(meta.at("activation"), nn::to_string(act));
      EXPECT_EQ(meta.at("dtype"), "f32");
      EXPECT_EQ(nn::Architecture::from_json(meta.at("architecture")), model.arch);
      ASSERT_EQ(rel.artifact.tensors.size(), 3U);  // V, z0, Θ: nothing else for [12, 9, 5]

      // V is released as is; z0 is the midpoint of the calibration z = V·x.
      EXPECT_EQ(tensor(rel.artifact, "taylor.V"), model.tensors.at("layers.0.weight"));
      const MatrixD v = model.tensors.at("layers.0.weight").matrix().cast<double>();
      const MatrixD z = scheme.calibration_inputs(model.arch).cast<double>() * v.transpose();
      const nn::Tensor& z0 = tensor(rel.artifact, "taylor.z0");
      ASSERT_EQ(z0.shape, (std::vector<std::int64_t>{9}));
      for (int j = 0; j < 9; ++j)
        EXPECT_NEAR(z0.data[j], 0.5 * (z.col(j).minCoeff() + z.col(j).maxCoeff()), 1e-6);

      // Θ_{n,i,j} = W_ij·σ^{(n)}(a_j)/n! (+ c_i/h for n = 0), a = z0 + b, recomputed here.
      const nn::Tensor& theta = tensor(rel.artifact, "taylor.theta");
      ASSERT_EQ(theta.shape, (std::vector<std::int64_t>{order + 1, 5, 9}));
      const auto w = model.tensors.at("layers.1.weight").matrix();
      const auto& b = model.tensors.at("layers.0.bias").data;
      const auto& c = model.tensors.at("layers.1.bias").data;
      for (int j = 0; j < 9; ++j) {
        const double a = double(z0.data[j]) + double(b[j]);
        const auto coef = nn::taylor_coefficients(act, a, static_cast<int>(order));
        for (std::int64_t n = 0; n <= order; ++n)
          for (int i = 0; i < 5; ++i) {
            const double want = double(w(i, j)) * coef[n] + (n == 0 ? double(c[i]) / 9.0 : 0.0);
            EXPECT_NEAR(theta.data[(n * 5 + i) * 9 + j], want, 1e-6 * std::abs(want) + 1e-30);
          }
      }
      errors.push_back(max_abs_diff(scheme.infer(rel.artifact, x), expected_y));
      EXPECT_EQ(scheme.infer_macs(rel.artifact), 12.0 * 9 + double(order + 1) * 9 * 5);
    }
    std::printf("[taylor_mlp paper %s] max |infer - forward| at N=2,6,12: %.3g %.3g %.3g\n",
                nn::to_string(act).c_str(), errors[0], errors[1], errors[2]);
    EXPECT_LT(errors[1], errors[0]);
    EXPECT_LT(errors[2], errors[1]);
    EXPECT_LT(errors[2], 1e-4);
  }
}

TEST(TaylorMlpPaper, ExpansionRules) {
  auto model = make_model(nn::Architecture::Kind::mlp, {6, 4, 3}, Activation::silu, 8);
  scale(model, "layers.0.weight", 0.3F);
  const MatrixD z = TaylorMlp(paper(4)).calibration_inputs(model.arch).cast<double>() *
                    model.tensors.at("layers.0.weight").matrix().cast<double>().transpose();
  for (const char* rule : {"mean", "zero"}) {
    auto p = paper(4);
    p.expansion = rule;
    const TaylorMlp scheme(p);
    Rng coins(1, 1, 1);
    const auto rel = scheme.release(model, coins);
    const nn::Tensor& z0 = tensor(rel.artifact, "taylor.z0");
    for (int j = 0; j < 4; ++j)
      EXPECT_NEAR(z0.data[j], std::string(rule) == "mean" ? z.col(j).mean() : 0.0, 1e-6);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Deeper network: any hidden layer, the rest published as plaintext copies.

TEST(TaylorMlpPaper, DeeperNetworkAnyHiddenLayer) {
  for (std::int64_t layer : {0, 1}) {
    SCOPED_TRACE(layer);
    auto model = make_model(nn::Architecture::Kind::mlp, {10, 8, 7, 4}, Activation::silu, 21);
    scale(model, "layers." + std::to_string(layer) + ".weight", 0.2F);
    const TaylorMlp scheme(paper(12, layer));
    Rng coins(4, 4, 4);
    const auto rel = scheme.release(model, coins);
    const std::int64_t other = layer == 0 ? 2 : 0;
    EXPECT_EQ(rel.artifact.tensors.size(), 5U);
    for (const char* part : {".weight", ".bias"}) {
      const std::string name = "layers." + std::to_string(other) + part;
      EXPECT_EQ(tensor(rel.artifact, name), model.tensors.at(name)) << name;
      EXPECT_EQ(rel.artifact.tensors.count("layers." + std::to_string(layer) + part), 0U);
      EXPECT_EQ(rel.artifact.tensors.count("layers." + std::to_string(layer + 1) + part), 0U);
    }
    EXPECT_EQ(tensor(rel.artifact, "taylor.V"),
              model.tensors.at("layers." + std::to_string(layer) + ".weight"));
    const nn::Matrix x = gaussian(50, 10, 1.0, 6);
    const double err = max_abs_diff(scheme.infer(rel.artifact, x), model.forward(x));
    std::printf("[taylor_mlp paper [10,8,7,4] layer %lld N=12] max error %.3g\n",
                static_cast<long long>(layer), err);
    EXPECT_LT(err, 1e-4);
    const double sizes[] = {10, 8, 7, 4};
    const double want_macs = sizes[0] * sizes[1] + sizes[1] * sizes[2] + sizes[2] * sizes[3] +
                             12.0 * sizes[layer + 1] * sizes[layer + 2];
    EXPECT_EQ(scheme.infer_macs(rel.artifact), want_macs);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Official form.

// Direct re-implementation of the official forward pass from the artifact, in double.
nn::Matrix official_reference(const definitions::Artifact& a, const nn::Matrix& x) {
  const auto& meta = a.metadata;
  const auto arch = nn::Architecture::from_json(meta.at("architecture"));
  const std::int64_t d = arch.sizes[0];
  const std::int64_t hs = meta.at("select_dim").get<std::int64_t>();
  const std::int64_t hp = arch.sizes[1] - hs;
  const int order = meta.at("order").get<int>();
  const int gom = meta.at("grad_order_min").get<int>();
  const double thd = meta.at("delta_threshold").get<double>();
  const auto up = tensor(a, "up_proj_weight").matrix();
  const auto gate = tensor(a, "gate_proj_weight").matrix();
  const auto& lp = tensor(a, "local_point").data;
  const auto lao = tensor(a, "local_approx_output").matrix();
  const auto& fuse = tensor(a, "fuse_weight").data;
  const auto& df = tensor(a, "discount_factor").data;
  const auto fg = tensor(a, "ffn_gate_proj_weight").matrix();
  const auto fu = tensor(a, "ffn_up_proj_weight").matrix();
  const auto fd = tensor(a, "ffn_down_proj_weight").matrix();
  nn::Matrix out(x.rows(), d);
  for (Eigen::Index b = 0; b < x.rows(); ++b) {
    std::vector<double> y(static_cast<std::size_t>(d), 0.0);
    for (std::int64_t j = 0; j < hs; ++j) {
      double u = 0.0;
      double g = 0.0;
      for (std::int64_t k = 0; k < d; ++k) {
        u += double(up(j, k)) * x(b, k);
        g += double(gate(j, k)) * x(b, k);
      }
      const double delta = g - lp[j];
      for (std::int64_t i = 0; i < d; ++i) {
        double acc = double(lao(i, j)) * u;
        for (int n = 1; n <= order; ++n) {
          if (n > gom && std::abs(delta) > thd) continue;
          const double sgn = std::pow(delta > 0 ? 1.0 : (delta < 0 ? -1.0 : 0.0), n);
          acc += double(fuse[(i * hs + j) * order + n - 1]) * sgn *
                 std::exp(n * std::log(std::abs(delta)) - df[n - 1]) * u;
        }
        y[i] += acc;
      }
    }
    for (std::int64_t j = 0; j < hp; ++j) {
      double u = 0.0;
      double g = 0.0;
      for (std::int64_t k = 0; k < d; ++k) {
        u += double(fu(j, k)) * x(b, k);
        g += double(fg(j, k)) * x(b, k);
      }
      const double hidden = nn::activate<double>(arch.activation, g) * u;
      for (std::int64_t i = 0; i < d; ++i) y[i] += double(fd(i, j)) * hidden;
    }
    for (std::int64_t i = 0; i < d; ++i) out(b, i) = static_cast<float>(y[i]);
  }
  return out;
}

nn::Model official_model(Activation act = Activation::silu, std::uint64_t seed = 31) {
  auto model = make_model(nn::Architecture::Kind::swiglu, {16, 40}, act, seed);
  // Spread the gate rows' scales so that calibration gaps differ clearly between units.
  auto gate = model.tensors.at("mlp.gate_proj.weight").matrix();
  for (Eigen::Index j = 0; j < gate.rows(); ++j)
    gate.row(j) *= static_cast<float>(0.4 + 0.03 * double((j * 7) % 40));
  return model;
}

TEST(TaylorMlpOfficial, TensorsFollowTheFormat) {
  const auto model = official_model();
  const TaylorMlp scheme(official(6, 25));
  Rng coins(7, 7, 7);
  const auto rel = scheme.release(model, coins);
  const auto& a = rel.artifact;
  const std::int64_t d = 16, h = 40, hs = 25, N = 6;
  using Shape = std::vector<std::int64_t>;
  EXPECT_EQ(a.tensors.size(), 9U);
  EXPECT_EQ(tensor(a, "up_proj_weight").shape, (Shape{hs, d}));
  EXPECT_EQ(tensor(a, "gate_proj_weight").shape, (Shape{hs, d}));
  EXPECT_EQ(tensor(a, "local_point").shape, (Shape{hs}));
  EXPECT_EQ(tensor(a, "local_approx_output").shape, (Shape{d, hs}));
  EXPECT_EQ(tensor(a, "fuse_weight").shape, (Shape{d, hs, N}));
  EXPECT_EQ(tensor(a, "discount_factor").shape, (Shape{N}));
  EXPECT_EQ(tensor(a, "ffn_gate_proj_weight").shape, (Shape{h - hs, d}));
  EXPECT_EQ(tensor(a, "ffn_up_proj_weight").shape, (Shape{h - hs, d}));
  EXPECT_EQ(tensor(a, "ffn_down_proj_weight").shape, (Shape{d, h - hs}));
  EXPECT_EQ(a.metadata.at("select_dim"), hs);
  EXPECT_EQ(a.metadata.at("prefix"), "");
  EXPECT_EQ(a.metadata.at("grad_order_min"), 8);
  EXPECT_EQ(a.metadata.at("delta_threshold"), 2.5);

  // Secret: signs ±1 and the selected units.
  const auto& sign = rel.secret.tensors.at("sign").data;
  const auto& selected = rel.secret.tensors.at("selected").data;
  ASSERT_EQ(sign.size(), 25U);
  ASSERT_EQ(selected.size(), 25U);
  for (float s : sign) EXPECT_TRUE(s == 1.0F || s == -1.0F);

  // Selection: the 25 smallest calibration gaps, ascending (recomputed in double here).
  const MatrixD g = scheme.calibration_inputs(model.arch).cast<double>() *
                    model.tensors.at("mlp.gate_proj.weight").matrix().cast<double>().transpose();
  std::vector<double> gap(40), mid(40);
  for (int j = 0; j < 40; ++j) {
    gap[j] = g.col(j).maxCoeff() - g.col(j).minCoeff();
    mid[j] = 0.5 * (g.col(j).maxCoeff() + g.col(j).minCoeff());
  }
  std::vector<int> by_gap(40);
  std::iota(by_gap.begin(), by_gap.end(), 0);
  std::stable_sort(by_gap.begin(), by_gap.end(), [&](int x, int y) { return gap[x] < gap[y]; });
  std::vector<int> sel(25), rest;
  for (int j = 0; j < 25; ++j) {
    sel[j] = static_cast<int>(selected[j]);
    EXPECT_EQ(sel[j], by_gap[j]) << j;
  }
  for (int j = 0; j < 40; ++j)
    if (std::find(sel.begin(), sel.end(), j) == sel.end()) rest.push_back(j);
  ASSERT_EQ(rest.size(), 15U);

  // Values, recomputed independently from the secret.
  const auto wg = model.tensors.at("mlp.gate_proj.weight").matrix();
  const auto wu = model.tensors.at("mlp.up_proj.weight").matrix();
  const auto wd = model.tensors.at("mlp.down_proj.weight").matrix();
  const auto up = tensor(a, "up_proj_weight").matrix();
  const auto gate = tensor(a, "gate_proj_weight").matrix();
  const auto lao = tensor(a, "local_approx_output").matrix();
  const auto& lp = tensor(a, "local_point").data;
  const auto& fuse = tensor(a, "fuse_weight").data;
  for (int j = 0; j < 25; ++j) {
    EXPECT_EQ(up.row(j), wu.row(sel[j]));
    EXPECT_EQ(gate.row(j), sign[j] * wg.row(sel[j]));
    EXPECT_NEAR(lp[j], sign[j] * mid[sel[j]], 1e-6);
    const double z0 = double(sign[j]) * lp[j];  // the released expansion point
    for (int i = 0; i < 16; ++i) {
      const double w = wd(i, sel[j]);
      const double want0 = nn::activate<double>(Activation::silu, z0) * w;
      EXPECT_NEAR(lao(i, j), want0, 1e-6 * std::abs(want0) + 1e-30);
      for (int n = 1; n <= 6; ++n) {
        const double want =
            w * nn::activation_derivative(Activation::silu, z0, n) * std::pow(double(sign[j]), n);
        EXPECT_NEAR(fuse[(i * 25 + j) * 6 + n - 1], want, 1e-6 * std::abs(want) + 1e-30);
      }
    }
  }
  for (int n = 1; n <= 6; ++n)
    EXPECT_NEAR(tensor(a, "discount_factor").data[n - 1], std::lgamma(n + 1.0), 1e-6);
  for (int j = 0; j < 15; ++j) {
    EXPECT_EQ(tensor(a, "ffn_gate_proj_weight").matrix().row(j), wg.row(rest[j]));
    EXPECT_EQ(tensor(a, "ffn_up_proj_weight").matrix().row(j), wu.row(rest[j]));
    EXPECT_EQ(tensor(a, "ffn_down_proj_weight").matrix().col(j), wd.col(rest[j]));
  }
}

TEST(TaylorMlpOfficial, InferIsTheOfficialForwardPass) {
  for (Activation act : {Activation::silu, Activation::gelu, Activation::gelu_tanh}) {
    SCOPED_TRACE(nn::to_string(act));
    const auto model = official_model(act);
    const nn::Matrix x = gaussian(40, 16, 0.25, 9);
    const nn::Matrix y = model.forward(x);
    const double y_scale = y.cwiseAbs().maxCoeff();
    std::vector<double> errors;
    for (std::int64_t order : {2, 6, 12}) {
      const TaylorMlp scheme(official(order, 25));
      Rng coins(8, 8, 8);
      const auto rel = scheme.release(model, coins);
      const nn::Matrix out = scheme.infer(rel.artifact, x);
      errors.push_back(max_abs_diff(out, y));
      EXPECT_LT(max_abs_diff(out, official_reference(rel.artifact, x)), 1e-6 * y_scale);
    }
    std::printf(
        "[taylor_mlp official %s] max |infer - forward| at N=2,6,12: %.3g %.3g %.3g "
        "(max |y| %.3g)\n",
        nn::to_string(act).c_str(), errors[0], errors[1], errors[2], y_scale);
    EXPECT_LT(errors[1], errors[0]);
    EXPECT_LT(errors[2], errors[1]);
    EXPECT_LT(errors[1], 1e-2 * y_scale);
    EXPECT_LT(errors[2], 1e-4 * y_scale);
  }
}

TEST(TaylorMlpOfficial, LargeBatchesAreProcessedInBlocks) {
  const auto model = official_model();
  const TaylorMlp scheme(official(6, 25));
  Rng coins(8, 8, 8);
  const auto rel = scheme.release(model, coins);
  const nn::Matrix x = gaussian(600, 16, 0.25, 13);  // more than one block of rows
  const nn::Matrix y = scheme.infer(rel.artifact, x);
  ASSERT_EQ(y.rows(), 600);
  EXPECT_LT(max_abs_diff(y, official_reference(rel.artifact, x)), 1e-6 * y.cwiseAbs().maxCoeff());
}

TEST(TaylorMlpOfficial, GuardZeroesHighOrdersFarFromThePoint) {
  const auto model = official_model();
  auto p = official(6, 25);
  p.grad_order_min = 2;
  p.delta_threshold = 0.05;
  const TaylorMlp guarded(p);
  const TaylorMlp plain(official(6, 25));
  Rng c1(3, 3, 3), c2(3, 3, 3);
  const auto rel_g = guarded.release(model, c1);
  const auto rel_p = plain.release(model, c2);
  EXPECT_EQ(rel_g.artifact.metadata.at("grad_order_min"), 2);
  EXPECT_EQ(rel_g.artifact.metadata.at("delta_threshold"), 0.05);
  const nn::Matrix x = gaussian(20, 16, 0.25, 10);
  const nn::Matrix yg = guarded.infer(rel_g.artifact, x);
  const double scale_y = yg.cwiseAbs().maxCoeff();
  EXPECT_LT(max_abs_diff(yg, official_reference(rel_g.artifact, x)), 1e-6 * scale_y);
  EXPECT_GT(max_abs_diff(yg, plain.infer(rel_p.artifact, x)), 1e-5 * scale_y);
}

TEST(TaylorMlpOfficial, KeepGateProjPublishesTheOriginalGate) {
  const auto model = official_model();
  auto p = official(6, 25);
  p.keep_gate_proj = true;
  const TaylorMlp scheme(p);
  Rng coins(7, 7, 7);
  const auto rel = scheme.release(model, coins);
  EXPECT_EQ(tensor(rel.artifact, "gate_proj.weight"), model.tensors.at("mlp.gate_proj.weight"));
  const nn::Matrix x = gaussian(8, 16, 0.25, 11);
  const TaylorMlp without(official(6, 25));
  Rng coins2(7, 7, 7);
  EXPECT_EQ(scheme.infer(rel.artifact, x),
            without.infer(without.release(model, coins2).artifact, x));
  const auto mask = scheme.hidden_mask(model, rel);
  EXPECT_EQ(mask.at("mlp.gate_proj.weight").matrix().sum(), 0.0F);
  EXPECT_EQ(mask.at("mlp.down_proj.weight").matrix().sum(), 16.0F * 25.0F);
}

// ---------------------------------------------------------------------------------------------
// 4. Hidden mask, cost model, bf16, sign mask.

float mask_sum(const nn::TensorMap& mask, const std::string& name) {
  float s = 0.0F;
  for (float v : mask.at(name).data) {
    EXPECT_TRUE(v == 0.0F || v == 1.0F);
    s += v;
  }
  return s;
}

TEST(TaylorMlp, HiddenMaskAndCost) {
  auto mlp = make_model(nn::Architecture::Kind::mlp, {10, 8, 7, 4}, Activation::gelu, 2);
  const TaylorMlp paper_scheme(paper(5, 1));
  Rng coins(1, 2, 3);
  const auto rel_p = paper_scheme.release(mlp, coins);
  const auto mask_p = paper_scheme.hidden_mask(mlp, rel_p);
  ASSERT_EQ(mask_p.size(), mlp.tensors.size());
  EXPECT_EQ(mask_sum(mask_p, "layers.0.weight"), 0.0F);
  EXPECT_EQ(mask_sum(mask_p, "layers.0.bias"), 0.0F);
  EXPECT_EQ(mask_sum(mask_p, "layers.1.weight"), 0.0F);  // V is published
  EXPECT_EQ(mask_sum(mask_p, "layers.1.bias"), 7.0F);
  EXPECT_EQ(mask_sum(mask_p, "layers.2.weight"), 28.0F);
  EXPECT_EQ(mask_sum(mask_p, "layers.2.bias"), 4.0F);
  EXPECT_EQ(paper_scheme.infer_macs(rel_p.artifact), 80.0 + 56.0 + 6.0 * 28.0);

  const auto swiglu = official_model();
  const TaylorMlp off(official(6, 25));
  const auto rel_o = off.release(swiglu, coins);
  const auto mask_o = off.hidden_mask(swiglu, rel_o);
  ASSERT_EQ(mask_o.size(), 3U);
  EXPECT_EQ(mask_sum(mask_o, "mlp.gate_proj.weight"), 25.0F * 16.0F);
  EXPECT_EQ(mask_sum(mask_o, "mlp.up_proj.weight"), 0.0F);
  EXPECT_EQ(mask_sum(mask_o, "mlp.down_proj.weight"), 16.0F * 25.0F);
  const auto& sel = rel_o.secret.tensors.at("selected").data;
  const auto gate_mask = mask_o.at("mlp.gate_proj.weight").matrix();
  const auto down_mask = mask_o.at("mlp.down_proj.weight").matrix();
  for (float j : sel) {
    EXPECT_EQ(gate_mask.row(static_cast<int>(j)).sum(), 16.0F);
    EXPECT_EQ(down_mask.col(static_cast<int>(j)).sum(), 16.0F);
  }
  // (N+3)·h_s·d + 3·(h − h_s)·d
  EXPECT_EQ(off.infer_macs(rel_o.artifact), 9.0 * 25 * 16 + 3.0 * 15 * 16);

  // select_ratio when select_dim is unset: round(0.6975·40) = 28.
  const TaylorMlp by_ratio(official(6, -1));
  EXPECT_EQ(by_ratio.release(swiglu, coins).artifact.metadata.at("select_dim"), 28);
}

bool bf16_representable(float v) {
  return nn::bf16_to_float(nn::float_to_bf16(v)) == v;
}

TEST(TaylorMlp, Bf16ReleasesOnlyBf16Values) {
  auto p_paper = paper(8);
  p_paper.dtype = "bf16";
  auto p_official = official(6, 25);
  p_official.dtype = "bf16";
  p_official.keep_gate_proj = true;
  auto mlp = make_model(nn::Architecture::Kind::mlp, {12, 9, 5}, Activation::silu, 3);
  scale(mlp, "layers.0.weight", 0.3F);
  const auto swiglu = official_model();
  for (const auto& [params, model] : {std::pair{p_paper, mlp}, std::pair{p_official, swiglu}}) {
    SCOPED_TRACE(params.format);
    const TaylorMlp scheme(params);
    Rng coins(5, 5, 5);
    const auto rel = scheme.release(model, coins);
    EXPECT_EQ(rel.artifact.metadata.at("dtype"), "bf16");
    std::size_t inexact_f32 = 0;
    for (const auto& [name, t] : rel.artifact.tensors)
      for (float v : t.data) {
        EXPECT_TRUE(bf16_representable(v)) << name;
        inexact_f32 += bf16_representable(v) ? 0 : 1;
      }
    EXPECT_EQ(inexact_f32, 0U);
    // Still a usable model (bf16 precision).
    const nn::Matrix x =
        gaussian(16, model.arch.input_size(), params.format == "paper" ? 1.0 : 0.25, 12);
    const nn::Matrix y = model.forward(x);
    EXPECT_LT(max_abs_diff(scheme.infer(rel.artifact, x), y), 0.05 * y.cwiseAbs().maxCoeff());
  }
  // The f32 release of the same model is not bf16-only (the test can fail).
  const TaylorMlp f32(official(6, 25));
  Rng coins(5, 5, 5);
  const auto rel = f32.release(swiglu, coins);
  bool any_inexact = false;
  for (float v : tensor(rel.artifact, "fuse_weight").data) any_inexact |= !bf16_representable(v);
  EXPECT_TRUE(any_inexact);
}

TEST(TaylorMlp, SignMaskIsUniformAndFreshPerRelease) {
  const auto model = make_model(nn::Architecture::Kind::swiglu, {4, 4000}, Activation::silu, 5);
  const TaylorMlp scheme(official(2, 4000));  // every unit selected: no plaintext units
  Rng c1(1, 0, 0), c2(1, 0, 1);
  const auto r1 = scheme.release(model, c1);
  const auto r2 = scheme.release(model, c2);
  EXPECT_EQ(tensor(r1.artifact, "ffn_gate_proj_weight").shape, (std::vector<std::int64_t>{0, 4}));
  const auto& s1 = r1.secret.tensors.at("sign").data;
  const auto& s2 = r2.secret.tensors.at("sign").data;
  ASSERT_EQ(s1.size(), 4000U);
  int plus = 0, differ = 0;
  for (std::size_t j = 0; j < s1.size(); ++j) {
    plus += s1[j] > 0 ? 1 : 0;
    differ += s1[j] != s2[j] ? 1 : 0;
  }
  // Binomial(4000, 1/2): sd ≈ 31.6; ±250 is ~8 sd.
  EXPECT_NEAR(plus, 2000, 250);
  EXPECT_NEAR(differ, 2000, 250);
  EXPECT_EQ(r1.secret.tensors.at("selected"), r2.secret.tensors.at("selected"));
  const nn::Matrix x = gaussian(3, 4, 0.25, 2);
  EXPECT_EQ(scheme.infer(r1.artifact, x).cols(), 4);
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input.

TEST(TaylorMlp, RejectsBadParameters) {
  const auto make = [](std::map<std::string, std::string> values) {
    const definitions::Params params(std::move(values));
    return TaylorMlp(TaylorMlpParams::from(params));
  };
  EXPECT_THROW(make({{"order", "0"}}), InvalidArgument);
  EXPECT_THROW(make({{"order", "33"}}), InvalidArgument);
  EXPECT_NO_THROW(make({{"order", "32"}}));
  EXPECT_THROW(make({{"format", "pytorch"}}), InvalidArgument);
  EXPECT_THROW(make({{"expansion", "median"}}), InvalidArgument);
  EXPECT_THROW(make({{"format", "official"}, {"expansion", "mean"}}), InvalidArgument);
  EXPECT_THROW(make({{"dtype", "f64"}}), InvalidArgument);
  EXPECT_NO_THROW(make({{"dtype", "f16"}}));
  EXPECT_THROW(make({{"select_ratio", "0"}}), InvalidArgument);
  EXPECT_THROW(make({{"select_ratio", "1.5"}}), InvalidArgument);
  EXPECT_THROW(make({{"select_dim", "0"}}), InvalidArgument);
  EXPECT_THROW(make({{"calibration_samples", "0"}}), InvalidArgument);
  EXPECT_THROW(make({{"calibration", "uniform:1"}}), InvalidArgument);
  EXPECT_THROW(make({{"calibration_seed", "-1"}}), InvalidArgument);
  EXPECT_THROW(make({{"delta_threshold", "0"}}), InvalidArgument);
  EXPECT_THROW(make({{"layer", "-1"}}), InvalidArgument);
  EXPECT_THROW(make({{"order", "six"}}), InvalidArgument);
  try {
    (void)make({{"order", "40"}});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'order'"), std::string::npos) << e.what();
  }

  // Every key is read; an unknown one is rejected (directly and through the registry).
  const definitions::Params all({{"format", "official"},
                                 {"order", "6"},
                                 {"expansion", "midpoint"},
                                 {"layer", "0"},
                                 {"select_ratio", "0.5"},
                                 {"select_dim", "3"},
                                 {"grad_order_min", "8"},
                                 {"delta_threshold", "2.5"},
                                 {"keep_gate_proj", "true"},
                                 {"dtype", "bf16"},
                                 {"calibration", "gaussian:0.5"},
                                 {"calibration_samples", "64"},
                                 {"calibration_seed", "9"}});
  const auto p = TaylorMlpParams::from(all);
  EXPECT_NO_THROW(all.reject_unused("scheme 'taylor_mlp'"));
  EXPECT_EQ(p.calibration_seed, 9U);
  EXPECT_TRUE(p.keep_gate_proj);
  const definitions::Params typo({{"order", "6"}, {"ordr", "6"}});
  (void)TaylorMlpParams::from(typo);
  EXPECT_THROW(typo.reject_unused("scheme 'taylor_mlp'"), InvalidArgument);

  definitions::Registry<definitions::WeightReleaseScheme> registry("scheme");
  register_builtin_schemes(registry);
  EXPECT_EQ(registry.create("taylor_mlp", all)->id(), "taylor_mlp");
  EXPECT_THROW((void)registry.create("taylor_mlp", typo), InvalidArgument);
}

TEST(TaylorMlp, RejectsModelsItCannotProtect) {
  Rng coins(1, 1, 1);
  const auto relu = make_model(nn::Architecture::Kind::mlp, {6, 5, 3}, Activation::relu, 1);
  EXPECT_THROW((void)TaylorMlp(paper(4)).release(relu, coins), InvalidArgument);
  const auto swiglu = official_model();
  EXPECT_THROW((void)TaylorMlp(paper(4)).release(swiglu, coins), InvalidArgument);
  const auto mlp = make_model(nn::Architecture::Kind::mlp, {6, 5, 3}, Activation::silu, 1);
  EXPECT_THROW((void)TaylorMlp(official(4, 3)).release(mlp, coins), InvalidArgument);
  EXPECT_THROW((void)TaylorMlp(paper(4, 1)).release(mlp, coins), InvalidArgument);  // 1 hidden
  const auto no_hidden = make_model(nn::Architecture::Kind::mlp, {6, 3}, Activation::silu, 1);
  EXPECT_THROW((void)TaylorMlp(paper(4)).release(no_hidden, coins), InvalidArgument);
  EXPECT_THROW((void)TaylorMlp(official(4, 41)).release(swiglu, coins), InvalidArgument);
  EXPECT_NO_THROW((void)TaylorMlp(official(4, 40)).release(swiglu, coins));
  auto nan_model = mlp;
  nan_model.tensors.at("layers.0.weight").data[0] = std::nanf("");
  EXPECT_THROW((void)TaylorMlp(paper(4)).release(nan_model, coins), InvalidArgument);
}

TEST(TaylorMlp, RejectsCorruptArtifacts) {
  Rng coins(2, 2, 2);
  auto mlp = make_model(nn::Architecture::Kind::mlp, {12, 9, 5}, Activation::silu, 3);
  const TaylorMlp paper_scheme(paper(4));
  const auto rel_p = paper_scheme.release(mlp, coins);
  const TaylorMlp off(official(6, 25));
  const auto rel_o = off.release(official_model(), coins);
  const nn::Matrix xp = gaussian(2, 12, 1.0, 1);
  const nn::Matrix xo = gaussian(2, 16, 0.25, 1);
  EXPECT_NO_THROW((void)paper_scheme.infer(rel_p.artifact, xp));
  EXPECT_NO_THROW((void)off.infer(rel_o.artifact, xo));
  EXPECT_THROW((void)paper_scheme.infer(rel_p.artifact, xo), InvalidArgument);  // 16 ≠ 12
  EXPECT_THROW((void)off.infer(rel_o.artifact, xp), InvalidArgument);

  const auto expect_reject = [&](const definitions::Artifact& a, const nn::Matrix& x,
                                 const std::string& needle) {
    try {
      (void)off.infer(a, x);
      ADD_FAILURE() << "accepted a corrupt artifact (" << needle << ")";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto missing = rel_p.artifact;
  missing.tensors.erase("taylor.theta");
  expect_reject(missing, xp, "taylor.theta");
  auto misshaped = rel_o.artifact;
  misshaped.tensors.at("fuse_weight").shape = {16, 6, 25};
  expect_reject(misshaped, xo, "fuse_weight");
  auto nan = rel_o.artifact;
  nan.tensors.at("local_point").data[3] = std::nanf("");
  expect_reject(nan, xo, "local_point");
  auto inf = rel_p.artifact;
  inf.tensors.at("taylor.z0").data[0] = INFINITY;
  expect_reject(inf, xp, "taylor.z0");
  auto extra = rel_o.artifact;
  extra.tensors.emplace("mlp.down_proj.weight", nn::Tensor({16, 40}));
  expect_reject(extra, xo, "mlp.down_proj.weight");
  auto bad_order = rel_o.artifact;
  bad_order.metadata["order"] = 7;  // fuse_weight no longer matches
  expect_reject(bad_order, xo, "fuse_weight");
  auto bad_select = rel_o.artifact;
  bad_select.metadata["select_dim"] = 41;
  expect_reject(bad_select, xo, "select_dim");
  auto no_format = rel_o.artifact;
  no_format.metadata.erase("format");
  expect_reject(no_format, xo, "format");
  auto wrong_scheme = rel_o.artifact;
  wrong_scheme.metadata["scheme"] = "plaintext";
  expect_reject(wrong_scheme, xo, "scheme");
  EXPECT_THROW((void)off.infer_macs(no_format), InvalidArgument);
  auto no_secret = rel_o;
  no_secret.secret.tensors.clear();
  EXPECT_THROW((void)off.hidden_mask(official_model(), no_secret), InvalidArgument);
  EXPECT_THROW((void)off.hidden_mask(mlp, rel_o), InvalidArgument);  // other architecture
}

// ---------------------------------------------------------------------------------------------
// 6. Determinism.

TEST(TaylorMlp, DeterministicGivenTheCoinsAndThreadCount) {
  auto model = make_model(nn::Architecture::Kind::swiglu, {64, 256}, Activation::silu, 4);
  auto p = official(8, 180);
  p.keep_gate_proj = true;
  const TaylorMlp scheme(p);
  const nn::Matrix x = gaussian(70, 64, 0.25, 3);
  Rng c1(9, 9, 9), c2(9, 9, 9), c3(9, 9, 10);
  const auto r1 = scheme.release(model, c1);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto r2 = scheme.release(model, c2);
  const nn::Matrix y_serial = scheme.infer(r2.artifact, x);
  omp_set_num_threads(std::max(threads, 4));
  const nn::Matrix y_parallel = scheme.infer(r1.artifact, x);
  omp_set_num_threads(threads);
  EXPECT_EQ(r1.artifact.tensors, r2.artifact.tensors);
  EXPECT_EQ(r1.artifact.metadata, r2.artifact.metadata);
  EXPECT_EQ(r1.secret.tensors, r2.secret.tensors);
  EXPECT_EQ(y_serial, y_parallel);
  const auto r3 = scheme.release(model, c3);
  EXPECT_NE(r1.secret.tensors.at("sign"), r3.secret.tensors.at("sign"));
  EXPECT_EQ(r1.secret.tensors.at("selected"), r3.secret.tensors.at("selected"));

  auto mlp = make_model(nn::Architecture::Kind::mlp, {12, 9, 5}, Activation::gelu, 3);
  const TaylorMlp paper_scheme(paper(6));
  Rng c4(1, 1, 1), c5(2, 2, 2);
  const auto p1 = paper_scheme.release(mlp, c4);
  const auto p2 = paper_scheme.release(mlp, c5);  // no randomness in the paper form
  EXPECT_EQ(p1.artifact.tensors, p2.artifact.tensors);
  EXPECT_EQ(p1.artifact.metadata, p2.artifact.metadata);
}

}  // namespace
}  // namespace wrsec::schemes
