#include "studies/evaluate.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/rng.h"
#include "definitions/sources.h"
#include "experiments/catalog.h"
#include "experiments/plugin.h"
#include "experiments/report_format.h"
#include "experiments/spec.h"
#include "studies/reproduce.h"
#include "studies/scorecard.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kEvaluationSchema = "wrsec.evaluation.v1";

enum class Needs { protected_release, verify };

// One notion of the battery in one profile.
struct NotionDef {
  std::string id;
  std::string title;
  std::string game;
  Needs needs;
  std::string model_param;  // "model" (a model source) or "arch" (an architecture)
  std::vector<std::pair<std::string, std::string>> game_params;
  std::uint64_t trials;
  double tolerance;
  bool skip_training_attacks;  // adversaries that train are not played in this profile
  std::string fixed_model;     // hiding notions: this model instead of the probed candidates
};

const std::vector<std::string> kHidingModels = {"random:mlp:784,64,10:silu",
                                                "llama_synthetic:64,256:silu"};
const std::string kOwnershipModel = "zoo:mlp_784_64_64_10_relu@1";

std::vector<NotionDef> battery(const std::string& profile) {
  const bool quick = profile == "quick";
  const auto n = [&](std::uint64_t q, std::uint64_t f) { return quick ? q : f; };
  const std::string nulls = quick ? "4" : "20";
  return {
      {"extraction",
       "parameter extraction: recover >= rho of the hidden weights within relative error tau",
       "param_extraction",
       Needs::protected_release,
       "model",
       {{"queries", "2000"}},
       n(32, 300),
       0.05,
       false,
       ""},
      {"misuse",
       "misuse: a runnable model as accurate as the release and cheaper than kappa x the plain "
       "model",
       "misuse",
       Needs::protected_release,
       "model",
       {{"queries", "2000"}},
       n(16, 100),
       0.05,
       false,
       ""},
      {"misuse_accuracy",
       "accuracy restored: a runnable model with >= 0.9 of the victim's test accuracy from the "
       "release and 100 victim-labelled queries (plus the TEE queries of a scheme with a TEE; "
       "the partial-release attacks' criterion)",
       "misuse",
       Needs::protected_release,
       "model",
       {{"accuracy_ratio", "0.9"}, {"queries", "100"}, {"eval_samples", "1000"}},
       n(16, 64),
       0.05,
       false,
       kOwnershipModel},
      {"locate",
       "secret location: flag the positions the release hides with precision and recall >= 0.9",
       "secret_location",
       Needs::protected_release,
       "model",
       {},
       n(16, 64),
       0.05,
       false,
       kOwnershipModel},
      {"ind",
       "indistinguishability of releases: which of two chosen models was released",
       "ind_release",
       Needs::protected_release,
       "arch",
       {{"queries", "2000"}},
       n(64, 300),
       0.05,
       false,
       ""},
      {"removal",
       "mark removal: Verify fails while accuracy drops by at most delta = 5 pp",
       "wm_removal",
       Needs::verify,
       "model",
       {{"eval_samples", quick ? "1000" : "2000"}},
       n(16, 64),
       0.05,
       false,
       ""},
      {"false_positive",
       "false positives: Verify accepts an independently trained model (Adv = FPR)",
       "wm_false_positive",
       Needs::verify,
       "model",
       {{"null_first", "100"}, {"null_count", nulls}},
       n(128, 1000),
       0.01,
       quick,
       ""},
      {"forgery",
       "forgery: a claim other than the owner's verifies on the owner's model",
       "wm_forgery",
       Needs::verify,
       "model",
       {{"target", "owner"}},
       n(64, 100),
       0.05,
       false,
       ""},
      {"forgery_independent",
       "forgery on an independent model: a claim verifies on a model the claimant never marked",
       "wm_forgery",
       Needs::verify,
       "model",
       {{"target", "independent"}, {"null_count", nulls}},
       n(64, 100),
       0.05,
       false,
       ""},
  };
}

// The settings of a built-in adversary the profile plays; an adversary not listed plays once with
// its defaults (plug-in adversaries included).
std::vector<std::string> variants(const std::string& id, const std::string& profile) {
  const bool quick = profile == "quick";
  static const std::map<std::string, std::vector<std::string>> quick_variants = {
      {"quantize", {"quantize(bits=8 granularity=tensor)", "quantize(bits=4 granularity=channel)"}},
      {"cast", {"cast(format=fp16)"}},
      {"prune", {"prune(rate=0.5)"}},
      {"weight_noise", {"weight_noise(scale=0.1)"}},
      {"dummy_neurons", {"dummy_neurons(kind=split)"}},
      {"finetune", {"finetune(mode=ftal)"}},
      {"ambiguity",
       {"ambiguity(strategy=copy_bits)", "ambiguity(strategy=own_key tries=10)",
        "ambiguity(strategy=fake_signature)"}},
      {"variance_scale", {"variance_scale", "variance_scale(finetune=no)"}},
  };
  static const std::map<std::string, std::vector<std::string>> full_variants = {
      {"quantize",
       {"quantize(bits=8 granularity=tensor)", "quantize(bits=8 granularity=channel)",
        "quantize(bits=4 granularity=channel)"}},
      {"cast", {"cast(format=fp16)", "cast(format=bf16)"}},
      {"prune", {"prune(rate=0.5)", "prune(rate=0.8 scope=global)"}},
      {"weight_noise", {"weight_noise(scale=0.1)"}},
      {"dummy_neurons", {"dummy_neurons(kind=split)", "dummy_neurons(kind=clique)"}},
      {"finetune", {"finetune(mode=ftal)", "finetune(mode=rtal)"}},
      {"ambiguity",
       {"ambiguity(strategy=copy_bits)", "ambiguity(strategy=own_key tries=10)",
        "ambiguity(strategy=fake_signature)"}},
      {"variance_scale", {"variance_scale", "variance_scale(finetune=no)"}},
  };
  const auto& table = quick ? quick_variants : full_variants;
  const auto it = table.find(id);
  if (it != table.end()) return it->second;
  return {id};
}

// Built-in adversaries that train a network (too slow for some notions of the quick profile).
bool trains(const std::string& id) {
  static const std::set<std::string> training = {"finetune",      "distill",  "weight_shift",
                                                 "overwrite",     "knockoff", "outlier_restore",
                                                 "variance_scale"};
  return training.count(id) != 0;
}

std::string params_text(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

// A release of the scheme on each candidate model, until one is accepted.
struct Probe {
  std::string model;  // the accepted candidate
  nn::Architecture arch;
  definitions::Artifact artifact;
};

std::optional<Probe> probe_release(const definitions::WeightReleaseScheme& scheme,
                                   const std::vector<std::string>& candidates, std::uint64_t seed,
                                   std::string& rejected) {
  for (const auto& candidate : candidates) {
    try {
      const auto source = definitions::ModelSource::parse(candidate);
      Rng coins(seed, stable_hash("wrsec evaluate probe"), 0);
      Rng model_coins = coins.derive("model");
      Rng release_coins = coins.derive("release");
      const nn::Model model = source.draw(model_coins);
      Probe p;
      p.model = candidate;
      p.arch = model.arch;
      p.artifact = scheme.release(model, release_coins).artifact;
      return p;
    } catch (const InvalidArgument& e) {
      rejected += (rejected.empty() ? "" : "; ") + candidate + ": " + e.what();
    } catch (const std::exception& e) {
      // Not a refusal of the model: the scheme failed. Reported as such, not as unsupported.
      rejected += (rejected.empty() ? "" : "; ") + candidate + ": Release failed: " + e.what();
    }
  }
  return std::nullopt;
}

json pairs_json(const std::vector<std::pair<std::string, std::string>>& pairs) {
  json j = json::object();
  for (const auto& [k, v] : pairs) j[k] = v;
  return j;
}

}  // namespace

json NotionPlan::to_json() const {
  json skipped_json = json::array();
  for (const auto& [attack, why] : skipped)
    skipped_json.push_back({{"attack", attack}, {"why", why}});
  return {{"id", id},           {"title", title},
          {"game", game},       {"applicable", applicable},
          {"reason", reason},   {"game_params", pairs_json(game_params)},
          {"attacks", attacks}, {"skipped", skipped_json},
          {"trials", trials},   {"tolerance", tolerance}};
}

std::size_t BatteryPlan::played() const {
  return static_cast<std::size_t>(std::count_if(notions.begin(), notions.end(),
                                                [](const NotionPlan& n) { return n.applicable; }));
}

double BatteryPlan::alpha_per_notion() const {
  return played() == 0 ? family_alpha : family_alpha / static_cast<double>(played());
}

json BatteryPlan::to_json() const {
  json n = json::array();
  for (const auto& notion : notions) n.push_back(notion.to_json());
  return {{"schema", kEvaluationSchema},
          {"scheme", scheme},
          {"scheme_params", pairs_json(scheme_params)},
          {"capabilities", capabilities},
          {"profile", profile},
          {"seed", seed},
          {"family_alpha", family_alpha},
          {"notions", n}};
}

std::vector<std::pair<std::string, std::string>> evaluate_profiles() {
  return {{"quick",
           "every applicable notion with few trials and one or two settings per adversary "
           "(minutes on 2 cores for a Fashion-MNIST-scale scheme)"},
          {"full", "more trials, more adversary settings, 20 null models"}};
}

BatteryPlan plan_battery(const EvaluateOptions& o) {
  const auto profiles = evaluate_profiles();
  if (std::none_of(profiles.begin(), profiles.end(),
                   [&](const auto& p) { return p.first == o.profile; })) {
    std::string known;
    for (const auto& p : profiles) known += (known.empty() ? "" : ", ") + p.first;
    throw InvalidArgument("unknown evaluate profile '" + o.profile + "' (known: " + known + ")");
  }
  if (o.tolerance && !(*o.tolerance >= 0 && *o.tolerance < 1))
    throw InvalidArgument("the tolerance must lie in [0, 1)");
  if (o.trials && *o.trials == 0) throw InvalidArgument("trials must be at least 1");
  const auto& catalog = experiments::Catalog::global();
  if (o.scheme.empty()) throw InvalidArgument("no scheme given");
  if (o.scheme == experiments::kNoScheme)
    throw InvalidArgument("evaluate needs a scheme, not '" + o.scheme + "'");
  definitions::Params scheme_params;
  for (const auto& [k, v] : o.scheme_params) scheme_params.set(k, v);
  const auto scheme = catalog.schemes.create(o.scheme, scheme_params);

  BatteryPlan plan;
  plan.scheme = o.scheme;
  plan.scheme_params = o.scheme_params;
  plan.capabilities = scheme->capabilities().to_string();
  plan.profile = o.profile;
  plan.seed = o.seed;
  const auto caps = scheme->capabilities();

  const auto defs = battery(o.profile);
  for (const auto& id : o.notions)
    if (std::none_of(defs.begin(), defs.end(), [&](const NotionDef& d) { return d.id == id; })) {
      std::string known;
      for (const auto& d : defs) known += (known.empty() ? "" : ", ") + d.id;
      throw InvalidArgument("unknown notion '" + id + "' (known: " + known + ")");
    }
  std::optional<Probe> probe;
  std::string probe_rejected;
  bool probed = false;
  for (const NotionDef& def : defs) {
    NotionPlan notion;
    notion.id = def.id;
    notion.title = def.title;
    notion.game = def.game;
    notion.trials = o.trials ? *o.trials : def.trials;
    notion.tolerance = o.tolerance ? *o.tolerance : def.tolerance;
    notion.game_params = def.game_params;
    const bool hiding = def.needs == Needs::protected_release;
    // A release with trusted hardware: the adversary may query the TEE as often as Infer.
    if (hiding && caps.has(definitions::Capability::tee) &&
        (def.game == "param_extraction" || def.game == "misuse" || def.game == "ind_release"))
      notion.game_params.emplace_back("tee_queries", "2000");
    if (!o.notions.empty() &&
        std::find(o.notions.begin(), o.notions.end(), def.id) == o.notions.end()) {
      notion.reason = "not selected (the evaluation was restricted to other notions)";
      plan.notions.push_back(std::move(notion));
      continue;
    }
    if (hiding && !caps.has(definitions::Capability::protected_release)) {
      notion.reason =
          "the scheme declares no protected_release: it publishes its model in the clear and "
          "claims no hiding";
      plan.notions.push_back(std::move(notion));
      continue;
    }
    if (!hiding && !caps.has(definitions::Capability::verify)) {
      notion.reason = "the scheme declares no verify: it is not an ownership scheme";
      plan.notions.push_back(std::move(notion));
      continue;
    }
    std::string model = o.model ? *o.model : kOwnershipModel;
    std::optional<Probe> fixed_probe;  // a notion that names its own model probes it alone
    const bool fixed = hiding && !o.model && !def.fixed_model.empty();
    if (fixed) {
      std::string rejected;
      fixed_probe = probe_release(*scheme, {def.fixed_model}, o.seed, rejected);
      if (!fixed_probe) {
        notion.reason = "Release does not accept this notion's model (" + rejected + ")";
        plan.notions.push_back(std::move(notion));
        continue;
      }
    } else if (hiding) {
      if (!probed) {
        probe = probe_release(*scheme, o.model ? std::vector<std::string>{*o.model} : kHidingModels,
                              o.seed, probe_rejected);
        probed = true;
      }
      if (!probe) {
        notion.reason = "Release accepts none of the candidate models (" + probe_rejected + ")";
        plan.notions.push_back(std::move(notion));
        continue;
      }
    }
    const std::optional<Probe>& used_probe = fixed ? fixed_probe : probe;
    if (hiding) model = used_probe->model;
    notion.game_params.insert(
        notion.game_params.begin(),
        {def.model_param,
         def.model_param == "arch" && used_probe ? used_probe->arch.to_spec() : model});
    definitions::Params game_params;
    for (const auto& [k, v] : notion.game_params) game_params.set(k, v);
    std::unique_ptr<definitions::Game> game;
    try {
      game = catalog.games.create(def.game, game_params);
    } catch (const InvalidArgument& e) {
      // e.g. misuse_accuracy under --model with a model that is no classifier with labelled
      // inputs.
      notion.reason = std::string("the notion's game refuses the model: ") + e.what();
      plan.notions.push_back(std::move(notion));
      continue;
    }

    std::vector<std::string> candidates;
    for (const auto* entry : catalog.attacks.entries()) {
      if (entry->id == "ind_via_extraction") {
        // One release distinguisher per registered extractor, plug-ins' included (the setting
        // names it).
        for (const auto* e : catalog.attacks.entries()) {
          std::unique_ptr<definitions::Adversary> a;
          try {
            a = catalog.attacks.create(e->id, {});
          } catch (const InvalidArgument&) {
            continue;
          }
          if (dynamic_cast<const definitions::Extractor*>(a.get()) == nullptr) continue;
          candidates.push_back("ind_via_extraction(extractor=" + e->id + ")");
        }
        continue;
      }
      for (const auto& v : variants(entry->id, o.profile)) candidates.push_back(v);
    }
    for (const auto& text : candidates) {
      const auto [id, params] = experiments::parse_component("attack", text);
      if (id == "knockoff" ||
          (id == "ind_via_extraction" && params.values().count("extractor") != 0 &&
           params.values().at("extractor") == "knockoff")) {
        notion.skipped.push_back({text,
                                  "the black-box baseline of a query budget (a control: "
                                  "it ignores the release), not an attack on it"});
        continue;
      }
      if (def.skip_training_attacks && trains(id)) {
        notion.skipped.push_back({text, "trains a network per trial; not played by profile " +
                                            o.profile +
                                            " for this notion (--profile full plays it)"});
        continue;
      }
      std::unique_ptr<definitions::Adversary> adversary;
      try {
        adversary = catalog.attacks.create(id, params);
        game->check(scheme.get(), *adversary);
      } catch (const InvalidArgument& e) {
        notion.skipped.push_back({text, e.what()});
        continue;
      }
      if (hiding) {
        const auto* extractor = dynamic_cast<const definitions::Extractor*>(adversary.get());
        const auto* distinguisher =
            dynamic_cast<const definitions::ReleaseDistinguisher*>(adversary.get());
        if ((extractor && !extractor->reads(used_probe->artifact)) ||
            (distinguisher && !distinguisher->reads(used_probe->artifact))) {
          notion.skipped.push_back({text, "does not read releases of this scheme (metadata " +
                                              used_probe->artifact.metadata.dump() + ")"});
          continue;
        }
      }
      notion.attacks.push_back(text);
    }
    if (notion.attacks.empty()) {
      notion.reason = "no registered adversary can play it against this scheme";
    } else {
      notion.applicable = true;
    }
    plan.notions.push_back(std::move(notion));
  }
  return plan;
}

std::string notion_spec(const BatteryPlan& plan, const NotionPlan& notion) {
  if (!notion.applicable) throw LogicError("notion_spec: notion '" + notion.id + "' is not played");
  std::ostringstream s;
  s.precision(17);
  s << "# wrsec evaluate: scheme " << plan.scheme << ", profile " << plan.profile << ", notion "
    << notion.id << " (generated)\n"
    << "name = " << notion.id << "\n"
    << "description = " << notion.title << "\n"
    << "game = " << notion.game << "\n"
    << "scheme = " << plan.scheme << "\n"
    << "trials = " << notion.trials << "\n"
    << "seed = " << plan.seed << "\n"
    << "alpha = " << plan.alpha_per_notion() << "\n"
    << "correction = bonferroni\n";
  s << "\n[game]\n";
  for (const auto& [k, v] : notion.game_params) s << k << " = " << v << "\n";
  if (!plan.scheme_params.empty()) {
    s << "\n[scheme]\n";
    for (const auto& [k, v] : plan.scheme_params) s << k << " = " << v << "\n";
  }
  s << "\n[sweep]\nattack = ";
  for (std::size_t i = 0; i < notion.attacks.size(); ++i) s << (i ? ", " : "") << notion.attacks[i];
  s << "\n";
  return s.str();
}

namespace {

json bundle_claims(const BatteryPlan& plan) {
  json specs = json::array();
  for (const auto& n : plan.notions)
    if (n.applicable) specs.push_back({{"spec", "specs/" + n.id + ".ini"}});
  return {
      {"schema", "wrsec.claims.v2"},
      {"default_profile", "battery"},
      {"profiles",
       {{"battery",
         {{"description", "wrsec evaluate --scheme " + plan.scheme + " " +
                              params_text(plan.scheme_params) + " (profile " + plan.profile + ")"},
          {"seed", plan.seed},
          {"specs", specs}}}}},
      {"claims", json::array()}};
}

// What must match for a directory to continue: the plan without the tolerances (they only change
// the scorecard's verdicts).
json played_plan(const BatteryPlan& plan) {
  json j = plan.to_json();
  for (auto& n : j["notions"]) n.erase("tolerance");
  return j;
}

// Writes OUT/evaluation.json and OUT/bundle (or checks that they hold this plan).
void prepare(const BatteryPlan& plan, const fs::path& out, std::ostream* log) {
  const json record = played_plan(plan);
  if (fs::exists(out / "evaluation.json")) {
    if (experiments::read_json_file(out / "evaluation.json", "evaluation record") != record)
      throw InvalidArgument("'" + out.string() +
                            "' holds an evaluation of another scheme, parameters, profile or "
                            "battery; remove it or choose another output directory");
    if (log) *log << "evaluate: continuing " << out.string() << "\n";
    return;
  }
  if (fs::exists(out) && !fs::is_directory(out))
    throw InvalidArgument("'" + out.string() + "' exists and is not a directory");
  // A directory holding only a bundle is what an interrupted start left: it is rewritten.
  const bool leftover =
      fs::is_directory(out) &&
      std::all_of(fs::directory_iterator(out), fs::directory_iterator(),
                  [](const fs::directory_entry& e) { return e.path().filename() == "bundle"; });
  if (fs::exists(out) && !leftover)
    throw InvalidArgument("'" + out.string() +
                          "' exists and holds no evaluation; choose another output directory");
  fs::create_directories(out / "bundle" / "specs");
  for (const auto& n : plan.notions)
    if (n.applicable)
      write_file_atomically(out / "bundle" / "specs" / (n.id + ".ini"), notion_spec(plan, n));
  write_file_atomically(out / "bundle" / "claims.json", bundle_claims(plan).dump(2) + "\n");
  // Last: its presence says the bundle is complete.
  write_file_atomically(out / "evaluation.json", record.dump(2) + "\n");
}

ReproduceOptions bundle_options(const EvaluateOptions& o, const fs::path& bundle) {
  ReproduceOptions r;
  r.profile = "battery";
  r.root = bundle;
  r.claims = "claims.json";
  r.out = o.out;
  r.write_paper = false;
  r.check_claims = false;
  r.keep_going = true;
  r.threads = o.threads;
  r.shard = o.shard;
  r.comm = o.comm;
  r.log = o.log;
  r.progress = o.progress;
  return r;
}

void log_plan(const BatteryPlan& plan, std::ostream* log) {
  if (!log) return;
  *log << "evaluate: scheme " << plan.scheme
       << (plan.scheme_params.empty() ? "" : " (" + params_text(plan.scheme_params) + ")")
       << ", capabilities " << plan.capabilities << ", profile " << plan.profile << "\n";
  for (const auto& n : plan.notions) {
    if (n.applicable)
      *log << "  " << n.id << ": " << n.attacks.size() << " adversary setting(s) x " << n.trials
           << " trials (" << n.skipped.size() << " not applicable)\n";
    else
      *log << "  " << n.id << ": not applicable (" << n.reason << ")\n";
  }
}

std::size_t finish(const BatteryPlan& plan, const EvaluateOptions& o) {
  const Scorecard card = make_scorecard(plan, o.out);
  write_scorecard(card, o.out);
  if (o.log) {
    *o.log << "\n";
    for (const auto& n : card.notions) *o.log << "  " << n.id << ": " << n.verdict << "\n";
    *o.log << "evaluate: scorecard in " << (o.out / "scorecard.md").string()
           << " (also .json, .tex)" << std::endl;
  }
  return card.failed_cells;
}

}  // namespace

std::size_t run_evaluate(const EvaluateOptions& o) {
  if (o.threads < 1) throw InvalidArgument("threads must be at least 1");
  if (o.out.empty()) throw InvalidArgument("no output directory given");
  const experiments::SoloCommunicator solo;
  const experiments::Communicator& comm = o.comm ? *o.comm : solo;
  const BatteryPlan plan = plan_battery(o);
  std::string error;
  if (comm.rank() == 0) {
    log_plan(plan, o.log);
    try {
      prepare(plan, o.out, o.log);
    } catch (const std::exception& e) {
      if (comm.size() == 1) throw;
      error = e.what();
    }
  }
  comm.broadcast(error);
  if (!error.empty()) throw InvalidArgument(error);
  if (plan.played() > 0) (void)run_reproduce(bundle_options(o, o.out / "bundle"));
  if (o.shard.count > 1) {
    if (comm.rank() == 0 && o.log)
      *o.log << "evaluate: shard " << o.shard.to_string() << " complete in " << o.out.string()
             << "; merge the shards (wrsec evaluate --merge) for the scorecard\n";
    return 0;
  }
  std::string failed = "0";
  if (comm.rank() == 0) failed = std::to_string(finish(plan, o));
  comm.broadcast(failed);
  return std::stoul(failed);
}

std::size_t merge_evaluations(const std::vector<fs::path>& inputs, const EvaluateOptions& o) {
  if (inputs.size() < 2) throw InvalidArgument("merge needs at least two shard directories");
  if (o.out.empty()) throw InvalidArgument("no output directory given");
  if (fs::exists(o.out)) throw InvalidArgument("'" + o.out.string() + "' exists");
  const BatteryPlan plan = plan_battery(o);
  const json record = played_plan(plan);
  for (const auto& dir : inputs) {
    if (experiments::read_json_file(dir / "evaluation.json", "evaluation record") != record)
      throw InvalidArgument("'" + dir.string() + "' is not a shard of this evaluation (scheme " +
                            plan.scheme + ", profile " + plan.profile + ")");
  }
  log_plan(plan, o.log);
  try {
    prepare(plan, o.out, o.log);
    if (plan.played() > 0) {
      // The reproduction runner merges into a directory of its own; its parts then move into OUT.
      ReproduceOptions r = bundle_options(o, o.out / "bundle");
      r.shard = {};
      r.out = o.out / ".merge";
      (void)merge_reproductions(inputs, r);
      for (const char* item : {"runs", "measurements", "study.json"})
        if (fs::exists(r.out / item)) fs::rename(r.out / item, o.out / item);
      fs::remove_all(r.out);
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(o.out, ec);  // created here: nothing half-merged is left
    throw;
  }
  return finish(plan, o);
}

}  // namespace wrsec::studies
