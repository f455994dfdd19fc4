#pragma once
// The paper's generated inputs (paper/generated/): macros.tex (the run and every claim that names
// a macro), tab_*.tex and the plots' *.csv, written from a finished profile's outputs only.
#include <filesystem>

#include "studies/study.h"

namespace wrsec::studies {

void write_paper_inputs(const StudyOutputs& outputs, const std::filesystem::path& out,
                        const std::filesystem::path& paper_dir);

}  // namespace wrsec::studies
