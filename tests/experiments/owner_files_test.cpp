// Owner keys, records and the verifier's rule (experiments/mark_files.h, core/private_file.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "attacks/permute.h"
#include "core/errors.h"
#include "core/private_file.h"
#include "core/rng.h"
#include "definitions/owner_key.h"
#include "experiments/catalog.h"
#include "experiments/mark_files.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "tests/support/binomial_margin.h"

namespace wrsec::experiments {
namespace {

namespace fs = std::filesystem;

class OwnerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_owner_files_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Rng rng(1, stable_hash("test"), 0);
    const nn::Model model = nn::Model::init(nn::Architecture::parse("mlp:64,48,10:relu"), rng);
    model_ = dir_ / "model.safetensors";
    model.to_safetensors(model_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A default `wrsec mark` (new OS key written beside the record) of lsb_parity on layer 0.
  MarkSummary mark(const std::string& name, const fs::path& key = {}) {
    MarkOptions o;
    o.scheme = "lsb_parity";
    o.params.set("layers", "0");
    if (key.empty()) o.params.set("rsa_bits", "1024");
    o.in = model_;
    o.out = dir_ / (name + ".safetensors");
    o.record = dir_ / (name + ".json");
    o.key = key;
    o.key_out = dir_ / (name + ".key");
    return mark_model_file(o);
  }

  static nlohmann::json read_json(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }
  static void write_json(const fs::path& p, const nlohmann::json& j) { std::ofstream(p) << j; }

  // The claimant edits its own record and re-signs it with its own key.
  void edit_and_resign(const fs::path& record, const fs::path& key,
                       const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json doc = read_json(record);
    edit(doc);
    OwnerRecord r = parse_owner_record(doc.dump(), "edited");
    r.record_signature = definitions::sign_statement(read_owner_key_file(key), r.signed_text());
    write_json(record, r.to_json());
  }

  fs::path dir_;
  fs::path model_;
};

TEST(OwnerKeyOs, TwoKeysDifferAndRoundTrip) {
  const auto a = definitions::generate_owner_key_os(1024);
  const auto b = definitions::generate_owner_key_os(1024);
  EXPECT_NE(a.public_key.n_hex, b.public_key.n_hex);
  EXPECT_EQ(a.public_key.bits(), 1024);
  const auto back = definitions::OwnerKeyPair::from_json(a.to_json());
  EXPECT_EQ(back.public_key, a.public_key);
  EXPECT_EQ(back.d_hex, a.d_hex);
  // A private exponent that belongs to another modulus is refused.
  nlohmann::json mixed = a.to_json();
  mixed["d"] = b.d_hex;
  EXPECT_THROW((void)definitions::OwnerKeyPair::from_json(mixed), InvalidArgument);
  EXPECT_THROW((void)definitions::generate_owner_key_os(1000 + 1), InvalidArgument);
}

// Every ownership scheme signs with an outside key when given one, and for_owner() (another
// party in a game) goes back to a seed-derived key.
TEST(OwnerKeyOs, EverySchemeSignsWithTheGivenKey) {
  Rng rng(1, stable_hash("test"), 0);
  const nn::Model model = nn::Model::init(nn::Architecture::parse("mlp:784,64,64,10:relu"), rng);
  const auto key = definitions::generate_owner_key_os(1024);
  for (const std::string id : {"uchida", "spread_spectrum", "lsb_parity", "qim", "trigger_set"}) {
    const auto scheme = Catalog::global().schemes.create(
        id, definitions::Params(std::map<std::string, std::string>{{"rsa_bits", "1024"}}));
    const auto signer = scheme->with_owner_key(key);
    Rng coins(2, stable_hash("test"), 0);
    const auto claim =
        definitions::OwnerClaim::from_json(signer->keygen(model, coins).metadata.at("claim"));
    EXPECT_EQ(claim.public_key, key.public_key) << id;
    EXPECT_TRUE(
        definitions::verify_statement(key.public_key, claim.statement, claim.signature_hex));
    Rng coins2(2, stable_hash("test"), 0);
    const auto other = definitions::OwnerClaim::from_json(
        signer->for_owner(5)->keygen(model, coins2).metadata.at("claim"));
    EXPECT_NE(other.public_key, key.public_key) << id;
  }
  const auto plain = Catalog::global().schemes.create("plaintext", definitions::Params());
  EXPECT_THROW((void)plain->with_owner_key(key), LogicError);
}

TEST_F(OwnerFiles, PrivateFilesAreNewOwnerOnlyAndCheckedOnRead) {
  const fs::path p = dir_ / "k";
  create_private_file(p, "one");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_private_file(p), "one");
  // Never replaced, and no temporary left beside it.
  EXPECT_THROW(create_private_file(p, "two"), InvalidArgument);
  EXPECT_EQ(read_private_file(p), "one");
  fs::create_symlink(dir_ / "nowhere", dir_ / "dangling");
  EXPECT_THROW(create_private_file(dir_ / "dangling", "x"), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "nowhere"));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  // Readable by others, a directory, or absent: refused with the reason.
  fs::permissions(p, fs::perms::group_read, fs::perm_options::add);
  try {
    (void)read_private_file(p);
    FAIL() << "a group-readable key was read";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("too open"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)read_private_file(dir_), InvalidArgument);
  EXPECT_THROW((void)read_private_file(dir_ / "absent"), InvalidArgument);
}

TEST_F(OwnerFiles, DefaultMarksUseFreshKeysAndRecordsHoldNoPrivateMaterial) {
  const auto a = mark("a");
  const auto b = mark("b");
  EXPECT_TRUE(a.new_key);
  EXPECT_NE(a.key_fingerprint, b.key_fingerprint);
  EXPECT_TRUE(a.self_check.accepted);
  const auto key = read_owner_key_file(dir_ / "a.key");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The record is public: no private exponent, no seed, no decision rule.
  std::ifstream in(dir_ / "a.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(key.d_hex), std::string::npos);
  const auto doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["schema"], kOwnerRecordSchema);
  EXPECT_EQ(doc["scheme_params"], nlohmann::json({{"layers", "0"}}));
  // A second default mark to the same record would need a new key where one exists: refused,
  // and the key is untouched.
  EXPECT_THROW((void)mark("a"), InvalidArgument);
  EXPECT_EQ(read_owner_key_file(dir_ / "a.key").d_hex, key.d_hex);
  // Signing with that key again gives the same owner.
  const auto c = mark("c", dir_ / "a.key");
  EXPECT_FALSE(c.new_key);
  EXPECT_EQ(c.key_fingerprint, a.key_fingerprint);
  EXPECT_FALSE(fs::exists(dir_ / "c.key"));
}

TEST_F(OwnerFiles, MarkRefusesSeedsUnboundClaimsAndOverlappingFiles) {
  MarkOptions o;
  o.scheme = "lsb_parity";
  o.params.set("layers", "0");
  o.params.set("rsa_bits", "1024");
  o.in = model_;
  o.out = dir_ / "m.safetensors";
  o.record = dir_ / "m.json";
  o.key_out = dir_ / "m.key";
  const auto refused = [&](MarkOptions bad) {
    EXPECT_THROW((void)mark_model_file(bad), InvalidArgument);
    EXPECT_FALSE(fs::exists(dir_ / "m.key"));
    EXPECT_FALSE(fs::exists(dir_ / "m.json"));
  };
  MarkOptions seeded = o;
  seeded.params.set("owner_seed", "7");
  refused(seeded);
  MarkOptions unbound = o;
  unbound.params.set("binding", "none");
  refused(unbound);
  MarkOptions same = o;
  same.out = same.record;  // the marked model would be overwritten by the record
  refused(same);
  MarkOptions over_input = o;
  over_input.out = model_;
  refused(over_input);
  EXPECT_EQ(nn::Model::from_safetensors(model_).tensors.size(), 4u);
}

TEST_F(OwnerFiles, VerifierRuleDecidesAndTargetFprChangesTheDecision) {
  mark("a");
  const VerifierRule rule;  // 1e-3
  const auto same = verify_model_file(dir_ / "a.json", dir_ / "a.safetensors", rule);
  EXPECT_TRUE(same.result.accepted);
  EXPECT_EQ(same.suspect_digest, same.marked_digest);
  EXPECT_FALSE(verify_model_file(dir_ / "a.json", model_, rule).result.accepted);
  // 32 of 32 bits: p = 2^-32 > 1e-12, so a stricter verifier does not accept the marked model.
  VerifierRule strict;
  strict.target_fpr = 1e-12;
  const auto r = verify_model_file(dir_ / "a.json", dir_ / "a.safetensors", strict);
  EXPECT_FALSE(r.result.accepted);
  EXPECT_DOUBLE_EQ(r.result.target_fpr, 1e-12);
  // A threshold of the verifier's own.
  VerifierRule counted;
  counted.threshold = 31.5;
  EXPECT_TRUE(verify_model_file(dir_ / "a.json", dir_ / "a.safetensors", counted).result.accepted);
  counted.threshold = 32;
  EXPECT_FALSE(verify_model_file(dir_ / "a.json", dir_ / "a.safetensors", counted).result.accepted);
  VerifierRule bad;
  bad.target_fpr = 1.5;
  EXPECT_THROW((void)verify_model_file(dir_ / "a.json", model_, bad), InvalidArgument);
}

// --reference: the owner's original model aligns a suspect whose hidden units were permuted (the
// lsb mark is read bit for bit again); another model is refused as the reference.
TEST_F(OwnerFiles, TheOwnersModelAlignsAPermutedSuspect) {
  (void)mark("a");
  nn::Model permuted = nn::Model::from_safetensors(dir_ / "a.safetensors");
  std::vector<std::int64_t> order(48);
  for (std::int64_t i = 0; i < 48; ++i) order[static_cast<std::size_t>(i)] = (7 * i + 3) % 48;
  attacks::permute_hidden_units(permuted, 0, order);
  permuted.to_safetensors(dir_ / "p.safetensors");
  EXPECT_FALSE(verify_model_file(dir_ / "a.json", dir_ / "p.safetensors", {}).result.accepted);
  const auto r = verify_model_file(dir_ / "a.json", dir_ / "p.safetensors", {}, model_);
  EXPECT_TRUE(r.result.accepted);
  EXPECT_EQ(r.result.matches, 32U);
  ASSERT_TRUE(r.result.details.contains("alignment"));
  EXPECT_EQ(r.result.details["alignment"][0]["layer"], "layers.0");
  EXPECT_FALSE(verify_model_file(dir_ / "a.json", model_, {}, model_).result.accepted);
  EXPECT_THROW(
      (void)verify_model_file(dir_ / "a.json", dir_ / "p.safetensors", {}, dir_ / "a.safetensors"),
      InvalidArgument);
}

// A suspect from elsewhere: the qim-marked model with permuted units, re-saved under
// PyTorch-style names, its output layer stored transposed, in BF16, without wrsec metadata. It
// verifies against the owner's model; 20 independent models saved the same way do not; without
// --reference such a file is refused.
TEST_F(OwnerFiles, AMarkedModelFromElsewhereVerifiesAndIndependentOnesDoNot) {
  MarkOptions o;
  o.scheme = "qim";
  o.params.set("layers", "0");
  o.params.set("rsa_bits", "1024");
  o.in = model_;
  o.out = dir_ / "q.safetensors";
  o.record = dir_ / "q.json";
  o.key_out = dir_ / "q.key";
  (void)mark_model_file(o);
  const auto save_wild = [&](nn::Model m, const fs::path& path) {
    std::vector<std::int64_t> order(48);
    for (std::int64_t i = 0; i < 48; ++i) order[static_cast<std::size_t>(i)] = (11 * i + 5) % 48;
    attacks::permute_hidden_units(m, 0, order);
    const nn::Tensor& w1 = m.tensors.at("layers.1.weight");
    nn::Tensor w1t({w1.shape[1], w1.shape[0]});
    for (std::int64_t r = 0; r < w1.shape[0]; ++r)
      for (std::int64_t c = 0; c < w1.shape[1]; ++c)
        w1t.data[static_cast<std::size_t>(c * w1.shape[0] + r)] =
            w1.data[static_cast<std::size_t>(r * w1.shape[1] + c)];
    nn::write_safetensors(path,
                          {{"model.fc1.weight", m.tensors.at("layers.0.weight")},
                           {"model.fc1.bias", m.tensors.at("layers.0.bias")},
                           {"model.head.weight", w1t},
                           {"model.head.bias", m.tensors.at("layers.1.bias")}},
                          {}, nn::DType::bf16);
  };
  save_wild(nn::Model::from_safetensors(dir_ / "q.safetensors"), dir_ / "wild.safetensors");
  const auto r = verify_model_file(dir_ / "q.json", dir_ / "wild.safetensors", {}, model_);
  EXPECT_TRUE(r.result.accepted) << r.result.details.dump();
  EXPECT_EQ(r.mapping["layers"][1]["weight"], "model.head.weight");
  EXPECT_EQ(r.mapping["layers"][1]["transposed"], true);
  EXPECT_EQ(r.mapping["layers"][0]["dtype"], "BF16");
  EXPECT_THROW((void)verify_model_file(dir_ / "q.json", dir_ / "wild.safetensors", {}),
               InvalidArgument);
  int accepted = 0;
  for (std::uint64_t seed = 100; seed < 120; ++seed) {
    Rng rng(seed, stable_hash("independent"), 0);
    save_wild(nn::Model::init(nn::Architecture::parse("mlp:64,48,10:relu"), rng),
              dir_ / "independent.safetensors");
    accepted += verify_model_file(dir_ / "q.json", dir_ / "independent.safetensors", {}, model_)
                        .result.accepted
                    ? 1
                    : 0;
  }
  // Each is accepted with probability <= target FPR 1e-3 (measured with alignment: at most
  // 0.0028 over 3000 null keys), so more than at_most(20, 1e-3) acceptances would be a finding.
  EXPECT_LE(static_cast<std::uint64_t>(accepted), test_support::at_most(20, 1e-3));
}

TEST_F(OwnerFiles, EditedRecordsNeverMakeAnUnmarkedModelVerify) {
  mark("a");
  const fs::path record = dir_ / "a.json";
  const fs::path key = dir_ / "a.key";
  const nlohmann::json original = read_json(record);
  const auto unmarked_verifies = [&]() {
    return verify_model_file(record, model_, VerifierRule{}).result.accepted;
  };
  // Edits by anyone without the owner's key break the record signature: refused.
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"target_fpr", "0.999"},
                                                        {"threshold", "0"},
                                                        {"layers", "1"},
                                                        {"binding", "none"},
                                                        {"two_sided", "true"}}) {
    nlohmann::json doc = original;
    doc["scheme_params"][field] = value;
    write_json(record, doc);
    EXPECT_THROW((void)unmarked_verifies(), InvalidArgument) << field;
  }
  // Explicit key material in a signature-bound claim is refused, not ignored.
  write_json(record, original);
  edit_and_resign(record, key,
                  [](nlohmann::json& d) { d["claim"]["key_seed"] = std::string(64, 'a'); });
  EXPECT_THROW((void)unmarked_verifies(), InvalidArgument);
  nlohmann::json moved = original;
  moved["model"] = std::string(64, '0');
  write_json(record, moved);
  EXPECT_THROW((void)unmarked_verifies(), InvalidArgument);

  // The claimant itself re-signs: a looser rule, an unbound claim, a seed or an unknown
  // parameter is refused; a reading parameter is used and does not help.
  const auto resigned = [&](const std::string& field, const std::string& value) {
    write_json(record, original);
    edit_and_resign(record, key, [&](nlohmann::json& d) { d["scheme_params"][field] = value; });
  };
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"target_fpr", "0.999"},
                                                        {"threshold", "0"},
                                                        {"threshold", "20"},
                                                        {"binding", "none"},
                                                        {"owner_seed", "0"},
                                                        {"rsa_bits", "512"},
                                                        {"frobnicate", "1"}}) {
    resigned(field, value);
    EXPECT_THROW((void)unmarked_verifies(), InvalidArgument) << field << "=" << value;
  }
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"two_sided", "true"}, {"bits", "8"}, {"group", "2"}}) {
    resigned(field, value);
    EXPECT_FALSE(unmarked_verifies()) << field << "=" << value;
  }
  // A rule at least as strict as the verifier's is ignored with a warning.
  resigned("target_fpr", "1e-6");
  const auto r = verify_model_file(record, dir_ / "a.safetensors", VerifierRule{});
  EXPECT_TRUE(r.result.accepted);
  EXPECT_DOUBLE_EQ(r.result.target_fpr, 1e-3);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("ignored"), std::string::npos);
}

TEST_F(OwnerFiles, RecordParserIsStrict) {
  mark("a");
  const nlohmann::json good = read_json(dir_ / "a.json");
  EXPECT_NO_THROW((void)parse_owner_record(good.dump(), "r"));
  const auto refused = [&](const nlohmann::json& doc, const std::string& why) {
    try {
      (void)parse_owner_record(doc.dump(), "r");
      ADD_FAILURE() << "accepted: " << doc.dump();
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  nlohmann::json extra = good;
  extra["note"] = "hello";
  refused(extra, "unknown field 'note'");
  nlohmann::json missing = good;
  missing.erase("marked");
  refused(missing, "missing field 'marked'");
  nlohmann::json v1 = good;
  v1["schema"] = "wrsec.owner_secret.v1";
  refused(v1, "v1 owner record");
  nlohmann::json number = good;
  number["scheme_params"]["layers"] = 0;
  refused(number, "must be a string");
  nlohmann::json digest = good;
  digest["model"] = "xyz";
  refused(digest, "SHA-256");
  EXPECT_THROW((void)parse_owner_record("{", "r"), InvalidArgument);
  EXPECT_THROW((void)parse_owner_record("[]", "r"), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::experiments
