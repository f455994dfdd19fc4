#include "experiments/mark_files.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/output_path.h"
#include "core/private_file.h"
#include "definitions/artifact.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"
#include "experiments/spec.h"
#include "experiments/wild_suspect.h"
#include "nn/safetensors.h"
#include "schemes/watermark.h"

namespace wrsec::experiments {

namespace {

namespace fs = std::filesystem;

// Scheme parameters that decide rather than describe the mark: the verifier's, never the record's.
const std::set<std::string> kRuleParams = {"target_fpr", "threshold"};
// Parameters of the owner's identity, which a real key replaces.
const std::set<std::string> kIdentityParams = {"owner_seed", "rsa_bits"};

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

nn::Model read_model(const fs::path& path) {
  check_input_file(path);
  return nn::Model::from_safetensors(path);
}

// Exact text of a double that parses back to the same value.
std::string exact_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double parse_probability(const std::string& key, const std::string& value) {
  definitions::Params p(std::map<std::string, std::string>{{key, value}});
  const double v = p.get_double(key, 0.0);
  if (!(v > 0 && v < 1))
    throw InvalidArgument("record field scheme_params." + key + " must lie in (0, 1), got '" +
                          value + "'");
  return v;
}

// P[Bin(T, p0) > k]: the false-positive rate of the rule "matches > k".
double threshold_fpr(double k, std::uint64_t bits, double p0) {
  if (k < 0) return 1.0;
  const double first = std::floor(k) + 1;
  if (first > static_cast<double>(bits)) return 0.0;
  return std::exp2(definitions::log2_binomial_tail(static_cast<std::uint64_t>(first), bits, p0));
}

}  // namespace

bool is_digest_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// ---- key files --------------------------------------------------------------------------------

void write_owner_key_file(const fs::path& path, const definitions::OwnerKeyPair& key) {
  nlohmann::json doc = key.to_json();
  doc["schema"] = kOwnerKeySchema;
  create_private_file(path, doc.dump(2) + "\n");
}

definitions::OwnerKeyPair read_owner_key_file(const fs::path& path) {
  nlohmann::json doc = nlohmann::json::parse(read_private_file(path), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("schema") ||
      doc["schema"] != kOwnerKeySchema)
    throw InvalidArgument(quoted(path) + " is not a " + std::string(kOwnerKeySchema) +
                          " key file (make one with 'wrsec keygen')");
  doc.erase("schema");
  try {
    return definitions::OwnerKeyPair::from_json(doc);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(path.string() + ": " + e.what());
  }
}

// ---- records ----------------------------------------------------------------------------------

std::string OwnerRecord::signed_text() const {
  try {
    return "wrsec-record v2; scheme=" + scheme +
           "; params=" + nlohmann::json(scheme_params).dump() + "; claim=" + claim.fingerprint() +
           "; model=" + model_digest + "; marked=" + marked_digest;
  } catch (const nlohmann::json::type_error&) {
    throw InvalidArgument("owner record: a scheme parameter is not valid UTF-8");
  }
}

nlohmann::json OwnerRecord::to_json() const {
  return {{"schema", kOwnerRecordSchema},
          {"scheme", scheme},
          {"scheme_params", scheme_params},
          {"claim", claim.to_json()},
          {"model", model_digest},
          {"marked", marked_digest},
          {"record_signature", record_signature}};
}

OwnerRecord parse_owner_record(std::string_view text, const std::string& source) {
  const auto fail = [&](const std::string& what) { return InvalidArgument(source + ": " + what); };
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded())
    throw fail("not JSON (expected a " + std::string(kOwnerRecordSchema) + " owner record)");
  if (!doc.is_object() || !doc.contains("schema") || !doc["schema"].is_string())
    throw fail("not a " + std::string(kOwnerRecordSchema) + " owner record (no 'schema')");
  const std::string schema = doc["schema"].get<std::string>();
  if (schema == "wrsec.owner_secret.v1")
    throw fail(
        "a v1 owner record, which is not evidence (its key was derived from a public seed and it "
        "carried its own decision rule); mark the model again with this wrsec");
  if (schema != kOwnerRecordSchema)
    throw fail("schema '" + schema + "' is not " + std::string(kOwnerRecordSchema));
  static const std::set<std::string> kFields = {"schema", "scheme", "scheme_params",   "claim",
                                                "model",  "marked", "record_signature"};
  for (const auto& [key, value] : doc.items())
    if (!kFields.count(key)) throw fail("unknown field '" + key + "'");
  for (const auto& key : kFields)
    if (!doc.contains(key)) throw fail("missing field '" + key + "'");

  OwnerRecord r;
  if (!doc["scheme"].is_string() || doc["scheme"].get_ref<const std::string&>().empty())
    throw fail("field 'scheme' must be a scheme id");
  r.scheme = doc["scheme"].get<std::string>();
  if (!doc["scheme_params"].is_object()) throw fail("field 'scheme_params' must be an object");
  for (const auto& [key, value] : doc["scheme_params"].items()) {
    if (!value.is_string()) throw fail("scheme_params." + key + " must be a string");
    r.scheme_params[key] = value.get<std::string>();
  }
  try {
    r.claim = definitions::OwnerClaim::from_json(doc["claim"]);
  } catch (const InvalidArgument& e) {
    throw fail(std::string("field 'claim': ") + e.what());
  }
  for (const char* key : {"model", "marked"}) {
    if (!doc[key].is_string() || !is_digest_hex(doc[key].get<std::string>()))
      throw fail(std::string("field '") + key + "' must be a SHA-256 digest (64 hex digits)");
  }
  r.model_digest = doc["model"].get<std::string>();
  r.marked_digest = doc["marked"].get<std::string>();
  if (!doc["record_signature"].is_string())
    throw fail("field 'record_signature' must be a hex string");
  r.record_signature = doc["record_signature"].get<std::string>();
  return r;
}

// ---- mark -------------------------------------------------------------------------------------

MarkSummary mark_model_file(const MarkOptions& o) {
  if (o.params.contains("owner_seed"))
    throw InvalidArgument(
        "--param owner_seed derives a key anyone can re-derive (games and tests only); "
        "wrsec mark signs with --key or a new key from the OS CSPRNG");
  if (o.params.contains("binding") && o.params.values().at("binding") != "signature")
    throw InvalidArgument(
        "--param binding must be 'signature' for wrsec mark: an unbound claim (binding=none) is "
        "the naive rule of the ambiguity experiments, not evidence");
  if (!o.key.empty() && o.params.contains("rsa_bits"))
    throw InvalidArgument("--param rsa_bits sizes a new key; it cannot be used with --key");
  for (const auto& [option, path] : {std::pair<const char*, const fs::path&>{"--out", o.out},
                                     {"--record", o.record},
                                     {"--key", o.key.empty() ? o.key_out : o.key}})
    if (path == kStandardOutputPath)
      throw InvalidArgument(std::string(option) +
                            " cannot be '-': wrsec mark prints its summary on standard output");
  if (o.key.empty())
    check_distinct_files({{"--in", o.in}},
                         {{"--out", o.out}, {"--record", o.record}, {"--key", o.key_out}});
  else
    check_distinct_files({{"--in", o.in}, {"--key", o.key}},
                         {{"--out", o.out}, {"--record", o.record}});
  if (o.key.empty() && fs::exists(fs::symlink_status(o.key_out)))
    throw InvalidArgument(quoted(o.key_out) +
                          " already exists; pass --key to sign with it, or choose another "
                          "--record (a private key is never overwritten)");

  const auto scheme = Catalog::global().schemes.create(o.scheme, o.params);
  if (!scheme->capabilities().has(definitions::Capability::verify))
    throw InvalidArgument("scheme '" + o.scheme + "' is not an ownership scheme (no verify)");
  const nn::Model model = read_model(o.in);

  MarkSummary s;
  s.scheme = o.scheme;
  s.new_key = o.key.empty();
  s.key_file = s.new_key ? o.key_out : o.key;
  const definitions::OwnerKeyPair key =
      s.new_key
          ? definitions::generate_owner_key_os(static_cast<int>(o.params.get_int("rsa_bits", 2048)))
          : read_owner_key_file(o.key);
  s.key_fingerprint = definitions::key_fingerprint(key.public_key);
  std::unique_ptr<definitions::WeightReleaseScheme> signer;
  try {
    signer = scheme->with_owner_key(key);
  } catch (const LogicError&) {
    throw InvalidArgument("scheme '" + o.scheme +
                          "' cannot sign with an owner's key (it does not implement "
                          "with_owner_key), so wrsec mark cannot use it");
  }

  Rng coins(o.seed, stable_hash("wrsec.mark"), 0);
  const definitions::Release release = signer->release(model, coins);
  const nn::Model marked = definitions::artifact_model(release.artifact);
  const nlohmann::json& meta = release.secret.metadata;

  OwnerRecord record;
  record.scheme = o.scheme;
  for (const auto& [k, v] : o.params.values())
    if (!kRuleParams.count(k) && !kIdentityParams.count(k)) record.scheme_params[k] = v;
  record.claim = definitions::OwnerClaim::from_json(meta.at("claim"));
  record.model_digest = meta.at("record").at("model").get<std::string>();
  record.marked_digest = meta.at("record").at("marked").get<std::string>();
  record.record_signature = definitions::sign_statement(key, record.signed_text());

  s.claim_fingerprint = record.claim.fingerprint();
  s.original_digest = record.model_digest;
  s.marked_digest = record.marked_digest;
  s.self_check = signer->verify(release.secret, marked);

  AtomicFile record_file(o.record);
  record_file.write(record.to_json().dump(2) + "\n");
  if (s.new_key) write_owner_key_file(o.key_out, key);
  try {
    marked.to_safetensors(o.out, {{"wrsec.mark.scheme", o.scheme},
                                  {"wrsec.mark.claim_fingerprint", s.claim_fingerprint}});
    record_file.commit();
  } catch (...) {
    // Only a file this call replaced is removed: an output that is a device or FIFO stays.
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(o.out, ec))) fs::remove(o.out, ec);
    if (s.new_key) fs::remove(o.key_out, ec);
    throw;
  }
  return s;
}

// ---- verify -----------------------------------------------------------------------------------

namespace {
void check_verifier_rule(const VerifierRule& rule) {
  if (!(rule.target_fpr > 0 && rule.target_fpr < 1))
    throw InvalidArgument("--target-fpr must lie in (0, 1)");
  if (rule.threshold && !(*rule.threshold >= 0))
    throw InvalidArgument("--threshold must be a number >= 0");
}
}  // namespace

VerifyReport verify_model_file(const fs::path& record_path, const fs::path& suspect,
                               const VerifierRule& rule, const fs::path& reference) {
  check_verifier_rule(rule);
  return verify_model_file(parse_owner_record(read_text_file(record_path), record_path.string()),
                           record_path.string(), suspect, rule, reference);
}

VerifyReport verify_model_file(const OwnerRecord& rec, const std::string& record_source,
                               const fs::path& suspect, const VerifierRule& rule,
                               const fs::path& reference) {
  check_verifier_rule(rule);
  const auto fail = [&](const std::string& what) {
    return InvalidArgument(record_source + ": " + what);
  };
  if (!definitions::verify_statement(rec.claim.public_key, rec.signed_text(), rec.record_signature))
    throw fail(
        "record_signature does not verify under the claim's public key (the record was changed "
        "after it was signed)");

  if (rec.claim.key_seed_hex || rec.claim.message)
    throw fail(
        "the claim carries explicit key material (key_seed, message), which only unbound "
        "claims use; a signature-bound claim derives it from the signature");
  VerifyReport report;
  report.scheme = rec.scheme;
  report.model_digest = rec.model_digest;
  report.marked_digest = rec.marked_digest;
  report.key_fingerprint = definitions::key_fingerprint(rec.claim.public_key);
  definitions::Params params;
  std::optional<double> record_fpr;
  std::optional<std::pair<std::string, double>> record_threshold;
  for (const auto& [k, v] : rec.scheme_params) {
    if (kIdentityParams.count(k))
      throw fail("scheme_params." + k +
                 " is not part of a record (the owner's key is the claim's)");
    if (k == "binding" && v != "signature")
      throw fail("scheme_params.binding '" + v +
                 "': only signature-bound claims are evidence (binding=none is the naive rule)");
    if (k == "align") {
      report.warnings.push_back("the record's align=" + v +
                                " is ignored; the verifier aligns when given the owner's model");
    } else if (k == "target_fpr") {
      record_fpr = parse_probability(k, v);
    } else if (k == "threshold") {
      definitions::Params p(std::map<std::string, std::string>{{k, v}});
      const double t = p.get_double(k, 0.0);
      if (!(t >= 0)) throw fail("scheme_params.threshold must be >= 0, got '" + v + "'");
      record_threshold = {v, t};
    } else {
      params.set(k, v);
    }
  }
  params.set("align", reference.empty() ? "off" : "on");
  params.set("target_fpr", exact_text(rule.target_fpr));
  if (rule.threshold) params.set("threshold", exact_text(*rule.threshold));
  std::unique_ptr<definitions::WeightReleaseScheme> scheme;
  try {
    scheme = Catalog::global().schemes.create(rec.scheme, params);
  } catch (const InvalidArgument& e) {
    throw fail(e.what());
  }
  if (!scheme->capabilities().has(definitions::Capability::verify))
    throw fail("scheme '" + rec.scheme + "' has no verify");
  definitions::OwnerSecret secret;
  secret.metadata = {{"claim", rec.claim.to_json()}};
  std::optional<nn::Model> original;
  if (!reference.empty()) {
    original = read_model(reference);
    const std::string digest = definitions::tensors_digest_hex(original->tensors);
    if (digest != rec.model_digest)
      throw InvalidArgument(reference.string() + " is not the record's original model (digest " +
                            digest + ", the record's " + rec.model_digest + ")");
    schemes::WatermarkScheme::keep_reference(secret, *original);
  }
  // A wrsec model file is read as it is; a file from elsewhere (no wrsec metadata) is mapped to
  // the owner's model by shape and similarity (experiments/wild_suspect.h).
  nn::Model suspect_model;
  {
    check_input_file(suspect);
    const nn::SafetensorsView view(suspect);
    if (view.metadata().count("wrsec.architecture")) {
      suspect_model = read_model(suspect);
    } else if (original) {
      const SuspectMapping mapping = map_suspect(view, *original);
      report.mapping = mapping.to_json();
      suspect_model = mapping.model;
    } else {
      throw InvalidArgument(suspect.string() +
                            " has no wrsec metadata (a model file from elsewhere): give "
                            "--reference, the owner's original model, to map its tensors");
    }
  }
  report.suspect_digest = definitions::tensors_digest_hex(suspect_model.tensors);
  report.result = scheme->verify(secret, suspect_model);
  report.suspect_model = std::make_shared<const nn::Model>(std::move(suspect_model));
  if (original) report.reference_model = std::make_shared<const nn::Model>(std::move(*original));
  report.scheme_params = params;

  // The record may not loosen the verifier's rule; a rule at least as strict is ignored.
  const auto& r = report.result;
  const double verifier_fpr =
      rule.threshold ? threshold_fpr(*rule.threshold, r.bits, r.p0) : rule.target_fpr;
  const std::string verifier_rule = rule.threshold ? "--threshold " + exact_text(*rule.threshold) +
                                                         " (FPR " + exact_text(verifier_fpr) + ")"
                                                   : "--target-fpr " + exact_text(rule.target_fpr);
  if (record_fpr) {
    if (*record_fpr > verifier_fpr)
      throw fail("scheme_params.target_fpr " + exact_text(*record_fpr) +
                 " is looser than the verifier's rule " + verifier_rule);
    report.warnings.push_back("the record's target_fpr " + exact_text(*record_fpr) +
                              " is ignored; the verifier decides at " + verifier_rule);
  }
  if (record_threshold) {
    const double fpr = threshold_fpr(record_threshold->second, r.bits, r.p0);
    if (fpr > verifier_fpr)
      throw fail("scheme_params.threshold " + record_threshold->first + " (FPR " + exact_text(fpr) +
                 ") is looser than the verifier's rule " + verifier_rule);
    report.warnings.push_back("the record's threshold " + record_threshold->first +
                              " is ignored; the verifier decides at " + verifier_rule);
  }
  return report;
}

}  // namespace wrsec::experiments
