#include "experiments/claim_log.h"

#include <cmath>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/sha256.h"
#include "experiments/provenance.h"
#include "experiments/spec.h"

namespace wrsec::experiments {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kLogZeroHash(64, '0');
const std::set<std::string> kLogBodyFields = {"schema",         "seq",
                                              "prev",           "time",
                                              "claimant",       "scheme",
                                              "scheme_params",  "original_digest",
                                              "marked_digest",  "claim_fingerprint",
                                              "key_commitment", "rule"};

std::string log_hash_body(const json& body) {
  return to_hex(sha256(body.dump()));
}

std::string log_signed_text(const std::string& entry_hash) {
  return "wrsec-registry v1; entry=" + entry_hash;
}

}  // namespace

std::string mark_key_commitment(const definitions::OwnerClaim& claim) {
  const auto key =
      definitions::MarkKey::from_signature(claim.public_key, claim.statement, claim.signature_hex);
  return to_hex(sha256("wrsec-mark-key-commitment v1; " + key.hex()));
}

json ClaimLogEntry::to_json() const {
  json j = body;
  j["entry_hash"] = entry_hash;
  j["signature"] = signature;
  return j;
}

std::vector<ClaimLogEntry> parse_claim_log(std::string_view text, const std::string& source) {
  std::vector<ClaimLogEntry> out;
  std::size_t line_no = 0, begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_no;
    const auto fail = [&](const std::string& what) {
      return InvalidArgument(source + ", line " + std::to_string(line_no) + ": " + what);
    };
    if (line.empty()) throw fail("empty line (a log has one entry per line)");
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw fail("not a JSON object");
    ClaimLogEntry e;
    e.body = json::object();
    for (const auto& [key, value] : j.items()) {
      if (key == "entry_hash") {
        if (!value.is_string() || !is_digest_hex(value.get<std::string>()))
          throw fail("entry_hash must be 64 lower-case hex digits");
        e.entry_hash = value.get<std::string>();
      } else if (key == "signature") {
        if (!value.is_string()) throw fail("signature must be a string");
        e.signature = value.get<std::string>();
      } else if (kLogBodyFields.count(key) == 0) {
        throw fail("unknown field '" + key + "'");
      } else {
        e.body[key] = value;
      }
    }
    for (const std::string& f : kLogBodyFields)
      if (!e.body.contains(f)) throw fail("missing field '" + f + "'");
    if (e.entry_hash.empty() || e.signature.empty())
      throw fail("missing field '" +
                 std::string(e.entry_hash.empty() ? "entry_hash" : "signature") + "'");
    out.push_back(std::move(e));
  }
  return out;
}

ClaimLogCheck check_claim_log(const std::vector<ClaimLogEntry>& entries,
                              const std::optional<std::string>& head) {
  ClaimLogCheck c;
  c.entries = entries.size();
  c.head = kLogZeroHash;
  const auto problem = [&](std::size_t i, const std::string& what) {
    c.valid = false;
    c.problem = "entry " + std::to_string(i) + " (line " + std::to_string(i + 1) + "): " + what;
    return c;
  };
  std::string prev = kLogZeroHash, prev_time;
  bool head_seen = !head.has_value() || *head == kLogZeroHash;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ClaimLogEntry& e = entries[i];
    const json& b = e.body;
    if (b.value("schema", json()) != kRegistryEntrySchema)
      return problem(i, "schema is not " + std::string(kRegistryEntrySchema));
    if (!b["seq"].is_number_unsigned() || b["seq"].get<std::uint64_t>() != i)
      return problem(
          i, "seq is not " + std::to_string(i) + " (entries reordered, dropped or inserted)");
    if (b["prev"] != prev)
      return problem(i,
                     "prev is not the hash of the entry before it (entries reordered, dropped "
                     "or inserted, or an earlier entry was edited)");
    if (log_hash_body(b) != e.entry_hash)
      return problem(i, "entry_hash does not match the entry (the entry was edited)");
    definitions::PublicKey pk;
    try {
      pk = definitions::PublicKey::from_json(b["claimant"].at("public_key"));
    } catch (const std::exception& ex) {
      return problem(i, std::string("claimant.public_key is malformed: ") + ex.what());
    }
    if (b["claimant"].value("fingerprint", json()) != definitions::key_fingerprint(pk))
      return problem(i, "claimant.fingerprint is not the public key's fingerprint");
    if (!definitions::verify_statement(pk, log_signed_text(e.entry_hash), e.signature))
      return problem(i, "the signature does not verify under the claimant's public key");
    if (!b["time"].is_string() || b["time"].get<std::string>() < prev_time)
      return problem(i, "time is earlier than the entry before it");
    prev_time = b["time"].get<std::string>();
    prev = e.entry_hash;
    if (head && e.entry_hash == *head) head_seen = true;
  }
  c.head = prev;
  if (!head_seen) {
    c.valid = false;
    c.problem = "no entry has the head hash " + *head + " (the log was cut, or it is another log)";
    return c;
  }
  c.valid = true;
  return c;
}

ClaimLogEntry make_claim_log_entry(const std::vector<ClaimLogEntry>& log, const OwnerRecord& record,
                                   const definitions::OwnerKeyPair& key, const VerifierRule& rule,
                                   const std::string& time) {
  if (!definitions::verify_statement(record.claim.public_key, record.signed_text(),
                                     record.record_signature))
    throw InvalidArgument("the record's signature does not verify under its claim's public key");
  if (!(key.public_key == record.claim.public_key))
    throw InvalidArgument("the key is not the record's owner key (fingerprint " +
                          definitions::key_fingerprint(key.public_key) + ", the record's " +
                          definitions::key_fingerprint(record.claim.public_key) + ")");
  if (rule.threshold) {
    if (!(*rule.threshold >= 0) || !std::isfinite(*rule.threshold))
      throw InvalidArgument("the frozen threshold must be a finite number >= 0");
  } else if (!(rule.target_fpr > 0 && rule.target_fpr < 1)) {
    throw InvalidArgument("the target FPR must lie in (0, 1)");
  }
  const ClaimLogCheck c = check_claim_log(log);
  if (!c.valid) throw InvalidArgument("the log is invalid, refusing to append: " + c.problem);
  ClaimLogEntry e;
  e.body = {{"schema", kRegistryEntrySchema},
            {"seq", log.size()},
            {"prev", c.head},
            {"time", time},
            {"claimant",
             {{"public_key", record.claim.public_key.to_json()},
              {"fingerprint", definitions::key_fingerprint(record.claim.public_key)}}},
            {"scheme", record.scheme},
            {"scheme_params", record.scheme_params},
            {"original_digest", record.model_digest},
            {"marked_digest", record.marked_digest},
            {"claim_fingerprint", record.claim.fingerprint()},
            {"key_commitment", mark_key_commitment(record.claim)},
            {"rule", rule.threshold ? json{{"threshold", *rule.threshold}}
                                    : json{{"target_fpr", rule.target_fpr}}}};
  if (!log.empty() && log.back().body.value("time", std::string()) > time)
    throw InvalidArgument("the clock is earlier than the log's last entry (" +
                          log.back().body.value("time", std::string()) + ")");
  e.entry_hash = log_hash_body(e.body);
  e.signature = definitions::sign_statement(key, log_signed_text(e.entry_hash));
  return e;
}

ClaimLogEntry append_to_claim_log(const fs::path& log_path, const fs::path& record_path,
                                  const fs::path& key_path, const VerifierRule& rule) {
  const OwnerRecord record = parse_owner_record(read_text_file(record_path), record_path.string());
  const definitions::OwnerKeyPair key = read_owner_key_file(key_path);
  std::string text;
  if (fs::exists(log_path)) text = read_text_file(log_path);
  const auto log = parse_claim_log(text, log_path.string());
  ClaimLogEntry e = make_claim_log_entry(log, record, key, rule, utc_timestamp());
  AtomicFile out(log_path);
  out.write(text);
  out.write(e.to_json().dump() + "\n");
  out.commit();
  return e;
}

}  // namespace wrsec::experiments
