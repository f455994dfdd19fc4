// `wrsec registry add | show | check`: the hash-chained log of ownership claims
// (experiments/claim_log.h).
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/errors.h"
#include "experiments/claim_log.h"
#include "experiments/spec.h"

namespace wrsec::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRegistryUsage =
    "wrsec registry add --log LOG --record RECORD --key OWNER.key [--target-fpr A | --threshold "
    "K]\n"
    "wrsec registry show --log LOG\n"
    "wrsec registry check --log LOG [--head HASH]\n"
    "\n"
    "An append-only log of ownership claims, one signed JSON entry per line, each chained to the\n"
    "one before by its SHA-256. 'add' appends the claim of an owner record (from 'wrsec mark'),\n"
    "signed with the record's owner key, with the decision rule frozen now (default: target FPR\n"
    "1e-3) and the time (the claimant's statement). 'check' recomputes every hash, verifies every\n"
    "signature and the order, and detects edited, reordered, dropped or foreign-signed entries;\n"
    "entries cut from the end are detected only with --head, the entry hash of the last entry\n"
    "you know (printed by 'add', 'show' and 'check'). Exit code 0 if the log checks, 1 if it does\n"
    "not, 2 for bad input";

std::vector<experiments::ClaimLogEntry> read_log(const fs::path& path) {
  return experiments::parse_claim_log(experiments::read_text_file(path), path.string());
}

}  // namespace

int cmd_registry(const Args& args, const Context& /*context*/) {
  po::options_description opts(kRegistryUsage);
  opts.add_options()("help,h", "show this help")(
      "action", po::value<std::string>(), "add, show or check (the first positional argument)")(
      "log", po::value<std::string>(), "the log file (JSON lines)")(
      "record", po::value<std::string>(), "add: the owner's record (JSON, from 'wrsec mark')")(
      "key", po::value<std::string>(), "add: the owner's key file (mode 0600)")(
      "target-fpr", po::value<std::string>(), "add: the frozen target false-positive rate")(
      "threshold", po::value<std::string>(), "add: a frozen threshold on matches instead")(
      "head", po::value<std::string>(), "check: the entry hash of the last entry you know");
  po::positional_options_description pos;
  pos.add("action", 1);
  const auto vm = parse(args, opts, &pos);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  if (!vm.count("action"))
    throw InvalidArgument(
        "registry needs an action: add, show or check (see 'wrsec registry "
        "--help')");
  const std::string action = text(vm, "action");
  if (!vm.count("log")) throw InvalidArgument("--log is required");
  const fs::path log = text(vm, "log");
  const auto only = [&](const std::vector<std::string>& allowed) {
    for (const char* o : {"record", "key", "target-fpr", "threshold", "head"})
      if (vm.count(o) && std::find(allowed.begin(), allowed.end(), o) == allowed.end())
        throw InvalidArgument("--" + std::string(o) + " does not apply to 'registry " + action +
                              "'");
  };
  if (action == "add") {
    only({"record", "key", "target-fpr", "threshold"});
    if (!vm.count("record") || !vm.count("key"))
      throw InvalidArgument("registry add needs --record and --key");
    if (vm.count("target-fpr") && vm.count("threshold"))
      throw InvalidArgument("give --target-fpr or --threshold, not both");
    experiments::VerifierRule rule;
    if (vm.count("target-fpr"))
      rule.target_fpr = parse_real("--target-fpr", text(vm, "target-fpr"));
    if (vm.count("threshold")) rule.threshold = parse_real("--threshold", text(vm, "threshold"));
    const auto e = experiments::append_to_claim_log(log, text(vm, "record"), text(vm, "key"), rule);
    std::cout << "added entry " << e.body.at("seq").get<std::uint64_t>() << " to " << log.string()
              << "\nhead " << e.entry_hash << '\n';
    return kExitOk;
  }
  if (action == "show" || action == "check") {
    only(action == "check" ? std::vector<std::string>{"head"} : std::vector<std::string>{});
    const auto entries = read_log(log);
    std::optional<std::string> head;
    if (vm.count("head")) head = text(vm, "head");
    const auto c = experiments::check_claim_log(entries, head);
    if (action == "show") {
      // Field by field, tolerating malformed entries (check reports them below).
      const auto field = [](const nlohmann::json& j, const char* key) {
        if (!j.is_object() || !j.contains(key)) return std::string("?");
        return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
      };
      for (const auto& e : entries) {
        const auto& b = e.body;
        std::cout << field(b, "seq") << "  " << field(b, "time") << "  " << field(b, "scheme")
                  << "  claimant " << field(b["claimant"], "fingerprint").substr(0, 16)
                  << "  marked " << field(b, "marked_digest").substr(0, 16) << "  rule "
                  << field(b, "rule") << "\n     entry " << e.entry_hash << '\n';
      }
    }
    if (!c.valid) {
      std::cout << entries.size() << " entr" << (entries.size() == 1 ? "y" : "ies")
                << "\nINVALID: " << c.problem << '\n';
      return kExitFailure;
    }
    std::cout << entries.size() << " entr" << (entries.size() == 1 ? "y" : "ies") << ", head "
              << c.head << "\nvalid: hashes, signatures, chain and order check"
              << (head ? ", head found" : "") << '\n';
    return kExitOk;
  }
  throw InvalidArgument("unknown registry action '" + action + "' (expected add, show or check)");
}

}  // namespace wrsec::app
