// Evidence reports (experiments/evidence.h): what a real suspect's report lists, and that edited,
// re-signed or mismatched reports are rejected.
#include "experiments/evidence.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "attacks/permute.h"
#include "core/errors.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "definitions/owner_key.h"
#include "definitions/statistics.h"
#include "experiments/claim_log.h"
#include "experiments/spec.h"
#include "nn/model.h"
#include "nn/safetensors.h"

namespace wrsec::experiments {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kArch = "mlp:64,48,32,10:relu";

definitions::OwnerKeyPair test_key(std::uint64_t which) {
  Rng coins(which, stable_hash("evidence_test key"), 0);
  return definitions::generate_owner_key(coins, 1024);
}

class Evidence : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_evidence_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model(1).to_safetensors(path("original.safetensors"));
    model(2).to_safetensors(path("control.safetensors"));
    write_owner_key_file(path("owner.key"), test_key(0));
    write_owner_key_file(path("other.key"), test_key(1));
    write_owner_key_file(path("examiner.key"), test_key(2));
    MarkOptions o;
    o.scheme = "qim";
    o.params.set("layers", "0,1");
    o.in = path("original.safetensors");
    o.out = path("marked.safetensors");
    o.record = path("owner.json");
    o.key = path("owner.key");
    (void)mark_model_file(o);
    // The suspect: the marked model with its hidden units permuted.
    nn::Model suspect = nn::Model::from_safetensors(path("marked.safetensors"));
    for (std::int64_t layer = 0; layer < 2; ++layer) {
      const std::int64_t width = layer == 0 ? 48 : 32;
      std::vector<std::int64_t> order(static_cast<std::size_t>(width));
      for (std::int64_t i = 0; i < width; ++i)
        order[static_cast<std::size_t>(i)] = (7 * i + 3) % width;
      attacks::permute_hidden_units(suspect, layer, order);
    }
    suspect.to_safetensors(path("suspect.safetensors"));
    (void)append_to_claim_log(path("claims.log"), path("owner.json"), path("owner.key"), {});
  }
  void TearDown() override { fs::remove_all(dir_); }

  static nn::Model model(std::uint64_t seed) {
    Rng rng(seed, stable_hash("evidence_test"), 0);
    return nn::Model::init(nn::Architecture::parse(kArch), rng);
  }
  fs::path path(const std::string& name) const { return dir_ / name; }

  // Everything a complete report has: reference, control, registry, empirical null.
  EvidenceOptions full(const std::string& out) const {
    EvidenceOptions o;
    o.record = path("owner.json");
    o.suspect = path("suspect.safetensors");
    o.reference = path("original.safetensors");
    o.controls = {path("control.safetensors")};
    o.registry = path("claims.log");
    o.signing_key = path("examiner.key");
    o.out = path(out);
    o.null_keys = 200;
    o.command = "test";
    return o;
  }

  static json read_json(const fs::path& p) {
    std::ifstream in(p);
    return json::parse(in);
  }
  static std::string status(const json& completeness, const std::string& item) {
    for (const auto& c : completeness)
      if (c["item"] == item) return c["status"].get<std::string>();
    return "absent";
  }
  EvidenceCheck check(const std::string& dir, const std::optional<std::string>& signer = {}) {
    EvidenceCheckOptions o;
    o.dir = path(dir);
    o.signer = signer;
    return check_evidence(o);
  }
  static bool mentions(const EvidenceCheck& c, const std::string& what) {
    for (const auto& p : c.problems)
      if (p.find(what) != std::string::npos) return true;
    return false;
  }

  // A copy of report `from` whose report is edited and then hashed, signed (with `signer`) and
  // rendered again: a forgery that is consistent as a document.
  void forge(const std::string& from, const std::string& to, const fs::path& signer,
             const std::function<void(json&)>& edit) {
    fs::create_directories(path(to));
    json doc = read_json(path(from) / "evidence.json");
    EvidenceFile f{doc["report"], "", ""};
    edit(f.report);
    f.report = json::parse(f.report.dump());
    f.report_hash = to_hex(sha256(f.report.dump()));
    f.signature = definitions::sign_statement(read_owner_key_file(signer),
                                              "wrsec-evidence v1; report=" + f.report_hash);
    const json out = {
        {"report", f.report}, {"report_hash", f.report_hash}, {"signature", f.signature}};
    std::ofstream(path(to) / "evidence.json") << out.dump(2) << "\n";
    std::ofstream(path(to) / "evidence.md") << render_evidence_markdown(f);
  }

  fs::path dir_;
};

TEST_F(Evidence, ARealSuspectsReportListsEveryItemAndChecks) {
  const EvidenceSummary s = write_evidence(full("case"));
  EXPECT_TRUE(s.verify.result.accepted);
  std::set<std::string> items;
  for (const auto& c : s.completeness) {
    items.insert(c["item"].get<std::string>());
    // A wrsec model file needs no tensor mapping; every other item is present.
    EXPECT_EQ(c["status"], c["item"] == "tensor mapping" ? "not_applicable" : "present") << c;
  }
  for (const char* item :
       {"suspect digests", "owner record and signatures", "tensor mapping", "alignment log",
        "per-layer statistics", "exact p-value", "frozen threshold", "null with FPR bound",
        "negative control", "registry entry", "registry proof", "timestamps", "chain of custody",
        "limitations"})
    EXPECT_EQ(items.count(item), 1u) << item;
  const json& r = s.report;
  // Per layer: the two carrier tensors, adding up to the whole.
  ASSERT_EQ(r["per_layer"].size(), 2u);
  EXPECT_EQ(r["per_layer"][0]["symbols"].get<int>() + r["per_layer"][1]["symbols"].get<int>(),
            r["result"]["bits"].get<int>());
  EXPECT_EQ(r["alignment"].size(), 2u);
  EXPECT_EQ(r["controls"][0]["result"]["accepted"], false);
  EXPECT_EQ(r["registry"]["entry"]["seq"], 0);
  EXPECT_EQ(r["null"]["random_keys"]["keys"], 200);
  // The suspect's file digest is the file's.
  EXPECT_EQ(r["suspect"]["file_sha256"],
            to_hex(sha256(read_text_file(path("suspect.safetensors")))));

  const std::string examiner = definitions::key_fingerprint(test_key(2).public_key);
  EvidenceCheckOptions o;
  o.dir = path("case");
  o.signer = examiner;
  o.suspect = path("suspect.safetensors");
  o.reference = path("original.safetensors");
  const EvidenceCheck c = check_evidence(o);
  EXPECT_TRUE(c.valid) << (c.problems.empty() ? "" : c.problems.front());
  EXPECT_TRUE(c.rerun);
  EXPECT_TRUE(c.accepted);
  EXPECT_EQ(c.signer, examiner);
}

TEST_F(Evidence, ASuspectFromElsewhereIsMappedAndEveryItemIsPresent) {
  // The permuted marked model re-saved with other names, its last weight transposed, in BF16,
  // without wrsec metadata.
  const nn::Model m = nn::Model::from_safetensors(path("suspect.safetensors"));
  const nn::Tensor& w = m.tensors.at("layers.2.weight");
  nn::Tensor wt({w.shape[1], w.shape[0]});
  for (std::int64_t r = 0; r < w.shape[0]; ++r)
    for (std::int64_t c = 0; c < w.shape[1]; ++c)
      wt.data[static_cast<std::size_t>(c * w.shape[0] + r)] =
          w.data[static_cast<std::size_t>(r * w.shape[1] + c)];
  nn::write_safetensors(path("wild.safetensors"),
                        {{"model.fc1.weight", m.tensors.at("layers.0.weight")},
                         {"model.fc1.bias", m.tensors.at("layers.0.bias")},
                         {"model.fc2.weight", m.tensors.at("layers.1.weight")},
                         {"model.fc2.bias", m.tensors.at("layers.1.bias")},
                         {"model.head.weight", wt},
                         {"model.head.bias", m.tensors.at("layers.2.bias")}},
                        {}, nn::DType::bf16);
  EvidenceOptions o = full("wild");
  o.suspect = path("wild.safetensors");
  const EvidenceSummary s = write_evidence(o);
  EXPECT_TRUE(s.verify.result.accepted);
  for (const auto& c : s.completeness) EXPECT_EQ(c["status"], "present") << c;
  EXPECT_EQ(s.report["suspect"]["format"], "foreign");
  EXPECT_EQ(s.report["mapping"]["layers"][2]["transposed"], true);
  EXPECT_TRUE(check("wild").valid);
}

TEST_F(Evidence, ForgedReportsAreRejected) {
  (void)write_evidence(full("case"));
  const std::string examiner = definitions::key_fingerprint(test_key(2).public_key);
  ASSERT_TRUE(check("case", examiner).valid);

  // Edited in place: the hash no longer matches, nor does the rendering.
  fs::create_directories(path("edited"));
  json doc = read_json(path("case") / "evidence.json");
  doc["report"]["result"]["matches"] = 20;
  std::ofstream(path("edited") / "evidence.json") << doc.dump(2) << "\n";
  fs::copy_file(path("case") / "evidence.md", path("edited") / "evidence.md");
  EXPECT_TRUE(mentions(check("edited"), "report_hash does not match"));

  // Hash recomputed, the examiner's signature kept: the signature fails.
  doc["report_hash"] = to_hex(sha256(json::parse(doc["report"].dump()).dump()));
  std::ofstream(path("edited") / "evidence.json") << doc.dump(2) << "\n";
  EXPECT_TRUE(mentions(check("edited"), "signature does not verify"));

  // The Markdown edited alone.
  fs::create_directories(path("md"));
  fs::copy_file(path("case") / "evidence.json", path("md") / "evidence.json");
  std::string md = read_text_file(path("case") / "evidence.md");
  md.replace(md.find("verifies"), 8, "fails...");
  std::ofstream(path("md") / "evidence.md") << md;
  EXPECT_TRUE(mentions(check("md"), "evidence.md is not the rendering"));

  // Re-signed by someone else: a valid document, but not the examiner's.
  forge("case", "other", path("other.key"), [](json& r) {
    r["examiner"]["public_key"] = test_key(1).public_key.to_json();
    r["examiner"]["fingerprint"] = definitions::key_fingerprint(test_key(1).public_key);
  });
  EXPECT_TRUE(check("other").valid);  // self-consistent: only pinning the examiner tells
  EXPECT_TRUE(mentions(check("other", examiner), "not by the expected examiner"));

  // Forgeries consistent as documents, signed by the examiner's key, that lie about content.
  const fs::path ek = path("examiner.key");
  forge("case", "f_matches", ek, [](json& r) { r["result"]["matches"] = 31; });
  EXPECT_TRUE(mentions(check("f_matches", examiner), "log2 p is not the binomial tail"));
  forge("case", "f_decision", ek, [](json& r) { r["controls"][0]["result"]["accepted"] = true; });
  EXPECT_TRUE(mentions(check("f_decision", examiner), "decision is not the rule's"));
  forge("case", "f_layer", ek, [](json& r) { r["per_layer"][0]["log2_p"] = -40.0; });
  EXPECT_TRUE(mentions(check("f_layer", examiner), "per-layer statistics"));
  forge("case", "f_null", ek, [](json& r) { r["null"]["random_keys"]["fpr_upper"] = 1e-6; });
  EXPECT_TRUE(mentions(check("f_null", examiner), "empirical null does not recompute"));
  forge("case", "f_complete", ek, [](json& r) {
    r["controls"] = json::array();  // the control dropped, the completeness list kept
  });
  EXPECT_TRUE(mentions(check("f_complete", examiner), "completeness list"));
  forge("case", "f_registry", ek,
        [](json& r) { r["registry"]["log"][0]["time"] = "2020-01-01T00:00:00Z"; });
  EXPECT_TRUE(mentions(check("f_registry", examiner), "registry log does not check"));
  forge("case", "f_record", ek, [](json& r) { r["owner_record"]["model"] = std::string(64, 'a'); });
  EXPECT_TRUE(mentions(check("f_record", examiner), "record's signature does not verify"));
  forge("case", "f_suspect", ek, [](json& r) { r["suspect"]["is_marked_model"] = true; });
  EXPECT_TRUE(mentions(check("f_suspect", examiner), "identity flags"));

  forge("case", "f_test", ek, [](json& r) {
    r["result"]["test"] = "two-sided binomial";  // a smaller p for the same counts, if believed
  });
  EXPECT_TRUE(mentions(check("f_test", examiner), "the test is not the record's"));
  forge("case", "f_alpha", ek, [](json& r) {
    r["null"]["random_keys"]["alpha"] = 0.9;
    r["null"]["random_keys"]["fpr_upper"] =
        definitions::cp_upper(r["null"]["random_keys"]["accepted"].get<std::uint64_t>(),
                              r["null"]["random_keys"]["keys"].get<std::uint64_t>(), 0.9);
  });
  EXPECT_TRUE(mentions(check("f_alpha", examiner), "empirical null does not recompute"));
  forge("case", "f_entry", ek, [](json& r) {
    r["registry"]["entry"]["time"] = "2020-01-01T00:00:00Z";  // backdated
  });
  EXPECT_TRUE(mentions(check("f_entry", examiner), "registry entry or the earlier claims"));
  forge("case", "f_float", ek, [](json& r) { r["result"]["matches"] = 31.5; });
  EXPECT_TRUE(mentions(check("f_float", examiner), "non-negative integer"));
  // Content only a re-run can check: the alignment log, signed by the examiner.
  forge("case", "f_alignment", ek, [](json& r) { r["alignment"][0]["mean_cosine"] = 0.5; });
  EXPECT_TRUE(check("f_alignment", examiner).valid);
  EvidenceCheckOptions rerun;
  rerun.dir = path("f_alignment");
  rerun.suspect = path("suspect.safetensors");
  rerun.reference = path("original.safetensors");
  EXPECT_TRUE(mentions(check_evidence(rerun), "re-running the verification gives other alignment"));

  // Not the bytes wrsec writes: a duplicate key shadowing the signed one.
  fs::create_directories(path("dup"));
  std::string text = read_text_file(path("case") / "evidence.json");
  text.insert(text.find("\"report\": {") + 12, "\n    \"schema\": \"x\",");
  std::ofstream(path("dup") / "evidence.json") << text;
  fs::copy_file(path("case") / "evidence.md", path("dup") / "evidence.md");
  EXPECT_THROW((void)check("dup"), InvalidArgument);

  // The report checked against another file: not its suspect.
  EvidenceCheckOptions o;
  o.dir = path("case");
  o.suspect = path("control.safetensors");
  EXPECT_TRUE(mentions(check_evidence(o), "is not the suspect of this report"));
}

TEST_F(Evidence, MissingItemsAreListedAndAnAcceptedControlFails) {
  EvidenceOptions bare = full("bare");
  bare.reference.clear();
  bare.controls.clear();
  bare.registry.clear();
  bare.null_keys = 0;
  const auto s = write_evidence(bare);
  // Read as found, the permuted suspect does not verify (a false negative, which the report says).
  EXPECT_FALSE(s.verify.result.accepted);
  for (const char* item : {"alignment log", "null with FPR bound", "negative control",
                           "registry entry", "registry proof"})
    EXPECT_EQ(status(s.completeness, item), "missing") << item;
  EXPECT_NE(s.report["limitations"].dump().find("without alignment"), std::string::npos);
  EXPECT_NE(s.report["limitations"].dump().find("No registry entry"), std::string::npos);
  EXPECT_TRUE(check("bare").valid);

  // A "control" that carries the mark (another permutation of the marked model) is accepted:
  // the item fails, and the report says the decision is void.
  nn::Model copy = nn::Model::from_safetensors(path("marked.safetensors"));
  std::vector<std::int64_t> order(48);
  for (std::int64_t i = 0; i < 48; ++i) order[static_cast<std::size_t>(i)] = 47 - i;
  attacks::permute_hidden_units(copy, 0, order);
  copy.to_safetensors(path("not_a_control.safetensors"));
  EvidenceOptions bad = full("bad_control");
  bad.controls = {path("not_a_control.safetensors")};
  const auto b = write_evidence(bad);
  EXPECT_EQ(status(b.completeness, "negative control"), "failed");
  EXPECT_TRUE(check("bad_control").valid);  // a true report of a failed control
}

TEST_F(Evidence, EarlierClaimsOnTheSameModelByOtherKeysAreListed) {
  // Another key claims the same original model first (in a fresh log), then the owner.
  MarkOptions o;
  o.scheme = "qim";
  o.params.set("layers", "0,1");
  o.in = path("original.safetensors");
  o.out = path("other_marked.safetensors");
  o.record = path("other.json");
  o.key = path("other.key");
  (void)mark_model_file(o);
  (void)append_to_claim_log(path("log2"), path("other.json"), path("other.key"), {});
  (void)append_to_claim_log(path("log2"), path("owner.json"), path("owner.key"), {});
  EvidenceOptions e = full("conflict");
  e.registry = path("log2");
  const auto s = write_evidence(e);
  EXPECT_EQ(s.report["registry"]["entry"]["seq"], 1);
  ASSERT_EQ(s.report["registry"]["earlier_conflicts"].size(), 1u);
  EXPECT_EQ(s.report["registry"]["earlier_conflicts"][0]["claimant"],
            definitions::key_fingerprint(test_key(1).public_key));
  EXPECT_NE(s.report["limitations"].dump().find("earlier claims"), std::string::npos);
  EXPECT_TRUE(check("conflict").valid);
  // Hiding the earlier claim is detected: the checker recomputes them from the log.
  forge("conflict", "hidden", path("examiner.key"),
        [](json& r) { r["registry"]["earlier_conflicts"] = json::array(); });
  EXPECT_TRUE(mentions(check("hidden"), "registry entry or the earlier claims"));
}

TEST_F(Evidence, BadInputIsRefusedAndNothingIsWritten) {
  fs::create_directories(path("exists"));
  std::ofstream(path("exists") / "keep") << "user data";
  EXPECT_THROW((void)write_evidence(full("exists")), InvalidArgument);
  EXPECT_EQ(read_text_file(path("exists") / "keep"), "user data");

  EvidenceOptions self = full("self");
  self.controls = {path("suspect.safetensors")};
  EXPECT_THROW((void)write_evidence(self), InvalidArgument);
  EvidenceOptions marked = full("marked_ctl");
  marked.controls = {path("marked.safetensors")};
  EXPECT_THROW((void)write_evidence(marked), InvalidArgument);
  EvidenceOptions unsigned_report = full("unsigned");
  unsigned_report.signing_key.clear();
  EXPECT_THROW((void)write_evidence(unsigned_report), InvalidArgument);
  std::ofstream(path("broken.log")) << "{not json}\n";
  EvidenceOptions broken = full("broken");
  broken.registry = path("broken.log");
  EXPECT_THROW((void)write_evidence(broken), InvalidArgument);
  for (const char* d : {"self", "marked_ctl", "unsigned", "broken"})
    EXPECT_FALSE(fs::exists(path(d))) << d;
  // No staging directory is left behind.
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".partial-"), std::string::npos)
        << entry.path();

  // evidence.json that is not a report at the top level.
  fs::create_directories(path("junk"));
  std::ofstream(path("junk") / "evidence.json") << "[]";
  std::ofstream(path("junk") / "evidence.md") << "";
  EXPECT_THROW((void)check("junk"), InvalidArgument);
  std::ofstream(path("junk") / "evidence.json") << json{{"report", json::object()},
                                                        {"report_hash", std::string(64, '0')},
                                                        {"signature", "00"}}
                                                       .dump(2)
                                                << "\n";
  const EvidenceCheck c = check("junk");
  EXPECT_FALSE(c.valid);
  EXPECT_TRUE(mentions(c, "malformed report"));
  EXPECT_THROW((void)check("nothing_here"), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::experiments
