#pragma once
// Markdown reporters of a finished study profile: the claims table (claims.md) and the study
// report (report.md: claims, every spec's cells with bounds and the advantage convention, every
// measurement's rows).
#include <filesystem>
#include <string>

#include "studies/study.h"

namespace wrsec::studies {

std::string claims_markdown(const StudyOutputs& outputs, const std::filesystem::path& claims_file);
std::string study_markdown(const StudyOutputs& outputs, const std::filesystem::path& out);

}  // namespace wrsec::studies
