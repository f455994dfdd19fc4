#include "experiments/taylormlp.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "definitions/extraction.h"
#include "definitions/sources.h"
#include "experiments/cell_run.h"
#include "experiments/jsonl_sink.h"
#include "experiments/report_format.h"
#include "experiments/taylormlp_stream.h"
#include "games/misuse.h"
#include "nn/fashion_mnist.h"
#include "nn/metrics.h"

namespace wrsec::experiments {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct PlannedCell {
  std::string section;  // extraction | misuse | ind | baseline | llama
  CellSpec spec;
  std::uint64_t trials = 0;
};

struct Profile {
  std::vector<int> orders;
  std::uint64_t trials = 300;         // small random models, fresh per trial
  std::uint64_t trained_trials = 30;  // fixed trained model (deterministic release)
  std::uint64_t misuse_trials = 30;
  std::uint64_t baseline_trials = 20;
  std::vector<int> queries;
  std::uint64_t llama_trials = 0;  // Llama-3-8B-shaped param_extraction trials
  std::int64_t llama_layers = 0;
  bool timing_llama = false;
};

Profile make_profile(const std::string& name) {
  Profile p;
  if (name == "full") {
    p.orders = {1, 2, 4, 6, 8, 12};
    p.queries = {64, 256, 1024, 4096};
    p.llama_trials = 3;
    p.llama_layers = 32;
    p.timing_llama = true;
  } else if (name == "small") {
    p.orders = {1, 2, 6, 12};
    p.trials = 300;
    p.trained_trials = 10;
    p.misuse_trials = 10;
    p.baseline_trials = 5;
    p.queries = {64, 1024};
  } else {
    throw InvalidArgument("unknown profile '" + name + "' (expected small or full)");
  }
  return p;
}

definitions::Params params(std::initializer_list<std::pair<const std::string, std::string>> kv) {
  return definitions::Params(std::map<std::string, std::string>(kv));
}

const char* extractor_for(const std::string& format) {
  return format == "paper" ? "taylor_ratio_inversion" : "taylor_sign_hypothesis";
}

// Small models, fresh per trial: 784-64-10 MLPs (paper form) and Llama-scaled 64×256 gated blocks
// (official form, select ratio 10000/14336 as in the official script).
std::string small_model(const std::string& format, const std::string& act) {
  return format == "paper" ? "random:mlp:784,64,10:" + act : "llama_synthetic:64,256:" + act;
}

std::vector<PlannedCell> plan(const Profile& p) {
  std::vector<PlannedCell> cells;
  for (const std::string format : {"paper", "official"})
    for (const std::string act : {"silu", "gelu"})
      for (int n : p.orders) {
        CellSpec s;
        s.game = "param_extraction";
        s.scheme = "taylor_mlp";
        s.attack = extractor_for(format);
        s.game_params = params({{"model", small_model(format, act)}});
        s.scheme_params = params({{"format", format}, {"order", std::to_string(n)}});
        cells.push_back({"extraction", s, p.trials});
      }
  // Trained Fashion-MNIST MLPs (fixed model; the paper-form release is deterministic).
  for (const std::string act : {"silu", "gelu"})
    for (int n : p.orders) {
      CellSpec s;
      s.game = "param_extraction";
      s.scheme = "taylor_mlp";
      s.attack = "taylor_ratio_inversion";
      s.game_params = params({{"model", "zoo:mlp_784_64_10_" + act + "@1"}});
      s.scheme_params = params({{"format", "paper"}, {"order", std::to_string(n)}});
      cells.push_back({"extraction", s, p.trained_trials});
    }
  // Misuse: the extracted model against the release's own cost.
  for (const std::string format : {"paper", "official"})
    for (int n : p.orders) {
      CellSpec s;
      s.game = "misuse";
      s.scheme = "taylor_mlp";
      s.attack = extractor_for(format);
      s.game_params = params({{"model", format == "paper" ? "zoo:mlp_784_64_10_silu@1"
                                                          : "llama_synthetic:256,896:silu"}});
      s.scheme_params = params({{"format", format}, {"order", std::to_string(n)}});
      cells.push_back({"misuse", s, p.misuse_trials});
    }
  // IND: distinguishers built from the extractors.
  for (const std::string format : {"paper", "official"}) {
    CellSpec s;
    s.game = "ind_release";
    s.scheme = "taylor_mlp";
    s.attack = "ind_via_extraction";
    s.game_params =
        params({{"arch", format == "paper" ? "mlp:784,64,10:silu" : "swiglu:64,256:silu"}});
    s.scheme_params = params({{"format", format}, {"order", "6"}});
    s.attack_params = params({{"extractor", extractor_for(format)}});
    cells.push_back({"ind", s, p.trials});
  }
  // Baseline: query regression versus Q (official form, 32×96 gated block, h_s = 67).
  for (int q : p.queries) {
    CellSpec s;
    s.game = "param_extraction";
    s.scheme = "taylor_mlp";
    s.attack = "query_regression";
    s.game_params =
        params({{"model", "llama_synthetic:32,96:silu"}, {"queries", std::to_string(q)}});
    s.scheme_params = params({{"format", "official"}, {"order", "6"}});
    cells.push_back({"baseline", s, p.baseline_trials});
  }
  if (p.llama_trials > 0) {
    CellSpec s;
    s.game = "param_extraction";
    s.scheme = "taylor_mlp";
    s.attack = "taylor_sign_hypothesis";
    s.game_params = params({{"model", "llama_synthetic:4096,14336:silu"}});
    s.scheme_params = params({{"format", "official"},
                              {"order", "6"},
                              {"select_dim", "10000"},
                              {"calibration_samples", "256"}});
    cells.push_back({"llama", s, p.llama_trials});
  }
  return cells;
}

template <class F>
double min_seconds(int repeats, F&& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

std::unique_ptr<definitions::Extractor> make_extractor(const Catalog& catalog,
                                                       const std::string& id) {
  auto adversary = catalog.attacks.create(id, {});
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

// Sequential read bandwidth: vectorised sum of a 1 GiB float array on all threads, best of 5
// (GB/s).
double measure_read_bandwidth() {
  const std::int64_t n = std::int64_t(1) << 28;
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
  if (sink < 0) return 0;  // keeps the sums observable
  return 4.0 * double(n) / s / 1e9;
}

// One release per order N of `model`: its outputs on x, the recovered model's outputs, and the
// wall times (best of repeats) of Infer, of the extraction and of the recovered forward pass.
struct OrderRun {
  int order = 0;
  nn::Matrix released, recovered;
  json timing;
};

std::vector<OrderRun> run_orders(const Catalog& catalog, const nn::Model& model,
                                 const nn::Matrix& x, const std::string& format,
                                 const std::vector<int>& orders, std::uint64_t seed,
                                 const std::string& coin_tag) {
  const double plain_s = min_seconds(5, [&] { (void)model.forward(x); });
  const auto extractor = make_extractor(catalog, extractor_for(format));
  std::vector<OrderRun> runs;
  for (int n : orders) {
    const auto scheme = catalog.schemes.create(
        "taylor_mlp", params({{"format", format}, {"order", std::to_string(n)}}));
    Rng coins(seed, stable_hash(coin_tag), std::uint64_t(n));
    const auto release = scheme->release(model, coins);
    OrderRun run;
    run.order = n;
    const double release_s =
        min_seconds(3, [&] { run.released = scheme->infer(release.artifact, x); });
    definitions::OracleAccess none;
    nn::Model recovered;
    const double extract_s =
        min_seconds(3, [&] { recovered = extractor->extract(release.artifact, none, coins); });
    const double recovered_s = min_seconds(5, [&] { run.recovered = recovered.forward(x); });
    run.timing = {{"order", n},
                  {"seconds_plain", plain_s},
                  {"seconds_release", release_s},
                  {"seconds_recovered", recovered_s},
                  {"slowdown_release", release_s / plain_s},
                  {"slowdown_recovered", recovered_s / plain_s},
                  {"flop_ratio_release",
                   scheme->infer_macs(release.artifact) / model.arch.macs_per_example()},
                  {"extract_seconds", extract_s},
                  {"release_bytes_f32", artifact_bytes(release.artifact)},
                  {"batch", x.rows()}};
    runs.push_back(std::move(run));
  }
  return runs;
}

json utility_and_latency_paper(const Catalog& catalog, const std::string& act,
                               const std::vector<int>& orders, std::uint64_t seed) {
  const auto source = definitions::ModelSource::parse("zoo:mlp_784_64_10_" + act + "@1");
  Rng unused(seed, 0, 0);
  const nn::Model model = source.draw(unused);
  const auto data = nn::load_fashion_mnist();
  const nn::Matrix& x = data->test.images;
  const nn::Matrix reference = model.forward(x);
  json rows = json::array();
  for (const OrderRun& r :
       run_orders(catalog, model, x, "paper", orders, seed, "taylormlp.utility")) {
    json row = r.timing;
    row.update({{"kind", "paper_mlp"},
                {"model", source.spec()},
                {"activation", act},
                {"accuracy_original", nn::accuracy(reference, data->test.labels)},
                {"accuracy_release", nn::accuracy(r.released, data->test.labels)},
                {"kl_release", nn::kl_divergence(reference, r.released).mean},
                {"accuracy_recovered", nn::accuracy(r.recovered, data->test.labels)},
                {"kl_recovered", nn::kl_divergence(reference, r.recovered).mean}});
    rows.push_back(std::move(row));
  }
  return rows;
}

json utility_and_latency_official(const Catalog& catalog, const std::vector<int>& orders,
                                  std::uint64_t seed, std::int64_t d, std::int64_t h) {
  const std::string spec = "llama_synthetic:" + std::to_string(d) + "," + std::to_string(h);
  const auto source = definitions::ModelSource::parse(spec);
  Rng model_coins(seed, stable_hash("taylormlp.official.model"), 0);
  const nn::Model model = source.draw(model_coins);
  Rng input_coins(seed, stable_hash("taylormlp.official.inputs"), 0);
  const nn::Matrix x = definitions::InputSource::parse("gaussian:0.25").draw(512, d, input_coins);
  const nn::Matrix reference = model.forward(x);
  json rows = json::array();
  for (const OrderRun& r :
       run_orders(catalog, model, x, "official", orders, seed, "taylormlp.official.release")) {
    json row = r.timing;
    row.update({{"kind", "official_gated"},
                {"model", spec},
                {"activation", "silu"},
                {"rel_error_release", games::max_relative_row_error(r.released, reference)},
                {"rel_error_recovered", games::max_relative_row_error(r.recovered, reference)}});
    rows.push_back(std::move(row));
  }
  return rows;
}

json llama_layer_timing(const Catalog& catalog, std::uint64_t seed) {
  const auto source = definitions::ModelSource::parse("llama_synthetic:4096,14336:silu");
  Rng model_coins(seed, stable_hash("taylormlp.llama.timing"), 0);
  const nn::Model model = source.draw(model_coins);
  const auto scheme =
      catalog.schemes.create("taylor_mlp", params({{"format", "official"},
                                                   {"order", "6"},
                                                   {"select_dim", "10000"},
                                                   {"calibration_samples", "256"}}));
  Rng coins(seed, stable_hash("taylormlp.llama.release"), 0);
  const auto t0 = Clock::now();
  const auto release = scheme->release(model, coins);
  const double release_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto extractor = make_extractor(catalog, "taylor_sign_hypothesis");
  definitions::OracleAccess none;
  nn::Model recovered;
  const double extract_s =
      min_seconds(3, [&] { recovered = extractor->extract(release.artifact, none, coins); });
  const auto score =
      definitions::score_extraction(model, recovered, scheme->hidden_mask(model, release), {});
  const double bytes = artifact_bytes(release.artifact);
  return {{"kind", "llama_layer_timing"},
          {"model", source.spec()},
          {"order", 6},
          {"select_dim", 10000},
          {"release_seconds", release_s},
          {"extract_seconds", extract_s},
          {"release_bytes_f32", bytes},
          {"extract_gb_per_s", bytes / extract_s / 1e9},
          {"fraction_hidden", score.hidden_fraction()},
          {"max_error_hidden", score.max_error_hidden},
          {"median_error_hidden", score.median_error_hidden}};
}

}  // namespace

int run_taylormlp(const TaylorMlpOptions& options) {
  Profile profile = make_profile(options.profile);
  if (options.llama_layers >= 0) profile.llama_layers = options.llama_layers;
  if (options.threads < 1) throw InvalidArgument("threads must be at least 1");
  if (!(options.alpha > 0 && options.alpha < 1)) throw InvalidArgument("alpha must lie in (0, 1)");
  omp_set_num_threads(options.threads);
  std::filesystem::create_directories(options.out_dir);
  const Catalog& catalog = Catalog::builtin();
  const Provenance provenance = Provenance::current(options.threads);
  const auto log = [&](const std::string& line) {
    if (options.log) *options.log << line << std::endl;
  };

  const auto cells = plan(profile);
  JsonlSink sink(options.out_dir / "cells.jsonl");
  sink.begin(provenance);
  std::vector<std::pair<PlannedCell, CellResult>> results;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const PlannedCell& c = cells[i];
    CellRunOptions run{options.seed, {0, c.trials}, options.threads, options.alpha};
    CellResult r = run_cell(catalog, c.spec, run);
    sink.write(r);
    std::ostringstream line;
    line << "[" << (i + 1) << "/" << cells.size() << "] " << c.spec.key() << ": " << r.counts.wins
         << "/" << r.counts.n << " wins, Adv >= " << fmt(r.advantage.lower) << " ("
         << fmt(r.elapsed_seconds, 1) << " s)";
    log(line.str());
    results.emplace_back(c, std::move(r));
  }

  json measurements = json::array();
  for (const std::string act : {"silu", "gelu"}) {
    log("utility and latency vs N: paper form, trained " + act + " MLP");
    for (auto& row : utility_and_latency_paper(catalog, act, profile.orders, options.seed))
      measurements.push_back(row);
  }
  log("utility and latency vs N: official form, 1024x3584 gated block");
  for (auto& row : utility_and_latency_official(catalog, profile.orders, options.seed, 1024, 3584))
    measurements.push_back(row);
  if (profile.timing_llama) {
    log("extraction time of one Llama-3-8B-shaped layer");
    measurements.push_back(llama_layer_timing(catalog, options.seed));
  }
  json bandwidth = {{"kind", "memory_bandwidth"},
                    {"read_gb_per_s", measure_read_bandwidth()},
                    {"threads", options.threads}};
  measurements.push_back(bandwidth);
  if (profile.llama_layers > 0) {
    log("streamed attack on " + std::to_string(profile.llama_layers) + " bf16 Llama-shaped layers");
    StreamOptions so;
    so.layers = profile.llama_layers;
    so.seed = options.seed;
    so.scratch = options.scratch.empty() ? options.out_dir / "scratch" : options.scratch;
    so.log = options.log;
    measurements.push_back(run_llama_stream(so));
  }

  // Claims checked on this run (the reproduction's acceptance).
  int failures = 0;
  json claims = json::array();
  for (const auto& [c, r] : results) {
    const std::string order = c.spec.scheme_params.values().count("order")
                                  ? c.spec.scheme_params.values().at("order")
                                  : "";
    if ((c.section == "extraction" && c.trials >= 300 && order != "1") || c.section == "ind") {
      const bool ok =
          r.advantage.lower >= 0.99 - 1e-12 || (c.section == "ind" && r.advantage.lower >= 0.98);
      failures += ok ? 0 : 1;
      claims.push_back({{"cell", c.spec.key()},
                        {"claim", c.section == "ind" ? "Adv lower >= 0.98" : "Adv lower >= 0.99"},
                        {"lower", r.advantage.lower},
                        {"ok", ok}});
    }
  }

  AtomicFile mfile(options.out_dir / "measurements.jsonl");
  for (const auto& m : measurements) {
    json line = m;
    line["schema"] = "wrsec.taylormlp.measurement.v1";
    line["provenance"] = provenance.to_json();
    mfile.write(line.dump() + "\n");
  }
  for (const auto& c : claims)
    mfile.write(json{{"schema", "wrsec.taylormlp.claim.v1"}, {"claim", c}}.dump() + "\n");

  // Markdown report.
  std::ostringstream md;
  const double level = 100 * (1 - options.alpha);
  md << "# TaylorMLP: reproduction and extraction\n\n"
     << "wrsec " << provenance.wrsec_version << " (" << provenance.git_describe << ", "
     << provenance.build_type << "), " << options.threads << " thread(s) of "
     << provenance.hardware_threads << ", profile " << options.profile << ", seed " << options.seed
     << ".\n\n"
     << "Search games: Adv = Pr[win] (baseline 0); distinguishing: Adv = |2 Pr[win] - 1|. "
     << "Bounds are exact Clopper-Pearson at " << fmt(level, 0)
     << "% per cell (one-sided lower; no multiplicity correction across cells).\n\n";
  const auto cell_table = [&](const std::string& section, const std::string& title) {
    md << "## " << title << "\n\n"
       << "| game | format | act | N | model | attack | trials | wins | Adv lower | Adv upper | "
          "fraction hidden (min) | max rel err | median rel err (max) | s |\n"
       << "|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& [c, r] : results) {
      if (c.section != section) continue;
      const auto& sp = c.spec.scheme_params.values();
      const auto& gp = c.spec.game_params.values();
      std::string model = gp.count("model")  ? gp.at("model")
                          : gp.count("arch") ? gp.at("arch")
                                             : "";
      if (gp.count("queries")) model += ", Q=" + gp.at("queries");
      const std::string act = model.find("gelu") != std::string::npos ? "gelu" : "silu";
      md << "| " << c.spec.game << " | " << sp.at("format") << " | " << act << " | "
         << sp.at("order") << " | " << model << " | " << c.spec.attack << " | " << r.counts.n
         << " | " << r.counts.wins << " | " << fmt(r.advantage.lower) << " | "
         << fmt(r.advantage.upper) << " | " << fmt(metric(r, "fraction_hidden", "min")) << " | "
         << fmt(metric(r, "max_error_hidden", "max")) << " | "
         << fmt(metric(r, "median_error_hidden", "max")) << " | " << fmt(r.elapsed_seconds, 1)
         << " |\n";
    }
    md << "\n";
  };
  cell_table("extraction",
             "Parameter extraction (param_extraction: >= 99% of hidden parameters within relative "
             "error 1e-2)");
  cell_table("llama", "Llama-3-8B-shaped layers (d 4096, h 14336, h_s 10000, N 6)");
  cell_table("baseline", "Baseline: query regression versus Q");

  md << "## Misuse (extracted model vs. the release's own cost)\n\n"
     << "| format | N | model | trials | wins | Adv lower | out rel err (max) | cost ratio | "
        "release cost ratio (FLOP model) | release out rel err (max) | release KL (mean) |\n"
     << "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& [c, r] : results) {
    if (c.section != "misuse") continue;
    md << "| " << c.spec.scheme_params.values().at("format") << " | "
       << c.spec.scheme_params.values().at("order") << " | "
       << c.spec.game_params.values().at("model") << " | " << r.counts.n << " | " << r.counts.wins
       << " | " << fmt(r.advantage.lower) << " | " << fmt(metric(r, "output_rel_error", "max"))
       << " | " << fmt(metric(r, "cost_ratio", "max"), 2) << " | "
       << fmt(metric(r, "release_cost_ratio", "mean"), 2) << " | "
       << fmt(metric(r, "release_output_rel_error", "max")) << " | "
       << fmt(metric(r, "release_kl_mean", "mean")) << " |\n";
  }
  md << "\n## Indistinguishability (ind_release)\n\n"
     << "| format | arch | attack | trials | wins | Adv estimate | Adv lower | Adv upper |\n"
     << "|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto& [c, r] : results) {
    if (c.section != "ind") continue;
    md << "| " << c.spec.scheme_params.values().at("format") << " | "
       << c.spec.game_params.values().at("arch") << " | ind_via_extraction("
       << c.spec.attack_params.values().at("extractor") << ") | " << r.counts.n << " | "
       << r.counts.wins << " | " << fmt(r.advantage.estimate) << " | " << fmt(r.advantage.lower)
       << " | " << fmt(r.advantage.upper) << " |\n";
  }
  md << "\n## Utility and latency versus N (wall time: best of repeated runs)\n\n"
     << "| model | N | accuracy / rel err of release | KL(orig‖release) | accuracy / rel err "
        "recovered | release slowdown (measured) | FLOP ratio | recovered slowdown | extract s |\n"
     << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& m : measurements) {
    const std::string kind = m.value("kind", "");
    if (kind == "paper_mlp") {
      md << "| " << m["model"].get<std::string>() << " (acc "
         << fmt(m["accuracy_original"].get<double>()) << ") | " << m["order"] << " | "
         << fmt(m["accuracy_release"].get<double>()) << " | " << fmt(m["kl_release"].get<double>())
         << " | " << fmt(m["accuracy_recovered"].get<double>()) << " | "
         << fmt(m["slowdown_release"].get<double>(), 2) << "x | "
         << fmt(m["flop_ratio_release"].get<double>(), 2) << "x | "
         << fmt(m["slowdown_recovered"].get<double>(), 2) << "x | "
         << fmt(m["extract_seconds"].get<double>()) << " |\n";
    } else if (kind == "official_gated") {
      md << "| " << m["model"].get<std::string>() << " | " << m["order"] << " | "
         << fmt(m["rel_error_release"].get<double>()) << " | – | "
         << fmt(m["rel_error_recovered"].get<double>()) << " | "
         << fmt(m["slowdown_release"].get<double>(), 2) << "x | "
         << fmt(m["flop_ratio_release"].get<double>(), 2) << "x | "
         << fmt(m["slowdown_recovered"].get<double>(), 2) << "x | "
         << fmt(m["extract_seconds"].get<double>()) << " |\n";
    }
  }
  md << "\n";
  for (const auto& m : measurements) {
    const std::string kind = m.value("kind", "");
    if (kind == "llama_layer_timing")
      md << "One Llama-3-8B-shaped layer (official format, N 6, h_s 10000): extraction "
         << fmt(m["extract_seconds"].get<double>()) << " s over "
         << fmt(m["release_bytes_f32"].get<double>() / 1e9, 2) << " GB of fp32 release ("
         << fmt(m["extract_gb_per_s"].get<double>(), 1) << " GB/s); fraction of hidden parameters "
         << fmt(m["fraction_hidden"].get<double>()) << ", max relative error "
         << fmt(m["max_error_hidden"].get<double>()) << ".\n\n";
    if (kind == "memory_bandwidth")
      md << "Measured read bandwidth of this machine: " << fmt(m["read_gb_per_s"].get<double>(), 1)
         << " GB/s (" << m["threads"] << " threads).\n\n";
    if (kind == "llama_stream") md << stream_markdown(m) << "\n";
  }
  md << "## Claims checked on this run\n\n| cell | claim | lower | ok |\n|---|---|---:|---|\n";
  for (const auto& c : claims)
    md << "| " << c["cell"].get<std::string>() << " | " << c["claim"].get<std::string>() << " | "
       << fmt(c["lower"].get<double>()) << " | " << (c["ok"].get<bool>() ? "yes" : "**NO**")
       << " |\n";
  AtomicFile report(options.out_dir / "report.md");
  report.write(md.str());

  sink.finish();
  mfile.commit();
  report.commit();
  log("wrote " + (options.out_dir / "report.md").string());
  return failures;
}

}  // namespace wrsec::experiments
