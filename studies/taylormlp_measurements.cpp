#include "studies/taylormlp_measurements.h"

#include <omp.h>
#include <sys/resource.h>

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>

#include "attacks/taylor_sign_hypothesis.h"
#include "core/errors.h"
#include "core/rng.h"
#include "definitions/extraction.h"
#include "definitions/sources.h"
#include "experiments/catalog.h"
#include "games/misuse.h"
#include "nn/fashion_mnist.h"
#include "nn/llama.h"
#include "nn/metrics.h"
#include "nn/safetensors.h"
#include "nn/tensor.h"

namespace wrsec::studies {

namespace {

using Clock = std::chrono::steady_clock;
using definitions::Params;
using nlohmann::json;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class F>
double min_seconds(int repeats, F&& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, since(t0));
  }
  return best;
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

const char* extractor_for(const std::string& format) {
  return format == "paper" ? "taylor_ratio_inversion" : "taylor_sign_hypothesis";
}

std::unique_ptr<definitions::Extractor> make_extractor(const std::string& id) {
  auto adversary = experiments::Catalog::global().attacks.create(id, {});
  auto* e = dynamic_cast<definitions::Extractor*>(adversary.get());
  WRSEC_CHECK(e != nullptr, "not an extractor: " + id);
  adversary.release();
  return std::unique_ptr<definitions::Extractor>(e);
}

double artifact_bytes(const definitions::Artifact& a) {
  double bytes = 0;
  for (const auto& [name, t] : a.tensors) bytes += 4.0 * double(t.numel());
  return bytes;
}

std::vector<int> read_orders(const Params& p) {
  std::vector<int> orders;
  for (const double x : p.get_doubles("orders", {1, 2, 4, 6, 8, 12})) {
    if (x != std::floor(x) || x < 1 || x > 64)
      throw InvalidArgument("orders must be integers in [1, 64]");
    orders.push_back(static_cast<int>(x));
  }
  if (orders.empty()) throw InvalidArgument("orders must not be empty");
  return orders;
}

// One release of order N: the release's and the recovered model's outputs on x and the timings.
json time_order(const nn::Model& model, const nn::Matrix& x, const std::string& format, int order,
                Rng& coins, nn::Matrix& released, nn::Matrix& recovered_out) {
  const auto scheme = experiments::Catalog::global().schemes.create(
      "taylor_mlp", Params({{"format", format}, {"order", std::to_string(order)}}));
  const double plain_s = min_seconds(5, [&] { (void)model.forward(x); });
  const auto release = scheme->release(model, coins);
  const double release_s = min_seconds(3, [&] { released = scheme->infer(release.artifact, x); });
  const auto extractor = make_extractor(extractor_for(format));
  definitions::OracleAccess none;
  nn::Model recovered;
  const double extract_s =
      min_seconds(3, [&] { recovered = extractor->extract(release.artifact, none, coins); });
  const double recovered_s = min_seconds(5, [&] { recovered_out = recovered.forward(x); });
  return {
      {"order", order},
      {"seconds_plain", plain_s},
      {"seconds_release", release_s},
      {"seconds_recovered", recovered_s},
      {"slowdown_release", release_s / plain_s},
      {"slowdown_recovered", recovered_s / plain_s},
      {"flop_ratio_release", scheme->infer_macs(release.artifact) / model.arch.macs_per_example()},
      {"extract_seconds", extract_s},
      {"release_bytes_f32", artifact_bytes(release.artifact)},
      {"batch", x.rows()}};
}

class UtilityPaper final : public Measurement {
 public:
  explicit UtilityPaper(const Params& p)
      : activation_(p.get_string("activation", "silu")), orders_(read_orders(p)) {
    if (activation_ != "silu" && activation_ != "gelu")
      throw InvalidArgument("activation must be silu or gelu");
  }
  std::size_t units() const override { return orders_.size(); }
  std::string unit_label(std::size_t u) const override {
    return "paper form, trained " + activation_ + " MLP, N = " + std::to_string(orders_.at(u));
  }
  bool deterministic() const override { return false; }
  json run_unit(std::size_t u, const MeasurementContext& c) const override {
    const auto source = definitions::ModelSource::parse("zoo:mlp_784_64_10_" + activation_ + "@1");
    Rng unused(c.seed, 0, 0);
    const nn::Model model = source.draw(unused);
    const auto data = nn::load_fashion_mnist();
    const nn::Matrix& x = data->test.images;
    const nn::Matrix reference = model.forward(x);
    const int n = orders_.at(u);
    Rng coins(c.seed, stable_hash("taylormlp.utility"), std::uint64_t(n));
    nn::Matrix released, recovered;
    json row = time_order(model, x, "paper", n, coins, released, recovered);
    row.update({{"kind", "paper_mlp"},
                {"model", source.spec()},
                {"activation", activation_},
                {"accuracy_original", nn::accuracy(reference, data->test.labels)},
                {"accuracy_release", nn::accuracy(released, data->test.labels)},
                {"kl_release", nn::kl_divergence(reference, released).mean},
                {"accuracy_recovered", nn::accuracy(recovered, data->test.labels)},
                {"kl_recovered", nn::kl_divergence(reference, recovered).mean}});
    return json::array({row});
  }

 private:
  std::string activation_;
  std::vector<int> orders_;
};

class UtilityOfficial final : public Measurement {
 public:
  explicit UtilityOfficial(const Params& p)
      : d_(p.get_int("d", 1024)), h_(p.get_int("h", 3584)), orders_(read_orders(p)) {
    if (d_ < 1 || h_ < 1 || d_ > 65536 || h_ > 262144)
      throw InvalidArgument("d and h must lie in [1, 65536] and [1, 262144]");
  }
  std::size_t units() const override { return orders_.size(); }
  std::string unit_label(std::size_t u) const override {
    return "official form, " + std::to_string(d_) + "x" + std::to_string(h_) +
           " gated block, N = " + std::to_string(orders_.at(u));
  }
  bool deterministic() const override { return false; }
  json run_unit(std::size_t u, const MeasurementContext& c) const override {
    const std::string spec = "llama_synthetic:" + std::to_string(d_) + "," + std::to_string(h_);
    const auto source = definitions::ModelSource::parse(spec);
    Rng model_coins(c.seed, stable_hash("taylormlp.official.model"), 0);
    const nn::Model model = source.draw(model_coins);
    Rng input_coins(c.seed, stable_hash("taylormlp.official.inputs"), 0);
    const nn::Matrix x =
        definitions::InputSource::parse("gaussian:0.25").draw(512, d_, input_coins);
    const nn::Matrix reference = model.forward(x);
    const int n = orders_.at(u);
    Rng coins(c.seed, stable_hash("taylormlp.official.release"), std::uint64_t(n));
    nn::Matrix released, recovered;
    json row = time_order(model, x, "official", n, coins, released, recovered);
    row.update({{"kind", "official_gated"},
                {"model", spec},
                {"activation", "silu"},
                {"rel_error_release", games::max_relative_row_error(released, reference)},
                {"rel_error_recovered", games::max_relative_row_error(recovered, reference)}});
    return json::array({row});
  }

 private:
  std::int64_t d_, h_;
  std::vector<int> orders_;
};

// The FLOP model: the release's Infer cost over the plain forward pass, per order N, from the
// scheme's own cost model (no timing: deterministic), with the digests of the model and release
// it was computed on.
class FlopModel final : public Measurement {
 public:
  explicit FlopModel(const Params& p)
      : model_(p.get_string("model", "random:mlp:784,64,10:silu")),
        format_(p.get_string("format", "paper")),
        orders_(read_orders(p)) {
    (void)definitions::ModelSource::parse(model_);
    if (format_ != "paper" && format_ != "official")
      throw InvalidArgument("format must be paper or official");
  }
  std::size_t units() const override { return orders_.size(); }
  std::string unit_label(std::size_t u) const override {
    return format_ + " form, " + model_ + ", N = " + std::to_string(orders_.at(u));
  }
  bool deterministic() const override { return true; }
  json run_unit(std::size_t u, const MeasurementContext& c) const override {
    const auto source = definitions::ModelSource::parse(model_);
    Rng model_coins(c.seed, stable_hash("taylormlp.flop_model.model"), 0);
    const nn::Model model = source.draw(model_coins);
    const int n = orders_.at(u);
    const auto scheme = experiments::Catalog::global().schemes.create(
        "taylor_mlp", Params({{"format", format_}, {"order", std::to_string(n)}}));
    Rng coins(c.seed, stable_hash("taylormlp.flop_model.release"), std::uint64_t(n));
    const auto release = scheme->release(model, coins);
    const double plain = model.arch.macs_per_example();
    const double released = scheme->infer_macs(release.artifact);
    return json::array({{{"kind", "flop_model"},
                         {"model", source.spec()},
                         {"format", format_},
                         {"order", n},
                         {"macs_plain", plain},
                         {"macs_release", released},
                         {"flop_ratio_release", released / plain},
                         {"model_sha256", nn::tensors_digest(model.tensors)},
                         {"release_sha256", nn::tensors_digest(release.artifact.tensors)}}});
  }

 private:
  std::string model_, format_;
  std::vector<int> orders_;
};

Params llama_release_params(const std::string& dtype = "") {
  Params p({{"format", "official"},
            {"order", "6"},
            {"select_dim", "10000"},
            {"calibration_samples", "256"}});
  if (!dtype.empty()) p.set("dtype", dtype);
  return p;
}

class LlamaLayer final : public Measurement {
 public:
  explicit LlamaLayer(const Params&) {}
  std::size_t units() const override { return 1; }
  std::string unit_label(std::size_t) const override {
    return "one Llama-3-8B-shaped layer: release and extraction time";
  }
  bool deterministic() const override { return false; }
  json run_unit(std::size_t, const MeasurementContext& c) const override {
    const auto source = definitions::ModelSource::parse("llama_synthetic:4096,14336:silu");
    Rng model_coins(c.seed, stable_hash("taylormlp.llama.timing"), 0);
    const nn::Model model = source.draw(model_coins);
    const auto scheme =
        experiments::Catalog::global().schemes.create("taylor_mlp", llama_release_params());
    Rng coins(c.seed, stable_hash("taylormlp.llama.release"), 0);
    const auto t0 = Clock::now();
    const auto release = scheme->release(model, coins);
    const double release_s = since(t0);
    const auto extractor = make_extractor("taylor_sign_hypothesis");
    definitions::OracleAccess none;
    nn::Model recovered;
    const double extract_s =
        min_seconds(3, [&] { recovered = extractor->extract(release.artifact, none, coins); });
    const auto score =
        definitions::score_extraction(model, recovered, scheme->hidden_mask(model, release), {});
    const double bytes = artifact_bytes(release.artifact);
    return json::array({{{"kind", "llama_layer_timing"},
                         {"model", source.spec()},
                         {"order", 6},
                         {"select_dim", 10000},
                         {"threads", c.threads},
                         {"release_seconds", release_s},
                         {"extract_seconds", extract_s},
                         {"release_bytes_f32", bytes},
                         {"extract_gb_per_s", bytes / extract_s / 1e9},
                         {"fraction_hidden", score.hidden_fraction()},
                         {"max_error_hidden", score.max_error_hidden},
                         {"median_error_hidden", score.median_error_hidden}}});
  }
};

// Removes the listed files on scope exit (also when an exception leaves the unit).
struct RemoveOnExit {
  std::vector<std::filesystem::path> paths;
  ~RemoveOnExit() {
    for (const auto& p : paths) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  }
};

class LlamaStream final : public Measurement {
 public:
  explicit LlamaStream(const Params& p) : layers_(p.get_int("layers", 32)) {
    if (layers_ < 1 || layers_ > 4096) throw InvalidArgument("layers must lie in [1, 4096]");
  }
  std::size_t units() const override { return static_cast<std::size_t>(layers_); }
  std::string unit_label(std::size_t u) const override {
    return "streamed bf16 Llama-shaped layer " + std::to_string(u);
  }
  bool deterministic() const override { return false; }
  json run_unit(std::size_t u, const MeasurementContext& c) const override {
    if (c.scratch.empty()) throw InvalidArgument("the stream needs a scratch directory");
    std::filesystem::create_directories(c.scratch);
    const auto layer = static_cast<std::int64_t>(u);
    const auto scheme =
        experiments::Catalog::global().schemes.create("taylor_mlp", llama_release_params("bf16"));
    const std::string prefix = "model.layers." + std::to_string(layer) + ".mlp.";
    const auto shard = c.scratch / ("release-" + std::to_string(layer) + ".safetensors");
    const auto recovered_path = c.scratch / ("recovered-" + std::to_string(layer) + ".safetensors");
    RemoveOnExit cleanup{{shard, recovered_path}};
    const Rng layer_rng(c.seed, stable_hash("wrsec.experiments.taylormlp.stream"),
                        static_cast<std::uint64_t>(layer));
    Rng model_rng = layer_rng.derive("model");
    Rng release_rng = layer_rng.derive("release");

    const auto t_gen = Clock::now();
    const nn::Model model = nn::synthetic_llama_block(4096, 14336, model_rng);
    definitions::Release kept;  // secret and metadata only, for the hidden-parameter mask
    {
      definitions::Release release = scheme->release(model, release_rng);
      nn::TensorMap named;
      for (auto& [name, t] : release.artifact.tensors) named.emplace(prefix + name, std::move(t));
      nn::write_safetensors(shard, named, {{"format", "pt"}}, nn::DType::bf16);
      kept.secret = std::move(release.secret);
      kept.artifact.metadata = std::move(release.artifact.metadata);
    }
    const double gen_s = since(t_gen);
    const double shard_bytes = double(std::filesystem::file_size(shard));
    const auto t_attack = Clock::now();
    const auto reports = attacks::recover_official_file(shard, recovered_path);
    const double attack_s = since(t_attack);
    nn::Model recovered;
    {
      const nn::SafetensorsView view(recovered_path);
      recovered = nn::Model(model.arch, nn::llama_mlp_block(view, static_cast<int>(layer)));
    }
    const auto score =
        definitions::score_extraction(model, recovered, scheme->hidden_mask(model, kept), {});
    if (c.log) {
      std::ostringstream line;
      line << "    layer " << layer << ": attack " << std::fixed << std::setprecision(2) << attack_s
           << " s on " << shard_bytes / 1e9 << " GB bf16, fraction " << std::setprecision(6)
           << score.hidden_fraction() << ", max rel err " << std::scientific << std::setprecision(2)
           << score.max_error_hidden << ", peak RSS " << peak_rss_kib() / 1024 << " MiB";
      *c.log << line.str() << std::endl;
    }
    return json::array({{{"kind", "llama_stream"},
                         {"layer", layer},
                         {"d_model", 4096},
                         {"d_hidden", 14336},
                         {"select_dim", 10000},
                         {"order", 6},
                         {"dtype", "bf16"},
                         {"generate_release_write_seconds", gen_s},
                         {"shard_bytes", shard_bytes},
                         {"attack_seconds", attack_s},
                         {"attack_gb_per_s", shard_bytes / attack_s / 1e9},
                         {"fraction_hidden", score.hidden_fraction()},
                         {"max_error_hidden", score.max_error_hidden},
                         {"median_error_hidden", score.median_error_hidden},
                         {"sign_flips", reports.empty() ? 0 : reports.front().sign_flips},
                         {"ambiguous_units", reports.empty() ? 0 : reports.front().ambiguous_units},
                         {"peak_rss_kib", peak_rss_kib()}}});
  }

 private:
  std::int64_t layers_;
};

// Sequential read bandwidth: vectorised sum of a float array (default 1 GiB) on all threads,
// best of 5 (GB/s).
class ReadBandwidth final : public Measurement {
 public:
  explicit ReadBandwidth(const Params& p) : mib_(p.get_int("mib", 1024)) {
    if (mib_ < 1 || mib_ > 65536) throw InvalidArgument("mib must lie in [1, 65536]");
  }
  std::size_t units() const override { return 1; }
  std::string unit_label(std::size_t) const override { return "sequential read bandwidth"; }
  bool deterministic() const override { return false; }
  json run_unit(std::size_t, const MeasurementContext& c) const override {
    const std::int64_t n = mib_ * (std::int64_t(1) << 18);
    std::vector<float> data(static_cast<std::size_t>(n));
    const int threads = omp_get_max_threads();
    const std::int64_t chunk = (n + threads - 1) / threads;
#pragma omp parallel for schedule(static, 1)
    for (int t = 0; t < threads; ++t) {  // first touch by the thread that reads it
      const std::int64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
      for (std::int64_t i = b; i < e; ++i) data[std::size_t(i)] = float(i & 1023);
    }
    double sink = 0;
    const double s = min_seconds(5, [&] {
      double total = 0;
#pragma omp parallel for schedule(static, 1) reduction(+ : total)
      for (int t = 0; t < threads; ++t) {
        const std::int64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
        total += Eigen::Map<const Eigen::ArrayXf>(data.data() + b, e - b).sum();
      }
      sink += total;
    });
    return json::array({{{"kind", "memory_bandwidth"},
                         {"read_gb_per_s", sink < 0 ? 0.0 : 4.0 * double(n) / s / 1e9},
                         {"bytes", 4.0 * double(n)},
                         {"threads", c.threads}}});
  }

 private:
  std::int64_t mib_;
};

}  // namespace

void register_taylormlp_measurements(MeasurementRegistry& r) {
  r.add("taylormlp.utility_paper",
        "TaylorMLP paper form on a trained MLP: utility and latency versus N (activation, orders)",
        [](const Params& p) { return std::make_unique<UtilityPaper>(p); });
  r.add("taylormlp.utility_official",
        "TaylorMLP official format on a d x h gated block: output error and latency versus N",
        [](const Params& p) { return std::make_unique<UtilityOfficial>(p); });
  r.add("taylormlp.flop_model",
        "TaylorMLP: the release's Infer cost over the plain model's per order N, from the "
        "scheme's cost model (model, format, orders; deterministic)",
        [](const Params& p) { return std::make_unique<FlopModel>(p); });
  r.add("taylormlp.llama_layer",
        "release and extraction time of one Llama-3-8B-shaped layer (d 4096, h 14336, N 6)",
        [](const Params& p) { return std::make_unique<LlamaLayer>(p); });
  r.add("taylormlp.llama_stream",
        "streamed attack on L bf16 Llama-shaped layers written as safetensors shards (layers)",
        [](const Params& p) { return std::make_unique<LlamaStream>(p); });
  r.add("machine.read_bandwidth", "sequential read bandwidth of this machine in GB/s (mib)",
        [](const Params& p) { return std::make_unique<ReadBandwidth>(p); });
}

}  // namespace wrsec::studies
