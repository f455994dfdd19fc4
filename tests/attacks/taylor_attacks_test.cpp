// Tests of the two TaylorMLP extraction attacks against releases built by hand from the header
// formulas (schemes/taylor_mlp.h) and by the real scheme (schemes::TaylorMlp).
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attacks/registry.h"
#include "attacks/taylor_ratio_inversion.h"
#include "attacks/taylor_sign_hypothesis.h"
#include "core/errors.h"
#include "definitions/params.h"
#include "definitions/registry.h"
#include "nn/low_precision.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/taylor.h"
#include "schemes/taylor_mlp.h"

namespace wrsec::attacks {
namespace {

using nn::Activation;
using Index = std::int64_t;

std::size_t sz(Index i) {
  return static_cast<std::size_t>(i);
}

nn::Model make_model(nn::Architecture::Kind kind, std::vector<std::int64_t> sizes, Activation act,
                     std::uint64_t seed) {
  nn::Architecture arch;
  arch.kind = kind;
  arch.sizes = std::move(sizes);
  arch.activation = act;
  Rng rng(seed, 23, 0);
  return nn::Model::init(arch, rng);
}

// Element-wise relative errors |x' − x| / max(|x|, floor·rms(x)).
std::vector<double> relative_errors(std::span<const float> got, std::span<const float> want,
                                    double floor = 0.0) {
  EXPECT_EQ(got.size(), want.size());
  double ss = 0.0;
  for (const float w : want) ss += double(w) * double(w);
  const double rms = want.empty() ? 0.0 : std::sqrt(ss / double(want.size()));
  std::vector<double> e;
  for (std::size_t k = 0; k < std::min(got.size(), want.size()); ++k) {
    const double den = std::max(std::abs(double(want[k])), floor * rms);
    const double diff = std::abs(double(got[k]) - double(want[k]));
    e.push_back(diff == 0.0 ? 0.0 : diff / den);
  }
  return e;
}

double max_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

nn::Model extract(const definitions::Extractor& attack, const definitions::Artifact& artifact) {
  definitions::OracleAccess oracles;
  Rng coins(1, 2, 3);
  return attack.extract(artifact, oracles, coins);
}

// ---------------------------------------------------------------------------------------------
// Paper form.

schemes::TaylorMlpParams paper_params(std::int64_t order, std::int64_t layer) {
  schemes::TaylorMlpParams p;
  p.format = "paper";
  p.order = order;
  p.layer = layer;
  return p;
}

// A paper release built from the header formula with a given z0 (cross-checks the format).
definitions::Artifact hand_paper_release(const nn::Model& model, Index k, int order,
                                         std::span<const float> z0) {
  const auto& v = model.tensors.at("layers." + std::to_string(k) + ".weight");
  const auto& b = model.tensors.at("layers." + std::to_string(k) + ".bias");
  const auto& w = model.tensors.at("layers." + std::to_string(k + 1) + ".weight");
  const auto& c = model.tensors.at("layers." + std::to_string(k + 1) + ".bias");
  const Index h = v.shape[0];
  const Index o = w.shape[0];
  nn::Tensor theta({order + 1, o, h});
  for (Index j = 0; j < h; ++j) {
    const double a = double(z0[sz(j)]) + double(b.data[sz(j)]);
    const std::vector<double> cn = nn::taylor_coefficients(model.arch.activation, a, order);
    for (int n = 0; n <= order; ++n)
      for (Index i = 0; i < o; ++i) {
        double value = double(w.data[sz(i * h + j)]) * cn[sz(n)];
        if (n == 0) value += double(c.data[sz(i)]) / double(h);
        theta.data[sz((Index(n) * o + i) * h + j)] = static_cast<float>(value);
      }
  }
  definitions::Artifact art;
  nn::Tensor z0t({h});
  z0t.data.assign(z0.begin(), z0.end());
  art.tensors.emplace("taylor.V", v);
  art.tensors.emplace("taylor.z0", std::move(z0t));
  art.tensors.emplace("taylor.theta", std::move(theta));
  const Index layers = static_cast<Index>(model.arch.sizes.size()) - 1;
  for (Index i = 0; i < layers; ++i) {
    if (i == k || i == k + 1) continue;
    for (const char* what : {"weight", "bias"}) {
      const std::string name = "layers." + std::to_string(i) + "." + what;
      art.tensors.emplace(name, model.tensors.at(name));
    }
  }
  art.metadata = {{"scheme", "taylor_mlp"},
                  {"format", "paper"},
                  {"architecture", model.arch.to_json()},
                  {"order", order},
                  {"activation", nn::to_string(model.arch.activation)},
                  {"prefix", ""},
                  {"dtype", "f32"},
                  {"layer", k}};
  return art;
}

struct PaperErrors {
  double b_max, b_med, w_max, w_med, c_max, c_med;
};

PaperErrors paper_errors(const nn::Model& original, const nn::Model& recovered, Index k) {
  const std::string lk = "layers." + std::to_string(k);
  const std::string lk1 = "layers." + std::to_string(k + 1);
  // W element-wise; b with a floor of 10⁻³·rms. c_i = Σ_j Θ_{0,i,j} − … inherits the fp32
  // rounding of h released terms of size |W_ij·σ(a_j)| (≈10⁻⁸ absolute here), so an entry near 0
  // cannot have a small relative error even with the true a and W (c_i = 1.2e-4 gives 1.2e-4 for
  // that oracle): c is judged with a floor of 10⁻²·rms.
  const auto eb = relative_errors(recovered.tensors.at(lk + ".bias").data,
                                  original.tensors.at(lk + ".bias").data, 1e-3);
  const auto ew = relative_errors(recovered.tensors.at(lk1 + ".weight").data,
                                  original.tensors.at(lk1 + ".weight").data);
  const auto ec = relative_errors(recovered.tensors.at(lk1 + ".bias").data,
                                  original.tensors.at(lk1 + ".bias").data, 1e-2);
  return {max_of(eb), median_of(eb), max_of(ew), median_of(ew), max_of(ec), median_of(ec)};
}

void expect_paper_recovered(const nn::Model& original, const nn::Model& recovered, Index k) {
  ASSERT_EQ(recovered.arch, original.arch);
  EXPECT_NO_THROW(recovered.validate());
  // V and every other layer are copied exactly.
  EXPECT_EQ(recovered.tensors.at("layers." + std::to_string(k) + ".weight"),
            original.tensors.at("layers." + std::to_string(k) + ".weight"));
  const Index layers = static_cast<Index>(original.arch.sizes.size()) - 1;
  for (Index i = 0; i < layers; ++i) {
    if (i == k || i == k + 1) continue;
    EXPECT_EQ(recovered.tensors.at("layers." + std::to_string(i) + ".weight"),
              original.tensors.at("layers." + std::to_string(i) + ".weight"));
  }
  const PaperErrors e = paper_errors(original, recovered, k);
  std::printf("    b max %.2e med %.2e | W max %.2e med %.2e | c max %.2e med %.2e\n", e.b_max,
              e.b_med, e.w_max, e.w_med, e.c_max, e.c_med);
  EXPECT_LE(e.b_max, 1e-4);
  EXPECT_LE(e.w_max, 1e-4);
  EXPECT_LE(e.c_max, 1e-4);
  EXPECT_LE(e.b_med, 1e-6);
  EXPECT_LE(e.w_med, 1e-6);
  EXPECT_LE(e.c_med, 1e-6);
}

TEST(TaylorRatioInversion, HandBuiltReleaseMatchesTheSchemeFormat) {
  // The scheme's Θ equals the header formula evaluated at its released z0.
  const auto model = make_model(nn::Architecture::Kind::mlp, {7, 10, 4}, Activation::silu, 5);
  const schemes::TaylorMlp scheme(paper_params(6, 0));
  Rng coins(9, 9, 9);
  const auto rel = scheme.release(model, coins);
  const auto& z0 = rel.artifact.tensors.at("taylor.z0").data;
  const auto hand = hand_paper_release(model, 0, 6, z0);
  const auto& want = hand.tensors.at("taylor.theta");
  const auto& got = rel.artifact.tensors.at("taylor.theta");
  ASSERT_EQ(got.shape, want.shape);
  const auto e = relative_errors(got.data, want.data, 1e-6);
  EXPECT_LE(max_of(e), 1e-6);
  EXPECT_EQ(rel.artifact.tensors.at("taylor.V"), hand.tensors.at("taylor.V"));
  EXPECT_EQ(rel.artifact.metadata.at("layer"), hand.metadata.at("layer"));
  EXPECT_EQ(rel.artifact.metadata.at("order"), hand.metadata.at("order"));
}

TEST(TaylorRatioInversion, RecoversBWAndCFromHandBuiltReleases) {
  const TaylorRatioInversion attack;
  for (Activation act : {Activation::silu, Activation::gelu, Activation::gelu_tanh}) {
    for (int order : {2, 4, 8, 12}) {
      SCOPED_TRACE(nn::to_string(act) + " N=" + std::to_string(order));
      std::printf("  hand %s N=%d\n", nn::to_string(act).c_str(), order);
      auto model = make_model(nn::Architecture::Kind::mlp, {8, 24, 6}, act, 11 + order);
      // Wider biases so that a_j spreads over several regimes of σ.
      for (float& b : model.tensors.at("layers.0.bias").data) b *= 4.0f;
      Rng zr(3, 4, static_cast<std::uint64_t>(order));
      std::vector<float> z0(24);
      for (float& z : z0) z = static_cast<float>(1.5 * zr.normal());
      const auto art = hand_paper_release(model, 0, order, z0);
      expect_paper_recovered(model, extract(attack, art), 0);
    }
  }
}

TEST(TaylorRatioInversion, RecoversBWAndCFromSchemeReleases) {
  const TaylorRatioInversion attack;
  for (Activation act : {Activation::silu, Activation::gelu, Activation::gelu_tanh}) {
    for (int order : {2, 4, 8, 12}) {
      SCOPED_TRACE(nn::to_string(act) + " N=" + std::to_string(order));
      std::printf("  scheme %s N=%d\n", nn::to_string(act).c_str(), order);
      // Two hidden layers; the second is expanded, the others must be copied.
      const auto model = make_model(nn::Architecture::Kind::mlp, {9, 12, 20, 5}, act, 100 + order);
      const schemes::TaylorMlp scheme(paper_params(order, 1));
      Rng coins(7, 7, static_cast<std::uint64_t>(order));
      const auto rel = scheme.release(model, coins);
      expect_paper_recovered(model, extract(attack, rel.artifact), 1);
    }
  }
}

TEST(TaylorRatioInversion, Bf16ReleaseIsRecoveredToBf16Precision) {
  // Every released value is rounded to bfloat16 (relative 2⁻⁹): report the errors; W must still
  // be close (the ratio roots move by about the rounding).
  const TaylorRatioInversion attack;
  for (Activation act : {Activation::silu, Activation::gelu}) {
    for (int order : {4, 8}) {
      const auto model = make_model(nn::Architecture::Kind::mlp, {9, 20, 5}, act, 500 + order);
      auto p = paper_params(order, 0);
      p.dtype = "bf16";
      const schemes::TaylorMlp scheme(p);
      Rng coins(5, 5, static_cast<std::uint64_t>(order));
      const auto rel = scheme.release(model, coins);
      const auto got = extract(attack, rel.artifact);
      const PaperErrors e = paper_errors(model, got, 0);
      std::printf(
          "  bf16 %s N=%d: b max %.2e med %.2e | W max %.2e med %.2e | c max %.2e med "
          "%.2e\n",
          nn::to_string(act).c_str(), order, e.b_max, e.b_med, e.w_max, e.w_med, e.c_max, e.c_med);
      EXPECT_LE(e.w_med, 1e-2);
    }
  }
}

TEST(TaylorRatioInversion, DirectBlockApiReportsDiagnostics) {
  auto model = make_model(nn::Architecture::Kind::mlp, {5, 16, 4}, Activation::silu, 77);
  // Unit 3 has a zero outgoing column: it carries no information about its bias.
  auto& w = model.tensors.at("layers.1.weight");
  for (Index i = 0; i < 4; ++i) w.data[sz(i * 16 + 3)] = 0.0f;
  std::vector<float> z0(16, 0.25f);
  const auto art = hand_paper_release(model, 0, 2, z0);
  const auto rec = recover_paper_block(art.tensors.at("taylor.theta"), art.tensors.at("taylor.z0"),
                                       Activation::silu);
  EXPECT_EQ(rec.unidentified_units, 1);
  EXPECT_EQ(rec.bias.data[3], 0.0f);  // the documented guess
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(rec.weight.data[sz(i * 16 + 3)], 0.0f);
  EXPECT_LE(rec.max_residual, 1e-10);
  // N = 2: one order pair; several roots of c₂/c₁ = t typically fit, Θ_0 decided them.
  std::printf("  N=2 silu: %lld of 16 units needed the Θ_0 decision\n",
              static_cast<long long>(rec.ambiguous_units));
  const auto ew = relative_errors(rec.weight.data, w.data);
  EXPECT_LE(max_of(ew), 1e-4);
  const auto ec = relative_errors(rec.out_bias.data, model.tensors.at("layers.1.bias").data, 1e-2);
  EXPECT_LE(max_of(ec), 1e-4);
  // Identical for any thread count.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = recover_paper_block(art.tensors.at("taylor.theta"), art.tensors.at("taylor.z0"),
                                       Activation::silu);
  omp_set_num_threads(2);
  const auto two = recover_paper_block(art.tensors.at("taylor.theta"), art.tensors.at("taylor.z0"),
                                       Activation::silu);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.bias, two.bias);
  EXPECT_EQ(one.weight, two.weight);
  EXPECT_EQ(one.out_bias, two.out_bias);
  EXPECT_EQ(one.bias, rec.bias);
}

// N = 1: c/h and r_j = σ(a_j)/σ′(a_j) come from the column relation Θ_0 = r·Θ_1 + c/h; a_j is a
// root of σ(a)/σ′(a) = r_j, unique for r_j <= 1 (silu) and one of two otherwise, and the nearer
// one to z0 is taken. Every unit whose a_j is the nearer root is recovered (W, b to 1e-4, c to
// 1e-4); with one output (o = 1) c/h is not identified and the old guess b = 0 remains.
TEST(TaylorRatioInversion, OrderOneRecoversTheNearerRoot) {
  const TaylorRatioInversion attack;
  for (Activation act : {Activation::silu, Activation::gelu}) {
    SCOPED_TRACE(nn::to_string(act));
    const auto model = make_model(nn::Architecture::Kind::mlp, {6, 24, 5}, act, 31);
    const schemes::TaylorMlp scheme(paper_params(1, 0));
    Rng coins(1, 1, 1);
    const auto rel = scheme.release(model, coins);
    const auto rec = recover_paper_block(rel.artifact.tensors.at("taylor.theta"),
                                         rel.artifact.tensors.at("taylor.z0"), act);
    const auto& z0 = rel.artifact.tensors.at("taylor.z0").data;
    const auto& b = model.tensors.at("layers.0.bias").data;
    const auto& w = model.tensors.at("layers.1.weight").data;
    Index right = 0;
    Index nearer = 0;
    for (Index j = 0; j < 24; ++j) {
      const double a = double(z0[sz(j)]) + b[sz(j)];
      // The other root of σ(x)/σ′(x) = σ(a)/σ′(a), if any, farther from z0 than a?
      const double r = nn::activation_derivative(act, a, 0) / nn::activation_derivative(act, a, 1);
      bool a_is_nearer = true;
      for (double x = -30.0; x < 30.0; x += 1e-2) {
        const double fx =
            nn::activation_derivative(act, x, 0) - r * nn::activation_derivative(act, x, 1);
        const double fy = nn::activation_derivative(act, x + 1e-2, 0) -
                          r * nn::activation_derivative(act, x + 1e-2, 1);
        if ((fx < 0) != (fy < 0) && std::abs(x - a) > 1e-2 &&
            std::abs(x - z0[sz(j)]) < std::abs(a - z0[sz(j)]))
          a_is_nearer = false;
      }
      nearer += a_is_nearer ? 1 : 0;
      bool ok =
          std::abs(rec.bias.data[sz(j)] - b[sz(j)]) <= 1e-4 * std::max(1.0f, std::abs(b[sz(j)]));
      for (Index i = 0; i < 5; ++i)
        ok = ok && std::abs(rec.weight.data[sz(i * 24 + j)] - w[sz(i * 24 + j)]) <=
                       1e-4 * std::abs(w[sz(i * 24 + j)]);
      right += ok ? 1 : 0;
      if (a_is_nearer) {
        EXPECT_TRUE(ok) << "unit " << j;
      }
    }
    std::printf(
        "  N=1 %s: %lld of 24 units recovered, %lld with the true root nearer z0, %lld "
        "with two roots\n",
        nn::to_string(act).c_str(), static_cast<long long>(right), static_cast<long long>(nearer),
        static_cast<long long>(rec.ambiguous_units));
    EXPECT_GE(right, nearer);
    const auto ec =
        relative_errors(rec.out_bias.data, model.tensors.at("layers.1.bias").data, 1e-2);
    EXPECT_LE(max_of(ec), 1e-4);
    // The extractor through the game interface: V copied, the block as above.
    const auto got = extract(attack, rel.artifact);
    EXPECT_EQ(got.tensors.at("layers.0.weight"), model.tensors.at("layers.0.weight"));
    EXPECT_EQ(got.tensors.at("layers.0.bias").data, rec.bias.data);
  }
  // o = 1: every Θ_1 column is parallel, c/h is not identified: b = 0.
  const auto one_out = make_model(nn::Architecture::Kind::mlp, {6, 8, 1}, Activation::silu, 5);
  const schemes::TaylorMlp scheme(paper_params(1, 0));
  Rng coins(2, 2, 2);
  const auto rel = scheme.release(one_out, coins);
  const auto rec = recover_paper_block(rel.artifact.tensors.at("taylor.theta"),
                                       rel.artifact.tensors.at("taylor.z0"), Activation::silu);
  for (const float bj : rec.bias.data) EXPECT_EQ(bj, 0.0f);
}

TEST(TaylorRatioInversion, RejectsMalformedArtifacts) {
  const TaylorRatioInversion attack;
  const auto model = make_model(nn::Architecture::Kind::mlp, {5, 6, 3}, Activation::silu, 2);
  const schemes::TaylorMlp scheme(paper_params(4, 0));
  Rng coins(2, 2, 2);
  const auto rel = scheme.release(model, coins);
  auto missing = rel.artifact;
  missing.tensors.erase("taylor.theta");
  EXPECT_THROW((void)extract(attack, missing), InvalidArgument);
  auto nan = rel.artifact;
  nan.tensors.at("taylor.theta").data[5] = std::nanf("");
  EXPECT_THROW((void)extract(attack, nan), InvalidArgument);
  auto wrong_format = rel.artifact;
  wrong_format.metadata["format"] = "official";
  EXPECT_THROW((void)extract(attack, wrong_format), InvalidArgument);
  auto bad_shape = rel.artifact;
  bad_shape.tensors.at("taylor.z0") = nn::Tensor({5});
  EXPECT_THROW((void)extract(attack, bad_shape), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Official form.

schemes::TaylorMlpParams official_params(std::int64_t order, std::int64_t select_dim,
                                         bool keep_gate = false, const char* dtype = "f32") {
  schemes::TaylorMlpParams p;
  p.format = "official";
  p.order = order;
  p.select_dim = select_dim;
  p.keep_gate_proj = keep_gate;
  p.dtype = dtype;
  return p;
}

std::vector<Index> secret_selected(const definitions::Release& rel) {
  std::vector<Index> out;
  for (const float v : rel.secret.tensors.at("selected").data) out.push_back(Index(v));
  return out;
}

// Original unit index of each release-order unit: selected (release order), then the rest.
std::vector<Index> release_order(const definitions::Release& rel, Index h) {
  std::vector<Index> order = secret_selected(rel);
  std::vector<char> is_sel(sz(h), 0);
  for (const Index s : order) is_sel[sz(s)] = 1;
  for (Index j = 0; j < h; ++j)
    if (is_sel[sz(j)] == 0) order.push_back(j);
  return order;
}

TEST(TaylorSignHypothesis, HandBuiltReleaseMatchesTheSchemeFormat) {
  // The scheme's official tensors equal the header formulas given its secret signs/selection.
  const auto model = make_model(nn::Architecture::Kind::swiglu, {10, 16}, Activation::silu, 4);
  const schemes::TaylorMlp scheme(official_params(6, 11));
  Rng coins(5, 5, 5);
  const auto rel = scheme.release(model, coins);
  const auto sel = secret_selected(rel);
  const auto& sign = rel.secret.tensors.at("sign").data;
  const auto& t = rel.artifact.tensors;
  const Index d = 10;
  const Index hs = 11;
  const auto& down = model.tensors.at("mlp.down_proj.weight").data;
  const auto& gate = model.tensors.at("mlp.gate_proj.weight").data;
  for (Index j = 0; j < hs; ++j) {
    const double s = sign[sz(j)];
    const double z0 = s * double(t.at("local_point").data[sz(j)]);
    for (Index k = 0; k < d; ++k)
      EXPECT_EQ(t.at("gate_proj_weight").data[sz(j * d + k)],
                static_cast<float>(s * gate[sz(sel[sz(j)] * d + k)]));
    const std::vector<double> c = nn::taylor_coefficients(Activation::silu, z0, 6);
    for (Index i = 0; i < d; ++i) {
      const double w = down[sz(i * 16 + sel[sz(j)])];
      EXPECT_NEAR(t.at("local_approx_output").data[sz(i * hs + j)], w * c[0],
                  1e-6 * std::abs(w * c[0]) + 1e-30);
      double fact = 1.0;
      double sp = 1.0;
      for (int n = 1; n <= 6; ++n) {
        fact *= n;
        sp *= s;
        const double want = w * c[sz(n)] * fact * sp;
        EXPECT_NEAR(t.at("fuse_weight").data[sz((i * hs + j) * 6 + n - 1)], want,
                    1e-6 * std::abs(want) + 1e-30);
      }
    }
  }
}

void check_official(const nn::Model& model, const definitions::Release& rel,
                    const OfficialRecovery& rec, Index hs, double tol, bool expect_order) {
  const Index d = model.arch.sizes[0];
  const Index h = model.arch.sizes[1];
  const auto& sign = rel.secret.tensors.at("sign").data;
  ASSERT_EQ(rec.signs.size(), sz(hs));
  Index wrong = 0;
  for (Index j = 0; j < hs; ++j) wrong += rec.signs[sz(j)] != int(sign[sz(j)]) ? 1 : 0;
  EXPECT_EQ(wrong, 0) << "sign errors";
  EXPECT_EQ(rec.ambiguous_units, 0);
  EXPECT_EQ(rec.order_known, expect_order);
  std::vector<Index> order = release_order(rel, h);
  if (expect_order) {
    for (Index p = 0; p < h; ++p) {
      EXPECT_EQ(rec.order[sz(p)], p);
      order[sz(p)] = p;
    }
  }
  // Which recovered positions hold selected units.
  std::vector<char> sel_pos(sz(h), 0);
  const auto sel = secret_selected(rel);
  for (Index p = 0; p < h; ++p)
    for (const Index s : sel)
      if (order[sz(p)] == s) sel_pos[sz(p)] = 1;
  const auto& g0 = model.tensors.at("mlp.gate_proj.weight").data;
  const auto& u0 = model.tensors.at("mlp.up_proj.weight").data;
  const auto& w0 = model.tensors.at("mlp.down_proj.weight").data;
  bool gate_exact = true;
  bool up_exact = true;
  bool plain_down_exact = true;
  double down_max = 0.0;
  for (Index p = 0; p < h; ++p) {
    const Index j = order[sz(p)];
    for (Index k = 0; k < d; ++k) {
      gate_exact = gate_exact && rec.gate.data[sz(p * d + k)] == g0[sz(j * d + k)];
      up_exact = up_exact && rec.up.data[sz(p * d + k)] == u0[sz(j * d + k)];
    }
    for (Index i = 0; i < d; ++i) {
      const double got = rec.down.data[sz(i * h + p)];
      const double want = w0[sz(i * h + j)];
      if (sel_pos[sz(p)] != 0) {
        down_max = std::max(down_max, std::abs(got - want) / std::abs(want));
      } else {
        plain_down_exact = plain_down_exact && got == want;
      }
    }
  }
  std::printf("    W_down[:, sel] max rel err %.2e, max residual ratio %.2e\n", down_max,
              rec.max_residual_ratio);
  EXPECT_TRUE(gate_exact);
  EXPECT_TRUE(up_exact);
  EXPECT_TRUE(plain_down_exact);
  EXPECT_LE(down_max, tol);
}

TEST(TaylorSignHypothesis, RecoversSchemeReleases) {
  for (Activation act : {Activation::silu, Activation::gelu}) {
    for (int order : {2, 6, 8}) {
      SCOPED_TRACE(nn::to_string(act) + " N=" + std::to_string(order));
      std::printf("  %s N=%d\n", nn::to_string(act).c_str(), order);
      const auto model = make_model(nn::Architecture::Kind::swiglu, {12, 40}, act, 200 + order);
      const schemes::TaylorMlp scheme(official_params(order, 29));
      Rng coins(3, 1, static_cast<std::uint64_t>(order));
      const auto rel = scheme.release(model, coins);
      const OfficialRecovery rec = recover_official_tensors(rel.artifact.tensors, "", act);
      check_official(model, rel, rec, 29, 1e-5, false);
      // The extractor returns the same tensors as a model of the architecture.
      const auto m = extract(TaylorSignHypothesis(), rel.artifact);
      EXPECT_EQ(m.arch, model.arch);
      EXPECT_EQ(m.tensors.at("mlp.down_proj.weight"), rec.down);
      EXPECT_EQ(m.tensors.at("mlp.gate_proj.weight"), rec.gate);
      EXPECT_NO_THROW(m.validate());
    }
  }
}

TEST(TaylorSignHypothesis, LeftoverGateProjRestoresTheOriginalOrder) {
  for (Activation act : {Activation::silu, Activation::gelu}) {
    SCOPED_TRACE(nn::to_string(act));
    const auto model = make_model(nn::Architecture::Kind::swiglu, {9, 30}, act, 61);
    const schemes::TaylorMlp scheme(official_params(6, 21, true));
    Rng coins(8, 8, 8);
    const auto rel = scheme.release(model, coins);
    const OfficialRecovery rec = recover_official_tensors(rel.artifact.tensors, "", act);
    check_official(model, rel, rec, 21, 1e-5, true);
    EXPECT_EQ(rec.gate, model.tensors.at("mlp.gate_proj.weight"));
    EXPECT_EQ(rec.up, model.tensors.at("mlp.up_proj.weight"));
  }
}

TEST(TaylorSignHypothesis, ResultsDoNotDependOnTheThreadCount) {
  // d > 64 probe rows so that the recheck path runs; one unit's W_down column vanishes on the probe
  // rows (re-tested on all rows), another vanishes entirely (ambiguous, sign irrelevant).
  auto model = make_model(nn::Architecture::Kind::swiglu, {300, 150}, Activation::silu, 5);
  const schemes::TaylorMlp scheme(official_params(6, 120));
  Rng coins(4, 4, 4);
  auto& down = model.tensors.at("mlp.down_proj.weight").data;
  auto rel0 = scheme.release(model, coins);
  const auto sel = secret_selected(rel0);
  const Index u_probe = sel[5];
  const Index u_zero = sel[9];
  for (Index i = 0; i < 300; ++i) {
    if (i < 256) down[sz(i * 150 + u_probe)] = 0.0f;
    down[sz(i * 150 + u_zero)] = 0.0f;
  }
  Rng coins2(4, 4, 4);
  const auto rel = scheme.release(model, coins2);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const OfficialRecovery one = recover_official_tensors(rel.artifact.tensors, "", Activation::silu);
  omp_set_num_threads(2);
  const OfficialRecovery two = recover_official_tensors(rel.artifact.tensors, "", Activation::silu);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.gate, two.gate);
  EXPECT_EQ(one.up, two.up);
  EXPECT_EQ(one.down, two.down);
  EXPECT_EQ(one.signs, two.signs);
  EXPECT_EQ(one.ambiguous_units, 1);
  const auto& sign = rel.secret.tensors.at("sign").data;
  for (Index j = 0; j < 120; ++j) {
    if (j == 9) continue;
    EXPECT_EQ(one.signs[sz(j)], int(sign[sz(j)])) << "unit " << j;
  }
  for (Index i = 0; i < 300; ++i) EXPECT_EQ(one.down.data[sz(i * 150 + 9)], 0.0f);
}

// The scheme's bf16/f16 official releases follow the official code's arithmetic: the exact
// inversion returns the model's weights (rounded to the type) bit for bit and every sign; least
// squares alone keeps every sign but only approximates W_down.
TEST(TaylorSignHypothesis, LowPrecisionReleasesAreInvertedExactly) {
  for (const char* dtype : {"bf16", "f16"}) {
    const nn::LowPrecision t = nn::parse_low_precision(dtype);
    for (int order : {6, 8, 12}) {
      SCOPED_TRACE(std::string(dtype) + " N=" + std::to_string(order));
      const auto model =
          make_model(nn::Architecture::Kind::swiglu, {16, 48}, Activation::silu, 300 + order);
      const schemes::TaylorMlp scheme(official_params(order, 33, false, dtype));
      Rng coins(6, 6, static_cast<std::uint64_t>(order));
      const auto rel = scheme.release(model, coins);
      const auto& sign = rel.secret.tensors.at("sign").data;
      const auto order_ = release_order(rel, 48);
      const auto& w0 = model.tensors.at("mlp.down_proj.weight").data;
      for (const bool exact : {true, false}) {
        const OfficialRecovery rec =
            recover_official_tensors(rel.artifact.tensors, "", Activation::silu,
                                     exact ? std::optional<nn::LowPrecision>(t) : std::nullopt);
        EXPECT_EQ(rec.exact_inversion, exact);
        Index wrong = 0;
        for (Index j = 0; j < 33; ++j) wrong += rec.signs[sz(j)] != int(sign[sz(j)]) ? 1 : 0;
        EXPECT_EQ(wrong, 0);
        Index bit_exact = 0;
        std::vector<double> errs;
        for (Index p = 0; p < 48; ++p)
          for (Index i = 0; i < 16; ++i) {
            const float want = nn::round_to(t, w0[sz(i * 48 + order_[sz(p)])]);
            const float got = rec.down.data[sz(i * 48 + p)];
            bit_exact += got == want ? 1 : 0;
            errs.push_back(std::abs(double(got) - want) / std::abs(double(want)));
          }
        std::printf("  %s N=%d %s: W_down bit-exact %lld of %d, rel err max %.2e\n", dtype, order,
                    exact ? "exact inversion" : "least squares", static_cast<long long>(bit_exact),
                    16 * 48, max_of(errs));
        if (exact) {
          EXPECT_EQ(bit_exact, 16 * 48);
          EXPECT_EQ(rec.exact_entries + rec.ambiguous_entries, 16 * 33);
          EXPECT_EQ(rec.inconsistent_entries, 0);
        } else {
          EXPECT_LT(bit_exact, 16 * 48);
          EXPECT_LE(max_of(errs), 5e-2);
        }
      }
    }
  }
}

// Outside silu (no official low-precision arithmetic exists) a bf16 official release is refused.
TEST(TaylorSignHypothesis, LowPrecisionOfficialReleaseNeedsSilu) {
  const auto model = make_model(nn::Architecture::Kind::swiglu, {16, 48}, Activation::gelu, 3);
  const schemes::TaylorMlp scheme(official_params(6, 33, false, "bf16"));
  Rng coins(6, 6, 6);
  try {
    (void)scheme.release(model, coins);
    ADD_FAILURE() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("silu only"), std::string::npos) << e.what();
  }
}

TEST(TaylorSignHypothesis, RejectsMalformedReleases) {
  const auto model = make_model(nn::Architecture::Kind::swiglu, {6, 10}, Activation::silu, 3);
  const schemes::TaylorMlp scheme(official_params(4, 7));
  Rng coins(1, 2, 1);
  const auto rel = scheme.release(model, coins);
  auto missing = rel.artifact.tensors;
  missing.erase("ffn_up_proj_weight");
  EXPECT_THROW((void)recover_official_tensors(missing, "", Activation::silu), InvalidArgument);
  auto nan = rel.artifact.tensors;
  nan.at("fuse_weight").data[7] = std::nanf("");
  try {
    (void)recover_official_tensors(nan, "", Activation::silu);
    ADD_FAILURE() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("fuse_weight"), std::string::npos) << e.what();
  }
  auto inf = rel.artifact.tensors;
  inf.at("up_proj_weight").data[3] = INFINITY;
  EXPECT_THROW((void)recover_official_tensors(inf, "", Activation::silu), InvalidArgument);
  auto shape = rel.artifact.tensors;
  shape.at("local_point") = nn::Tensor({6});
  EXPECT_THROW((void)recover_official_tensors(shape, "", Activation::silu), InvalidArgument);
  OfficialLayerView v;
  v.d = 4;
  v.h = 4;
  v.h_s = 2;
  v.n_order = 33;
  EXPECT_THROW((void)recover_official_layer(v), InvalidArgument);
}

TEST(TaylorAttacks, RegisteredAsExtractors) {
  definitions::Registry<definitions::Adversary> registry("attack");
  register_builtin_attacks(registry);
  for (const char* id : {"taylor_ratio_inversion", "taylor_sign_hypothesis"}) {
    auto a = registry.create(id, definitions::Params{});
    EXPECT_EQ(a->id(), id);
    EXPECT_NE(dynamic_cast<definitions::Extractor*>(a.get()), nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// Files.

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("wrsec_taylor_attacks_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(TaylorSignHypothesis, RecoversMultiLayerFiles) {
  const TempDir dir;
  std::vector<nn::Model> models;
  std::vector<definitions::Release> rels;
  nn::TensorMap file;
  for (Index layer = 0; layer < 2; ++layer) {
    models.push_back(make_model(nn::Architecture::Kind::swiglu, {14, 36}, Activation::silu,
                                static_cast<std::uint64_t>(400 + layer)));
    const schemes::TaylorMlp scheme(official_params(6, 25, layer == 1));
    Rng coins(2, 3, static_cast<std::uint64_t>(layer));
    rels.push_back(scheme.release(models.back(), coins));
    for (const auto& [name, t] : rels.back().artifact.tensors)
      file.emplace("model.layers." + std::to_string(layer) + ".mlp." + name, t);
  }
  for (const nn::DType dtype : {nn::DType::f32, nn::DType::bf16}) {
    SCOPED_TRACE(nn::to_string(dtype));
    const auto in = dir.path / ("in_" + nn::to_string(dtype) + ".safetensors");
    const auto out = dir.path / ("out_" + nn::to_string(dtype) + ".safetensors");
    nn::write_safetensors(in, file, {}, dtype);
    const auto reports = recover_official_file(in, out);
    ASSERT_EQ(reports.size(), 2u);
    const auto got = nn::read_safetensors(out);
    EXPECT_EQ(got.tensors.size(), 6u);
    for (Index layer = 0; layer < 2; ++layer) {
      const auto& r = reports[sz(layer)];
      EXPECT_EQ(r.layer, layer);
      EXPECT_EQ(r.prefix, "model.layers." + std::to_string(layer) + ".mlp.");
      EXPECT_EQ(r.d, 14);
      EXPECT_EQ(r.h, 36);
      EXPECT_EQ(r.h_s, 25);
      EXPECT_EQ(r.n_order, 6);
      EXPECT_EQ(r.order_known, layer == 1);
      EXPECT_EQ(r.ambiguous_units, 0);
      Index flips = 0;
      for (const float s : rels[sz(layer)].secret.tensors.at("sign").data) flips += s < 0 ? 1 : 0;
      EXPECT_EQ(r.sign_flips, flips);
      std::printf("  %s layer %lld: %lld units, %lld flips, %.4f s\n", nn::to_string(dtype).c_str(),
                  static_cast<long long>(layer), static_cast<long long>(r.units),
                  static_cast<long long>(r.sign_flips), r.seconds);
      const std::string base = "model.layers." + std::to_string(layer) + ".mlp.";
      for (const char* what : {"gate_proj.weight", "up_proj.weight", "down_proj.weight"})
        ASSERT_TRUE(got.tensors.count(base + what)) << base + what;
      if (dtype == nn::DType::f32) {
        // Identical to the in-memory attack on the same release.
        const auto rec =
            recover_official_tensors(rels[sz(layer)].artifact.tensors, "", Activation::silu);
        EXPECT_EQ(got.tensors.at(base + "gate_proj.weight"), rec.gate);
        EXPECT_EQ(got.tensors.at(base + "up_proj.weight"), rec.up);
        EXPECT_EQ(got.tensors.at(base + "down_proj.weight"), rec.down);
      }
    }
  }
}

TEST(TaylorSignHypothesis, RejectsMalformedFiles) {
  const TempDir dir;
  const auto model = make_model(nn::Architecture::Kind::swiglu, {6, 10}, Activation::silu, 8);
  const schemes::TaylorMlp scheme(official_params(4, 7));
  Rng coins(1, 1, 2);
  const auto rel = scheme.release(model, coins);
  nn::TensorMap two;
  for (const auto& [name, t] : rel.artifact.tensors) {
    two.emplace("model.layers.0.mlp." + name, t);
    two.emplace("model.layers.1.mlp." + name, t);
  }
  const auto out = dir.path / "out.safetensors";
  auto expect_invalid = [&](const nn::TensorMap& tensors, const std::string& needle) {
    const auto in = dir.path / "bad.safetensors";
    nn::write_safetensors(in, tensors);
    try {
      (void)recover_official_file(in, out);
      ADD_FAILURE() << "no exception for " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(out));
  };
  auto no_fuse = two;
  no_fuse.erase("model.layers.1.mlp.fuse_weight");
  expect_invalid(no_fuse, "model.layers.1.mlp.fuse_weight");
  auto nan = two;
  nan.at("model.layers.1.mlp.local_approx_output").data[2] = std::nanf("");
  expect_invalid(nan, "local_approx_output");
  auto shape = two;
  shape.at("model.layers.0.mlp.local_point") = nn::Tensor({3});
  expect_invalid(shape, "model.layers.0.mlp.local_point");
  auto stray = two;
  stray.emplace("decoder.3.fuse_weight", nn::Tensor({1, 1, 1}));
  expect_invalid(stray, "decoder.3.fuse_weight");
}

}  // namespace
}  // namespace wrsec::attacks
