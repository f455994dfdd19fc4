// Fuzzes the evidence report reader (experiments/evidence.h, `wrsec evidence check`): text →
// parse_evidence → render_evidence_markdown and check_evidence_document (hash, signature under the
// report's key, record, registry chain, statistics, completeness). Every malformed report must end
// as InvalidArgument or as problems; a report that checks must render to the Markdown it was
// checked against and check the same way again.
#include "experiments/evidence.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wrsec;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::expect_valid_or_rejected([&] {
    const auto file = experiments::parse_evidence(text, "fuzz");
    std::string md;
    try {
      md = experiments::render_evidence_markdown(file);
    } catch (const InvalidArgument&) {
    }
    const auto checked = experiments::check_evidence_document(file, md, {});
    if (checked.valid != checked.problems.empty()) std::abort();
    if (checked.valid) {
      const auto again = experiments::check_evidence_document(file, md, {});
      if (!again.valid || again.completeness != checked.completeness) std::abort();
    }
  });
  return 0;
}
