#include "experiments/evidence.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "definitions/owner_key.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"
#include "experiments/claim_log.h"
#include "experiments/provenance.h"
#include "experiments/spec.h"
#include "nn/align.h"

namespace wrsec::experiments {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kEvidenceNullAlpha = 0.05;  // level of the empirical null's CP upper bound
constexpr const char* kEvidenceJson = "evidence.json";
constexpr const char* kEvidenceMarkdown = "evidence.md";
// Relative tolerance when a recomputed p-value or bound is compared with the report's.
constexpr double kEvidenceTolerance = 1e-9;
// More symbols or null keys than any report holds; larger counts are refused before the exact
// tail sums (whose cost grows with the count) are evaluated.
constexpr std::uint64_t kEvidenceMaxCount = std::uint64_t{1} << 24;
constexpr std::uint64_t kEvidenceMaxNullKeys = 100000;

std::string evidence_signed_text(const std::string& report_hash) {
  return "wrsec-evidence v1; report=" + report_hash;
}

std::string evidence_hash(const json& report) {
  return to_hex(sha256(report.dump()));
}

struct EvidenceFileDigest {
  std::string sha256;
  std::uint64_t bytes = 0;
};

EvidenceFileDigest digest_of_file(const fs::path& path) {
  EvidenceFileDigest d;
  d.sha256 = to_hex(sha256_file(path, &d.bytes));
  return d;
}

// A count in a report: a JSON unsigned integer (never a float, a negative or a string).
std::uint64_t count_of(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_unsigned())
    throw InvalidArgument(std::string(key) + " must be a non-negative integer");
  return v.get<std::uint64_t>();
}

// Whether j states the count `want` under key (absent when want is nullopt).
bool states_count(const json& j, const char* key, const std::optional<std::uint64_t>& want) {
  if (!j.contains(key)) return !want.has_value();
  return want.has_value() && count_of(j, key) == want.value_or(0);
}

double number_of(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    throw InvalidArgument(std::string(key) + " must be a finite number");
  return v.get<double>();
}

json rule_to_json(const VerifierRule& rule) {
  return rule.threshold ? json{{"threshold", *rule.threshold}}
                        : json{{"target_fpr", rule.target_fpr}};
}

// The rule of a report, checked: exactly one of target_fpr in (0, 1) and threshold >= 0.
VerifierRule rule_of(const json& rule) {
  if (!rule.is_object() || rule.size() != 1)
    throw InvalidArgument("the rule must name exactly one of target_fpr and threshold");
  VerifierRule r;
  if (rule.contains("threshold")) {
    r.threshold = number_of(rule, "threshold");
    if (!(*r.threshold >= 0 && *r.threshold < 9e15))
      throw InvalidArgument("the rule's threshold must lie in [0, 9e15)");
  } else {
    r.target_fpr = number_of(rule, "target_fpr");
    if (!(r.target_fpr > 0 && r.target_fpr < 1))
      throw InvalidArgument("the rule's target_fpr must lie in (0, 1)");
  }
  return r;
}

// The test the verifier's p-value comes from, fixed by the record's parameters and the rule:
// spread_spectrum's detector = zscore decides by the z-score unless a threshold is given;
// two_sided makes the binomial test two-sided.
std::string test_for(const std::map<std::string, std::string>& scheme_params, bool threshold_rule) {
  const definitions::Params p(scheme_params);
  if (p.get_string("detector", "bits") == "zscore" && !threshold_rule) return "z-score";
  return p.get_bool("two_sided", false) ? "two-sided binomial" : "binomial";
}

json result_to_json(const definitions::VerifyResult& v, const std::string& test) {
  json j = {{"accepted", v.accepted},
            {"matches", v.matches},
            {"bits", v.bits},
            {"p0", v.p0},
            {"log2_p", v.log2_p},
            {"test", test},
            {"target_fpr", v.target_fpr}};
  for (const char* key : {"rule", "critical_matches", "zscore", "ecc", "rejected"})
    if (v.details.contains(key)) j[key] = v.details[key];
  return j;
}

// log2 p of k matches of n under a binomial test.
double evidence_log2_p(const std::string& test, std::uint64_t k, std::uint64_t n, double p0) {
  const double upper = definitions::log2_binomial_tail(k, n, p0);
  if (test != "two-sided binomial") return upper;
  const double lower = definitions::log2_binomial_tail(n - k, n, 1 - p0);
  return std::min(0.0, 1.0 + std::min(upper, lower));
}

bool accepted_under(const json& rule, const json& result) {
  if (result.contains("rejected")) return false;
  const VerifierRule r = rule_of(rule);
  if (r.threshold) return static_cast<double>(count_of(result, "matches")) > *r.threshold;
  return number_of(result, "log2_p") <= std::log2(r.target_fpr);
}

// N keys of another identity (fresh statements signed by a simulation key), read from the same
// suspect as the claim's key was: the suspect aligned once, the keys made on the same model. The
// empirical p-value ranks the claim's match count among theirs (one-sided binomial test only).
json null_to_json(std::uint64_t keys, const OwnerRecord& rec, const VerifyReport& v,
                  const std::string& test) {
  const auto& r = v.result;
  json binomial = {{"p0", r.p0}, {"symbols", r.bits}};
  if (r.details.contains("critical_matches")) {
    const auto c = r.details["critical_matches"].get<std::uint64_t>();
    binomial["critical_matches"] = c;
    // P[Bin(T, p0) >= c]: the rule's false-positive rate under the binomial null (0 if c > T).
    binomial["log2_fpr"] =
        c <= r.bits ? json(definitions::log2_binomial_tail(c, r.bits, r.p0)) : json(nullptr);
  }
  json out = {{"binomial", binomial}, {"random_keys", nullptr}};
  if (keys == 0 || r.details.contains("rejected") || !v.suspect_model) return out;
  definitions::Params p = v.scheme_params;
  p.set("align", "off");
  p.set("owner_seed", std::to_string(stable_hash("wrsec evidence null identity")));
  p.set("rsa_bits", "1024");
  const auto scheme = Catalog::global().schemes.create(rec.scheme, p);
  const nn::Model& key_model = v.reference_model ? *v.reference_model : *v.suspect_model;
  const nn::Model reading = v.reference_model
                                ? nn::align_to_reference(*v.suspect_model, *v.reference_model).model
                                : *v.suspect_model;
  std::vector<std::uint64_t> matches(keys);
  std::vector<std::uint8_t> accepted(keys);
  ParallelOptions dynamic;
  dynamic.schedule = Schedule::dynamic;
  parallel_for(static_cast<std::int64_t>(keys), dynamic, [&](std::int64_t i) {
    const auto k = static_cast<std::size_t>(i);
    Rng coins(0, stable_hash("wrsec evidence null"), k);
    const auto secret = scheme->keygen(key_model, coins);
    const auto result = scheme->verify(secret, reading);
    matches[k] = result.matches;
    accepted[k] = result.accepted ? 1 : 0;
  });
  std::map<std::uint64_t, std::uint64_t> histogram;
  std::uint64_t acc = 0, at_least = 0;
  for (std::size_t k = 0; k < keys; ++k) {
    ++histogram[matches[k]];
    acc += accepted[k];
    at_least += matches[k] >= r.matches ? 1 : 0;
  }
  json hist = json::array();
  for (const auto& [m, count] : histogram) hist.push_back({m, count});
  out["random_keys"] = {
      {"keys", keys},
      {"keys_made_on", v.reference_model ? "reference" : "suspect"},
      {"accepted", acc},
      {"fpr_upper", definitions::cp_upper(acc, keys, kEvidenceNullAlpha)},
      {"alpha", kEvidenceNullAlpha},
      {"matches_histogram", hist},
      {"empirical_p", test == "binomial"
                          ? json(static_cast<double>(1 + at_least) / static_cast<double>(keys + 1))
                          : json(nullptr)}};
  return out;
}

// What the verification itself determines (everything a re-run with the same files reproduces).
json verification_sections(std::uint64_t null_keys, const OwnerRecord& rec, const VerifyReport& v,
                           const std::string& test) {
  return {{"suspect_tensors",
           {{"tensors_digest", v.suspect_digest},
            {"format", v.mapping.is_null() ? "wrsec" : "foreign"},
            {"is_marked_model", v.suspect_digest == rec.marked_digest},
            {"is_original_model", v.suspect_digest == rec.model_digest}}},
          {"mapping", v.mapping},
          {"alignment", v.result.details.value("alignment", json(nullptr))},
          {"result", result_to_json(v.result, test)},
          {"per_layer", v.result.details.value("per_layer", json::array())},
          {"null", null_to_json(null_keys, rec, v, test)},
          {"warnings", v.warnings}};
}

json controls_to_json(const EvidenceOptions& o, const OwnerRecord& rec, const VerifyReport& v,
                      const std::string& test) {
  json out = json::array();
  std::set<std::string> seen;
  for (const fs::path& c : o.controls) {
    VerifyReport cv;
    try {
      cv = verify_model_file(rec, o.record.string(), c, o.rule, o.reference);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("negative control '" + c.string() + "': " + e.what());
    }
    const char* same = cv.suspect_digest == v.suspect_digest    ? "the suspect"
                       : cv.suspect_digest == rec.marked_digest ? "the marked model"
                       : cv.suspect_digest == rec.model_digest  ? "the owner's original model"
                       : seen.count(cv.suspect_digest)          ? "another control"
                                                                : nullptr;
    if (same)
      throw InvalidArgument("negative control '" + c.string() + "' is " + same +
                            "; a control must be a model independent of the owner's");
    seen.insert(cv.suspect_digest);
    json row = {{"file", c.string()},
                {"file_sha256", digest_of_file(c).sha256},
                {"tensors_digest", cv.suspect_digest},
                {"result", result_to_json(cv.result, test)}};
    if (!cv.mapping.is_null()) row["mapping_margin"] = cv.mapping.value("margin", 0.0);
    out.push_back(std::move(row));
  }
  return out;
}

// The log as wrsec writes it: one canonical JSON line per entry.
std::string canonical_log_text(const std::vector<ClaimLogEntry>& entries) {
  std::string text;
  for (const auto& e : entries) text += e.to_json().dump() + "\n";
  return text;
}

// The claim's first entry in a log (its claim, marked model and claimant), the decision under
// the entry's frozen rule, and the earlier entries on the same model by other keys.
json registry_findings(const std::vector<ClaimLogEntry>& entries, const OwnerRecord& rec,
                       const json& result) {
  json out = {{"entry", nullptr}, {"earlier_conflicts", json::array()}};
  const std::string owner = definitions::key_fingerprint(rec.claim.public_key);
  const std::string claim = rec.claim.fingerprint();
  const auto claimant = [](const json& body) {
    return body.contains("claimant") && body["claimant"].is_object()
               ? body["claimant"].value("fingerprint", json())
               : json();
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const json& b = entries[i].body;
    if (b.value("claim_fingerprint", json()) != claim ||
        b.value("marked_digest", json()) != rec.marked_digest || claimant(b) != owner)
      continue;
    const json rule = b.value("rule", json());
    bool frozen = false;
    try {
      frozen = accepted_under(rule, result);
    } catch (const InvalidArgument&) {
    }
    out["entry"] = {{"seq", i},
                    {"entry_hash", entries[i].entry_hash},
                    {"time", b.value("time", json())},
                    {"rule", rule},
                    {"key_commitment_matches",
                     b.value("key_commitment", json()) == mark_key_commitment(rec.claim)},
                    {"accepted_under_frozen_rule", frozen}};
    for (std::size_t j = 0; j < i; ++j) {
      const json& e = entries[j].body;
      const bool same_model = e.value("original_digest", json()) == rec.model_digest ||
                              e.value("marked_digest", json()) == rec.marked_digest;
      if (same_model && claimant(e) != owner)
        out["earlier_conflicts"].push_back({{"seq", j},
                                            {"time", e.value("time", json())},
                                            {"claimant", claimant(e)},
                                            {"entry_hash", entries[j].entry_hash}});
    }
    break;
  }
  return out;
}

json registry_to_json(const fs::path& file, const std::vector<ClaimLogEntry>& entries,
                      const std::optional<std::string>& head, const OwnerRecord& rec,
                      const json& result) {
  const ClaimLogCheck check = check_claim_log(entries, head);
  json log = json::array();
  for (const auto& e : entries) log.push_back(e.to_json());
  json reg = {{"file", file.string()},
              {"log_sha256", to_hex(sha256(canonical_log_text(entries)))},
              {"entries", entries.size()},
              {"head", check.head},
              {"head_pinned", head ? json(*head) : json(nullptr)},
              {"valid", check.valid},
              {"problem", check.problem},
              {"log", log}};
  reg.update(registry_findings(entries, rec, result));
  return reg;
}

json limitations_of(const json& r) {
  json out = {
      "The mark shows that the suspect's weights carry symbols derived from the claimant's signed "
      "statement. It does not show who trained the model, nor that the claimant is its author.",
      "The p-value is exact under the null that each symbol of an unmarked model matches the key "
      "independently with probability p0; the empirical null checks that assumption on this "
      "suspect, for the keys drawn, only.",
      "A rejection is not evidence that the suspect is unrelated: fine-tuning, distillation and "
      "other removal attacks can erase a mark.",
      "Times are the statements of whoever wrote them (the examiner's clock, the claimant's in the "
      "registry); no time-stamping authority countersigned them.",
      "The examiner's signature attests that the holder of the examiner's key produced this "
      "report; anyone holding the suspect, the record and the reference can re-run it."};
  if (r.at("result").at("test") == "z-score")
    out.push_back(
        "The decision is on the z-score, whose p-value is a normal (CLT) approximation, not "
        "exact.");
  if (r.at("reference").is_null())
    out.push_back(
        "The suspect was read as found, without alignment to the owner's model: a permuted or "
        "rescaled copy can be missed (a false negative, never a false positive).");
  const json& reg = r.at("registry");
  if (reg.is_null() || reg.at("entry").is_null())
    out.push_back(
        "No registry entry for this claim: the report does not establish when the claim was made "
        "or that it precedes other claims.");
  else if (!reg.at("earlier_conflicts").empty())
    out.push_back(
        "The registry holds earlier claims on the same model by other keys (listed): priority is "
        "theirs unless shown otherwise.");
  if (r.at("controls").empty()) out.push_back("No negative control was run.");
  if (!r.at("per_layer").empty())
    out.push_back(
        "Per-layer p-values are shown for inspection, at the target FPR; the decision is one test "
        "on all symbols together.");
  return out;
}

std::string text_of(const json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

bool close_to(double a, double b) {
  if (a == b) return true;
  return std::fabs(a - b) <=
         kEvidenceTolerance * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

}  // namespace

// ---- completeness -------------------------------------------------------------------------------

json evidence_completeness(const json& r) {
  try {
    json out = json::array();
    const auto item = [&](const std::string& name, const std::string& status,
                          const std::string& detail) {
      out.push_back({{"item", name}, {"status", status}, {"detail", detail}});
    };
    const json& s = r.at("suspect");
    item("suspect digests",
         is_digest_hex(s.at("file_sha256").get<std::string>()) &&
                 is_digest_hex(s.at("tensors_digest").get<std::string>())
             ? "present"
             : "failed",
         "file SHA-256 and tensor digest");
    item("owner record and signatures", r.at("owner_record").is_object() ? "present" : "missing",
         "the record in full; its signature and the claim's are checked");
    const bool foreign = s.at("format").get<std::string>() == "foreign";
    item("tensor mapping",
         !foreign                      ? "not_applicable"
         : r.at("mapping").is_object() ? "present"
                                       : "failed",
         foreign ? "tensors mapped by shape and similarity, with margin"
                 : "a wrsec model file: tensors read by name");
    const json& res = r.at("result");
    const bool rejected = res.contains("rejected");
    item("alignment log",
         r.at("reference").is_null()                                     ? "missing"
         : r.at("alignment").is_object() || r.at("alignment").is_array() ? "present"
         : rejected                                                      ? "failed"
                                                                         : "missing",
         r.at("reference").is_null() ? "no reference model: the suspect was read as found"
                                     : "hidden units aligned to the owner's reference");
    item("per-layer statistics",
         rejected                    ? "missing"
         : r.at("per_layer").empty() ? "not_applicable"
                                     : "present",
         rejected ? "the read was rejected: " + text_of(res.at("rejected"))
                  : "matches and exact p-value per carrier tensor");
    const bool zscore = res.at("test") == "z-score";
    item("exact p-value", rejected || zscore ? "missing" : "present",
         zscore ? "the decision is on a z-score (normal approximation)"
                : res.at("test").get<std::string>() + " log2 p = " + res.at("log2_p").dump());
    item("frozen threshold", res.contains("critical_matches") ? "present" : "not_applicable",
         res.contains("critical_matches")
             ? "accept iff matches >= " + res["critical_matches"].dump() + ", fixed by the rule"
             : "the rule has no single critical count (two-sided, z-score, or never reached)");
    const json& rk = r.at("null").at("random_keys");
    item("null with FPR bound", rk.is_null() ? "missing" : "present",
         rk.is_null()
             ? "no empirical null"
             : rk.at("keys").dump() + " keys, FPR upper bound " + rk.at("fpr_upper").dump());
    const json& controls = r.at("controls");
    bool control_accepted = false;
    for (const auto& c : controls) control_accepted |= c.at("result").at("accepted").get<bool>();
    item("negative control",
         controls.empty()   ? "missing"
         : control_accepted ? "failed"
                            : "present",
         controls.empty()   ? "none run"
         : control_accepted ? "a negative control was accepted: the pipeline's decision is void"
                            : std::to_string(controls.size()) + " independent model(s) rejected");
    const json& reg = r.at("registry");
    const bool have_entry = !reg.is_null() && reg.at("entry").is_object();
    const bool reg_valid = !reg.is_null() && reg.at("valid").get<bool>();
    item("registry entry",
         reg.is_null() ? "missing"
         : !reg_valid  ? "failed"
         : have_entry  ? "present"
                       : "missing",
         reg.is_null() ? "no registry given"
         : !reg_valid  ? "the log does not check: " + reg.at("problem").get<std::string>()
         : have_entry ? "entry " + reg["entry"].at("seq").dump() + " of " + reg.at("entries").dump()
                      : "the log holds no entry for this claim");
    item("registry proof",
         reg.is_null() ? "missing"
         : !reg_valid  ? "failed"
         : have_entry  ? "present"
                       : "missing",
         have_entry && reg_valid ? "the chain up to head " + reg.at("head").get<std::string>()
                                 : "no verifiable entry");
    item("timestamps", r.at("created").is_string() ? "present" : "missing",
         "report " + text_of(r.at("created")) +
             (have_entry ? ", registry entry " + text_of(reg["entry"].at("time")) : ""));
    item("chain of custody",
         r.at("examiner").at("fingerprint").is_string() && r.at("tool").is_object() ? "present"
                                                                                    : "missing",
         "examiner's key, tool build, command; signed");
    item("limitations", r.at("limitations").empty() ? "missing" : "present",
         "what the report does not prove");
    return out;
  } catch (const json::exception& e) {
    throw InvalidArgument(std::string("malformed evidence report: ") + e.what());
  }
}

// ---- Markdown -----------------------------------------------------------------------------------

std::string render_evidence_markdown(const EvidenceFile& f) {
  try {
    const json& r = f.report;
    std::ostringstream md;
    const json& res = r.at("result");
    const bool accepted = res.at("accepted").get<bool>();
    md << "# Ownership evidence report\n\n"
       << "**Decision: the mark " << (accepted ? "verifies" : "does not verify") << "** ("
       << text_of(res.value("rule", json("rule"))) << ", " << text_of(res.at("test"))
       << " log2 p = " << res.at("log2_p").dump() << ", "
       << definitions::format_log2_p(res.at("log2_p").get<double>()) << ").\n\n"
       << "- Created: " << text_of(r.at("created")) << '\n'
       << "- Examiner key: " << text_of(r.at("examiner").at("fingerprint")) << '\n'
       << "- Tool: wrsec " << text_of(r.at("tool").at("wrsec_version")) << " ("
       << text_of(r.at("tool").at("git_describe")) << "), numerics "
       << text_of(r.at("tool").at("numerics")) << '\n'
       << "- Command: `" << text_of(r.at("command")) << "`\n\n";
    const json& s = r.at("suspect");
    md << "## Suspect\n\n"
       << "- File: `" << text_of(s.at("file")) << "` (" << s.at("bytes").dump() << " bytes)\n"
       << "- File SHA-256: " << text_of(s.at("file_sha256")) << '\n'
       << "- Tensor digest: " << text_of(s.at("tensors_digest")) << '\n'
       << "- Format: " << text_of(s.at("format")) << '\n';
    if (s.at("is_marked_model").get<bool>()) md << "- It is the marked model itself.\n";
    if (s.at("is_original_model").get<bool>()) md << "- It is the owner's original model.\n";
    const json& o = r.at("owner");
    md << "\n## Claim\n\n"
       << "- Scheme: " << text_of(o.at("scheme")) << '\n'
       << "- Owner key: " << text_of(o.at("fingerprint")) << '\n'
       << "- Claim: " << text_of(o.at("claim_fingerprint")) << '\n'
       << "- Statement: `" << text_of(r.at("owner_record").at("claim").at("statement")) << "`\n"
       << "- Original model digest: " << text_of(r.at("owner_record").at("model")) << '\n'
       << "- Marked model digest: " << text_of(r.at("owner_record").at("marked")) << '\n'
       << "- Record signature: " << text_of(o.at("record_signature")) << "\n\n";
    md << "## Mapping and alignment\n\n";
    if (r.at("mapping").is_object()) {
      const json& m = r["mapping"];
      md << "Tensors mapped by shape and similarity: score " << m.value("score", json()).dump()
         << ", runner-up " << m.value("runner_up", json()).dump() << ", margin "
         << m.value("margin", json()).dump() << ".\n\n| layer | tensor | transposed | dtype | "
         << "cosine |\n|---|---|---|---|---|\n";
      for (const auto& l : m.value("layers", json::array()))
        md << "| " << text_of(l.value("layer", json())) << " | "
           << text_of(l.value("weight", json())) << " | " << l.value("transposed", json()).dump()
           << " | " << text_of(l.value("dtype", json())) << " | "
           << l.value("cosine", json()).dump() << " |\n";
      md << '\n';
    } else {
      md << "A wrsec model file: tensors read by name.\n\n";
    }
    if (r.at("reference").is_object()) {
      md << "Reference (owner's original) SHA-256 " << text_of(r["reference"].at("file_sha256"))
         << ".\n\n";
      if (r.at("alignment").is_array()) {
        md << "| layer | reference units | suspect units | merged | dropped | unmatched | mean "
              "cosine | min cosine | min margin |\n|---|---|---|---|---|---|---|---|---|\n";
        for (const auto& l : r["alignment"])
          md << "| " << text_of(l.value("layer", json())) << " | "
             << l.value("reference_units", json()).dump() << " | "
             << l.value("suspect_units", json()).dump() << " | " << l.value("merged", json()).dump()
             << " | " << l.value("dropped", json()).dump() << " | "
             << l.value("unmatched_reference", json()).dump() << " | "
             << l.value("mean_cosine", json()).dump() << " | "
             << l.value("min_cosine", json()).dump() << " | "
             << l.value("min_margin", json()).dump() << " |\n";
        md << '\n';
      }
    } else {
      md << "No reference model: the suspect was read without alignment.\n\n";
    }
    md << "## Statistics\n\n"
       << "- Rule (the verifier's): " << r.at("rule").dump() << '\n'
       << "- Matches: " << res.at("matches").dump() << " of " << res.at("bits").dump()
       << " symbols, null match probability " << res.at("p0").dump() << '\n';
    if (res.contains("critical_matches"))
      md << "- Critical count (fixed by the rule before reading): "
         << res["critical_matches"].dump() << '\n';
    if (res.contains("zscore")) md << "- z-score: " << res["zscore"].dump() << '\n';
    if (res.contains("rejected")) md << "- Rejected: " << text_of(res["rejected"]) << '\n';
    if (!r.at("per_layer").empty()) {
      md << "\n| tensor | symbols | matches | critical | log2 p | alone |\n"
            "|---|---|---|---|---|---|\n";
      for (const auto& l : r["per_layer"])
        md << "| " << text_of(l.at("tensor")) << " | " << l.at("symbols").dump() << " | "
           << l.at("matches").dump() << " | " << l.value("critical_matches", json()).dump() << " | "
           << l.at("log2_p").dump() << " | "
           << (l.at("accepted_alone").get<bool>() ? "accepts" : "does not accept") << " |\n";
    }
    const json& nl = r.at("null");
    const json& bn = nl.at("binomial");
    md << "\n## Null\n\n";
    if (bn.contains("critical_matches") && bn.at("log2_fpr").is_number())
      md << "- Binomial: P[Bin(" << bn.at("symbols").dump() << ", " << bn.at("p0").dump()
         << ") >= " << bn["critical_matches"].dump()
         << "] = " << definitions::format_log2_p(bn["log2_fpr"].get<double>()) << " (log2 "
         << bn["log2_fpr"].dump() << "): the rule's false-positive rate on an unmarked model\n";
    else if (bn.contains("critical_matches"))
      md << "- Binomial: the critical count " << bn["critical_matches"].dump() << " exceeds the "
         << bn.at("symbols").dump() << " symbols: the rule never accepts\n";
    else
      md << "- Binomial: " << bn.dump() << " (no single critical count: the rule's FPR is at most "
         << "its target by construction)\n";
    if (nl.at("random_keys").is_object()) {
      const json& k = nl["random_keys"];
      md << "- Empirical: " << k.at("keys").dump() << " keys of another identity made on the "
         << text_of(k.at("keys_made_on")) << ", read from the suspect: " << k.at("accepted").dump()
         << " accepted, FPR upper bound " << k.at("fpr_upper").dump() << " (Clopper-Pearson, "
         << "alpha " << k.at("alpha").dump() << ")";
      if (k.at("empirical_p").is_number())
        md << "; empirical p of the claim's matches " << k["empirical_p"].dump();
      md << "\n";
    } else {
      md << "- Empirical: none\n";
    }
    md << "\n## Negative controls\n\n";
    if (r.at("controls").empty()) md << "None.\n";
    for (const auto& c : r["controls"])
      md << "- `" << text_of(c.at("file")) << "` (SHA-256 " << text_of(c.at("file_sha256"))
         << "): " << (c.at("result").at("accepted").get<bool>() ? "ACCEPTED" : "rejected") << ", "
         << c["result"].at("matches").dump() << " of " << c["result"].at("bits").dump()
         << " matches, log2 p " << c["result"].at("log2_p").dump() << '\n';
    md << "\n## Registry\n\n";
    const json& reg = r.at("registry");
    if (reg.is_null()) {
      md << "None given.\n";
    } else {
      md << "- Log: `" << text_of(reg.at("file")) << "` (SHA-256 " << text_of(reg.at("log_sha256"))
         << "), " << reg.at("entries").dump() << " entries, head " << text_of(reg.at("head"))
         << (reg.at("valid").get<bool>() ? ", checks"
                                         : ", DOES NOT CHECK: " + text_of(reg.at("problem")))
         << '\n';
      if (reg.at("head_pinned").is_string())
        md << "- Head pinned by the examiner: " << text_of(reg["head_pinned"]) << '\n';
      if (reg.at("entry").is_object()) {
        const json& e = reg["entry"];
        md << "- Entry " << e.at("seq").dump() << " (" << text_of(e.at("entry_hash")) << "), time "
           << text_of(e.at("time")) << ", frozen rule " << e.at("rule").dump()
           << ", key commitment "
           << (e.at("key_commitment_matches").get<bool>() ? "matches" : "DOES NOT MATCH")
           << ", decision under the frozen rule: "
           << (e.at("accepted_under_frozen_rule").get<bool>() ? "verifies" : "does not verify")
           << '\n';
      } else {
        md << "- No entry for this claim.\n";
      }
      for (const auto& c : reg.at("earlier_conflicts"))
        md << "- Earlier claim on the same model by another key: entry " << c.at("seq").dump()
           << ", " << text_of(c.at("time")) << ", claimant " << text_of(c.at("claimant")) << '\n';
    }
    if (!r.at("warnings").empty()) {
      md << "\n## Warnings\n\n";
      for (const auto& w : r["warnings"]) md << "- " << text_of(w) << '\n';
    }
    md << "\n## What this report does not prove\n\n";
    for (const auto& l : r.at("limitations")) md << "- " << text_of(l) << '\n';
    md << "\n## Completeness\n\n| item | status | detail |\n|---|---|---|\n";
    for (const auto& c : r.at("completeness"))
      md << "| " << text_of(c.at("item")) << " | " << text_of(c.at("status")) << " | "
         << text_of(c.at("detail")) << " |\n";
    md << "\n## Signature\n\n"
       << "- Report hash (SHA-256 of the canonical JSON of `report` in evidence.json): "
       << f.report_hash << '\n'
       << "- Signature (RSA-FDH, examiner's key, over \"" << evidence_signed_text(f.report_hash)
       << "\"): " << f.signature << "\n\n"
       << "Check with `wrsec evidence check DIR --signer "
       << text_of(r.at("examiner").at("fingerprint")) << "`.\n";
    return md.str();
  } catch (const json::exception& e) {
    throw InvalidArgument(std::string("malformed evidence report: ") + e.what());
  }
}

// ---- writing ------------------------------------------------------------------------------------

EvidenceSummary write_evidence(const EvidenceOptions& options) {
  EvidenceOptions o = options;
  while (!o.out.empty() && !o.out.has_filename() && o.out.has_parent_path() &&
         o.out != o.out.root_path())
    o.out = o.out.parent_path();  // "case-1/" names the directory case-1
  if (o.out.empty() || !o.out.has_filename())
    throw InvalidArgument("--evidence needs the path of a new directory");
  if (fs::exists(fs::symlink_status(o.out)))
    throw InvalidArgument("'" + o.out.string() +
                          "' exists (an evidence directory is never written over; choose a new "
                          "path)");
  const fs::path parent = o.out.has_parent_path() ? o.out.parent_path() : fs::path(".");
  if (!fs::is_directory(parent))
    throw InvalidArgument("cannot create '" + o.out.string() + "': '" + parent.string() +
                          "' is not a directory");
  if (o.signing_key.empty())
    throw InvalidArgument(
        "an evidence report is signed: give --signing-key, the examiner's key (from 'wrsec "
        "keygen')");
  if (o.null_keys > kEvidenceMaxNullKeys)
    throw InvalidArgument("--null-keys must be at most " + std::to_string(kEvidenceMaxNullKeys));
  if (o.registry_head && !is_digest_hex(*o.registry_head))
    throw InvalidArgument("--registry-head must be an entry hash (64 lower-case hex digits)");
  if (o.registry_head && o.registry.empty())
    throw InvalidArgument("--registry-head needs --registry");
  for (const fs::path& c : o.controls) check_input_file(c);
  const definitions::OwnerKeyPair examiner = read_owner_key_file(o.signing_key);
  const OwnerRecord rec = parse_owner_record(read_text_file(o.record), o.record.string());
  std::vector<ClaimLogEntry> log;
  if (!o.registry.empty()) log = parse_claim_log(read_text_file(o.registry), o.registry.string());

  EvidenceSummary out;
  out.verify = verify_model_file(rec, o.record.string(), o.suspect, o.rule, o.reference);
  const VerifyReport& v = out.verify;
  const std::string test = test_for(rec.scheme_params, o.rule.threshold.has_value());
  if (!v.result.details.contains("rejected") &&
      (test == "z-score") !=
          (v.result.details.value("rule", std::string()).rfind("zero-bit z-score", 0) == 0))
    throw LogicError("evidence: the test named for the record is not the one the scheme ran");
  const json sections = verification_sections(o.null_keys, rec, v, test);
  const Provenance prov = Provenance::current(1);
  json r;
  r["schema"] = kEvidenceSchema;
  r["created"] = utc_timestamp();
  r["examiner"] = {{"public_key", examiner.public_key.to_json()},
                   {"fingerprint", definitions::key_fingerprint(examiner.public_key)}};
  r["tool"] = {{"wrsec_version", prov.wrsec_version},
               {"git_describe", prov.git_describe},
               {"compiler", prov.compiler},
               {"numerics", prov.numerics},
               {"host", prov.host}};
  r["command"] = o.command;
  const EvidenceFileDigest sd = digest_of_file(o.suspect);
  r["suspect"] = sections["suspect_tensors"];
  r["suspect"]["file"] = o.suspect.string();
  r["suspect"]["file_sha256"] = sd.sha256;
  r["suspect"]["bytes"] = sd.bytes;
  r["owner_record"] = rec.to_json();
  r["owner"] = {{"scheme", rec.scheme},
                {"fingerprint", v.key_fingerprint},
                {"claim_fingerprint", rec.claim.fingerprint()},
                {"record_signature", "verified"}};
  r["reference"] = o.reference.empty() ? json(nullptr)
                                       : json{{"file", o.reference.string()},
                                              {"file_sha256", digest_of_file(o.reference).sha256},
                                              {"tensors_digest", rec.model_digest}};
  for (const char* key : {"mapping", "alignment", "result", "per_layer", "null", "warnings"})
    r[key] = sections[key];
  r["rule"] = rule_to_json(o.rule);
  r["controls"] = controls_to_json(o, rec, v, test);
  r["registry"] = o.registry.empty()
                      ? json(nullptr)
                      : registry_to_json(o.registry, log, o.registry_head, rec, r["result"]);
  r["limitations"] = limitations_of(r);
  r["completeness"] = evidence_completeness(r);
  // What is signed is what a reader parses back: the canonical form of the parsed text.
  r = json::parse(r.dump());
  EvidenceFile f{r, evidence_hash(r), ""};
  f.signature = definitions::sign_statement(examiner, evidence_signed_text(f.report_hash));
  const json doc = {
      {"report", f.report}, {"report_hash", f.report_hash}, {"signature", f.signature}};
  create_directory_atomically(o.out, {{kEvidenceJson, doc.dump(2) + "\n"},
                                      {kEvidenceMarkdown, render_evidence_markdown(f)}});
  out.report = f.report;
  out.report_hash = f.report_hash;
  out.completeness = f.report["completeness"];
  return out;
}

// ---- checking -----------------------------------------------------------------------------------

EvidenceFile parse_evidence(std::string_view text, const std::string& source) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw InvalidArgument(source + ": not a JSON object");
  for (const auto& [key, value] : doc.items())
    if (key != "report" && key != "report_hash" && key != "signature")
      throw InvalidArgument(source + ": unknown field '" + key + "'");
  for (const char* key : {"report", "report_hash", "signature"})
    if (!doc.contains(key)) throw InvalidArgument(source + ": missing field '" + key + "'");
  if (!doc["report"].is_object()) throw InvalidArgument(source + ": report must be an object");
  if (!doc["report_hash"].is_string() || !is_digest_hex(doc["report_hash"].get<std::string>()))
    throw InvalidArgument(source + ": report_hash must be 64 lower-case hex digits");
  if (!doc["signature"].is_string()) throw InvalidArgument(source + ": signature must be a string");
  // Exactly the bytes wrsec writes: no duplicate keys (a parser keeps one of them), no other
  // number forms, nothing a reader could see differently from what was hashed.
  if (text != doc.dump(2) + "\n")
    throw InvalidArgument(source +
                          ": not in canonical form (wrsec writes it with sorted keys, two-space "
                          "indentation and no duplicate keys; the file was edited)");
  return {doc["report"], doc["report_hash"].get<std::string>(),
          doc["signature"].get<std::string>()};
}

namespace {

// Recomputes the statistics of one result (the suspect's or a control's) against the rule and
// the test the record fixes.
void check_result(const json& rule, const json& res, const std::string& test,
                  const std::string& what, std::vector<std::string>& problems) {
  if (res.at("test") != test) {
    problems.push_back(what + ": the test is not the record's (" + test + ")");
    return;
  }
  if (res.at("accepted").get<bool>() != accepted_under(rule, res))
    problems.push_back(what + ": the decision is not the rule's for its statistics");
  if (res.contains("rejected")) return;
  const auto k = count_of(res, "matches");
  const auto n = count_of(res, "bits");
  const double p0 = number_of(res, "p0");
  const double target = number_of(res, "target_fpr");
  if (k > n || n == 0 || n > kEvidenceMaxCount || !(p0 > 0 && p0 < 1) ||
      !(target > 0 && target < 1)) {
    problems.push_back(what + ": impossible counts or probabilities");
    return;
  }
  const double lp = number_of(res, "log2_p");
  if (test == "z-score") {
    if (!close_to(lp, definitions::log2_normal_tail(number_of(res.at("zscore"), "z"))))
      problems.push_back(what + ": log2 p is not the z-score's");
    if (res.contains("critical_matches"))
      problems.push_back(what + ": a z-score decision has no critical count");
    return;
  }
  if (!close_to(lp, evidence_log2_p(test, k, n, p0)))
    problems.push_back(what + ": log2 p is not the " + test + " tail of its counts");
  const VerifierRule r = rule_of(rule);
  std::optional<std::uint64_t> c;
  if (r.threshold)
    c = static_cast<std::uint64_t>(std::floor(*r.threshold)) + 1;
  else if (test == "binomial")
    c = definitions::binomial_critical_count(n, p0, r.target_fpr);
  if (!states_count(res, "critical_matches", c))
    problems.push_back(what + ": the critical count is not the rule's");
}

}  // namespace

EvidenceCheck check_evidence(const EvidenceCheckOptions& o) {
  const fs::path json_path = o.dir / kEvidenceJson;
  const fs::path md_path = o.dir / kEvidenceMarkdown;
  std::error_code ec;
  if (!fs::is_directory(o.dir, ec))
    throw InvalidArgument("'" + o.dir.string() + "' is not a directory");
  const EvidenceFile f = parse_evidence(read_text_file(json_path), json_path.string());
  return check_evidence_document(f, read_text_file(md_path), o);
}

EvidenceCheck check_evidence_document(const EvidenceFile& f, std::string_view md,
                                      const EvidenceCheckOptions& o) {
  EvidenceCheck c;
  auto& problems = c.problems;
  try {
    const json& r = f.report;
    if (r.value("schema", json()) != kEvidenceSchema)
      problems.push_back("schema is not " + std::string(kEvidenceSchema));
    if (evidence_hash(r) != f.report_hash)
      problems.push_back("report_hash does not match the report (the report was edited)");
    const auto pk = definitions::PublicKey::from_json(r.at("examiner").at("public_key"));
    c.signer = definitions::key_fingerprint(pk);
    if (r["examiner"].at("fingerprint") != c.signer)
      problems.push_back("examiner.fingerprint is not the examiner's public key's");
    if (!definitions::verify_statement(pk, evidence_signed_text(f.report_hash), f.signature))
      problems.push_back("the signature does not verify under the examiner's key");
    if (o.signer && *o.signer != c.signer)
      problems.push_back("signed by " + c.signer + ", not by the expected examiner " + *o.signer);
    if (render_evidence_markdown(f) != md)
      problems.push_back("evidence.md is not the rendering of evidence.json (it was edited)");

    // The record, and what the report says about it.
    const OwnerRecord rec = parse_owner_record(r.at("owner_record").dump(), "the report's record");
    if (!definitions::verify_statement(rec.claim.public_key, rec.signed_text(),
                                       rec.record_signature))
      problems.push_back("the owner record's signature does not verify");
    if (!definitions::verify_statement(rec.claim.public_key, rec.claim.statement,
                                       rec.claim.signature_hex))
      problems.push_back("the claim's signature does not verify");
    const json& owner = r.at("owner");
    if (owner.at("fingerprint") != definitions::key_fingerprint(rec.claim.public_key) ||
        owner.at("claim_fingerprint") != rec.claim.fingerprint() ||
        owner.at("scheme") != rec.scheme || owner.at("record_signature") != "verified")
      problems.push_back("the owner fields are not the record's");
    const json& s = r.at("suspect");
    const std::string suspect_digest = s.at("tensors_digest").get<std::string>();
    if (s.at("is_marked_model").get<bool>() != (suspect_digest == rec.marked_digest) ||
        s.at("is_original_model").get<bool>() != (suspect_digest == rec.model_digest))
      problems.push_back("the suspect's identity flags do not match its digest");
    if (r.at("reference").is_object() && r["reference"].at("tensors_digest") != rec.model_digest)
      problems.push_back("the reference is not the record's original model");

    // The statistics, recomputed from the counts under the rule and the record's test.
    const json& rule = r.at("rule");
    const VerifierRule vr = rule_of(rule);
    const std::string test = test_for(rec.scheme_params, vr.threshold.has_value());
    const json& res = r.at("result");
    check_result(rule, res, test, "result", problems);
    c.accepted = res.at("accepted").get<bool>();
    const bool rejected = res.contains("rejected");
    if (!rejected && res.at("test") == test) {
      const double p0 = number_of(res, "p0");
      const double target = number_of(res, "target_fpr");
      std::uint64_t symbols = 0, matches = 0;
      std::set<std::string> tensors;
      for (const auto& l : r.at("per_layer")) {
        const auto n = count_of(l, "symbols");
        const auto k = count_of(l, "matches");
        const std::string name = l.at("tensor").get<std::string>();
        symbols += n;
        matches += k;
        if (k > n || n == 0 || n > kEvidenceMaxCount || !tensors.insert(name).second) {
          problems.push_back("per-layer statistics of " + name + " are impossible");
          continue;
        }
        const std::string layer_test = test == "z-score" ? "binomial" : test;
        const double lp = evidence_log2_p(layer_test, k, n, p0);
        const auto crit = layer_test == "binomial"
                              ? definitions::binomial_critical_count(n, p0, target)
                              : std::nullopt;
        if (!close_to(number_of(l, "log2_p"), lp) ||
            l.at("accepted_alone").get<bool>() != (lp <= std::log2(target)) ||
            !states_count(l, "critical_matches", crit))
          problems.push_back("per-layer statistics of " + name + " do not recompute");
      }
      if (!r["per_layer"].empty() &&
          (symbols != count_of(res, "bits") || matches != count_of(res, "matches")))
        problems.push_back("the per-layer counts do not add up to the result's");
    }

    // The null: tied to the result, and recomputed from its counts.
    const json& nl = r.at("null");
    const json& b = nl.at("binomial");
    if (count_of(b, "symbols") != count_of(res, "bits") ||
        number_of(b, "p0") != number_of(res, "p0") ||
        b.contains("critical_matches") != res.contains("critical_matches") ||
        (b.contains("critical_matches") &&
         count_of(b, "critical_matches") != count_of(res, "critical_matches"))) {
      problems.push_back("the binomial null is not the result's");
    } else if (b.contains("critical_matches")) {
      const auto cm = count_of(b, "critical_matches");
      const auto n = count_of(b, "symbols");
      const bool ok =
          cm > n ? b.at("log2_fpr").is_null()
                 : n <= kEvidenceMaxCount && b.at("log2_fpr").is_number() &&
                       close_to(number_of(b, "log2_fpr"),
                                definitions::log2_binomial_tail(cm, n, number_of(b, "p0")));
      if (!ok) problems.push_back("the binomial FPR of the rule does not recompute");
    }
    if (nl.at("random_keys").is_object()) {
      const json& k = nl["random_keys"];
      const auto n = count_of(k, "keys");
      const auto acc = count_of(k, "accepted");
      const auto bits = count_of(res, "bits");
      std::uint64_t total = 0, at_least = 0, above_critical = 0;
      bool bins_ok = true;
      std::optional<std::uint64_t> last;
      for (const auto& h : k.at("matches_histogram")) {
        if (!h.is_array() || h.size() != 2 || !h[0].is_number_unsigned() ||
            !h[1].is_number_unsigned()) {
          bins_ok = false;
          break;
        }
        const auto m = h[0].get<std::uint64_t>(), count = h[1].get<std::uint64_t>();
        if ((last && m <= *last) || m > bits || count == 0 || count > n) bins_ok = false;
        last = m;
        total += count;
        if (m >= count_of(res, "matches")) at_least += count;
        if (res.contains("critical_matches") && m >= count_of(res, "critical_matches"))
          above_critical += count;
      }
      const bool made_on_ok =
          k.at("keys_made_on") == (r.at("reference").is_object() ? "reference" : "suspect");
      const bool acc_ok = !res.contains("critical_matches") || acc == above_critical;
      const json& ep = k.at("empirical_p");
      const bool ep_ok =
          test == "binomial"
              ? ep.is_number() && close_to(ep.get<double>(), static_cast<double>(1 + at_least) /
                                                                 static_cast<double>(n + 1))
              : ep.is_null();
      if (!bins_ok || n == 0 || n > kEvidenceMaxNullKeys || total != n || acc > n || !made_on_ok ||
          !acc_ok || !ep_ok || number_of(k, "alpha") != kEvidenceNullAlpha ||
          !close_to(number_of(k, "fpr_upper"), definitions::cp_upper(acc, n, kEvidenceNullAlpha)))
        problems.push_back("the empirical null does not recompute");
    }

    // Controls: other models, each through the same rule and test.
    std::set<std::string> control_digests;
    for (const auto& ctl : r.at("controls")) {
      const std::string file = text_of(ctl.at("file"));
      const std::string d = ctl.at("tensors_digest").get<std::string>();
      if (!is_digest_hex(d) || !is_digest_hex(ctl.at("file_sha256").get<std::string>()) ||
          d == suspect_digest || d == rec.marked_digest || d == rec.model_digest ||
          !control_digests.insert(d).second)
        problems.push_back("control " + file +
                           " is not another model (the suspect, the owner's, or repeated)");
      check_result(rule, ctl.at("result"), test, "control " + file, problems);
    }

    // The registry: the chain re-checked, the claim's entry and the earlier claims recomputed.
    const json& reg = r.at("registry");
    if (!reg.is_null()) {
      std::string text;
      for (const auto& e : reg.at("log")) text += e.dump() + "\n";
      const auto entries = parse_claim_log(text, "the report's registry log");
      std::optional<std::string> head;
      if (reg.at("head_pinned").is_string()) head = reg["head_pinned"].get<std::string>();
      const ClaimLogCheck lc = check_claim_log(entries, head);
      if (lc.valid != reg.at("valid").get<bool>() || lc.head != reg.at("head") ||
          lc.problem != reg.at("problem") || lc.entries != count_of(reg, "entries") ||
          to_hex(sha256(canonical_log_text(entries))) != reg.at("log_sha256"))
        problems.push_back("the registry log does not check as the report says");
      const json found = registry_findings(entries, rec, res);
      if (found["entry"] != reg.at("entry") ||
          found["earlier_conflicts"] != reg.at("earlier_conflicts"))
        problems.push_back(
            "the registry entry or the earlier claims are not those of the log (recomputed)");
    }
    if (limitations_of(r) != r.at("limitations"))
      problems.push_back("the limitations are not those of the report's contents");
    c.completeness = evidence_completeness(r);
    if (c.completeness != r.at("completeness"))
      problems.push_back("the completeness list is not the report's contents");

    // The files: the suspect's digest, then the whole verification again.
    if (!o.suspect.empty()) {
      if (digest_of_file(o.suspect).sha256 != s.at("file_sha256")) {
        problems.push_back("'" + o.suspect.string() + "' is not the suspect of this report");
      } else if (r.at("reference").is_object() && o.reference.empty()) {
        problems.push_back(
            "the report aligned to a reference: give it (--reference) to re-run the "
            "verification");
      } else if (!o.reference.empty() && !r.at("reference").is_object()) {
        problems.push_back("the report used no reference; re-run without one");
      } else if (!o.reference.empty() &&
                 digest_of_file(o.reference).sha256 != r["reference"].at("file_sha256")) {
        problems.push_back("'" + o.reference.string() + "' is not the reference of this report");
      } else {
        const VerifyReport again =
            verify_model_file(rec, "the report's record", o.suspect, vr, o.reference);
        const std::uint64_t keys =
            nl.at("random_keys").is_object() ? count_of(nl["random_keys"], "keys") : 0;
        const json sections = json::parse(verification_sections(keys, rec, again, test).dump());
        std::vector<std::string> differ;
        for (const auto& [key, value] : sections["suspect_tensors"].items())
          if (s.at(key) != value) differ.push_back("suspect." + key);
        for (const char* key : {"mapping", "alignment", "result", "per_layer", "null", "warnings"})
          if (sections[key] != r.at(key)) differ.push_back(key);
        if (differ.empty()) {
          c.rerun = true;
        } else {
          std::string list;
          for (const auto& d : differ) list += (list.empty() ? "" : ", ") + d;
          problems.push_back("re-running the verification gives other " + list);
        }
      }
    }
  } catch (const std::exception& e) {
    problems.push_back(std::string("malformed report: ") + e.what());
  }
  c.valid = problems.empty();
  return c;
}

}  // namespace wrsec::experiments
