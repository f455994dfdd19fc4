#include "experiments/taylormlp_stream.h"

#include <sys/resource.h>

#include <chrono>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "attacks/taylor_sign_hypothesis.h"
#include "core/errors.h"
#include "definitions/extraction.h"
#include "experiments/catalog.h"
#include "nn/llama.h"
#include "nn/safetensors.h"

namespace wrsec::experiments {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Removes the listed files on scope exit (also when an exception leaves the layer loop).
struct RemoveOnExit {
  std::vector<std::filesystem::path> paths;
  ~RemoveOnExit() {
    for (const auto& p : paths) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  }
};

}  // namespace

nlohmann::json run_llama_stream(const StreamOptions& o) {
  if (o.layers < 1) throw InvalidArgument("stream needs at least one layer");
  if (o.scratch.empty()) throw InvalidArgument("stream needs a scratch directory");
  std::filesystem::create_directories(o.scratch);
  const Catalog& catalog = Catalog::builtin();
  const auto scheme = catalog.schemes.create(
      "taylor_mlp",
      definitions::Params({{"format", "official"},
                           {"order", std::to_string(o.order)},
                           {"select_dim", std::to_string(o.select_dim)},
                           {"calibration_samples", std::to_string(o.calibration_samples)},
                           {"dtype", "bf16"}}));
  nlohmann::json rows = nlohmann::json::array();
  double total_attack = 0, total_bytes = 0, min_fraction = 1, max_error = 0;
  std::int64_t ambiguous = 0;
  const auto t_all = Clock::now();
  for (std::int64_t layer = 0; layer < o.layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".mlp.";
    const auto shard = o.scratch / ("release-" + std::to_string(layer) + ".safetensors");
    const auto recovered_path = o.scratch / ("recovered-" + std::to_string(layer) + ".safetensors");
    RemoveOnExit cleanup{{shard, recovered_path}};
    const Rng layer_rng(o.seed, stable_hash("wrsec.experiments.taylormlp.stream"),
                        static_cast<std::uint64_t>(layer));
    Rng model_rng = layer_rng.derive("model");
    Rng release_rng = layer_rng.derive("release");

    const auto t_gen = Clock::now();
    const nn::Model model = nn::synthetic_llama_block(o.d_model, o.d_hidden, model_rng);
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
    total_attack += attack_s;
    total_bytes += shard_bytes;
    min_fraction = std::min(min_fraction, score.hidden_fraction());
    max_error = std::max(max_error, score.max_error_hidden);
    for (const auto& r : reports) ambiguous += r.ambiguous_units;
    rows.push_back({{"layer", layer},
                    {"generate_release_write_seconds", gen_s},
                    {"shard_bytes", shard_bytes},
                    {"attack_seconds", attack_s},
                    {"attack_gb_per_s", shard_bytes / attack_s / 1e9},
                    {"fraction_hidden", score.hidden_fraction()},
                    {"max_error_hidden", score.max_error_hidden},
                    {"median_error_hidden", score.median_error_hidden},
                    {"sign_flips", reports.empty() ? 0 : reports.front().sign_flips},
                    {"ambiguous_units", reports.empty() ? 0 : reports.front().ambiguous_units},
                    {"peak_rss_kib", peak_rss_kib()}});
    if (o.log) {
      std::ostringstream line;
      line << "  layer " << layer << ": attack " << std::fixed << std::setprecision(2) << attack_s
           << " s on " << shard_bytes / 1e9 << " GB bf16, fraction " << std::setprecision(6)
           << score.hidden_fraction() << ", max rel err " << std::scientific << std::setprecision(2)
           << score.max_error_hidden << ", peak RSS " << peak_rss_kib() / 1024 << " MiB";
      *o.log << line.str() << std::endl;
    }
  }
  return {{"kind", "llama_stream"},
          {"layers", o.layers},
          {"d_model", o.d_model},
          {"d_hidden", o.d_hidden},
          {"select_dim", o.select_dim},
          {"order", o.order},
          {"dtype", "bf16"},
          {"rows", rows},
          {"total_attack_seconds", total_attack},
          {"total_seconds", since(t_all)},
          {"total_shard_bytes", total_bytes},
          {"min_fraction_hidden", min_fraction},
          {"max_error_hidden", max_error},
          {"ambiguous_units", ambiguous},
          {"peak_rss_kib", peak_rss_kib()}};
}

std::string stream_markdown(const nlohmann::json& m) {
  std::ostringstream md;
  md << std::setprecision(3);
  md << "Streamed attack on " << m["layers"] << " Llama-3-8B-shaped layers (official format, "
     << "bf16 shards, N " << m["order"] << ", h_s " << m["select_dim"] << "; one layer resident at "
     << "a time): attack " << m["total_attack_seconds"].get<double>() << " s in total ("
     << m["total_attack_seconds"].get<double>() / m["layers"].get<double>() << " s per layer) over "
     << m["total_shard_bytes"].get<double>() / 1e9 << " GB; whole run "
     << m["total_seconds"].get<double>() << " s including generation; minimum fraction of hidden "
     << "parameters within 1e-2: " << m["min_fraction_hidden"].get<double>()
     << ", max relative error " << m["max_error_hidden"].get<double>() << ", ambiguous units "
     << m["ambiguous_units"] << "; peak RSS " << m["peak_rss_kib"].get<double>() / 1024.0 / 1024.0
     << " GiB.\n";
  return md.str();
}

}  // namespace wrsec::experiments
