// Tests of the weight-space removal attacks: prune, quantize, cast, weight_noise (value
// transforms, checked against the header formulas and hand-computed golden values) and permute,
// scale_neurons, dummy_neurons (functionality-equivalent transforms, checked on logits).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "attacks/cast.h"
#include "attacks/dummy_neurons.h"
#include "attacks/permute.h"
#include "attacks/prune.h"
#include "attacks/quantize.h"
#include "attacks/registry.h"
#include "attacks/scale_neurons.h"
#include "attacks/weight_noise.h"
#include "core/errors.h"
#include "definitions/params.h"
#include "definitions/registry.h"
#include "definitions/statistics.h"
#include "nn/model.h"

namespace wrsec::attacks {
namespace {

using nn::Activation;
using Kind = nn::Architecture::Kind;

Rng test_rng(std::uint64_t seed = 7) {
  return Rng(seed, stable_hash("test"), 0);
}

nn::Model make_model(const std::string& spec, std::uint64_t seed = 7) {
  Rng rng = test_rng(seed);
  return nn::Model::init(nn::Architecture::parse(spec), rng);
}

nn::Matrix random_inputs(std::int64_t n, std::int64_t d, std::uint64_t seed = 99) {
  Rng rng = test_rng(seed).derive("inputs");
  nn::Matrix x(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) x(i, j) = static_cast<float>(rng.normal());
  return x;
}

// max |f'(x) − f(x)| over 256 Gaussian inputs.
double max_logit_change(const nn::Model& a, const nn::Model& b) {
  const nn::Matrix x = random_inputs(256, a.arch.input_size());
  return static_cast<double>((a.forward(x) - b.forward(x)).cwiseAbs().maxCoeff());
}

double max_abs_logit(const nn::Model& a) {
  const nn::Matrix x = random_inputs(256, a.arch.input_size());
  return static_cast<double>(a.forward(x).cwiseAbs().maxCoeff());
}

std::unique_ptr<definitions::Remover> make_remover(const std::string& id,
                                                   const std::map<std::string, std::string>& p) {
  definitions::Registry<definitions::Adversary> registry("attack");
  register_builtin_attacks(registry);
  auto adversary = registry.create(id, definitions::Params(p));
  auto* remover = dynamic_cast<definitions::Remover*>(adversary.get());
  if (remover == nullptr) throw LogicError(id + " is not a remover");
  adversary.release();
  return std::unique_ptr<definitions::Remover>(remover);
}

nn::Model run(const definitions::Remover& attack, const nn::Model& m, std::uint64_t trial = 0) {
  Rng coins(7, stable_hash("test"), trial);
  const definitions::RemovalContext context;
  nn::Model out = attack.remove(m, context, coins);
  out.validate();
  return out;
}

nn::Model run(const std::string& id, const std::map<std::string, std::string>& p,
              const nn::Model& m, std::uint64_t trial = 0) {
  return run(*make_remover(id, p), m, trial);
}

std::int64_t zeros(const nn::Tensor& t) {
  return std::count(t.data.begin(), t.data.end(), 0.0f);
}

// A one-layer model (logits = x·Wᵀ + b) with the given weight rows.
nn::Model one_layer(const std::vector<std::vector<float>>& rows, std::vector<float> bias = {}) {
  nn::Architecture arch;
  arch.kind = Kind::mlp;
  arch.sizes = {static_cast<std::int64_t>(rows[0].size()), static_cast<std::int64_t>(rows.size())};
  nn::Tensor w({arch.sizes[1], arch.sizes[0]});
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j) w.data[i * rows[i].size() + j] = rows[i][j];
  nn::Tensor b({arch.sizes[1]});
  if (!bias.empty()) b.data.assign(bias.begin(), bias.end());
  nn::Model m(arch, {{"layers.0.weight", std::move(w)}, {"layers.0.bias", std::move(b)}});
  m.validate();
  return m;
}

// ---------------------------------------------------------------------------------------------
// prune

TEST(Prune, CountSnapsDecimalRates) {
  EXPECT_EQ(prune_count(0.07, 100), 7);  // 0.07·100 = 7.000000000000001 in double
  EXPECT_EQ(prune_count(0.5, 3), 2);
  EXPECT_EQ(prune_count(0.1, 3), 1);
  EXPECT_EQ(prune_count(0.0, 1000), 0);
  EXPECT_EQ(prune_count(0.3, 10), 3);
  EXPECT_EQ(prune_count(0.001, 1), 1);
}

// Checks that exactly k entries of `after` are zero where `before` was not, and that every
// zeroed magnitude is <= every kept magnitude (ties resolved by lower index).
void expect_smallest_zeroed(const std::vector<const nn::Tensor*>& before,
                            const std::vector<const nn::Tensor*>& after, std::int64_t k) {
  float max_pruned = 0.0f, min_kept = std::numeric_limits<float>::infinity();
  std::int64_t pruned = 0;
  for (std::size_t t = 0; t < before.size(); ++t) {
    ASSERT_EQ(before[t]->data.size(), after[t]->data.size());
    for (std::size_t i = 0; i < before[t]->data.size(); ++i) {
      const float b = before[t]->data[i], a = after[t]->data[i];
      if (a == 0.0f) {
        ++pruned;
        max_pruned = std::max(max_pruned, std::fabs(b));
      } else {
        EXPECT_EQ(a, b) << "a kept entry changed";
        min_kept = std::min(min_kept, std::fabs(b));
      }
    }
  }
  EXPECT_EQ(pruned, k);
  EXPECT_LE(max_pruned, min_kept);
}

TEST(Prune, TensorScopeZeroesExactlyTheSmallestPerTensor) {
  const nn::Model m = make_model("mlp:50,40,30,10:relu");
  for (const double rate : {0.0, 0.13, 0.5, 0.9}) {
    const nn::Model p = run("prune", {{"rate", std::to_string(rate)}}, m);
    for (const auto& [name, t] : m.tensors) {
      const nn::Tensor& after = p.tensors.at(name);
      if (t.rank() == 1) {
        EXPECT_EQ(after, t) << name << ": biases are kept by default";
        continue;
      }
      expect_smallest_zeroed({&t}, {&after}, prune_count(rate, t.numel()));
    }
  }
}

TEST(Prune, TiesGoToTheLowerIndex) {
  const nn::Model m = one_layer({{1, -1, 2, 1}, {-1, 3, 1, 0.5f}});
  const nn::Model p = run("prune", {{"rate", "0.5"}}, m);  // k = 4: 0.5, then three of the ±1s
  const std::vector<float> want = {0, 0, 2, 0, -1, 3, 1, 0};
  EXPECT_EQ(p.tensors.at("layers.0.weight").data, want);
}

TEST(Prune, GlobalScopeUsesOneThreshold) {
  // Init bounds √(6/400) = 0.12 vs √(3/30) = 0.32: the layers have very different scales.
  const nn::Model m = make_model("mlp:400,40,30,10:relu");
  const double rate = 0.4;
  const nn::Model p = run("prune", {{"rate", "0.4"}, {"scope", "global"}}, m);
  std::vector<const nn::Tensor*> before, after;
  std::int64_t n = 0;
  for (const auto& [name, t] : m.tensors)
    if (t.rank() == 2) {
      before.push_back(&t);
      after.push_back(&p.tensors.at(name));
      n += t.numel();
    }
  expect_smallest_zeroed(before, after, prune_count(rate, n));
  // One threshold: the per-tensor fractions differ a lot (global != tensor).
  const double f0 = double(zeros(p.tensors.at("layers.0.weight"))) / 16000.0;
  const double f2 = double(zeros(p.tensors.at("layers.2.weight"))) / 300.0;
  EXPECT_GT(f0 - f2, 0.15);
}

TEST(Prune, BiasesAndSkipLast) {
  const nn::Model m = make_model("mlp:50,40,30,10:relu");
  const nn::Model p =
      run("prune", {{"rate", "0.25"}, {"biases", "true"}, {"skip_last", "true"}}, m);
  for (const auto& [name, t] : m.tensors) {
    const nn::Tensor& after = p.tensors.at(name);
    if (name.starts_with("layers.2.")) {
      EXPECT_EQ(after, t) << name << " is the output layer";
    } else {
      expect_smallest_zeroed({&t}, {&after}, prune_count(0.25, t.numel()));
    }
  }
  // Global with biases: the count covers weights and biases of the non-output layers.
  const nn::Model g =
      run("prune", {{"rate", "0.25"}, {"scope", "global"}, {"biases", "1"}, {"skip_last", "1"}}, m);
  std::vector<const nn::Tensor*> before, after;
  std::int64_t n = 0;
  for (const char* name :
       {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}) {
    before.push_back(&m.tensors.at(name));
    after.push_back(&g.tensors.at(name));
    n += m.tensors.at(name).numel();
  }
  expect_smallest_zeroed(before, after, prune_count(0.25, n));
  EXPECT_EQ(g.tensors.at("layers.2.weight"), m.tensors.at("layers.2.weight"));
}

TEST(Prune, SwigluSkipLastLeavesDownProjection) {
  const nn::Model m = make_model("swiglu:16,40:silu");
  const nn::Model p = run("prune", {{"rate", "0.5"}, {"skip_last", "true"}}, m);
  EXPECT_EQ(zeros(p.tensors.at("mlp.gate_proj.weight")), 320);
  EXPECT_EQ(zeros(p.tensors.at("mlp.up_proj.weight")), 320);
  EXPECT_EQ(p.tensors.at("mlp.down_proj.weight"), m.tensors.at("mlp.down_proj.weight"));
}

// ---------------------------------------------------------------------------------------------
// quantize

std::vector<float> expected_dequant(const std::vector<int>& q, double s) {
  std::vector<float> out;
  for (const int v : q) out.push_back(static_cast<float>(s * v));
  return out;
}

TEST(Quantize, GoldenValues8And4Bits) {
  const nn::Model m = one_layer({{1.0f, -0.6f, 0.25f}, {0.1f, 0.02f, -0.3f}}, {0.7f, -0.05f});
  // 8 bits, per tensor: s = 1/127; −0.6·127 = −76.2, 0.25·127 = 31.75, 0.1·127 = 12.7,
  // 0.02·127 = 2.54, −0.3·127 = −38.1.
  const nn::Model q8 = run("quantize", {{"bits", "8"}}, m);
  EXPECT_EQ(q8.tensors.at("layers.0.weight").data,
            expected_dequant({127, -76, 32, 13, 3, -38}, 1.0 / 127.0));
  EXPECT_EQ(q8.tensors.at("layers.0.bias"), m.tensors.at("layers.0.bias"));
  // 4 bits, per tensor: s = 1/7; values ·7 = 7, −4.2, 1.75, 0.7, 0.14, −2.1.
  const nn::Model q4 = run("quantize", {{"bits", "4"}}, m);
  EXPECT_EQ(q4.tensors.at("layers.0.weight").data,
            expected_dequant({7, -4, 2, 1, 0, -2}, 1.0 / 7.0));
  // 4 bits, per channel: row 0 as above; row 1 has s = 0.3/7: 0.1/s = 2.33, 0.02/s = 0.47.
  const nn::Model c4 = run("quantize", {{"bits", "4"}, {"granularity", "channel"}}, m);
  const auto& got = c4.tensors.at("layers.0.weight").data;
  const std::vector<float> row0 = expected_dequant({7, -4, 2}, 1.0 / 7.0);
  const std::vector<float> row1 = expected_dequant({2, 0, -7}, double(0.3f) / 7.0);
  EXPECT_EQ(std::vector<float>(got.begin(), got.begin() + 3), row0);
  EXPECT_EQ(std::vector<float>(got.begin() + 3, got.end()), row1);
  // biases=true: the bias vector is one group, s = 0.7/7 = 0.1, −0.05f/s ≈ −0.50000001 → −1.
  const nn::Model b4 = run("quantize", {{"bits", "4"}, {"biases", "true"}}, m);
  EXPECT_EQ(b4.tensors.at("layers.0.bias").data, expected_dequant({7, -1}, double(0.7f) / 7.0));
}

TEST(Quantize, RoundsHalfAwayFromZero) {
  // 4 bits with max |w| = 7: s = 1 exactly, so the halves are exact ties.
  const nn::Model m = one_layer({{7.0f, 2.5f, -0.5f, 1.5f, -3.5f, 0.0f}});
  const nn::Model q = run("quantize", {{"bits", "4"}}, m);
  const std::vector<float> want = {7, 3, -1, 2, -4, 0};
  EXPECT_EQ(q.tensors.at("layers.0.weight").data, want);
}

TEST(Quantize, ErrorBoundAndDistinctValues) {
  const nn::Model m = make_model("mlp:784,64,10:relu");
  for (const int bits : {2, 4, 8}) {
    const double q_max = std::ldexp(1.0, bits - 1) - 1.0;
    for (const std::string gran : {"tensor", "channel"}) {
      const nn::Model q =
          run("quantize", {{"bits", std::to_string(bits)}, {"granularity", gran}}, m);
      for (const auto& [name, t] : m.tensors) {
        const nn::Tensor& a = q.tensors.at(name);
        if (t.rank() == 1) {
          EXPECT_EQ(a, t);
          continue;
        }
        const std::int64_t rows = t.shape[0], cols = t.shape[1];
        const std::int64_t group = gran == "tensor" ? rows * cols : cols;
        for (std::int64_t g0 = 0; g0 < rows * cols; g0 += group) {
          double max_abs = 0.0;
          for (std::int64_t i = g0; i < g0 + group; ++i)
            max_abs = std::max(max_abs, std::fabs(double(t.data[std::size_t(i)])));
          const double s = max_abs / q_max;
          std::set<float> distinct;
          for (std::int64_t i = g0; i < g0 + group; ++i) {
            const double w = t.data[std::size_t(i)], w2 = a.data[std::size_t(i)];
            // s/2, plus the float rounding of s·q (≤ 2^-24·max |w|).
            EXPECT_LE(std::fabs(w2 - w), s / 2 + 1e-7 * max_abs) << name << " bits " << bits;
            distinct.insert(a.data[std::size_t(i)]);
          }
          EXPECT_LE(distinct.size(), std::size_t((1 << bits) - 1));
          // 50k uniform values hit every level.
          if (gran == "tensor" && name == "layers.0.weight") {
            EXPECT_EQ(distinct.size(), std::size_t((1 << bits) - 1));
          }
        }
      }
    }
  }
}

TEST(Quantize, PerChannelBeatsPerTensor) {
  nn::Model m = make_model("mlp:100,32,10:relu");
  // Rows of very different scales: per-tensor steps are set by the largest row.
  nn::Tensor& w = m.tensors.at("layers.0.weight");
  for (std::int64_t r = 0; r < 32; ++r)
    for (std::int64_t c = 0; c < 100; ++c)
      w.data[std::size_t(r * 100 + c)] *= static_cast<float>(std::ldexp(1.0, -int(r % 8)));
  const auto sse = [&](const nn::Model& q) {
    double e = 0.0;
    for (std::size_t i = 0; i < w.data.size(); ++i) {
      const double d = double(q.tensors.at("layers.0.weight").data[i]) - double(w.data[i]);
      e += d * d;
    }
    return e;
  };
  for (const int bits : {2, 4, 8}) {
    const double tensor = sse(run("quantize", {{"bits", std::to_string(bits)}}, m));
    const double channel =
        sse(run("quantize", {{"bits", std::to_string(bits)}, {"granularity", "channel"}}, m));
    EXPECT_LT(channel, tensor) << bits;
    EXPECT_GT(tensor, 0.0);
  }
}

TEST(Quantize, ZeroRowUnchanged) {
  const nn::Model m = one_layer({{0, 0, 0}, {0.75f, -0.4f, 0.1f}});
  const nn::Model q = run("quantize", {{"bits", "3"}, {"granularity", "channel"}}, m);
  const auto& d = q.tensors.at("layers.0.weight").data;
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_EQ(d[2], 0.0f);
  EXPECT_EQ(d[3], 0.75f);  // s = 0.75/3 = 0.25: q = 3, −1.6 → −2, 0.4 → 0
  EXPECT_EQ(d[4], -0.5f);
  EXPECT_EQ(d[5], 0.0f);
  const nn::Model z = run("quantize", {{"bits", "3"}}, one_layer({{0.0f, 0.0f}}));
  EXPECT_EQ(z.tensors.at("layers.0.weight").data, std::vector<float>({0, 0}));
}

// ---------------------------------------------------------------------------------------------
// cast

TEST(Cast, Bf16GoldenValues) {
  const auto bf = [](float v) { return cast_round_trip(v, "bf16"); };
  EXPECT_EQ(bf(1.0f + std::ldexp(1.0f, -8)), 1.0f);                             // tie → even (1)
  EXPECT_EQ(bf(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));  // tie → even
  EXPECT_EQ(bf(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)),
            1.0f + std::ldexp(1.0f, -7));  // above the tie
  EXPECT_EQ(bf(-1.0f - std::ldexp(1.0f, -8)), -1.0f);
  EXPECT_EQ(bf(0.1f), 0.10009765625f);             // 0x3dcd
  const float bf16_max = std::ldexp(255.0f, 120);  // (2 − 2^-7)·2^127
  EXPECT_EQ(bf(bf16_max), bf16_max);
  EXPECT_EQ(bf(std::numeric_limits<float>::max()), bf16_max);  // would overflow to inf
  EXPECT_EQ(bf(-std::numeric_limits<float>::max()), -bf16_max);
  EXPECT_EQ(bf(std::ldexp(1.0f, -130)), std::ldexp(1.0f, -130));  // float subnormal, exact
  EXPECT_EQ(bf(std::ldexp(3.0f, -133)), std::ldexp(3.0f, -133));  // bf16 subnormal 0x0003
  EXPECT_EQ(bf(std::ldexp(1.5f, -133)), std::ldexp(1.0f, -132));  // 1.5 units, tie → even (2)
  EXPECT_EQ(bf(std::ldexp(1.0f, -134)), 0.0f);                    // 0.5 units → 0
  EXPECT_EQ(bf(std::ldexp(1.0f, -140)), 0.0f);
  EXPECT_EQ(bf(0.0f), 0.0f);
}

TEST(Cast, Fp16GoldenValues) {
  const auto h = [](float v) { return cast_round_trip(v, "fp16"); };
  EXPECT_EQ(h(1.0f + std::ldexp(1.0f, -11)), 1.0f);  // tie → even
  EXPECT_EQ(h(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
  EXPECT_EQ(h(0.1f), 0.0999755859375f);  // 0x2e66
  EXPECT_EQ(h(65504.0f), 65504.0f);
  EXPECT_EQ(h(65519.0f), 65504.0f);  // below the midpoint to 65536
  EXPECT_EQ(h(65520.0f), 65504.0f);  // rounds to inf, clamped
  EXPECT_EQ(h(1e6f), 65504.0f);
  EXPECT_EQ(h(-1e30f), -65504.0f);
  const float tiny = std::ldexp(1.0f, -24);  // smallest subnormal half
  EXPECT_EQ(h(tiny), tiny);
  EXPECT_EQ(h(3 * std::ldexp(1.0f, -25)), 2 * tiny);  // 1.5 units, tie → even (2)
  EXPECT_EQ(h(5 * std::ldexp(1.0f, -25)), 2 * tiny);  // 2.5 units → 2
  EXPECT_EQ(h(std::ldexp(1.0f, -25)), 0.0f);          // 0.5 units → 0
  EXPECT_EQ(h(std::ldexp(1.0001f, -25)), tiny);
  EXPECT_EQ(h(1e-8f), 0.0f);
  EXPECT_EQ(h(std::ldexp(1023.0f, -24)), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(h(-std::ldexp(0.75f, -14)), -std::ldexp(0.75f, -14));
}

TEST(Cast, WholeModelIncludingBiases) {
  const nn::Model m = one_layer({{1e5f, 0.1f, -3e-8f}}, {1.0f + std::ldexp(1.0f, -11)});
  const nn::Model h = run("cast", {{"format", "fp16"}}, m);
  EXPECT_EQ(h.tensors.at("layers.0.weight").data,
            std::vector<float>({65504.0f, 0.0999755859375f, -std::ldexp(1.0f, -24)}));
  EXPECT_EQ(h.tensors.at("layers.0.bias").data, std::vector<float>({1.0f}));
  const nn::Model b = run("cast", {}, m);                        // default bf16
  EXPECT_EQ(b.tensors.at("layers.0.weight").data[0], 99840.0f);  // 1e5 → 0x47c3 = 99840
  EXPECT_EQ(b.tensors.at("layers.0.weight").data[1], 0.10009765625f);
  // A random model: every value representable in the format afterwards (idempotent).
  const nn::Model r = make_model("mlp:30,20,5:gelu");
  for (const std::string f : {"fp16", "bf16"}) {
    const nn::Model once = run("cast", {{"format", f}}, r);
    EXPECT_EQ(run("cast", {{"format", f}}, once).tensors, once.tensors) << f;
    EXPECT_NE(once.tensors, r.tensors) << f;
  }
}

// ---------------------------------------------------------------------------------------------
// weight_noise

double pop_std(const std::vector<double>& v) {
  double mean = 0.0;
  for (const double x : v) mean += x;
  mean /= double(v.size());
  double ss = 0.0;
  for (const double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / double(v.size()));
}

TEST(WeightNoise, StdRatioMatchesScale) {
  const nn::Model m = make_model("mlp:784,256,10:relu");
  const nn::Model n = run("weight_noise", {{"scale", "0.1"}}, m);
  const nn::Tensor& w = m.tensors.at("layers.0.weight");
  const nn::Tensor& w2 = n.tensors.at("layers.0.weight");
  std::vector<double> orig, diff;
  for (std::size_t i = 0; i < w.data.size(); ++i) {
    orig.push_back(w.data[i]);
    diff.push_back(double(w2.data[i]) - double(w.data[i]));
  }
  // 200k samples: the std estimate has relative error ~0.16%.
  EXPECT_NEAR(pop_std(diff) / pop_std(orig), 0.1, 0.002);
  EXPECT_EQ(n.tensors.at("layers.0.bias"), m.tensors.at("layers.0.bias"));
  EXPECT_NE(n.tensors.at("layers.1.weight"), m.tensors.at("layers.1.weight"));
}

TEST(WeightNoise, DrawsFromTheTensorNamedStream) {
  const nn::Model m = make_model("mlp:20,16,4:relu");
  const nn::Model n = run("weight_noise", {{"scale", "0.2"}, {"biases", "true"}}, m, 5);
  for (const auto& [name, t] : m.tensors) {
    std::vector<double> v(t.data.begin(), t.data.end());
    const double sigma = 0.2 * pop_std(v);
    Rng z = Rng(7, stable_hash("test"), 5).derive(name);
    std::vector<float> want;
    for (const float x : t.data) want.push_back(static_cast<float>(double(x) + sigma * z.normal()));
    EXPECT_EQ(n.tensors.at(name).data, want) << name;
  }
}

TEST(WeightNoise, DeterministicInCoinsAndZeroScale) {
  const nn::Model m = make_model("mlp:20,16,4:relu");
  EXPECT_EQ(run("weight_noise", {}, m, 1).tensors, run("weight_noise", {}, m, 1).tensors);
  EXPECT_NE(run("weight_noise", {}, m, 1).tensors.at("layers.0.weight"),
            run("weight_noise", {}, m, 2).tensors.at("layers.0.weight"));
  EXPECT_EQ(run("weight_noise", {{"scale", "0"}}, m).tensors, m.tensors);
}

// ---------------------------------------------------------------------------------------------
// permute, scale_neurons, dummy_neurons: the function must not change.

constexpr double kLogitTolerance = 1e-5;

TEST(Permute, RandomPermutationIsUniform) {
  Rng rng = test_rng();
  std::map<std::vector<std::int64_t>, int> counts;
  for (int t = 0; t < 60000; ++t) ++counts[random_permutation(3, rng)];
  ASSERT_EQ(counts.size(), 6u);
  // Each count ~ Bin(60000, 1/6), sd ≈ 91: each tail at 1e-6/12, so a uniform shuffle fails by
  // chance with probability <= 1e-6 (it passes within about ±5.2 sd; the former ±450 failed with
  // 5e-6). The naive shuffle (swap with below(n)) gives 8889 / 11111.
  const double tail = std::log2(1e-6 / 12);
  for (const auto& [p, c] : counts) {
    const auto k = static_cast<std::uint64_t>(c);
    EXPECT_GT(definitions::log2_binomial_tail(k, 60000, 1.0 / 6), tail) << c;
    EXPECT_GT(definitions::log2_binomial_tail(60000 - k, 60000, 5.0 / 6), tail) << c;
  }
}

TEST(Permute, SameFunctionNewWeights) {
  for (const std::string spec : {"mlp:784,64,64,10:relu", "mlp:784,64,64,10:gelu"}) {
    const nn::Model m = make_model(spec);
    const nn::Model p = run("permute", {}, m);
    EXPECT_LE(max_logit_change(m, p), kLogitTolerance) << spec;
    EXPECT_EQ(p.arch, m.arch);
    for (const char* name : {"layers.0.weight", "layers.1.weight", "layers.2.weight"})
      EXPECT_NE(p.tensors.at(name), m.tensors.at(name)) << name;
    EXPECT_EQ(p.tensors.at("layers.2.bias"), m.tensors.at("layers.2.bias"));
    // The hidden biases are the same multiset, reordered.
    for (const char* name : {"layers.0.bias", "layers.1.bias"}) {
      const auto& ma = m.tensors.at(name).data;
      const auto& pb = p.tensors.at(name).data;
      std::vector<float> a(ma.begin(), ma.end()), b(pb.begin(), pb.end());
      EXPECT_NE(a, b);
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      EXPECT_EQ(a, b);
    }
    EXPECT_EQ(run("permute", {}, m, 3).tensors, run("permute", {}, m, 3).tensors);
    EXPECT_NE(run("permute", {}, m, 3).tensors, run("permute", {}, m, 4).tensors);
  }
}

TEST(Permute, SwigluBlock) {
  const nn::Model m = make_model("swiglu:32,96:silu");
  const nn::Model p = run("permute", {}, m);
  EXPECT_LE(max_logit_change(m, p), kLogitTolerance);
  for (const char* name : {"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"})
    EXPECT_NE(p.tensors.at(name), m.tensors.at(name)) << name;
}

TEST(Permute, ExplicitPermutation) {
  nn::Model m = make_model("mlp:3,4,2:relu");
  const nn::Model before = m;
  permute_hidden_units(m, 0, {2, 0, 3, 1});
  for (std::int64_t k = 0; k < 4; ++k) {
    const std::int64_t old = std::vector<std::int64_t>{2, 0, 3, 1}[std::size_t(k)];
    EXPECT_EQ(m.tensors.at("layers.0.bias").data[std::size_t(k)],
              before.tensors.at("layers.0.bias").data[std::size_t(old)]);
    for (std::int64_t c = 0; c < 3; ++c)
      EXPECT_EQ(m.tensors.at("layers.0.weight").data[std::size_t(k * 3 + c)],
                before.tensors.at("layers.0.weight").data[std::size_t(old * 3 + c)]);
    for (std::int64_t r = 0; r < 2; ++r)
      EXPECT_EQ(m.tensors.at("layers.1.weight").data[std::size_t(r * 4 + k)],
                before.tensors.at("layers.1.weight").data[std::size_t(r * 4 + old)]);
  }
  EXPECT_THROW(permute_hidden_units(m, 0, {0, 1, 1, 2}), InvalidArgument);
  EXPECT_THROW(permute_hidden_units(m, 1, {0, 1}), InvalidArgument);  // the output layer
}

TEST(ScaleNeurons, SameFunctionScaledRows) {
  const nn::Model m = make_model("mlp:784,64,64,10:relu");
  const nn::Model s = run("scale_neurons", {}, m);
  EXPECT_LE(max_logit_change(m, s), kLogitTolerance);
  // Row i of W_0 and b_0 scale by one factor d_i ∈ [1/4, 4], and the factors really vary.
  const nn::Tensor& w = m.tensors.at("layers.0.weight");
  const nn::Tensor& w2 = s.tensors.at("layers.0.weight");
  double lo = 1e9, hi = 0.0;
  for (std::size_t i = 0; i < 64; ++i) {
    const double d = double(s.tensors.at("layers.0.bias").data[i]) /
                     double(m.tensors.at("layers.0.bias").data[i]);
    EXPECT_GE(d, 0.25 * (1 - 1e-6));
    EXPECT_LE(d, 4.0 * (1 + 1e-6));
    for (std::size_t j = 0; j < 784; j += 97)
      EXPECT_NEAR(double(w2.data[i * 784 + j]) / double(w.data[i * 784 + j]), d, 1e-6 * d);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GT(hi / lo, 4.0);
  EXPECT_EQ(s.tensors.at("layers.2.bias"), m.tensors.at("layers.2.bias"));
  EXPECT_NE(s.tensors.at("layers.2.weight"), m.tensors.at("layers.2.weight"));
  EXPECT_EQ(run("scale_neurons", {}, m, 2).tensors, run("scale_neurons", {}, m, 2).tensors);
  EXPECT_NE(run("scale_neurons", {}, m, 2).tensors, run("scale_neurons", {}, m, 3).tensors);
  const nn::Model wide = run("scale_neurons", {{"log_range", "5"}}, m);
  EXPECT_LE(max_logit_change(m, wide), kLogitTolerance);
}

TEST(ScaleNeurons, RejectsNonHomogeneousActivations) {
  for (const std::string spec : {"mlp:20,8,4:gelu", "mlp:20,8,4:silu", "swiglu:16,32:silu"}) {
    try {
      (void)run("scale_neurons", {}, make_model(spec));
      ADD_FAILURE() << spec << " accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("relu"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

// The rows of t restricted to their first `cols` entries, counted with multiplicity.
std::map<std::vector<float>, int> row_counts(const nn::Tensor& t, std::int64_t cols) {
  std::map<std::vector<float>, int> out;
  for (std::int64_t r = 0; r < t.shape[0]; ++r) {
    const auto* row = t.data.data() + r * t.shape[1];
    ++out[std::vector<float>(row, row + cols)];
  }
  return out;
}

TEST(DummyNeurons, SplitAndCliqueKeepTheFunction) {
  for (const std::string spec : {"mlp:784,64,64,10:relu", "mlp:784,64,64,10:gelu"}) {
    const nn::Model m = make_model(spec);
    for (const std::string kind : {"split", "clique"}) {
      const nn::Model d = run("dummy_neurons", {{"kind", kind}, {"count", "8"}}, m);
      EXPECT_EQ(d.arch.sizes, std::vector<std::int64_t>({784, 72, 72, 10})) << spec << kind;
      const double change = max_logit_change(m, d);
      EXPECT_LE(change, kLogitTolerance) << spec << " " << kind;
      EXPECT_EQ(d.tensors.at("layers.2.bias"), m.tensors.at("layers.2.bias"));
      // Layer 0 rows: the 64 originals plus 8 new ones (split: copies; clique: one new row ×8).
      const auto before = row_counts(m.tensors.at("layers.0.weight"), 784);
      const auto after = row_counts(d.tensors.at("layers.0.weight"), 784);
      int originals = 0, extra_copies = 0, new_rows = 0;
      for (const auto& [row, c] : after) {
        if (before.count(row)) {
          ++originals;
          extra_copies += c - 1;
        } else {
          ++new_rows;
          EXPECT_EQ(c, 8) << "a clique row appears count times";
        }
      }
      if (kind == "split") {
        EXPECT_EQ(originals, 64);
        EXPECT_EQ(extra_copies, 8);
        EXPECT_EQ(new_rows, 0);
      } else {
        EXPECT_EQ(originals, 64);
        EXPECT_EQ(extra_copies, 0);
        EXPECT_EQ(new_rows, 1);
      }
      // The new units are spread by the shuffle, not all appended at the end.
      EXPECT_NE(std::vector<float>(d.tensors.at("layers.0.bias").data.begin(),
                                   d.tensors.at("layers.0.bias").data.begin() + 64),
                m.tensors.at("layers.0.bias").data);
      const nn::Model again = run("dummy_neurons", {{"kind", kind}, {"count", "8"}}, m);
      EXPECT_EQ(again.tensors, d.tensors);
      EXPECT_NE(run("dummy_neurons", {{"kind", kind}}, m, 1).tensors, d.tensors);
    }
  }
}

TEST(DummyNeurons, LargeCountsAndSwiglu) {
  const nn::Model m = make_model("mlp:100,16,16,16,5:silu");
  const nn::Model d = run("dummy_neurons", {{"kind", "split"}, {"count", "40"}}, m);
  EXPECT_EQ(d.arch.sizes, std::vector<std::int64_t>({100, 56, 56, 56, 5}));
  EXPECT_LE(max_logit_change(m, d), kLogitTolerance);
  const nn::Model c = run("dummy_neurons", {{"kind", "clique"}, {"count", "2"}}, m);
  EXPECT_EQ(c.arch.sizes, std::vector<std::int64_t>({100, 18, 18, 18, 5}));
  EXPECT_LE(max_logit_change(m, c), kLogitTolerance);
  const nn::Model g = make_model("swiglu:32,96:gelu");
  for (const std::string kind : {"split", "clique"}) {
    const nn::Model s = run("dummy_neurons", {{"kind", kind}, {"count", "5"}}, g);
    EXPECT_EQ(s.arch.sizes, std::vector<std::int64_t>({32, 101}));
    EXPECT_LE(max_logit_change(g, s), kLogitTolerance) << kind;
  }
  // A network with one output layer only has no hidden layer: unchanged.
  const nn::Model lin = make_model("mlp:10,3:relu");
  EXPECT_EQ(run("dummy_neurons", {}, lin).tensors, lin.tensors);
}

// Reports the float error of the equivalence transforms (not an assertion beyond the bound).
TEST(EquivalenceTransforms, ErrorSizes) {
  const nn::Model m = make_model("mlp:784,64,64,10:relu");
  const double scale = max_abs_logit(m);
  for (const auto& [id, params] :
       std::vector<std::pair<std::string, std::map<std::string, std::string>>>{
           {"permute", {}},
           {"scale_neurons", {}},
           {"dummy_neurons", {{"kind", "split"}}},
           {"dummy_neurons", {{"kind", "clique"}}}}) {
    const double change = max_logit_change(m, run(id, params, m));
    RecordProperty(id + (params.empty() ? "" : "_" + params.begin()->second),
                   std::to_string(change));
    std::printf("%-14s %-7s max |dlogit| = %.3g (max |logit| %.3g)\n", id.c_str(),
                params.empty() ? "" : params.begin()->second.c_str(), change, scale);
    EXPECT_LE(change, kLogitTolerance);
  }
}

// ---------------------------------------------------------------------------------------------
// Parameters through the registry.

void expect_rejected(const std::string& id, const std::map<std::string, std::string>& p,
                     const std::string& key) {
  try {
    (void)make_remover(id, p);
    ADD_FAILURE() << id << " accepted " << definitions::Params(p).canonical();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos)
        << id << ": '" << e.what() << "' does not name " << key;
  }
}

TEST(WeightAttackParams, BadValuesRejectedNamingTheKey) {
  expect_rejected("prune", {{"rate", "1"}}, "rate");
  expect_rejected("prune", {{"rate", "-0.1"}}, "rate");
  expect_rejected("prune", {{"rate", "nan"}}, "rate");
  expect_rejected("prune", {{"scope", "row"}}, "scope");
  expect_rejected("prune", {{"biases", "maybe"}}, "biases");
  expect_rejected("prune", {{"skip_last", "2"}}, "skip_last");
  expect_rejected("quantize", {{"bits", "1"}}, "bits");
  expect_rejected("quantize", {{"bits", "9"}}, "bits");
  expect_rejected("quantize", {{"bits", "4.5"}}, "bits");
  expect_rejected("quantize", {{"granularity", "group"}}, "granularity");
  expect_rejected("quantize", {{"biases", "x"}}, "biases");
  expect_rejected("cast", {{"format", "fp8"}}, "format");
  expect_rejected("weight_noise", {{"scale", "-0.01"}}, "scale");
  expect_rejected("weight_noise", {{"scale", "inf"}}, "scale");
  expect_rejected("weight_noise", {{"biases", "x"}}, "biases");
  expect_rejected("scale_neurons", {{"log_range", "0"}}, "log_range");
  expect_rejected("scale_neurons", {{"log_range", "10.5"}}, "log_range");
  expect_rejected("dummy_neurons", {{"kind", "zero"}}, "kind");
  expect_rejected("dummy_neurons", {{"count", "0"}}, "count");
  expect_rejected("dummy_neurons", {{"kind", "clique"}, {"count", "1"}}, "count");
  // Unknown keys (misspelt or for a parameterless attack) are rejected by the registry.
  expect_rejected("prune", {{"ratio", "0.5"}}, "ratio");
  expect_rejected("permute", {{"seed", "1"}}, "seed");
  expect_rejected("cast", {{"bits", "8"}}, "bits");
  // Good values are accepted, including the boundaries.
  EXPECT_NO_THROW((void)make_remover("prune", {{"rate", "0"}, {"scope", "global"}}));
  EXPECT_NO_THROW((void)make_remover("quantize", {{"bits", "2"}}));
  EXPECT_NO_THROW((void)make_remover("quantize", {{"bits", "8"}}));
  EXPECT_NO_THROW((void)make_remover("scale_neurons", {{"log_range", "10"}}));
  EXPECT_NO_THROW((void)make_remover("dummy_neurons", {{"kind", "clique"}, {"count", "2"}}));
  EXPECT_NO_THROW((void)make_remover("dummy_neurons", {{"count", "1"}}));
  EXPECT_EQ(make_remover("weight_noise", {})->id(), "weight_noise");
}

TEST(WeightAttackParams, RejectInvalidModels) {
  nn::Model m = make_model("mlp:10,4,2:relu");
  m.tensors.at("layers.0.weight").data[0] = std::numeric_limits<float>::quiet_NaN();
  for (const std::string id :
       {"prune", "quantize", "cast", "weight_noise", "permute", "scale_neurons", "dummy_neurons"})
    EXPECT_THROW((void)run(id, {}, m), InvalidArgument) << id;
}

// compose = second(first(M)), each step with its own coins and its own prefixed parameters.
TEST(Compose, AppliesBothStepsInOrderWithTheirOwnCoins) {
  const nn::Model m = make_model("mlp:12,8,6,3:relu");
  const nn::Model composed = run("compose",
                                 {{"first", "permute"},
                                  {"second", "quantize"},
                                  {"second.bits", "4"},
                                  {"second.granularity", "tensor"}},
                                 m);
  Rng coins(7, stable_hash("test"), 0);
  Rng first = coins.derive("first"), second = coins.derive("second");
  const definitions::RemovalContext context;
  const nn::Model permuted = make_remover("permute", {})->remove(m, context, first);
  const nn::Model expected = make_remover("quantize", {{"bits", "4"}, {"granularity", "tensor"}})
                                 ->remove(permuted, context, second);
  EXPECT_EQ(composed.tensors, expected.tensors);
  EXPECT_NE(composed.tensors, permuted.tensors);  // the second step did act
}

TEST(Compose, BadStepsAreRejectedWithTheStepNamed) {
  const auto message = [](const std::map<std::string, std::string>& p) {
    try {
      (void)make_remover("compose", p);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"second", "permute"}}).find("'first'"), std::string::npos);
  EXPECT_NE(message({{"first", "permute"}, {"second", "nosuch"}}).find("second"),
            std::string::npos);
  EXPECT_NE(message({{"first", "taylor_sign_hypothesis"}, {"second", "permute"}})
                .find("not a removal attack"),
            std::string::npos);
  EXPECT_NE(
      message({{"first", "permute"}, {"second", "quantize"}, {"second.bitz", "8"}}).find("bitz"),
      std::string::npos);
  EXPECT_NE(message({{"first", "permute"}, {"second", "identity"}, {"third", "x"}}).find("third"),
            std::string::npos);
  EXPECT_NE(message({{"first", "compose"}, {"second", "identity"}}).find("cannot itself"),
            std::string::npos);
}

TEST(DummyNeurons, JitterIsValidatedAndPerturbsOnlyTheCopies) {
  EXPECT_THROW((void)make_remover("dummy_neurons", {{"kind", "clique"}, {"jitter", "0.1"}}),
               InvalidArgument);
  EXPECT_THROW((void)make_remover("dummy_neurons", {{"jitter", "-1"}}), InvalidArgument);
  const nn::Model m = make_model("mlp:12,8,6,3:relu");
  const nn::Model exact = run("dummy_neurons", {{"count", "2"}}, m);
  const nn::Model jittered = run("dummy_neurons", {{"count", "2"}, {"jitter", "0.1"}}, m);
  EXPECT_NE(exact.tensors.at("layers.0.weight"), jittered.tensors.at("layers.0.weight"));
  EXPECT_EQ(exact.tensors.at("layers.0.bias"), jittered.tensors.at("layers.0.bias"));
  EXPECT_LT(max_logit_change(m, jittered), 1.0);  // approximately the same function
}

}  // namespace
}  // namespace wrsec::attacks
