#include "experiments/reproduce.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/sha256.h"
#include "experiments/claims.h"
#include "experiments/provenance.h"
#include "experiments/report_format.h"
#include "experiments/run_dir.h"
#include "experiments/spec.h"
#include "experiments/taylormlp.h"
#include "experiments/watermark_robustness.h"

namespace wrsec::experiments {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double number(const json& row, const std::string& path) {
  const json v = json_at(row, path);
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    char* end = nullptr;
    const std::string s = v.get<std::string>();
    const double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return x;
  }
  return std::nan("");
}

std::string text(const json& row, const std::string& path) {
  const json v = json_at(row, path);
  return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
}

std::string csv_num(double x) {
  if (!std::isfinite(x)) return "nan";
  std::ostringstream out;
  out.precision(10);
  out << x;
  return out.str();
}

std::string activation(const std::string& model) {
  return model.find("gelu") != std::string::npos ? "gelu" : "silu";
}

std::string model_label(const std::string& model) {
  if (model.rfind("random:", 0) == 0) return "random MLP";
  if (model.rfind("llama_synthetic", 0) == 0) return "gated block";
  if (model.rfind("zoo:", 0) == 0) return "trained MLP";
  return model;
}

// Writes text to dir/name atomically.
void put(const fs::path& dir, const std::string& name, const std::string& content) {
  AtomicFile f(dir / name);
  f.write(content);
  f.commit();
}

std::vector<json> rows_if_exists(const fs::path& path) {
  return fs::exists(path) ? read_json_lines(path) : std::vector<json>{};
}

std::string attack_label(const json& row) {
  const std::string id = text(row, "attack.id");
  if (id == "quantize") return "int" + text(row, "attack.params.bits");
  if (id == "prune") {
    const double rate = number(row, "attack.params.rate");
    return "prune" + std::to_string(static_cast<int>(std::lround(100 * rate)));
  }
  return id;
}

void write_paper_inputs(const fs::path& out, const fs::path& paper, const std::string& profile,
                        const ReproduceOptions& options, const std::vector<Claim>& claims,
                        const std::vector<ClaimOutcome>& outcomes) {
  fs::create_directories(paper);
  const auto cells = rows_if_exists(out / "taylormlp" / "cells.jsonl");
  std::vector<json> measurements;
  for (auto& m : rows_if_exists(out / "taylormlp" / "measurements.jsonl"))
    if (m.value("schema", "") == "wrsec.taylormlp.measurement.v1") measurements.push_back(m);
  const auto removal = rows_if_exists(out / "runs" / "wm_removal_quick" / "results.jsonl");

  // Macros: the run, then every claim that names one.
  const Provenance prov = Provenance::current(options.threads);
  std::ostringstream macros;
  std::size_t met = 0;
  for (const auto& o : outcomes) met += o.met ? 1 : 0;
  const auto define = [&](const std::string& name, const std::string& value) {
    macros << "\\newcommand{\\" << name << "}{" << value << "}\n";
  };
  define("ReproProfile", tex_escape(profile));
  define("ReproSeed", std::to_string(options.seed));
  define("ReproGit", tex_escape(prov.git_describe));
  define("ReproCores", std::to_string(prov.hardware_threads));
  define("ReproDate", utc_timestamp().substr(0, 10));
  define("ReproAlpha", "0.05");
  define("ClaimsTotal", std::to_string(outcomes.size()));
  define("ClaimsMet", std::to_string(met));
  for (std::size_t i = 0; i < claims.size(); ++i)
    if (!claims[i].macro.empty())
      define(claims[i].macro,
             outcomes[i].measured ? fmt(*outcomes[i].measured, claims[i].digits) : "??");
  put(paper, "macros.tex", macros.str());

  // Extraction.
  std::ostringstream t;
  t << "\\begin{tabular}{llrlrrrr}\n\\toprule\nformat & act. & $N$ & model & trials & wins & "
       "Adv lower & max rel.\\ err. \\\\\n\\midrule\n";
  std::map<std::string, std::vector<std::pair<double, std::string>>> series;
  for (const auto& c : cells) {
    const std::string attack = text(c, "attack.id");
    if (text(c, "game.id") != "param_extraction" ||
        (attack != "taylor_ratio_inversion" && attack != "taylor_sign_hypothesis"))
      continue;
    const std::string model = text(c, "game.params.model");
    const std::string format = text(c, "scheme.params.format");
    const double order = number(c, "scheme.params.order");
    t << format << " & " << activation(model) << " & " << order << " & "
      << tex_escape(model_label(model)) << " & " << text(c, "counts.n") << " & "
      << text(c, "counts.wins") << " & " << fmt(number(c, "advantage.lower")) << " & "
      << fmt(number(c, "metrics.max_error_hidden.max"), 2) << " \\\\\n";
    if (model.rfind("random:", 0) == 0 || model.rfind("llama_synthetic", 0) == 0)
      series["extraction-" + format + "-" + activation(model) + ".csv"].emplace_back(
          order, csv_num(order) + "," + text(c, "counts.n") + "," + text(c, "counts.wins") + "," +
                     csv_num(number(c, "advantage.lower")) + "," +
                     csv_num(number(c, "metrics.max_error_hidden.max")) + "," +
                     csv_num(number(c, "metrics.median_error_hidden.max")));
  }
  t << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_extraction.tex", t.str());
  for (const std::string f : {"paper", "official"})
    for (const std::string a : {"silu", "gelu"}) series["extraction-" + f + "-" + a + ".csv"];
  const auto write_series = [&](const std::string& header) {
    for (auto& [name, rows] : series) {
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& x, const auto& y) { return x.first < y.first; });
      std::string body = header + "\n";
      for (const auto& r : rows) body += r.second + "\n";
      put(paper, name, body);
    }
    series.clear();
  };
  write_series("order,trials,wins,adv_lower,max_rel_error,median_rel_error");

  // Indistinguishability and misuse.
  std::ostringstream ind;
  ind << "\\begin{tabular}{lllrrrrr}\n\\toprule\nformat & arch. & distinguisher & trials & wins "
         "& $\\widehat{\\mathrm{Adv}}$ & lower & upper \\\\\n\\midrule\n";
  std::ostringstream mis;
  mis << "\\begin{tabular}{lrlrrrr}\n\\toprule\nformat & $N$ & model & trials & wins & Adv lower "
         "& cost ratio \\\\\n\\midrule\n";
  for (const auto& c : cells) {
    if (text(c, "game.id") == "ind_release")
      ind << text(c, "scheme.params.format") << " & " << tex_escape(text(c, "game.params.arch"))
          << " & " << tex_escape(text(c, "attack.params.extractor")) << " & " << text(c, "counts.n")
          << " & " << text(c, "counts.wins") << " & " << fmt(number(c, "advantage.estimate"))
          << " & " << fmt(number(c, "advantage.lower")) << " & "
          << fmt(number(c, "advantage.upper")) << " \\\\\n";
    if (text(c, "game.id") == "misuse")
      mis << text(c, "scheme.params.format") << " & " << text(c, "scheme.params.order") << " & "
          << tex_escape(model_label(text(c, "game.params.model"))) << " & " << text(c, "counts.n")
          << " & " << text(c, "counts.wins") << " & " << fmt(number(c, "advantage.lower")) << " & "
          << fmt(number(c, "metrics.cost_ratio.max"), 2) << " \\\\\n";
  }
  ind << "\\bottomrule\n\\end{tabular}\n";
  mis << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_ind.tex", ind.str());
  put(paper, "tab_misuse.tex", mis.str());

  // Utility and slowdown.
  std::ostringstream u;
  u << "\\begin{tabular}{lrrrrr}\n\\toprule\nmodel & $N$ & release acc./rel.\\ err. & slowdown & "
       "FLOP ratio & recovered slowdown \\\\\n\\midrule\n";
  for (const std::string name :
       {"slowdown-paper-silu.csv", "slowdown-paper-gelu.csv", "slowdown-official.csv"})
    series[name];
  for (const auto& m : measurements) {
    const std::string kind = text(m, "kind");
    if (kind != "paper_mlp" && kind != "official_gated") continue;
    const double order = number(m, "order");
    const bool paper_form = kind == "paper_mlp";
    const double quality =
        paper_form ? number(m, "accuracy_release") : number(m, "rel_error_release");
    u << tex_escape(text(m, "model")) << " & " << order << " & " << fmt(quality) << " & "
      << fmt(number(m, "slowdown_release"), 2) << "$\\times$ & "
      << fmt(number(m, "flop_ratio_release"), 2) << "$\\times$ & "
      << fmt(number(m, "slowdown_recovered"), 2) << "$\\times$ \\\\\n";
    const std::string name = paper_form ? "slowdown-paper-" + activation(text(m, "model")) + ".csv"
                                        : "slowdown-official.csv";
    series[name].emplace_back(order, csv_num(order) + "," + csv_num(number(m, "slowdown_release")) +
                                         "," + csv_num(number(m, "flop_ratio_release")) + "," +
                                         csv_num(number(m, "slowdown_recovered")));
  }
  u << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_utility.tex", u.str());
  write_series("order,slowdown_release,flop_ratio,slowdown_recovered");

  // Removal.
  std::ostringstream r;
  r << "\\begin{tabular}{llrrrrr}\n\\toprule\nscheme & attack & trials & wins & Adv lower & Adv "
       "upper & acc.\\ drop (pp) \\\\\n\\midrule\n";
  std::map<std::string, std::vector<std::string>> per_scheme;
  for (const std::string s : {"lsb_parity", "qim", "spread_spectrum"}) per_scheme[s];
  for (const auto& c : removal) {
    const std::string scheme = text(c, "scheme.id");
    const std::string label = attack_label(c);
    r << tex_escape(scheme) << " & " << tex_escape(label) << " & " << text(c, "counts.n") << " & "
      << text(c, "counts.wins") << " & " << fmt(number(c, "advantage.lower")) << " & "
      << fmt(number(c, "advantage.upper")) << " & "
      << fmt(100 * number(c, "metrics.acc_drop.mean"), 2) << " \\\\\n";
    auto& rows = per_scheme[scheme];
    rows.push_back(std::to_string(rows.size()) + "," + label + "," + text(c, "counts.n") + "," +
                   text(c, "counts.wins") + "," + csv_num(number(c, "advantage.lower")) + "," +
                   csv_num(number(c, "advantage.upper")) + "," +
                   csv_num(100 * number(c, "metrics.acc_drop.mean")));
  }
  r << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_removal.tex", r.str());
  for (const auto& [scheme, rows] : per_scheme) {
    std::string name = scheme;
    std::replace(name.begin(), name.end(), '_', '-');
    std::string body = "index,label,trials,wins,adv_lower,adv_upper,acc_drop_pp\n";
    for (const auto& row : rows) body += row + "\n";
    put(paper, "removal-" + name + ".csv", body);
  }

  // Claims.
  std::ostringstream cl;
  cl << "\\begin{tabular}{p{0.42\\linewidth}lrl}\n\\toprule\nclaim & requirement & measured & met "
        "\\\\\n\\midrule\n";
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const Claim& c = claims[i];
    std::ostringstream req;
    req << c.aggregate << " "
        << (c.require == ">="   ? "$\\ge$"
            : c.require == "<=" ? "$\\le$"
                                : "$=$")
        << " " << fmt(c.target, c.digits);
    cl << tex_escape(c.text) << " & " << req.str() << " & "
       << (outcomes[i].measured ? fmt(*outcomes[i].measured, c.digits) : "--") << " & "
       << (outcomes[i].met ? "yes" : "\\textbf{no}") << " \\\\\n";
  }
  cl << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_claims.tex", cl.str());
}

}  // namespace

int run_reproduce(const ReproduceOptions& options) {
  const auto log = [&](const std::string& line) {
    if (options.log) *options.log << line << std::endl;
  };
  if (options.threads < 1) throw InvalidArgument("threads must be at least 1");
  const fs::path claims_path =
      options.claims.is_absolute() ? options.claims : options.root / options.claims;
  json file;
  try {
    file = json::parse(read_text_file(claims_path));
  } catch (const json::exception& e) {
    throw InvalidArgument("claims file '" + claims_path.string() + "' is not JSON: " + e.what());
  }
  if (!file.is_object() || file.value("schema", "") != "wrsec.claims.v1")
    throw InvalidArgument("claims file '" + claims_path.string() +
                          "' must be an object with schema wrsec.claims.v1");
  if (!file.contains("profiles") || !file["profiles"].contains(options.profile)) {
    std::string known;
    if (file.contains("profiles"))
      for (const auto& [name, p] : file["profiles"].items())
        known += (known.empty() ? "" : ", ") + name;
    throw InvalidArgument("unknown profile '" + options.profile + "' (claims file has: " + known +
                          ")");
  }
  std::vector<Claim> claims;
  for (const auto& j : file.value("claims", json::array())) {
    Claim c = Claim::from_json(j);
    if (c.applies_to(options.profile)) claims.push_back(std::move(c));
  }
  const json& profile = file["profiles"][options.profile];
  const fs::path out =
      options.out.empty() ? fs::path("runs") / ("reproduce-" + options.profile) : options.out;
  fs::create_directories(out / "runs");

  // Validate every spec before running anything.
  struct SpecRun {
    fs::path path;
    ExperimentSpec spec;
    json entry;
  };
  std::vector<SpecRun> specs;
  for (const auto& s : profile.value("specs", json::array())) {
    if (!s.is_object() || !s.contains("spec") || !s["spec"].is_string())
      throw InvalidArgument("claims file: every profile spec needs a \"spec\" path");
    const fs::path path = options.root / s["spec"].get<std::string>();
    specs.push_back({path, ExperimentSpec::load(path), s});
  }
  for (const auto& e : profile.value("experiments", json::array()))
    if (const std::string name = e.value("name", "");
        name != "taylormlp" && name != "watermark_robustness")
      throw InvalidArgument("claims file: unknown experiment '" + name +
                            "' (expected taylormlp or watermark_robustness)");

  for (const auto& e : profile.value("experiments", json::array())) {
    const std::string name = e.value("name", "");
    const std::string p = e.value("profile", options.profile);
    log("reproduce: experiment " + name + " (profile " + p + ")");
    if (name == "taylormlp") {
      TaylorMlpOptions o;
      o.profile = p;
      o.out_dir = out / "taylormlp";
      o.seed = options.seed;
      o.threads = options.threads;
      o.log = options.log;
      run_taylormlp(o);
    } else if (name == "watermark_robustness") {
      WatermarkRobustnessOptions o;
      o.profile = p;
      o.out_dir = out / "watermark_robustness";
      o.seed = options.seed;
      o.threads = options.threads;
      o.log = options.log;
      run_watermark_robustness(o);
    }
  }
  for (const auto& [path, spec, s] : specs) {
    const fs::path dir = out / "runs" / spec.name;
    RunDirOptions o;
    o.threads = options.threads;
    o.log = options.log;
    if (s.contains("trials")) o.trials = s["trials"].get<std::uint64_t>();
    if (fs::exists(dir / "manifest.json")) {
      // Reuse a previous reproduction's run only if it ran this very spec with these overrides.
      const json m = json::parse(read_text_file(dir / "manifest.json"));
      json overrides = json::object();
      if (o.trials) overrides["trials"] = *o.trials;
      if (m.value("overrides", json()) != overrides ||
          json_at(m, "spec.sha256") != to_hex(sha256(read_text_file(path))))
        throw InvalidArgument("'" + dir.string() + "' holds a run of another version of '" +
                              path.string() +
                              "' or other trials; remove it or choose another output directory");
      log("reproduce: spec " + spec.name + ": resuming " + dir.string());
      resume_run(dir,
                 RunDirOptions{options.threads, {}, {}, {}, nullptr, nullptr, options.log, {}});
    } else {
      log("reproduce: spec " + spec.name + " -> " + dir.string());
      start_run(path, dir, o);
    }
  }

  std::vector<ClaimOutcome> outcomes;
  AtomicFile jsonl(out / "claims.jsonl");
  std::ostringstream md;
  md << "# Claims (" << claims_path.string() << ", profile " << options.profile << ")\n\n"
     << "| claim | requirement | measured | met |\n|---|---|---:|---|\n";
  int failures = 0;
  for (const auto& c : claims) {
    outcomes.push_back(evaluate_claim(c, out));
    const ClaimOutcome& o = outcomes.back();
    jsonl.write(o.to_json(c).dump() + "\n");
    md << "| " << c.id << ": " << c.text << " | " << c.statement() << " | "
       << (o.measured ? fmt(*o.measured, 6) : "–") << " | " << (o.met ? "yes" : "**NO**") << " |\n";
    if (!o.met) {
      ++failures;
      if (options.log)
        *options.log << "claim " << c.id << " NOT MET\n  expected: " << c.statement()
                     << "\n  measured: " << (o.measured ? fmt(*o.measured, 6) : "none") << " ("
                     << o.problem << ")" << (o.witness.empty() ? "" : "\n  at: " + o.witness)
                     << "\n";
    }
  }
  jsonl.commit();
  AtomicFile md_file(out / "claims.md");
  md_file.write(md.str());
  md_file.commit();
  if (options.write_paper) {
    const fs::path paper =
        options.paper_dir.empty() ? options.root / "paper" / "generated" : options.paper_dir;
    write_paper_inputs(out, paper, options.profile, options, claims, outcomes);
    log("reproduce: paper inputs in " + paper.string());
  }
  log("reproduce: " + std::to_string(claims.size() - static_cast<std::size_t>(failures)) + " of " +
      std::to_string(claims.size()) + " claims met (" + (out / "claims.md").string() + ")");
  return failures;
}

}  // namespace wrsec::experiments
