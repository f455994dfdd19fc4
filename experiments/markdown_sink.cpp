#include "experiments/markdown_sink.h"

#include <set>
#include <sstream>
#include <string>

#include "experiments/report_format.h"

namespace wrsec::experiments {

MarkdownSink::MarkdownSink(const std::filesystem::path& path) : file_(path) {}

void MarkdownSink::begin(const RunHeader& header) {
  header_ = header;
  records_.clear();
}

void MarkdownSink::write(const CellRecord& record) {
  records_.push_back(record);
}

void MarkdownSink::finish() {
  const RunHeader& h = header_;
  std::ostringstream md;
  md << "# " << h.title << "\n\n";
  if (!h.description.empty()) md << h.description << "\n\n";
  md << "Seed " << h.seed << "; " << h.cells << " cell(s) of " << h.trials << " trials";
  if (h.is_shard()) md << " (shard " << h.shard_index << "/" << h.shard_count << ")";
  md << ". Family-wise alpha = " << fmt(h.family_alpha) << ", correction "
     << to_string(h.correction);
  if (h.correction == Correction::bonferroni) md << " over K = " << h.cells << " cells";
  md << ": alpha per cell = " << fmt(h.alpha_per_cell, 6)
     << ". Lower bounds are one-sided exact Clopper-Pearson at 1 - alpha; search games report "
        "upper bounds the same way, distinguishing games a two-sided upper bound.\n\n";
  if (h.stop.active())
    md << "Early stopping: rule `" << h.stop.to_string() << "`, " << h.stopping_method
       << ". Each cell's bounds are at the alpha_k of its last look (column alpha).\n\n";
  else
    md << "Stopping rule: none (every cell runs its full trial range).\n\n";
  std::set<std::string> conventions;
  for (const auto& rec : records_)
    conventions.insert(definitions::advantage_convention(rec.result.shape));
  for (const auto& c : conventions) md << "Convention: " << c << "\n\n";
  md << "| # | game | scheme | attack | parameters | trials | wins | Adv estimate | Adv lower | "
        "Adv upper | alpha | stopped |\n|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& rec : records_) {
    const CellResult& r = rec.result;
    std::string stopped =
        h.stop.active() ? (rec.stopped_early ? "at n=" + std::to_string(r.counts.n) : "no (budget)")
                        : "–";
    if (!r.error.empty()) stopped = "**FAILED**: " + md_cell(r.error);
    md << "| " << rec.index << " | " << r.spec.game << " | " << r.spec.scheme << " | "
       << r.spec.attack << " | " << params_text(r.spec) << " | " << r.counts.n << " | "
       << r.counts.wins << " | " << fmt(r.advantage.estimate) << " | " << fmt(r.advantage.lower)
       << " | " << fmt(r.advantage.upper) << " | " << fmt(r.alpha, 4) << " | " << stopped << " |\n";
  }
  file_.write(md.str());
  file_.commit();
}

}  // namespace wrsec::experiments
