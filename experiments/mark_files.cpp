#include "experiments/mark_files.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "definitions/artifact.h"
#include "experiments/catalog.h"

namespace wrsec::experiments {

namespace {

constexpr const char* kSchema = "wrsec.owner_secret.v1";

nn::Model read_model(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path))
    throw InvalidArgument("cannot read '" + path.string() + "': no such file");
  return nn::Model::from_safetensors(path);
}

}  // namespace

MarkSummary mark_model_file(const std::string& scheme_id, const definitions::Params& params,
                            const std::filesystem::path& in, const std::filesystem::path& out,
                            const std::filesystem::path& secret_out, std::uint64_t seed) {
  const auto scheme = Catalog::global().schemes.create(scheme_id, params);
  if (!scheme->capabilities().has(definitions::Capability::verify))
    throw InvalidArgument("scheme '" + scheme_id + "' is not an ownership scheme (no verify)");
  const nn::Model model = read_model(in);
  Rng coins(seed, stable_hash("wrsec.mark"), 0);
  const definitions::Release release = scheme->release(model, coins);
  const nn::Model marked = definitions::artifact_model(release.artifact);

  MarkSummary s;
  s.scheme = scheme_id;
  const nlohmann::json& record = release.secret.metadata.at("record");
  s.claim_fingerprint = record.at("claim").get<std::string>();
  s.original_digest = record.at("model").get<std::string>();
  s.marked_digest = record.at("marked").get<std::string>();
  s.self_check = scheme->verify(release.secret, marked);

  const nlohmann::json doc = {{"schema", kSchema},
                              {"scheme", scheme_id},
                              {"scheme_params", params.values()},
                              {"secret", release.secret.metadata}};
  AtomicFile secret_file(secret_out);
  secret_file.write(doc.dump(2) + "\n");
  marked.to_safetensors(out, {{"wrsec.mark.scheme", scheme_id},
                              {"wrsec.mark.claim_fingerprint", s.claim_fingerprint}});
  try {
    secret_file.commit();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(out, ec);
    throw;
  }
  return s;
}

definitions::VerifyResult verify_model_file(const std::filesystem::path& secret,
                                            const std::filesystem::path& suspect) {
  std::ifstream file(secret);
  if (!file) throw InvalidArgument("cannot read '" + secret.string() + "'");
  const nlohmann::json doc = nlohmann::json::parse(file, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("schema", "") != kSchema ||
      !doc.contains("scheme") || !doc["scheme"].is_string() || !doc.contains("secret") ||
      !doc.contains("scheme_params") || !doc["scheme_params"].is_object())
    throw InvalidArgument(secret.string() + " is not a " + std::string(kSchema) + " record");
  definitions::Params params;
  for (const auto& [k, v] : doc["scheme_params"].items()) {
    if (!v.is_string()) throw InvalidArgument(secret.string() + ": scheme_params must be strings");
    params.set(k, v.get<std::string>());
  }
  const auto scheme = Catalog::global().schemes.create(doc["scheme"].get<std::string>(), params);
  if (!scheme->capabilities().has(definitions::Capability::verify))
    throw InvalidArgument(secret.string() + " names scheme '" + scheme->id() +
                          "', which has no verify");
  definitions::OwnerSecret s;
  s.metadata = doc["secret"];
  return scheme->verify(s, read_model(suspect));
}

}  // namespace wrsec::experiments
