#include "schemes/watermark.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "definitions/statistics.h"

namespace wrsec::schemes {

namespace {

std::vector<std::int64_t> parse_layers(const std::string& text, const std::string& key) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    if (item.empty() || item.size() > 4 ||
        item.find_first_not_of("0123456789") != std::string::npos)
      throw InvalidArgument("parameter '" + key + "' must be a comma-separated list of layer " +
                            "indices, got '" + text + "'");
    out.push_back(std::stoll(item));
    pos = comma + 1;
  }
  return out;
}

std::string join(const std::vector<std::int64_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out;
}

constexpr const char* kParamsTag = "; params=";

std::string nonce_hex(Rng& coins) {
  std::uint8_t bytes[16];
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t v = coins.next_u64();
    for (int b = 0; b < 8; ++b) bytes[8 * i + b] = static_cast<std::uint8_t>(v >> (56 - 8 * b));
  }
  return to_hex(bytes, sizeof bytes);
}

}  // namespace

MarkParams MarkParams::from(const definitions::Params& params, const MarkParams& defaults,
                            const std::string& bits_key, bool with_layers) {
  MarkParams p = defaults;
  const std::int64_t seed = params.get_int("owner_seed", static_cast<std::int64_t>(p.owner_seed));
  if (seed < 0) throw InvalidArgument("parameter 'owner_seed' must be >= 0");
  p.owner_seed = static_cast<std::uint64_t>(seed);
  p.rsa_bits = params.get_int("rsa_bits", p.rsa_bits);
  p.binding = params.get_string("binding", p.binding);
  p.target_fpr = params.get_double("target_fpr", p.target_fpr);
  p.bits = params.get_int(bits_key, p.bits);
  p.bits_key = bits_key;
  if (with_layers && params.contains("layers"))
    p.layers = parse_layers(params.get_string("layers", ""), "layers");
  p.ecc_t = params.get_int("ecc_t", p.ecc_t);
  p.two_sided = params.get_bool("two_sided", p.two_sided);
  if (params.contains("threshold")) p.threshold = params.get_double("threshold", 0.0);
  p.align = params.get_string("align", p.align);
  return p;
}

void MarkParams::validate(const std::string& scheme) const {
  const auto bad = [&](const std::string& what) { return InvalidArgument(scheme + ": " + what); };
  if (rsa_bits < 512 || rsa_bits > 8192 || rsa_bits % 2 != 0)
    throw bad("rsa_bits must be an even number in [512, 8192]");
  if (binding != "signature" && binding != "none")
    throw bad("binding must be 'signature' or 'none', got '" + binding + "'");
  if (!(target_fpr > 0 && target_fpr < 1)) throw bad("target_fpr must lie in (0, 1)");
  if (bits < 1 || bits > 4096)
    throw bad(bits_key + " (the number of embedded symbols) must lie in [1, 4096]");
  if (layers.empty()) throw bad("layers must name at least one layer");
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (layers[i] == layers[j])
        throw bad("layers must not repeat a layer (got " + std::to_string(layers[i]) + " twice)");
  if (ecc_t < 0) throw bad("ecc_t must be >= 0");
  if (ecc_t > 0 && (bits % 8 != 0 || bits / 8 - 2 * ecc_t < 1 || bits / 8 > 255))
    throw bad("with ecc_t > 0, bits must be a multiple of 8 with bits/8 - 2*ecc_t >= 1 and " +
              std::string("bits/8 <= 255 (Reed-Solomon over GF(2^8))"));
  if (threshold && !(*threshold >= 0)) throw bad("threshold must be >= 0");
  if (align != "auto" && align != "on" && align != "off")
    throw bad("align must be auto, on or off, got '" + align + "'");
}

nlohmann::json MarkParams::to_json() const {
  nlohmann::json j = {{"owner_seed", owner_seed}, {"rsa_bits", rsa_bits},  {"binding", binding},
                      {"target_fpr", target_fpr}, {"bits", bits},          {"layers", join(layers)},
                      {"ecc_t", ecc_t},           {"two_sided", two_sided}};
  if (owner_key) {  // a real owner: its public identity, never a seed that derives the key
    j.erase("owner_seed");
    j.erase("rsa_bits");
    j["owner_key"] = definitions::key_fingerprint(owner_key->public_key);
  }
  if (threshold) j["threshold"] = *threshold;
  return j;
}

WatermarkScheme::WatermarkScheme(MarkParams params) : mark_(std::move(params)) {
  if (mark_.ecc_t > 0)
    code_.emplace(static_cast<int>(mark_.bits / 8 - 2 * mark_.ecc_t),
                  static_cast<int>(mark_.ecc_t));
}

const definitions::OwnerKeyPair& WatermarkScheme::owner() const {
  if (mark_.owner_key) return *mark_.owner_key;
  std::call_once(owner_once_, [this] {
    Rng coins(mark_.owner_seed, stable_hash("wrsec.schemes.owner"), 0);
    owner_ = std::make_unique<definitions::OwnerKeyPair>(
        definitions::generate_owner_key(coins, static_cast<int>(mark_.rsa_bits)));
  });
  return *owner_;
}

std::string WatermarkScheme::statement_prefix() const {
  return "wrsec-mark v1; scheme=" + id() + ";";
}

std::vector<std::string> WatermarkScheme::carrier_names() const {
  std::vector<std::string> names;
  for (std::int64_t l : mark_.layers) names.push_back("layers." + std::to_string(l) + ".weight");
  return names;
}

void WatermarkScheme::check_model(const nn::Model& model) const {
  model.validate();
  if (model.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument(id() + ": marks MLPs (layers.{i}.weight); got a " +
                          nn::to_string(model.arch.kind) + " model");
  const auto layers = static_cast<std::int64_t>(model.arch.sizes.size()) - 1;
  for (std::int64_t l : mark_.layers)
    if (l >= layers)
      throw InvalidArgument(id() + ": layer " + std::to_string(l) +
                            " does not exist (the model has " + std::to_string(layers) +
                            " layers)");
}

std::vector<std::uint8_t> WatermarkScheme::expected_symbols(const definitions::MarkKey& key) const {
  if (!code_) return key.message_bits(static_cast<std::size_t>(mark_.bits));
  return code_->encode(key.message_bits(static_cast<std::size_t>(8 * code_->k())));
}

std::optional<std::vector<std::uint8_t>> WatermarkScheme::claimed_symbols(
    const std::vector<std::uint8_t>& message) const {
  if (message.size() != symbols()) return std::nullopt;
  return message;
}

definitions::OwnerSecret WatermarkScheme::keygen(const nn::Model& model, Rng& coins) const {
  check_model(model);
  Rng nonce = coins.derive("nonce");
  std::string statement = statement_prefix() +
                          " model=" + definitions::tensors_digest_hex(model.tensors) +
                          "; nonce=" + nonce_hex(nonce);
  if (const nlohmann::json pub = public_params(model); !pub.is_null())
    statement += std::string(kParamsTag) + pub.dump();
  definitions::OwnerClaim claim = definitions::make_claim(owner(), statement);
  if (mark_.binding == "none") {
    // The naive rule verifies explicit key material; the owner writes down what it embedded.
    const auto key = definitions::MarkKey::from_signature(claim.public_key, claim.statement,
                                                          claim.signature_hex);
    claim.key_seed_hex = key.hex();
    claim.message = claim_message(expected_symbols(key));
  }
  definitions::OwnerSecret secret;
  secret.metadata = {{"scheme", id()},
                     {"params", mark_.to_json()},
                     {"claim", claim.to_json()},
                     {"record",
                      {{"model", definitions::tensors_digest_hex(model.tensors)},
                       {"claim", claim.fingerprint()}}}};
  // The owner keeps its model as the reference for alignment: the model before marking, which
  // does not depend on the mark key, so aligning an unmarked suspect to it cannot pull the
  // suspect towards the mark.
  keep_reference(secret, model);
  return secret;
}

definitions::Release WatermarkScheme::release(const nn::Model& model, Rng& coins) const {
  definitions::Release r;
  Rng key_coins = coins.derive("key");
  r.secret = keygen(model, key_coins);
  std::string why;
  const auto key = resolve(r.secret, &why);
  WRSEC_CHECK(key.has_value(), "the owner's own claim does not resolve: " + why);
  Rng embed_coins = coins.derive("embed");
  const nn::Model marked = embed(model, *key, embed_coins);
  r.artifact = definitions::model_artifact(marked, id());
  r.secret.metadata["record"]["marked"] = definitions::tensors_digest_hex(marked.tensors);
  return r;
}

namespace {
const std::string kReferencePrefix = "reference.";
}  // namespace

void WatermarkScheme::keep_reference(definitions::OwnerSecret& secret, const nn::Model& model) {
  for (const auto& [name, t] : model.tensors) secret.tensors[kReferencePrefix + name] = t;
  secret.metadata["reference_architecture"] = model.arch.to_json();
}

std::optional<nn::Model> WatermarkScheme::reference_model(const definitions::OwnerSecret& secret) {
  if (!secret.metadata.is_object() || !secret.metadata.contains("reference_architecture"))
    return std::nullopt;
  nn::Model m;
  m.arch = nn::Architecture::from_json(secret.metadata["reference_architecture"]);
  for (const auto& [name, t] : secret.tensors)
    if (name.rfind(kReferencePrefix, 0) == 0)
      m.tensors.emplace(name.substr(kReferencePrefix.size()), t);
  m.validate();
  return m;
}

nn::Matrix WatermarkScheme::infer(const definitions::Artifact& artifact,
                                  const nn::Matrix& x) const {
  return definitions::artifact_model(artifact).forward(x);
}

double WatermarkScheme::infer_macs(const definitions::Artifact& artifact) const {
  return definitions::artifact_model(artifact).arch.macs_per_example();
}

nn::TensorMap WatermarkScheme::hidden_mask(const nn::Model& original,
                                           const definitions::Release& /*release*/) const {
  // The weights are published (marked) in the clear: nothing is hidden.
  nn::TensorMap mask;
  for (const auto& [name, t] : original.tensors) mask.emplace(name, nn::Tensor(t.shape));
  return mask;
}

std::optional<ResolvedKey> WatermarkScheme::resolve(const definitions::OwnerSecret& secret,
                                                    std::string* why) const {
  const auto fail = [&](const std::string& reason) -> std::optional<ResolvedKey> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (!secret.metadata.is_object() || !secret.metadata.contains("claim"))
    return fail("no claim in the secret");
  definitions::OwnerClaim claim;
  try {
    claim = definitions::OwnerClaim::from_json(secret.metadata.at("claim"));
  } catch (const InvalidArgument& e) {
    return fail(std::string("malformed claim: ") + e.what());
  }
  if (!claim.statement.starts_with(statement_prefix()))
    return fail("the statement is not a '" + id() + "' mark statement");
  nlohmann::json pub = nlohmann::json::object();
  if (const auto at = claim.statement.find(kParamsTag); at != std::string::npos) {
    pub =
        nlohmann::json::parse(claim.statement.substr(at + std::strlen(kParamsTag)), nullptr, false);
    if (!pub.is_object()) return fail("the statement's params are not a JSON object");
  }
  if (mark_.binding == "signature") {
    if (!definitions::verify_statement(claim.public_key, claim.statement, claim.signature_hex))
      return fail("the signature does not verify under the claimed public key");
    const auto key = definitions::MarkKey::from_signature(claim.public_key, claim.statement,
                                                          claim.signature_hex);
    return ResolvedKey{key, expected_symbols(key), std::move(pub)};
  }
  if (!claim.key_seed_hex || !claim.message)
    return fail("binding 'none' needs explicit key_seed and message in the claim");
  auto expected = claimed_symbols(*claim.message);
  if (!expected || expected->size() != symbols())
    return fail("the claimed message does not encode " + std::to_string(symbols()) + " symbols");
  try {
    return ResolvedKey{definitions::MarkKey::from_seed_hex(*claim.key_seed_hex),
                       std::move(*expected), std::move(pub)};
  } catch (const InvalidArgument& e) {
    return fail(e.what());
  }
}

definitions::VerifyResult WatermarkScheme::reject(std::string why) const {
  definitions::VerifyResult r;
  r.p0 = null_probability();
  r.target_fpr = mark_.target_fpr;
  r.bits = symbols();
  r.details["rejected"] = why.empty() ? "the suspect does not fit the key" : std::move(why);
  return r;
}

definitions::VerifyResult WatermarkScheme::judge(
    const ResolvedKey& key, const std::optional<std::vector<std::uint8_t>>& read_symbols,
    std::string why) const {
  if (!read_symbols || read_symbols->size() != key.expected.size()) return reject(std::move(why));
  definitions::VerifyResult r;
  r.p0 = null_probability();
  r.target_fpr = mark_.target_fpr;
  r.bits = symbols();
  r.extracted = *read_symbols;
  for (std::size_t j = 0; j < key.expected.size(); ++j)
    r.matches += r.extracted[j] == key.expected[j] ? 1 : 0;
  // Symbols that are not bits (trigger labels): what an unbound claim carrying them would hold.
  if (auto message = claim_message(r.extracted); message != r.extracted)
    r.details["claim_message"] = std::move(message);
  r.log2_p = log2_p_value(r.matches, r.bits);
  if (mark_.threshold) {
    r.accepted = static_cast<double>(r.matches) > *mark_.threshold;
    r.details["rule"] = "matches > calibrated threshold " + std::to_string(*mark_.threshold);
    r.details["critical_matches"] = static_cast<std::uint64_t>(std::floor(*mark_.threshold)) + 1;
  } else {
    r.accepted = r.log2_p <= std::log2(mark_.target_fpr);
    r.details["rule"] =
        mark_.two_sided ? "two-sided binomial p <= target_fpr" : "binomial p <= target_fpr";
    if (!mark_.two_sided) {
      if (const auto c = critical_count(r.bits); c) r.details["critical_matches"] = *c;
    }
  }
  if (code_) {
    int corrected = 0;
    const auto payload = code_->decode(r.extracted, &corrected);
    const auto wanted = code_->decode(key.expected);
    r.details["ecc"] = {{"k", code_->k()},
                        {"t", code_->t()},
                        {"bit_errors_corrected", code_->guaranteed_bit_errors()},
                        {"payload_recovered", payload.has_value() && wanted && *payload == *wanted},
                        {"symbols_corrected", payload ? corrected : -1}};
  }
  return r;
}

double WatermarkScheme::log2_p_value(std::uint64_t matches, std::uint64_t n) const {
  const double p0 = null_probability();
  const double upper = definitions::log2_binomial_tail(matches, n, p0);
  if (!mark_.two_sided) return upper;
  // Lower tail P[Bin ≤ k] = P[Bin(T, 1 − p0) ≥ T − k]; p = min(1, 2·min(upper, lower)).
  const double lower = definitions::log2_binomial_tail(n - matches, n, 1 - p0);
  return std::min(0.0, 1.0 + std::min(upper, lower));
}

std::optional<std::uint64_t> WatermarkScheme::critical_count(std::uint64_t n) const {
  return definitions::binomial_critical_count(n, null_probability(), mark_.target_fpr);
}

std::vector<std::string> WatermarkScheme::symbol_carriers(const nn::Model& /*reading*/,
                                                          const ResolvedKey& /*key*/) const {
  const auto names = carrier_names();
  if (names.size() != 1) return {};
  return std::vector<std::string>(symbols(), names.front());
}

nlohmann::json WatermarkScheme::per_layer(const ResolvedKey& key,
                                          const definitions::VerifyResult& r,
                                          const std::vector<std::string>& carriers) const {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> counts;  // tensor -> (n, k)
  for (std::size_t j = 0; j < carriers.size(); ++j) {
    auto& [n, k] = counts[carriers[j].empty() ? std::string("(several tensors)") : carriers[j]];
    ++n;
    k += r.extracted[j] == key.expected[j] ? 1 : 0;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [tensor, nk] : counts) {
    const double lp = log2_p_value(nk.second, nk.first);
    nlohmann::json row = {{"tensor", tensor},
                          {"symbols", nk.first},
                          {"matches", nk.second},
                          {"log2_p", lp},
                          {"accepted_alone", lp <= std::log2(mark_.target_fpr)}};
    if (const auto c = mark_.two_sided ? std::nullopt : critical_count(nk.first); c)
      row["critical_matches"] = *c;
    out.push_back(std::move(row));
  }
  return out;
}

definitions::VerifyResult WatermarkScheme::verify(const definitions::OwnerSecret& secret,
                                                  const nn::Model& suspect) const {
  std::string why;
  const auto key = resolve(secret, &why);
  if (!key) return reject(why);
  std::optional<std::vector<std::uint8_t>> bits;
  std::optional<nn::Alignment> aligned;
  const nn::Model* reading = nullptr;
  try {
    suspect.validate();
    reading = &reading_model(secret, suspect, aligned);
    bits = read(*reading, *key);
  } catch (const InvalidArgument& e) {
    return judge(*key, std::nullopt, e.what());
  }
  definitions::VerifyResult result = judge(*key, bits);
  if (aligned) result.details["alignment"] = aligned->to_json();
  if (!result.details.contains("rejected")) {
    if (const auto carriers = symbol_carriers(*reading, *key); carriers.size() == result.bits)
      result.details["per_layer"] = per_layer(*key, result, carriers);
    refine(*key, *reading, result);
  }
  return result;
}

const nn::Model& WatermarkScheme::reading_model(const definitions::OwnerSecret& secret,
                                                const nn::Model& suspect,
                                                std::optional<nn::Alignment>& aligned) const {
  if (mark_.align == "off") return suspect;
  const auto reference = reference_model(secret);
  if (!reference) {
    if (mark_.align == "on")
      throw InvalidArgument("align = on, but the owner's secret holds no reference model");
    return suspect;
  }
  aligned = nn::align_to_reference(suspect, *reference);
  return aligned->model;
}

CarrierLayout CarrierLayout::of(const nn::Model& model, const std::vector<std::string>& names) {
  CarrierLayout c;
  for (const std::string& name : names) {
    const auto it = model.tensors.find(name);
    if (it == model.tensors.end()) throw InvalidArgument("model has no tensor '" + name + "'");
    c.names.push_back(name);
    c.offsets.push_back(c.size);
    c.size += it->second.numel();
  }
  return c;
}

std::pair<std::size_t, std::int64_t> CarrierLayout::locate(std::int64_t i) const {
  WRSEC_CHECK(i >= 0 && i < size, "carrier position out of range");
  const auto it = std::upper_bound(offsets.begin(), offsets.end(), i);
  const auto k = static_cast<std::size_t>(it - offsets.begin() - 1);
  return {k, i - offsets[k]};
}

float& CarrierLayout::at(nn::Model& model, std::int64_t i) const {
  const auto [k, j] = locate(i);
  return model.tensors.at(names[k]).data[static_cast<std::size_t>(j)];
}

float CarrierLayout::at(const nn::Model& model, std::int64_t i) const {
  const auto [k, j] = locate(i);
  return model.tensors.at(names[k]).data[static_cast<std::size_t>(j)];
}

std::vector<std::int64_t> keyed_positions(std::int64_t n, std::int64_t count, Rng& rng) {
  WRSEC_CHECK(count >= 0 && count <= n, "keyed_positions: count must lie in [0, n]");
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (std::int64_t i = 0; i < count; ++i) {
    const auto j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
  }
  perm.resize(static_cast<std::size_t>(count));
  return perm;
}

}  // namespace wrsec::schemes
