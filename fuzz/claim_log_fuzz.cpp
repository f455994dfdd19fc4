// Fuzzes the claim log reader (experiments/claim_log.h, `wrsec registry show | check`): text →
// parse_claim_log → check_claim_log (hashes, signatures under each entry's key, chain, order).
// A log that parses must survive its own text form unchanged, and check the same way again.
#include "experiments/claim_log.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wrsec;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::expect_valid_or_rejected([&] {
    const auto log = experiments::parse_claim_log(text, "fuzz");
    const auto checked = experiments::check_claim_log(log);
    std::string again;
    for (const auto& e : log) again += e.to_json().dump() + "\n";
    const auto reread = experiments::parse_claim_log(again, "again");
    const auto rechecked = experiments::check_claim_log(reread);
    if (reread.size() != log.size() || rechecked.valid != checked.valid ||
        rechecked.problem != checked.problem)
      std::abort();
  });
  return 0;
}
