// The owner's commands: wrsec keygen, mark, verify and evidence.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/errors.h"
#include "definitions/statistics.h"
#include "experiments/evidence.h"
#include "experiments/mark_files.h"

namespace wrsec::app {
namespace {

namespace fs = std::filesystem;

void print_verify(const definitions::VerifyResult& v) {
  std::cout << "verified  " << (v.accepted ? "yes" : "no") << '\n'
            << "matches   " << v.matches << " / " << v.bits << " (null match probability " << v.p0
            << ")\n"
            << "p-value   " << definitions::format_log2_p(v.log2_p) << " (log2 p " << v.log2_p
            << "), target FPR " << v.target_fpr << '\n';
  if (v.details.contains("rule"))
    std::cout << "rule      " << v.details["rule"].get<std::string>() << '\n';
  if (v.details.contains("rejected"))
    std::cout << "rejected  " << v.details["rejected"].get<std::string>() << '\n';
  if (v.details.contains("alignment"))
    for (const auto& l : v.details["alignment"]) {
      std::cout << "aligned   " << l.value("layer", std::string()) << ": "
                << l.value("reference_units", 0) << " units from " << l.value("suspect_units", 0)
                << " (merged " << l.value("merged", 0) << ", dropped " << l.value("dropped", 0)
                << ", unmatched " << l.value("unmatched_reference", 0) << "), cosine mean "
                << l.value("mean_cosine", 0.0) << " min " << l.value("min_cosine", 0.0)
                << ", margin min " << l.value("min_margin", 0.0) << '\n';
    }
}

void print_evidence(const experiments::EvidenceSummary& e, const std::string& dir) {
  std::size_t present = 0;
  for (const auto& item : e.completeness) {
    const std::string status = item.value("status", std::string());
    present += status == "present" || status == "not_applicable" ? 1 : 0;
    if (status != "present" && status != "not_applicable")
      std::cout << "evidence  " << status << ": " << item.value("item", std::string()) << " ("
                << item.value("detail", std::string()) << ")\n";
  }
  std::cout << "evidence  " << dir << " (report " << e.report_hash.substr(0, 16) << "…, " << present
            << " of " << e.completeness.size() << " items complete)\n";
}

// --secret was the record's name when the record held the owner's seed-derived key.
void refuse_old_secret_option(const po::variables_map& vm) {
  if (vm.count("secret"))
    throw InvalidArgument(
        "--secret is now --record (the record holds only public material; the private key is "
        "the --key file)");
}

}  // namespace

int cmd_keygen(const Args& args, const Context& /*context*/) {
  po::options_description opts(
      "wrsec keygen: make an owner's RSA signing key with coins from the operating system's\n"
      "CSPRNG and write it to a new file of mode 0600 (an existing file is never replaced).\n"
      "Keep it private: whoever holds it can sign claims as the owner");
  opts.add_options()("help,h", "show this help")("out", po::value<std::string>(),
                                                 "key file to create")(
      "bits", po::value<std::string>(),
      "modulus size in bits, even, in [512, 8192] (default 2048)");
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts << "\nexample:\n  wrsec keygen --out owner.key\n";
    return kExitOk;
  }
  if (!vm.count("out")) throw InvalidArgument("--out is required");
  const std::uint64_t bits = vm.count("bits") ? parse_count("--bits", text(vm, "bits")) : 2048;
  if (bits < 512 || bits > 8192 || bits % 2 != 0)
    throw InvalidArgument("--bits must be even and in [512, 8192], got " + std::to_string(bits));
  const fs::path out = text(vm, "out");
  if (fs::exists(fs::symlink_status(out)))
    throw InvalidArgument("'" + out.string() +
                          "' already exists; a private key is never "
                          "overwritten");
  const auto key = definitions::generate_owner_key_os(static_cast<int>(bits));
  experiments::write_owner_key_file(out, key);
  std::cout << "key       " << out.string() << " (" << key.public_key.bits()
            << "-bit RSA, mode 0600; keep it private)\n"
            << "public    " << definitions::key_fingerprint(key.public_key)
            << " (SHA-256 of the public key)\n";
  return kExitOk;
}

int cmd_mark(const Args& args, const Context& /*context*/) {
  po::options_description opts(
      "wrsec mark: embed an ownership mark (a signature-bound watermark) into a wrsec model file\n"
      "and write the owner's record: the claim (statement, public key, RSA-FDH signature), the\n"
      "scheme's parameters and which model was marked into which, signed as a whole with the\n"
      "owner's key. The record holds only public material; hand it to a verifier. The private\n"
      "key is the --key file (without --key: a new key from the OS CSPRNG, written beside the\n"
      "record as RECORD.key, mode 0600). Scheme parameters: --param KEY=VALUE");
  opts.add_options()("help,h", "show this help")("scheme", po::value<std::string>(),
                                                 "ownership scheme id (see 'wrsec list')")(
      "in", po::value<std::string>(), "model file (wrsec safetensors, e.g. from 'wrsec train')")(
      "out", po::value<std::string>(), "marked model file to write")(
      "record", po::value<std::string>(), "owner's record to write (JSON, public)")(
      "key", po::value<std::string>(), "owner's key file to sign with (from 'wrsec keygen')")(
      "seed", po::value<std::string>(),
      "seed of the statement's nonce and the embedding (default 1)")(
      "param", po::value<std::vector<std::string>>()->composing(),
      "scheme parameter, e.g. layers=0 (repeatable)")("secret", po::value<std::string>(),
                                                      "(old name of --record)");
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexample:\n  wrsec keygen --out owner.key\n  wrsec mark --scheme qim --in "
                 "models/m.safetensors --out marked.safetensors --record owner.json --key "
                 "owner.key\n";
    return kExitOk;
  }
  refuse_old_secret_option(vm);
  for (const char* key : {"scheme", "in", "out", "record"})
    if (!vm.count(key)) throw InvalidArgument(std::string("--") + key + " is required");
  experiments::MarkOptions o;
  o.scheme = text(vm, "scheme");
  if (vm.count("param")) o.params = parse_params(vm["param"].as<std::vector<std::string>>());
  o.in = text(vm, "in");
  o.out = text(vm, "out");
  o.record = text(vm, "record");
  if (vm.count("key")) {
    o.key = text(vm, "key");
  } else {
    o.key_out = o.record;
    o.key_out.replace_extension(".key");
  }
  o.seed = vm.count("seed") ? parse_count("--seed", text(vm, "seed")) : 1;
  const auto s = experiments::mark_model_file(o);
  std::cout << "marked    " << o.out.string() << " (" << s.scheme << ")\n"
            << "record    " << o.record.string() << " (claim " << s.claim_fingerprint << ")\n"
            << "key       " << s.key_file.string()
            << (s.new_key ? " (new, from the OS CSPRNG, mode 0600; keep it private)" : "")
            << "\npublic    " << s.key_fingerprint << '\n'
            << "models    original " << s.original_digest << "\n          marked   "
            << s.marked_digest << '\n';
  print_verify(s.self_check);
  return kExitOk;
}

int cmd_verify(const Args& args, const Context& /*context*/) {
  po::options_description opts(
      "wrsec verify: check a suspect model file against an owner's record written by 'wrsec\n"
      "mark'. The verifier's rule decides (--target-fpr, or --threshold); a record whose\n"
      "signature does not verify, or that asks for a looser rule, is refused. Exit code 0 if\n"
      "the mark verifies, 1 if it does not, 2 for bad input");
  opts.add_options()("help,h", "show this help")("record", po::value<std::string>(),
                                                 "owner's record (JSON)")(
      "model", po::value<std::string>(), "suspect model file (wrsec safetensors)")(
      "target-fpr", po::value<std::string>(),
      "accept iff the binomial p-value is at most this (default 1e-3)")(
      "threshold", po::value<std::string>(),
      "accept iff more than this many symbols match (a threshold the verifier calibrated)")(
      "reference", po::value<std::string>(),
      "the owner's original (unmarked) model file: align the suspect's hidden units to it before "
      "reading (undoes permutation, scaling and dummy neurons; its digest must be the record's)")(
      "secret", po::value<std::string>(), "(old name of --record)");
  po::options_description evidence(
      "evidence report (a signed, self-contained record of this verification; check it with\n"
      "'wrsec evidence check DIR')");
  evidence.add_options()("evidence", po::value<std::string>(),
                         "write the report into this new directory (evidence.json, evidence.md)")(
      "signing-key", po::value<std::string>(),
      "the examiner's key file that signs the report (from 'wrsec keygen')")(
      "control", po::value<std::vector<std::string>>()->composing(),
      "a negative control: a model independent of the owner's, run through the same pipeline "
      "(repeatable)")("registry", po::value<std::string>(),
                      "the claim log (from 'wrsec registry add') holding the owner's entry")(
      "registry-head", po::value<std::string>(),
      "an entry hash of the log you already hold (the log must contain it)")(
      "null-keys", po::value<std::string>(),
      "keys of another identity read from the suspect, the empirical null (default 1000; 0: "
      "none)");
  opts.add(evidence);
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexample:\n  wrsec verify --record owner.json --model suspect.safetensors "
                 "--reference original.safetensors \\\n      --evidence case-1 --signing-key "
                 "examiner.key --control other.safetensors --registry claims.log\n";
    return kExitOk;
  }
  refuse_old_secret_option(vm);
  if (!vm.count("record") || !vm.count("model"))
    throw InvalidArgument("--record and --model are required");
  experiments::VerifierRule rule;
  if (vm.count("target-fpr")) rule.target_fpr = parse_real("--target-fpr", text(vm, "target-fpr"));
  if (vm.count("threshold")) rule.threshold = parse_real("--threshold", text(vm, "threshold"));
  const std::string reference = vm.count("reference") ? text(vm, "reference") : std::string();
  if (!vm.count("evidence")) {
    for (const char* o : {"signing-key", "control", "registry", "registry-head", "null-keys"})
      if (vm.count(o)) throw InvalidArgument(std::string("--") + o + " needs --evidence DIR");
  }
  std::optional<experiments::EvidenceSummary> evidence_summary;
  if (vm.count("evidence")) {
    experiments::EvidenceOptions eo;
    eo.record = text(vm, "record");
    eo.suspect = text(vm, "model");
    eo.reference = reference;
    eo.rule = rule;
    if (vm.count("control"))
      for (const auto& c : vm["control"].as<std::vector<std::string>>()) eo.controls.push_back(c);
    if (vm.count("registry")) eo.registry = text(vm, "registry");
    if (vm.count("registry-head")) eo.registry_head = text(vm, "registry-head");
    if (vm.count("signing-key")) eo.signing_key = text(vm, "signing-key");
    if (vm.count("null-keys")) eo.null_keys = parse_count("--null-keys", text(vm, "null-keys"));
    eo.out = text(vm, "evidence");
    eo.command = "wrsec verify";
    for (const auto& a : args) eo.command += " " + a;
    evidence_summary = experiments::write_evidence(eo);
  }
  const auto report =
      evidence_summary
          ? evidence_summary->verify
          : experiments::verify_model_file(text(vm, "record"), text(vm, "model"), rule, reference);
  for (const auto& w : report.warnings) std::cerr << "wrsec: warning: " << w << '\n';
  std::cout << "owner     " << report.key_fingerprint << " (" << report.scheme << ")\n"
            << "models    original " << report.model_digest << "\n          marked   "
            << report.marked_digest << "\n          suspect  " << report.suspect_digest
            << (report.suspect_digest == report.marked_digest  ? " (the marked model itself)"
                : report.suspect_digest == report.model_digest ? " (the original, unmarked)"
                                                               : "")
            << '\n';
  if (!report.mapping.is_null()) {
    for (const auto& l : report.mapping["layers"])
      std::cout << "mapped    " << l.value("layer", std::string()) << " <- "
                << l.value("weight", std::string())
                << (l.value("transposed", false) ? " (transposed)" : "") << " "
                << l.value("dtype", std::string()) << " + " << l.value("bias", std::string())
                << ", cosine " << l.value("cosine", 0.0) << '\n';
    std::cout << "mapping   score " << report.mapping.value("score", 0.0) << ", runner-up "
              << report.mapping.value("runner_up", -1.0) << " (margin "
              << report.mapping.value("margin", 0.0) << ") over "
              << report.mapping.value("chains", 0) << " candidate chains\n";
  }
  print_verify(report.result);
  if (evidence_summary) print_evidence(*evidence_summary, text(vm, "evidence"));
  return report.result.accepted ? kExitOk : kExitFailure;
}

int cmd_evidence(const Args& args, const Context& /*context*/) {
  po::options_description opts(
      "wrsec evidence check DIR (--signer FINGERPRINT | --any-signer) [--model SUSPECT\n"
      "                         [--reference ORIGINAL]]\n"
      "\n"
      "Checks an evidence report written by 'wrsec verify ... --evidence DIR': the report's hash\n"
      "and the examiner's signature (and that the examiner is --signer), that\n"
      "evidence.md is the rendering of evidence.json, the owner record's signatures, the registry\n"
      "chain and entry, every p-value, bound and decision recomputed from its counts, and the\n"
      "completeness list. With --model (and --reference when the report aligned to one), the\n"
      "suspect's digest is compared and the verification run again. Exit code 0 if the report\n"
      "checks, 1 if it does not, 2 for bad input");
  opts.add_options()("help,h", "show this help")("action", po::value<std::string>(),
                                                 "check (the first positional argument)")(
      "dir", po::value<std::string>(), "the evidence directory (the second positional argument)")(
      "signer", po::value<std::string>(), "the examiner's key fingerprint you expect")(
      "any-signer", "accept any examiner: check the report as a document only")(
      "model", po::value<std::string>(), "the suspect model file, to compare and re-run")(
      "reference", po::value<std::string>(), "the owner's original model file, for the re-run");
  po::positional_options_description pos;
  pos.add("action", 1).add("dir", 1);
  const auto vm = parse(args, opts, &pos);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  if (!vm.count("action") || text(vm, "action") != "check")
    throw InvalidArgument("evidence needs the action 'check' (see 'wrsec evidence --help')");
  if (!vm.count("dir")) throw InvalidArgument("evidence check needs the evidence directory");
  if (vm.count("reference") && !vm.count("model"))
    throw InvalidArgument("--reference applies only with --model");
  experiments::EvidenceCheckOptions o;
  o.dir = text(vm, "dir");
  if (vm.count("signer") == vm.count("any-signer"))
    throw InvalidArgument(
        "give --signer FINGERPRINT, the examiner you trust (a report re-signed by anyone else is "
        "otherwise a valid document), or --any-signer");
  if (vm.count("signer")) {
    o.signer = text(vm, "signer");
    if (!experiments::is_digest_hex(*o.signer))
      throw InvalidArgument("--signer must be a key fingerprint (64 lower-case hex digits)");
  }
  if (vm.count("model")) o.suspect = text(vm, "model");
  if (vm.count("reference")) o.reference = text(vm, "reference");
  const auto c = experiments::check_evidence(o);
  std::cout << "signer    " << (c.signer.empty() ? "?" : c.signer)
            << (o.signer ? (o.signer == c.signer ? " (as expected)" : " (NOT the expected one)")
                         : " (not pinned: any examiner accepted)")
            << '\n'
            << "decision  the report says the mark "
            << (c.accepted ? "verifies" : "does not verify") << '\n';
  for (const auto& item : c.completeness)
    std::cout << "item      " << item.value("status", std::string()) << "  "
              << item.value("item", std::string()) << '\n';
  if (c.rerun) std::cout << "re-run    the verification agrees\n";
  if (!c.valid) {
    for (const auto& p : c.problems) std::cout << "INVALID: " << p << '\n';
    return kExitFailure;
  }
  std::cout << "valid: hash, signature, rendering, record, registry, statistics and completeness "
               "check\n";
  return kExitOk;
}

}  // namespace wrsec::app
