#include "experiments/claim_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"
#include "core/sha256.h"

namespace wrsec::experiments {
namespace {

using definitions::OwnerKeyPair;

const OwnerKeyPair& key(int which) {
  static const std::vector<OwnerKeyPair> keys = [] {
    std::vector<OwnerKeyPair> k;
    for (std::uint64_t s = 0; s < 3; ++s) {
      Rng coins(s, stable_hash("claim_log_test"), 0);
      k.push_back(definitions::generate_owner_key(coins, 512));
    }
    return k;
  }();
  return keys.at(static_cast<std::size_t>(which));
}

OwnerRecord record(const OwnerKeyPair& k, char model) {
  OwnerRecord r;
  r.scheme = "qim";
  r.scheme_params = {{"bits", "32"}, {"layers", "1"}};
  r.model_digest = std::string(64, model);
  r.marked_digest = std::string(64, 'f');
  r.claim = definitions::make_claim(
      k, "wrsec-mark v1; scheme=qim; model=" + r.model_digest + "; nonce=0123");
  r.record_signature = definitions::sign_statement(k, r.signed_text());
  return r;
}

VerifierRule fpr(double a) {
  VerifierRule r;
  r.target_fpr = a;
  return r;
}

// Three claims: owner 0, owner 1, owner 0 again, at non-decreasing times.
std::vector<ClaimLogEntry> three() {
  std::vector<ClaimLogEntry> log;
  log.push_back(
      make_claim_log_entry(log, record(key(0), 'a'), key(0), fpr(1e-3), "2026-12-01T10:00:00Z"));
  VerifierRule frozen;
  frozen.threshold = 24;
  log.push_back(
      make_claim_log_entry(log, record(key(1), 'b'), key(1), frozen, "2026-12-02T10:00:00Z"));
  log.push_back(
      make_claim_log_entry(log, record(key(0), 'c'), key(0), fpr(1e-4), "2026-12-02T10:00:00Z"));
  return log;
}

std::string text_of(const std::vector<ClaimLogEntry>& log) {
  std::string t;
  for (const auto& e : log) t += e.to_json().dump() + "\n";
  return t;
}

void expect_invalid(const std::vector<ClaimLogEntry>& log, const std::string& what,
                    const std::optional<std::string>& head = {}) {
  const ClaimLogCheck c = check_claim_log(log, head);
  EXPECT_FALSE(c.valid);
  EXPECT_NE(c.problem.find(what), std::string::npos) << c.problem;
}

TEST(ClaimLog, AValidLogChecksAndSurvivesItsTextForm) {
  const auto log = three();
  const ClaimLogCheck c = check_claim_log(log);
  EXPECT_TRUE(c.valid) << c.problem;
  EXPECT_EQ(c.entries, 3u);
  EXPECT_EQ(c.head, log.back().entry_hash);
  const auto again = parse_claim_log(text_of(log), "log");
  EXPECT_TRUE(check_claim_log(again, log[1].entry_hash).valid);
  EXPECT_EQ(again[1].body.at("rule").at("threshold"), 24);
  EXPECT_EQ(again[0].body.at("prev"), std::string(64, '0'));
  EXPECT_EQ(again[1].body.at("prev"), log[0].entry_hash);
  EXPECT_TRUE(check_claim_log({}).valid);
}

TEST(ClaimLog, AnEditedEntryIsDetected) {
  auto log = three();
  log[1].body["rule"]["threshold"] = 20;  // loosen the frozen threshold
  expect_invalid(log, "entry_hash does not match");
  // Recomputing the hash does not help without the claimant's key.
  auto rehashed = three();
  rehashed[1].body["marked_digest"] = std::string(64, 'e');
  rehashed[1].entry_hash = to_hex(sha256(rehashed[1].body.dump()));
  expect_invalid(rehashed, "entry 1");
}

TEST(ClaimLog, ReorderedAndDroppedEntriesAreDetected) {
  auto swapped = three();
  std::swap(swapped[1], swapped[2]);
  expect_invalid(swapped, "entry 1");
  auto dropped = three();
  dropped.erase(dropped.begin() + 1);
  expect_invalid(dropped, "entry 1");
  // Dropping the tail leaves a valid shorter chain, caught against a head the checker holds.
  const auto full = three();
  auto cut = full;
  cut.pop_back();
  EXPECT_TRUE(check_claim_log(cut).valid);
  expect_invalid(cut, "head", full.back().entry_hash);
}

TEST(ClaimLog, AForeignSignatureIsDetected) {
  auto log = three();
  // Signed by key 2 while naming key 0 as the claimant.
  log[2].signature =
      definitions::sign_statement(key(2), "wrsec-registry v1; entry=" + log[2].entry_hash);
  expect_invalid(log, "signature does not verify");
  // And nobody can add an entry for another owner's record.
  EXPECT_THROW((void)make_claim_log_entry({}, record(key(0), 'a'), key(1), fpr(1e-3),
                                          "2026-12-03T00:00:00Z"),
               InvalidArgument);
}

TEST(ClaimLog, BadRecordsRulesAndTimesAreRefused) {
  OwnerRecord bad = record(key(0), 'a');
  bad.marked_digest = std::string(64, '1');  // changed after signing
  EXPECT_THROW((void)make_claim_log_entry({}, bad, key(0), fpr(1e-3), "2026-12-03T00:00:00Z"),
               InvalidArgument);
  EXPECT_THROW(
      (void)make_claim_log_entry({}, record(key(0), 'a'), key(0), fpr(1.5), "2026-12-03T00:00:00Z"),
      InvalidArgument);
  const auto log = three();
  EXPECT_THROW((void)make_claim_log_entry(log, record(key(0), 'd'), key(0), fpr(1e-3),
                                          "2026-11-30T00:00:00Z"),
               InvalidArgument);
  auto broken = log;
  broken[0].body["scheme"] = "uchida";
  EXPECT_THROW((void)make_claim_log_entry(broken, record(key(0), 'd'), key(0), fpr(1e-3),
                                          "2026-12-03T00:00:00Z"),
               InvalidArgument);
}

TEST(ClaimLog, MalformedLinesAreRejectedWithTheLineNamed) {
  const std::string good = text_of(three());
  for (const auto& [text, what] : std::vector<std::pair<std::string, std::string>>{
           {"{\"schema\": 1}\n", "line 1: missing field"},
           {good + "\n", "line 4: empty line"},
           {good + "[1, 2]\n", "line 4: not a JSON object"},
           {"not json\n", "line 1: not a JSON object"}}) {
    try {
      (void)parse_claim_log(text, "log");
      FAIL() << "accepted: " << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
  nlohmann::json extra = three()[0].to_json();
  extra["note"] = "x";
  EXPECT_THROW((void)parse_claim_log(extra.dump() + "\n", "log"), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::experiments
