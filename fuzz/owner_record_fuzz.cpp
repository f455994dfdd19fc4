// Fuzzes the owner record reader (experiments/mark_files.h): text → parse_owner_record, then what
// `wrsec verify` does with a record before it reads a model: the signed text and the record
// signature under the claim's key. A record that reads must survive to_json/parse unchanged.
// The same bytes also go to the owner key reader (OwnerKeyPair::from_json, which signs once).
#include <nlohmann/json.hpp>

#include "definitions/owner_key.h"
#include "experiments/mark_files.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wrsec;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::expect_valid_or_rejected([&] {
    const auto record = experiments::parse_owner_record(text, "fuzz");
    const std::string signed_text = record.signed_text();
    const auto again = experiments::parse_owner_record(record.to_json().dump(), "again");
    if (again.signed_text() != signed_text || again.record_signature != record.record_signature)
      std::abort();
    (void)definitions::verify_statement(record.claim.public_key, signed_text,
                                        record.record_signature);
  });
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded())
    fuzz::expect_valid_or_rejected([&] { (void)definitions::OwnerKeyPair::from_json(j); });
  return 0;
}
