#include "studies/paper_inputs.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/atomic_file.h"
#include "experiments/claims.h"
#include "experiments/provenance.h"
#include "experiments/report_format.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using experiments::fmt;
using experiments::json_at;
using experiments::tex_escape;
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
  write_file_atomically(dir / name, content);
}

// A short tick label per attack for the removal figure.
std::string attack_label(const json& row) {
  const std::string id = text(row, "attack.id");
  if (id == "quantize")
    return "int" + text(row, "attack.params.bits") +
           (text(row, "attack.params.granularity") == "channel" ? "c" : "");
  if (id == "prune") {
    const double rate = number(row, "attack.params.rate");
    return "prune" + std::to_string(static_cast<int>(std::lround(100 * rate)));
  }
  if (id == "cast") return text(row, "attack.params.format");
  if (id == "weight_noise") return "noise";
  if (id == "scale_neurons") return "scale";
  if (id == "dummy_neurons") return "split";
  if (id == "finetune") return text(row, "attack.params.mode");
  return id;
}

}  // namespace

void write_paper_inputs(const StudyOutputs& o, const fs::path& out, const fs::path& paper) {
  fs::create_directories(paper);
  const auto cells = study_cells(o, out);
  const auto measurements = study_measurements(o, out);
  std::vector<json> removal;
  for (const auto& c : cells)
    if (text(c, "study_spec") == "removal_transforms") removal.push_back(c);

  // Macros: the run, then every claim that names one.
  const experiments::Provenance prov = experiments::Provenance::current(o.threads);
  std::ostringstream macros;
  std::size_t met = 0;
  for (const auto& r : o.outcomes) met += r.met ? 1 : 0;
  const auto define = [&](const std::string& name, const std::string& value) {
    macros << "\\newcommand{\\" << name << "}{" << value << "}\n";
  };
  define("ReproProfile", tex_escape(o.profile));
  define("ReproSeed", std::to_string(o.seed));
  define("ReproGit", tex_escape(prov.git_describe));
  define("ReproCores", std::to_string(prov.hardware_threads));
  define("ReproDate", experiments::utc_timestamp().substr(0, 10));
  define("ReproAlpha", "0.05");
  define("ClaimsTotal", std::to_string(o.outcomes.size()));
  define("ClaimsMet", std::to_string(met));
  for (std::size_t i = 0; i < o.claims.size(); ++i)
    if (!o.claims[i].macro.empty())
      define(o.claims[i].macro,
             o.outcomes[i].measured ? fmt(*o.outcomes[i].measured, o.claims[i].digits) : "??");
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
    const std::string spec = text(c, "study_spec");
    if (spec == "extraction_paper" || spec == "extraction_official")
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

  // Detection at fixed FPR (watermark.tpr_at_fpr): per scheme x transform, TPR [95% lower bound]
  // at the thresholds frozen for FPR 1e-2, 1e-3, 1e-4, the held-out FPR upper bound, and the AUC.
  std::ostringstream tpr;
  tpr << "\\begin{tabular}{llrrrrr}\n\\toprule\nscheme & transform & TPR@$10^{-2}$ & "
         "TPR@$10^{-3}$ & TPR@$10^{-4}$ & FPR$_{10^{-3}}$ upper & AUC \\\\\n\\midrule\n";
  std::map<std::pair<std::string, std::string>, std::map<double, const json*>> tpr_rows;
  for (const auto& m : measurements)
    if (text(m, "kind") == "tpr_at_fpr")
      tpr_rows[{text(m, "scheme"), text(m, "transform")}][number(m, "target_fpr")] = &m;
  for (const auto& [key, by_fpr] : tpr_rows) {
    tpr << tex_escape(key.first) << " & \\texttt{" << tex_escape(key.second) << "}";
    for (const double a : {1e-2, 1e-3, 1e-4}) {
      const auto it = by_fpr.find(a);
      if (it == by_fpr.end() || it->second->value("threshold", json()).is_null())
        tpr << " & --";
      else
        tpr << " & " << fmt(number(*it->second, "tpr"), 2) << " ["
            << fmt(number(*it->second, "tpr_lower"), 2) << "]";
    }
    const auto mid = by_fpr.find(1e-3);
    tpr << " & "
        << (mid != by_fpr.end() && mid->second->contains("fpr_upper")
                ? fmt(number(*mid->second, "fpr_upper"), 4)
                : std::string("--"))
        << " & " << fmt(number(*by_fpr.begin()->second, "auc"), 3) << " \\\\\n";
  }
  tpr << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_tpr.tex", tpr.str());

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
  for (std::size_t i = 0; i < o.claims.size(); ++i) {
    const experiments::Claim& c = o.claims[i];
    std::ostringstream req;
    req << c.aggregate << " "
        << (c.require == ">="   ? "$\\ge$"
            : c.require == "<=" ? "$\\le$"
                                : "$=$")
        << " " << fmt(c.target, c.digits);
    cl << tex_escape(c.text) << " & " << req.str() << " & "
       << (o.outcomes[i].measured ? fmt(*o.outcomes[i].measured, c.digits) : "--") << " & "
       << (o.outcomes[i].met ? "yes" : "\\textbf{no}") << " \\\\\n";
  }
  cl << "\\bottomrule\n\\end{tabular}\n";
  put(paper, "tab_claims.tex", cl.str());
}

}  // namespace wrsec::studies
