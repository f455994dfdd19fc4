#pragma once
// Number formatting, parameter text and metric lookup shared by the reporters and the
// experiments' Markdown reports.
#include <string>

#include "experiments/results.h"

namespace wrsec::experiments {

// "–" for NaN; scientific with 2 decimals below 1e-3 or from 1e5; else fixed with `precision`.
[[nodiscard]] std::string fmt(double v, int precision = 4);

// Text for LaTeX (OT1 fonts): escapes _ % & # $ { }, writes >= <= > < in math mode, and drops
// replaces backslash, ^ and ~ by a space.
[[nodiscard]] std::string tex_escape(const std::string& s);

// Text for one cell of a Markdown table: '|' escaped.
[[nodiscard]] std::string md_cell(std::string s);

// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a newline; quotes doubled.
[[nodiscard]] std::string csv_field(const std::string& s);

// The cell's fixed parameters as "game.k=v scheme.k=v attack.k=v" (each component's in key order).
[[nodiscard]] std::string params_text(const CellSpec& cell);

// A per-trial metric of a cell: which = "mean" | "min" | "max"; NaN when absent or all
// non-finite.
[[nodiscard]] double metric(const CellResult& r, const std::string& name, const char* which);

}  // namespace wrsec::experiments
